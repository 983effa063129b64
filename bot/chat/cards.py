"""The link card's buttons and the inline share query.

Callback data is "c:<action>:<link row id>" (see keyboards). Every press goes through
:func:`card_pressed`, which finds the link and checks what the presser may do with it before
any action runs: anyone in a group can press any card's buttons, and a modified client can send
any data, so no action can forget the check. A press always ends by showing the pressed card as
the link is now, so pressing twice, or pressing an old card, does the right thing: the second
cancel hears "already cancelled".
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from telegram import InlineKeyboardMarkup, InlineQueryResultArticle, InputTextMessageContent, Message, Update

from bot.botapi import sending
from bot.botapi.markup import INLINE_TITLE_LIMIT, MESSAGE_LIMIT, Markup, clip
from bot.chat import keyboards, refunds, texts
from bot.chat.card_view import card_buttons, render_caption
from bot.chat.context import PaylinkContext, actor, chat_of, query_of, reply_target, sender
from bot.chat.guards import refuse
from bot.i18n.reader import reading_as
from bot.qr import qr_png
from bot.services.access import Refusal
from bot.services.link_access import LinkAccess
from bot.services.link_actions import CancelOutcome, CancelResult
from bot.services.link_queries import StatusFilter
from bot.services.links import LinkPending, LinkRefused, reissue_key
from storage.models import Link, LinkStatus

log = logging.getLogger("paylink.chat.cards")

INLINE_RESULTS = 10  # links offered when the inline query is empty
CARD_PATTERN = rf"^{keyboards.CARD_PREFIX}:([a-z]+):(\d+)$"


class Needs(Enum):
    """What a presser must be allowed to do with the link for a button to act."""

    VIEW = "view"  # see the link (owners, admins, support: all; agents: their own)
    CANCEL = "cancel"  # cancel it (owners, admins: any; agents: their own)
    RESEND = "resend"  # send it to a customer again (everyone who may view it, but no stranger)
    REFUND = "refund"  # refund its payment (the refund permission, and the link in the presser's view)
    REISSUE = "reissue"  # make a new link in its place (people who make links and may view this one)


def _check(access: LinkAccess, needs: Needs) -> Callable[[Link, int], Awaitable[Refusal | None]]:
    return {
        Needs.VIEW: access.view_refusal,
        Needs.CANCEL: access.cancel_refusal,
        Needs.RESEND: access.resend_refusal,
        Needs.REFUND: access.refund_refusal,
        Needs.REISSUE: access.reissue_refusal,
    }[needs]


CardAction = Callable[[Update, PaylinkContext, Link], Awaitable[None]]


@dataclass(frozen=True)
class Button:
    """One card button: what the presser needs, and what pressing it does."""

    needs: Needs
    act: CardAction


async def card_pressed(update: Update, context: PaylinkContext) -> None:
    """The one way into every card button: find the link, check the presser, then act."""
    query = query_of(update)
    match = re.match(CARD_PATTERN, query.data or "")
    button = BUTTONS.get(match.group(1)) if match else None
    if match is None or button is None:
        await sending.answer(query, texts.link_gone(), alert=True)
        return
    services = context.services
    link = await services.link_queries.get(int(match.group(2)))
    if link is None:
        await sending.answer(query, texts.link_gone(), alert=True)
        return
    refused = await _check(services.link_access, button.needs)(link, sender(update).id)
    if refused is not None:
        await refuse(update, context, refused)
        return
    await button.act(update, context, link)


async def show_card(update: Update, context: PaylinkContext, link: Link) -> None:
    """Make the pressed card show the link as it is now, with the buttons that fit its state."""
    message = query_of(update).message
    if isinstance(message, Message):  # else too old for Telegram to let us edit it
        await _show_on(context, message, link)


async def _show_on(context: PaylinkContext, card: Message, link: Link) -> None:
    """Make this card message show the link as it is now."""
    facts = await context.services.link_queries.card_facts(link)
    await sending.edit_message(context.bot, card, render_caption(link, facts), buttons=card_buttons(link, facts))


async def _show_card_of(context: PaylinkContext, link: Link) -> None:
    """Make the link's own card, wherever it was posted, show the link as it is now."""
    if link.card_message_id is None:
        return
    facts = await context.services.link_queries.card_facts(link)
    chat_id = link.card_chat
    caption, markup = render_caption(link, facts), card_buttons(link, facts)
    if link.link_url:  # a card with a URL is its QR photo (see send_card)
        await sending.edit_caption(context.bot, chat_id, link.card_message_id, caption, buttons=markup)
    else:
        await sending.edit_text(context.bot, chat_id, link.card_message_id, caption, buttons=markup)


