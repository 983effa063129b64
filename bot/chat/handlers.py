"""Telegram handlers: one ``async def`` per step, registered in :func:`register`.

The card for a new link is not sent from here: the link service queues it in the outbox in the
same transaction that marks the link ACTIVE, so it appears exactly once even across crashes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape

from telegram import ForceReply, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.chat import keyboards, texts
from bot.chat import settings as chat_settings, team
from bot.chat import cards, lists
from bot.money import AmountError, Money, format_money, parse_amount, parse_amount_prefix
from bot.services.access import AccessService, Action
from bot.services.chats import ChatDefaults, ChatSettingsService
from bot.services.drafts import DraftService, Step
from bot.services.updates import UpdateLog
from bot.services.audit import AuditLog
from bot.services.team import TeamService
from bot.services.links import LinkOrder, LinkPending, LinkRefused, LinkService
from bot.services.manage import LinkManager

log = logging.getLogger("paylink.chat")

HANDLED_GROUP = 1000  # runs after every other handler group

MAX_DESCRIPTION = 256


@dataclass(frozen=True)
class ChatServices:
    """What the handlers need, kept in ``bot_data`` so handlers stay plain functions."""

    links: LinkService
    chats: ChatSettingsService
    drafts: DraftService
    updates: UpdateLog
    access: AccessService
    team: TeamService
    audit: AuditLog
    manage: LinkManager


def _services(context: ContextTypes.DEFAULT_TYPE) -> ChatServices:
    return context.application.bot_data["services"]


async def _reply(update: Update, text: str, **kwargs: object) -> None:
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, **kwargs)


async def refuse_unless(update: Update, context: ContextTypes.DEFAULT_TYPE, action: Action) -> bool:
    """Tell a person who may not do this so (which role, who grants it); True if refused."""
    user = update.effective_user
    refusal = await _services(context).access.check(user.id, action)
    if refusal is None:
        return False
    log.info("refused: %s", action.value, extra={"chat": update.effective_chat.id, "user": user.id})
    if update.callback_query:
        await update.callback_query.answer(refusal.text(user.id)[:200], show_alert=True)
    else:
        await _reply(update, escape(refusal.text(user.id)))
    return True


async def _defaults(update: Update, context: ContextTypes.DEFAULT_TYPE) -> ChatDefaults:
    return await _services(context).chats.defaults_for(update.effective_chat.id)


def _description_problem(description: str) -> str | None:
    if not description:
        return texts.DESCRIPTION_EMPTY
    if len(description) > MAX_DESCRIPTION:
        return texts.DESCRIPTION_TOO_LONG.format(length=len(description))
    return None


async def drop_repeated_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop an update that is done or being handled elsewhere (Telegram redelivers after timeouts and restarts)."""
    if not await _services(context).updates.claim(update.update_id):
        log.info("dropped a repeated update %s", update.update_id)
        raise ApplicationHandlerStop


async def remember_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Mark the update done after its handlers ran: a crash mid-way lets its redelivery run it."""
    await _services(context).updates.done(update.update_id)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet and explain, or join the team with the invite code a t.me/<bot>?start=<code> link carries."""
    if context.args:
        await team.accept_invite(update, context)
        return
    await help_command(update, context)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show what the bot can do."""
    defaults = await _defaults(update, context)
    await _reply(update, texts.HELP.format(currency=defaults.currency))


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a command we do not know with the help."""
    defaults = await _defaults(update, context)
    await _reply(update, texts.UNKNOWN_COMMAND + texts.HELP.format(currency=defaults.currency))


async def link_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Create a link from one message: /link 150000 IDR Winter shoes."""
    if await refuse_unless(update, context, Action.CREATE_LINK):
        return
    defaults = await _defaults(update, context)
    parts = (update.effective_message.text or "").split(maxsplit=1)
    if len(parts) < 2:
        await _reply(update, texts.NEED_DESCRIPTION)
        return
    try:
        money, description = parse_amount_prefix(parts[1], defaults.currency)
    except AmountError as exc:
        await _reply(update, texts.BAD_AMOUNT.format(reason=exc.message))
        return
    problem = texts.NEED_DESCRIPTION if not description else _description_problem(description)
    if problem:
        await _reply(update, problem)
        return
    message = update.effective_message
    await _create(update, context, money, description, request_key=f"msg:{message.chat_id}:{message.message_id}")


async def new_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Start the conversation: ask for the amount."""
    if await refuse_unless(update, context, Action.CREATE_LINK):
        return
    defaults = await _defaults(update, context)
    await _services(context).drafts.start(update.effective_chat.id, update.effective_user.id)
    await _reply(update, texts.ASK_AMOUNT.format(currency=defaults.currency), reply_markup=ForceReply(selective=True))


