"""The link card's buttons and the inline share query.

Callback data is "c:<action>:<link row id>" (see keyboards). Every press is checked against
what the presser may do with that link, since anyone in a group can press any card's buttons.
A press always ends by showing the pressed card as the link is now, so pressing twice, or
pressing an old card, does the right thing: the second cancel hears "already cancelled".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from telegram import (
    CallbackQuery,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, InlineQueryHandler

from bot.chat import keyboards, texts
from bot.chat.card_view import render_caption
from bot.qr import qr_png
from bot.services.access import Refusal
from bot.services.actors import Actor
from bot.services.manage import CancelOutcome, CancelResult, LinkManager, StatusFilter
from storage.models import Link, LinkStatus

log = logging.getLogger("paylink.chat.cards")

CALLBACK_ANSWER_LIMIT = 200  # Telegram cuts callback answers at 200 characters
INLINE_RESULTS = 10  # links offered when the inline query is empty


def _manager(context: ContextTypes.DEFAULT_TYPE) -> LinkManager:
    return context.application.bot_data["services"].manage


def _pattern(action: str) -> str:
    return rf"^{keyboards.CARD_PREFIX}:{re.escape(action)}:\d+$"


def _link_id(query: CallbackQuery) -> int:
    return int((query.data or "").rsplit(":", 1)[1])


def _actor(update: Update) -> Actor:
    """The person behind an update, as the audit log and the timeline name them."""
    user, chat = update.effective_user, update.effective_chat
    return Actor(user.id, user.full_name, chat.id if chat else None)


async def _answer(query: CallbackQuery, text: str, *, alert: bool = False) -> None:
    await query.answer(text[:CALLBACK_ANSWER_LIMIT], show_alert=alert)


async def _refuse(update: Update, refusal: Refusal) -> None:
    """Tell the presser what role this needs and who grants it."""
    user = update.effective_user
    log.info("refused: %s", refusal.action.value, extra={"chat": update.effective_chat.id, "user": user.id})
    await _answer(update.callback_query, refusal.text(user.id), alert=True)


async def _pressed_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Link | None:
    """The link the pressed button is about; answers the press itself when there is none."""
    link = await _manager(context).get(_link_id(update.callback_query))
    if link is None:
        await _answer(update.callback_query, texts.LINK_GONE, alert=True)
    return link


async def _pressed_link_allowed(
    update: Update, context: ContextTypes.DEFAULT_TYPE, refusal_of: Callable[[Link, int], Awaitable[Refusal | None]]
) -> Link | None:
    """The pressed button's link if ``refusal_of`` lets this person have it; otherwise the press is answered."""
    link = await _pressed_link(update, context)
    if link is None:
        return None
    refusal = await refusal_of(link, update.effective_user.id)
    if refusal is not None:
        await _refuse(update, refusal)
        return None
    return link


async def _viewable_pressed_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Link | None:
    """The pressed button's link if this person may see it; otherwise the press is answered."""
    return await _pressed_link_allowed(update, context, _manager(context).view_refusal)