async def send_card(context: PaylinkContext, chat_id: int, link: Link) -> None:
    """Post the link's card in this chat as a new message: the QR photo when there is a URL, else text."""
    facts = await context.services.link_queries.card_facts(link)
    caption, markup = render_caption(link, facts), card_buttons(link, facts)
    if link.link_url:
        await sending.send_photo(context.bot, chat_id, qr_png(link.link_url), caption, buttons=markup)
    else:
        await sending.send_text(context.bot, chat_id, caption, buttons=markup)


async def refresh_card(update: Update, context: PaylinkContext, link: Link) -> None:
    """Ask PayerMax about the link now and show the answer on the card."""
    current = await context.services.link_actions.refresh(_row_id(link), actor(update)) or link
    await sending.answer(query_of(update), texts.refreshed(current))
    await show_card(update, context, current)


async def ask_cancel(update: Update, context: PaylinkContext, link: Link) -> None:
    """Ask "Cancel the link …?" in a message of its own under the card, with Yes / No."""
    query = query_of(update)
    obstacle = await context.services.link_actions.cancel_obstacle(link, sender(update).id)
    if obstacle is not None:
        await _tell_cancel_result(update, context, obstacle)
        return
    await sending.answer(query)
    await sending.send_text(
        context.bot,
        chat_of(update).id,
        texts.cancel_question(link),
        buttons=keyboards.cancel_question_keyboard(link),
        reply_to=_pressed_message_id(update),
    )


async def answer_cancel_yes(update: Update, context: PaylinkContext, link: Link) -> None:
    """Yes under the question: cancel at PayerMax; the question then says what became of the link, the card shows it.

    A cancel that may work in a minute (PayerMax unreachable, the link not confirmed yet) leaves the
    question as it is, to be answered again.
    """
    query = query_of(update)
    result = await context.services.link_actions.cancel(_row_id(link), actor(update))
    if result.refusal is not None:
        await refuse(update, context, result.refusal)
        return
    settled = result.outcome in (CancelOutcome.CANCELLED, CancelOutcome.ALREADY_CANCELLED)
    await sending.answer(query, texts.cancel_answer(result), alert=not settled)
    question = query.message
    if result.outcome in _TRY_AGAIN or not isinstance(question, Message):
        return
    await sending.edit_text(context.bot, question.chat.id, question.message_id, texts.cancel_done(result))
    card = question.reply_to_message
    if result.link is None:
        return
    if card is not None:
        await _show_on(context, card, result.link)
    else:  # asked in the supergroup about a card of the group it was: the card is still there, under the old id
        await _show_card_of(context, result.link)


async def answer_cancel_no(update: Update, context: PaylinkContext, link: Link) -> None:
    """No under the question: the link stays; the question says so."""
    query = query_of(update)
    await sending.answer(query)
    question = query.message
    if isinstance(question, Message):
        await sending.edit_text(context.bot, question.chat.id, question.message_id, texts.cancel_kept(link))


async def confirm_cancel(update: Update, context: PaylinkContext, link: Link) -> None:
    """Yes on a card that asked on itself (before questions were messages): cancel, and show the card."""
    result = await context.services.link_actions.cancel(_row_id(link), actor(update))
    await _tell_cancel_result(update, context, result)


async def keep_link(update: Update, context: PaylinkContext, link: Link) -> None:
    """No on a card that asked on itself: give the card its buttons back."""
    await sending.answer(query_of(update))
    await show_card(update, context, link)