async def draft_step(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Route a plain message to the step of the sender's /newlink draft, if there is one."""
    chat, user = update.effective_chat, update.effective_user
    draft = await _services(context).drafts.get(chat.id, user.id)
    if draft is None:
        if chat.type == ChatType.PRIVATE:
            await _reply(update, texts.NO_DRAFT)
        return
    if draft.step == Step.AMOUNT:
        await amount_step(update, context)
    elif draft.step == Step.DESCRIPTION:
        await description_step(update, context, draft.money)
    else:
        await _reply(update, texts.PRESS_CREATE)


async def amount_step(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Read the amount, or explain what is wrong with it and ask again."""
    defaults = await _defaults(update, context)
    try:
        money = parse_amount(update.effective_message.text or "", defaults.currency)
    except AmountError as exc:
        await _reply(update, texts.BAD_AMOUNT.format(reason=exc.message), reply_markup=ForceReply(selective=True))
        return
    await _services(context).drafts.set_amount(update.effective_chat.id, update.effective_user.id, money)
    await _reply(update, texts.ASK_DESCRIPTION, reply_markup=ForceReply(selective=True))


async def description_step(update: Update, context: ContextTypes.DEFAULT_TYPE, money: Money | None) -> None:
    """Read the description and show the summary with Create / Cancel."""
    chat, user = update.effective_chat, update.effective_user
    description = (update.effective_message.text or "").strip()
    problem = _description_problem(description)
    if problem or money is None:
        await _reply(update, problem or texts.DESCRIPTION_EMPTY, reply_markup=ForceReply(selective=True))
        return
    drafts = _services(context).drafts
    await drafts.set_description(chat.id, user.id, description)
    defaults = await _defaults(update, context)
    summary = texts.CONFIRM.format(
        amount=escape(format_money(money)), description=escape(description), expiry=texts.expiry_text(defaults.expires_seconds)
    )
    sent = await update.effective_message.reply_text(summary, parse_mode=ParseMode.HTML, reply_markup=keyboards.confirm_keyboard())
    await drafts.set_summary(chat.id, user.id, sent.message_id)


async def confirm_create(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Create the link the summary shows; a second tap finds the first link."""
    query = update.callback_query
    services = _services(context)
    chat, user = update.effective_chat, update.effective_user
    request_key = f"cb:{query.message.chat_id}:{query.message.message_id}"
    if await services.links.exists(request_key):
        await query.answer(texts.ALREADY_REQUESTED)
        return
    draft = await services.drafts.get(chat.id, user.id)
    if draft is None or draft.summary_message_id != query.message.message_id or draft.money is None or not draft.description:
        await query.answer(texts.STALE_SUMMARY, show_alert=True)
        return
    if await refuse_unless(update, context, Action.CREATE_LINK):
        return
    await query.answer(texts.CREATING)
    await _create(update, context, draft.money, draft.description, request_key=request_key)
    await services.drafts.discard(chat.id, user.id)
    await query.edit_message_reply_markup(reply_markup=None)


async def abort_create(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Drop the draft behind the summary."""
    query = update.callback_query
    draft = await _services(context).drafts.get(update.effective_chat.id, update.effective_user.id)
    if draft is None or draft.summary_message_id != query.message.message_id:
        await query.answer(texts.STALE_SUMMARY, show_alert=True)
        return
    await _services(context).drafts.discard(update.effective_chat.id, update.effective_user.id)
    await query.answer()
    await query.edit_message_text(texts.CANCELLED)


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Leave the /newlink conversation."""
    had_draft = await _services(context).drafts.discard(update.effective_chat.id, update.effective_user.id)
    await _reply(update, texts.CANCELLED if had_draft else texts.NOTHING_TO_CANCEL)


async def _create(update: Update, context: ContextTypes.DEFAULT_TYPE, money: Money, description: str, *, request_key: str) -> None:
    """Ask the link service for the link; the card follows from the outbox."""
    chat, user = update.effective_chat, update.effective_user
    defaults = await _defaults(update, context)
    order = LinkOrder(
        chat_id=chat.id,
        chat_type=chat.type,
        chat_title=chat.title if chat.type != ChatType.PRIVATE else None,
        user_id=user.id,
        user_name=user.full_name,
        money=money,
        description=description,
        country=defaults.country,
        language=defaults.language,
        expires_seconds=defaults.expires_seconds,
        request_key=request_key,
    )
    await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_PHOTO)
    try:
        result = await _services(context).links.create(order)
    except LinkRefused as exc:
        await _reply(update, texts.sandboxed(exc.link, texts.REFUSED.format(code=escape(exc.code), msg=escape(exc.msg))))
        return
    except LinkPending as exc:
        await _reply(update, texts.sandboxed(exc.link, texts.PENDING.format(link_id=exc.link.merchant_link_id)))
        return
    if not result.created:
        log.info("repeated request for an existing link", extra={"link": result.link.merchant_link_id, "chat": chat.id})


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure and tell the person nothing was created."""
    log.error("handler failed: %s", context.error, exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        try:
            await update.effective_message.reply_text(texts.INTERNAL_ERROR)
        except Exception:  # the reply is a courtesy; the failure is already logged
            log.warning("could not tell the user about the failure")


def register(application: Application) -> None:
    """Register every handler, in the order Telegram updates should meet them."""
    application.add_handler(TypeHandler(Update, drop_repeated_update), group=-1)
    application.add_handler(TypeHandler(Update, remember_update), group=HANDLED_GROUP)
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("link", link_command))
    application.add_handler(CommandHandler("newlink", new_link))
    application.add_handler(CommandHandler("cancel", cancel))
    application.add_handler(CallbackQueryHandler(confirm_create, pattern=f"^{keyboards.CREATE}$"))
    application.add_handler(CallbackQueryHandler(abort_create, pattern=f"^{keyboards.ABORT}$"))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, draft_step))
    team.register(application)
    chat_settings.register(application)
    cards.register(application)
    lists.register(application)
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    application.add_error_handler(on_error)