async def show_card(query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, link: Link) -> None:
    """Make the pressed card show the link as it is now, with the buttons that fit its state."""
    message = query.message
    if not isinstance(message, Message):
        return  # too old for Telegram to let us edit it
    caption = render_caption(link, await _manager(context).card_facts(link))
    markup = keyboards.card_keyboard(link)
    try:
        if message.photo:
            await query.edit_message_caption(caption=caption, parse_mode=ParseMode.HTML, reply_markup=markup)
        else:
            await query.edit_message_text(caption, parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def send_card(context: ContextTypes.DEFAULT_TYPE, chat_id: int, link: Link) -> None:
    """Post the link's card in this chat as a new message: the QR photo when there is a URL, else text."""
    caption = render_caption(link, await _manager(context).card_facts(link))
    markup = keyboards.card_keyboard(link)
    if link.link_url:
        await context.bot.send_photo(chat_id, qr_png(link.link_url), caption=caption, parse_mode=ParseMode.HTML, reply_markup=markup)
    else:
        await context.bot.send_message(chat_id, caption, parse_mode=ParseMode.HTML, reply_markup=markup)


async def refresh_card(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask PayerMax about the link now and show the answer on the card."""
    link = await _viewable_pressed_link(update, context)
    if link is None:
        return
    current = await _manager(context).refresh(link.id, _actor(update)) or link
    await _answer(update.callback_query, texts.REFRESHED.format(state=texts.status_text(current)))
    await show_card(update.callback_query, context, current)


async def ask_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask "Cancel this link?" by turning the card's buttons into Yes / No."""
    query = update.callback_query
    link = await _pressed_link(update, context)
    if link is None:
        return
    obstacle = await _manager(context).cancel_obstacle(link, update.effective_user.id)
    if obstacle is not None:
        await _tell_cancel_result(update, context, obstacle)
        return
    await _answer(query, texts.CANCEL_ASK)
    await query.edit_message_reply_markup(reply_markup=keyboards.cancel_confirm_keyboard(link))


async def confirm_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Cancel the link at PayerMax; the card then shows it cancelled (or why it could not be)."""
    result = await _manager(context).cancel(_link_id(update.callback_query), _actor(update))
    await _tell_cancel_result(update, context, result)


async def keep_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer No to "Cancel this link?": give the card its buttons back."""
    link = await _pressed_link(update, context)
    if link is None:
        return
    await _answer(update.callback_query, texts.CANCEL_KEPT)
    await show_card(update.callback_query, context, link)


async def _tell_cancel_result(update: Update, context: ContextTypes.DEFAULT_TYPE, result: CancelResult) -> None:
    """Say what became of a cancel, and bring the pressed card up to date."""
    if result.refusal is not None:
        await _refuse(update, result.refusal)
        return
    text = texts.cancel_answer(result, update.effective_user.id)
    await _answer(update.callback_query, text, alert=result.outcome != CancelOutcome.CANCELLED)
    if result.link is not None:
        await show_card(update.callback_query, context, result.link)


async def _resendable(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Link | None:
    """The pressed link, if the presser may send it again and a customer can still pay it; else answered."""
    link = await _pressed_link_allowed(update, context, _manager(context).resend_refusal)
    if link is None:
        return None
    if link.status != LinkStatus.ACTIVE or not link.link_url:
        await _answer(update.callback_query, texts.NOT_PAYABLE.format(state=texts.status_text(link)), alert=True)
        await show_card(update.callback_query, context, link)
        return None
    return link


async def share_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Post the clean customer message, ready to forward or to send on through inline mode."""
    link = await _resendable(update, context)
    if link is None:
        return
    query = update.callback_query
    await _answer(query, texts.SHARED)
    await context.bot.send_message(
        update.effective_chat.id, texts.customer_message(link), parse_mode=ParseMode.HTML,
        reply_markup=keyboards.share_keyboard(link), reply_to_message_id=_message_id(query), allow_sending_without_reply=True,
    )


async def send_qr(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the QR code again, captioned with the customer message."""
    link = await _resendable(update, context)
    if link is None:
        return
    query = update.callback_query
    await _answer(query, texts.QR_SENT)
    await context.bot.send_photo(
        update.effective_chat.id, qr_png(link.link_url or ""), caption=texts.customer_message(link), parse_mode=ParseMode.HTML,
        reply_markup=keyboards.customer_keyboard(link), reply_to_message_id=_message_id(query), allow_sending_without_reply=True,
    )


async def open_card(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Post a link's card here as a new message (from /links or /find)."""
    link = await _viewable_pressed_link(update, context)
    if link is None:
        return
    await _answer(update.callback_query, texts.status_text(link))
    await send_card(context, update.effective_chat.id, link)


def _message_id(query: CallbackQuery) -> int | None:
    return query.message.message_id if isinstance(query.message, Message) else None


async def share_inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer "@bot <link id>" (or an empty query: my recent active links) with the customer message."""
    query = update.inline_query
    manager = _manager(context)
    user_id = update.effective_user.id
    scope = await manager.scope_for(user_id)
    candidates: list[Link] = []
    if scope is not None:
        wanted = query.query.strip()
        if wanted:
            found = await manager.lookup(wanted)
            candidates = [found] if found is not None else []
        else:
            candidates = (await manager.list_links(scope, StatusFilter.ACTIVE, 0, INLINE_RESULTS)).links
    results = [
        _article(link)
        for link in candidates
        if link.status == LinkStatus.ACTIVE and link.link_url and await manager.resend_refusal(link, user_id) is None
    ]
    # Personal and uncached: what a person may send depends on who they are, right now.
    await query.answer(results, cache_time=0, is_personal=True)


def _article(link: Link) -> InlineQueryResultArticle:
    """One inline result: the customer message for this link."""
    return InlineQueryResultArticle(
        id=link.merchant_link_id,
        title=f"{texts.money_of(link)} · {link.description}"[:120],
        description=f"Payment link, valid until {texts.when(link.expires_at)}",
        input_message_content=InputTextMessageContent(texts.customer_message(link), parse_mode=ParseMode.HTML),
        reply_markup=keyboards.customer_keyboard(link),
    )


def register(application: Application) -> None:
    """Register the card buttons and the inline share query."""
    for action, callback in (
        (keyboards.CARD_REFRESH, refresh_card),
        (keyboards.CARD_CANCEL, ask_cancel),
        (keyboards.CARD_CANCEL_CONFIRMED, confirm_cancel),
        (keyboards.CARD_KEEP, keep_link),
        (keyboards.CARD_SHARE, share_link),
        (keyboards.CARD_QR, send_qr),
        (keyboards.CARD_OPEN, open_card),
    ):
        application.add_handler(CallbackQueryHandler(callback, pattern=_pattern(action)))
    application.add_handler(InlineQueryHandler(share_inline))