_TRY_AGAIN = frozenset({CancelOutcome.UNREACHABLE, CancelOutcome.NOT_READY})


async def _tell_cancel_result(update: Update, context: PaylinkContext, result: CancelResult) -> None:
    """Say what became of a cancel, and bring the pressed card up to date."""
    if result.refusal is not None:
        await refuse(update, context, result.refusal)
        return
    await sending.answer(query_of(update), texts.cancel_answer(result), alert=result.outcome != CancelOutcome.CANCELLED)
    if result.link is not None:
        await show_card(update, context, result.link)


async def _payable(update: Update, context: PaylinkContext, link: Link) -> bool:
    """Whether a customer can still pay the link; if not, the press is answered and the card refreshed."""
    if link.status == LinkStatus.ACTIVE and link.link_url:
        return True
    await sending.answer(query_of(update), texts.not_payable(link), alert=True)
    await show_card(update, context, link)
    return False


def _row_id(link: Link) -> int:
    assert link.id is not None  # a link read from the database
    return link.id


def _pressed_message_id(update: Update) -> int | None:
    """The pressed message, to answer under; none when it is in a group that became a supergroup since."""
    return reply_target(update)


async def customer_message(context: PaylinkContext, link: Link) -> tuple[Markup, InlineKeyboardMarkup | None]:
    """The customer's message for a link and its Pay button, in the language its chat's customers read."""
    with reading_as(await context.services.readers.customers_of(link.chat_id)):
        return texts.customer_message(link), keyboards.customer_keyboard(link)


async def share_link(update: Update, context: PaylinkContext, link: Link) -> None:
    """Post the clean customer message, ready to forward or to send on through inline mode.

    Once the link is paid it is a thank-you instead of a request; a request posted here is
    remembered, so that it turns into the thank-you when the payment comes.
    """
    if link.status != LinkStatus.PAID and not await _payable(update, context, link):
        return
    await sending.answer(query_of(update), texts.shared())
    message, pay_button = await customer_message(context, link)
    here = chat_of(update).id
    posted = await sending.send_text(
        context.bot,
        here,
        message,
        buttons=keyboards.share_keyboard(link, pay_button),
        reply_to=_pressed_message_id(update),
    )
    if link.status != LinkStatus.PAID:
        await context.services.shared.remember(_row_id(link), here, posted.message_id)


async def send_qr(update: Update, context: PaylinkContext, link: Link) -> None:
    """Send the printable QR label (amount, what for, shop, expiry under the code) with the customer message."""
    if not await _payable(update, context, link):
        return
    await sending.answer(query_of(update), texts.qr_sent())
    caption, pay_button = await customer_message(context, link)
    await sending.send_photo(
        context.bot,
        chat_of(update).id,
        await qr_label(context, link),
        caption,
        buttons=pay_button,
        reply_to=_pressed_message_id(update),
    )


async def qr_label(context: PaylinkContext, link: Link) -> bytes:
    """The link's QR label as a PNG, in its customers' language, named for the group (or the bot in a private chat)."""
    services = context.services
    shop = await services.chat_defaults.title_of(link.chat_id) or context.bot.first_name
    with reading_as(await services.readers.customers_of(link.chat_id)):
        words = texts.qr_label(link, shop)
    from bot.label.render import label_png  # Pillow, fontTools and the fonts: loaded by the first label, not at start

    # Drawing takes tens of milliseconds of CPU: off the event loop, which serves every other chat meanwhile.
    return await asyncio.to_thread(label_png, link.link_url or "", words)


async def open_card(update: Update, context: PaylinkContext, link: Link) -> None:
    """Post a link's card here as a new message (from /links or /find)."""
    await sending.answer(query_of(update), texts.status_text(link))
    await send_card(context, chat_of(update).id, link)


async def reissue_link(update: Update, context: PaylinkContext, link: Link) -> None:
    """Make a fresh link with the same amount, currency and description (PayerMax links cannot be extended).

    The new card goes to the old link's chat through the outbox; pressed elsewhere (the creator's
    reminder in private), a copy of the card is posted here too, ready to share. Every press of
    every New link button about one link makes the same single link.
    """
    query = query_of(update)
    services = context.services
    if link.status == LinkStatus.PAID:
        await sending.answer(query, texts.paid_no_new_link(link), alert=True)
        return
    if await services.links.exists(reissue_key(link)):
        await sending.answer(query, texts.already_reissued(), alert=True)
        return
    await sending.answer(query, texts.making_new_link())
    here = chat_of(update).id
    try:
        result = await services.links.reissue(link, actor(update))
    except LinkRefused as exc:
        await sending.send_text(context.bot, here, texts.sandboxed(exc.link, texts.refused(exc.code, exc.msg)))
        return
    except LinkPending as exc:
        await sending.send_text(context.bot, here, texts.sandboxed(exc.link, texts.pending(exc.link.merchant_link_id)))
        return
    made = result.link
    if result.created and made.chat_id != here and made.status == LinkStatus.ACTIVE:
        await send_card(context, here, made)


BUTTONS: dict[str, Button] = {
    keyboards.CARD_REFRESH: Button(Needs.VIEW, refresh_card),
    keyboards.CARD_CANCEL: Button(Needs.CANCEL, ask_cancel),
    keyboards.CARD_CANCEL_YES: Button(Needs.CANCEL, answer_cancel_yes),
    keyboards.CARD_CANCEL_NO: Button(Needs.CANCEL, answer_cancel_no),
    keyboards.CARD_CANCEL_CONFIRMED: Button(Needs.CANCEL, confirm_cancel),
    keyboards.CARD_KEEP: Button(Needs.CANCEL, keep_link),
    keyboards.CARD_SHARE: Button(Needs.RESEND, share_link),
    keyboards.CARD_QR: Button(Needs.RESEND, send_qr),
    keyboards.CARD_OPEN: Button(Needs.VIEW, open_card),
    keyboards.CARD_REFUND: Button(Needs.REFUND, refunds.ask_refund),
    keyboards.CARD_REISSUE: Button(Needs.REISSUE, reissue_link),
}


async def share_inline(update: Update, context: PaylinkContext) -> None:
    """Answer "@bot <link id>" (or an empty query: my recent active links) with the customer message.

    A paid link named by its id gets its thank-you message.
    """
    query = update.inline_query
    if query is None:
        return
    services = context.services
    user_id = sender(update).id
    scope = await services.link_access.scope_for(user_id)
    candidates: list[Link] = []
    if scope is not None:
        wanted = query.query.strip()
        if wanted:
            found = await services.link_queries.lookup(wanted)
            candidates = [found] if found is not None else []
        else:
            candidates = (await services.link_queries.list_links(scope, StatusFilter.ACTIVE, 0, INLINE_RESULTS)).links
    results = [
        await _article(context, link)
        for link in candidates
        if _sendable(link) and await services.link_access.resend_refusal(link, user_id) is None
    ]
    # Personal and uncached: what a person may send depends on who they are, right now.
    await query.answer(results, cache_time=0, is_personal=True)


def _sendable(link: Link) -> bool:
    """Whether a customer message for this link says something useful: pay here, or (paid) thank you."""
    return link.status == LinkStatus.PAID or (link.status == LinkStatus.ACTIVE and bool(link.link_url))


async def _article(context: PaylinkContext, link: Link) -> InlineQueryResultArticle:
    """One inline result: the customer message for this link, in its customers' language."""
    with reading_as(await context.services.readers.customers_of(link.chat_id)):
        return InlineQueryResultArticle(
            id=link.merchant_link_id,
            title=clip(texts.inline_title(link), INLINE_TITLE_LIMIT),
            description=texts.inline_description(link),
            input_message_content=InputTextMessageContent(sending.fitted(texts.customer_message(link), MESSAGE_LIMIT)),
            reply_markup=keyboards.customer_keyboard(link),
        )
