"""Making links: /link in one message, and the /newlink conversation (amount, description, Create).

The card for a new link is not sent from here: the link service queues it in the outbox in the
same transaction that marks the link ACTIVE, so it appears exactly once even across crashes.
"""

from __future__ import annotations

import logging

from telegram import ForceReply, Update
from telegram.constants import ChatAction, ChatType

from bot.botapi import sending
from bot.botapi.markup import Markup
from bot.chat import keyboards, texts
from bot.chat.context import PaylinkContext, chat_of, message_of, query_of, sender
from bot.chat.guards import refuse_unless
from bot.chat.reply import reply
from bot.money import AmountError, Money, format_money, parse_amount, parse_amount_prefix
from bot.services.access import Action
from bot.services.drafts import Step
from bot.services.links import LinkOrder, LinkPending, LinkRefused

log = logging.getLogger("paylink.chat")

MAX_DESCRIPTION = 256
ASK_AGAIN = ForceReply(selective=True)


def _description_problem(description: str) -> Markup | None:
    if not description:
        return texts.DESCRIPTION_EMPTY
    if len(description) > MAX_DESCRIPTION:
        return texts.DESCRIPTION_TOO_LONG.format(length=len(description))
    return None


async def link_command(update: Update, context: PaylinkContext) -> None:
    """Create a link from one message: /link 150000 IDR Winter shoes."""
    if await refuse_unless(update, context, Action.CREATE_LINK):
        return
    defaults = await context.services.chat_defaults.defaults_for(chat_of(update).id)
    parts = (message_of(update).text or "").split(maxsplit=1)
    if len(parts) < 2:
        await reply(update, context, texts.NEED_DESCRIPTION)
        return
    try:
        money, description = parse_amount_prefix(parts[1], defaults.currency)
    except AmountError as exc:
        await reply(update, context, texts.BAD_AMOUNT.format(reason=exc.message))
        return
    problem = texts.NEED_DESCRIPTION if not description else _description_problem(description)
    if problem:
        await reply(update, context, problem)
        return
    message = message_of(update)
    await _create(update, context, money, description, request_key=f"msg:{message.chat_id}:{message.message_id}")


async def new_link(update: Update, context: PaylinkContext) -> None:
    """Start the conversation: ask for the amount."""
    if await refuse_unless(update, context, Action.CREATE_LINK):
        return
    chat = chat_of(update)
    defaults = await context.services.chat_defaults.defaults_for(chat.id)
    await context.services.drafts.start(chat.id, sender(update).id)
    await reply(update, context, texts.ASK_AMOUNT.format(currency=defaults.currency), buttons=ASK_AGAIN)


async def draft_step(update: Update, context: PaylinkContext) -> None:
    """Route a plain message to the step of the sender's /newlink draft, if there is one."""
    chat, user = chat_of(update), sender(update)
    draft = await context.services.drafts.get(chat.id, user.id)
    if draft is None:
        if chat.type == ChatType.PRIVATE:
            await reply(update, context, texts.NO_DRAFT)
        return
    if draft.step == Step.AMOUNT:
        await amount_step(update, context)
    elif draft.step == Step.DESCRIPTION:
        await description_step(update, context, draft.money)
    else:
        await reply(update, context, texts.PRESS_CREATE)


async def amount_step(update: Update, context: PaylinkContext) -> None:
    """Read the amount, or explain what is wrong with it and ask again."""
    chat = chat_of(update)
    defaults = await context.services.chat_defaults.defaults_for(chat.id)
    try:
        money = parse_amount(message_of(update).text or "", defaults.currency)
    except AmountError as exc:
        await reply(update, context, texts.BAD_AMOUNT.format(reason=exc.message), buttons=ASK_AGAIN)
        return
    await context.services.drafts.set_amount(chat.id, sender(update).id, money)
    await reply(update, context, texts.ASK_DESCRIPTION, buttons=ASK_AGAIN)


async def description_step(update: Update, context: PaylinkContext, money: Money | None) -> None:
    """Read the description and show the summary with Create / Cancel."""
    chat, user = chat_of(update), sender(update)
    description = (message_of(update).text or "").strip()
    problem = _description_problem(description)
    if problem or money is None:
        await reply(update, context, problem or texts.DESCRIPTION_EMPTY, buttons=ASK_AGAIN)
        return
    drafts = context.services.drafts
    await drafts.set_description(chat.id, user.id, description)
    defaults = await context.services.chat_defaults.defaults_for(chat.id)
    summary = texts.CONFIRM.format(
        amount=format_money(money), description=description, expiry=texts.expiry_text(defaults.expires_seconds)
    )
    sent = await reply(update, context, summary, buttons=keyboards.confirm_keyboard())
    await drafts.set_summary(chat.id, user.id, sent.message_id)


def _summary_outcome(template: Markup, money: Money, description: str) -> Markup:
    return template.format(amount=format_money(money), description=description)


async def confirm_create(update: Update, context: PaylinkContext) -> None:
    """Create the link the summary shows; a second tap finds the first link, never an error."""
    query = query_of(update)
    services = context.services
    chat, user = chat_of(update), sender(update)
    summary = query.message
    if summary is None:
        await sending.answer(query, texts.STALE_SUMMARY, alert=True)
        return
    request_key = f"cb:{summary.chat.id}:{summary.message_id}"
    # The draft first: a first press that finishes between the two reads has made the link, so the
    # second press hears "already being created" rather than "out of date".
    draft = await services.drafts.get(chat.id, user.id)
    if await services.links.exists(request_key):
        await sending.answer(query, texts.ALREADY_REQUESTED)
        return
    if draft is None or draft.summary_message_id != summary.message_id or draft.money is None or not draft.description:
        await sending.answer(query, texts.STALE_SUMMARY, alert=True)
        return
    if await refuse_unless(update, context, Action.CREATE_LINK):
        return
    await sending.answer(query, texts.CREATING)
    # Buttons off before the slow part: a second press while PayerMax answers has nothing to press.
    await sending.edit_buttons(context.bot, summary.chat.id, summary.message_id, None)
    made = await _create(update, context, draft.money, draft.description, request_key=request_key)
    await services.drafts.discard(chat.id, user.id)
    outcome = texts.SUMMARY_CREATED if made else texts.SUMMARY_REFUSED
    await sending.edit_text(
        context.bot, summary.chat.id, summary.message_id, _summary_outcome(outcome, draft.money, draft.description)
    )


async def abort_create(update: Update, context: PaylinkContext) -> None:
    """Drop the draft behind the summary, and say on the summary that nothing was made."""
    query = query_of(update)
    chat, user = chat_of(update), sender(update)
    draft = await context.services.drafts.get(chat.id, user.id)
    summary = query.message
    if draft is None or summary is None or draft.summary_message_id != summary.message_id:
        await sending.answer(query, texts.STALE_SUMMARY, alert=True)
        return
    await context.services.drafts.discard(chat.id, user.id)
    await sending.answer(query)
    if draft.money is not None and draft.description:
        text = _summary_outcome(texts.SUMMARY_CANCELLED, draft.money, draft.description)
    else:
        text = texts.CANCELLED
    await sending.edit_text(context.bot, summary.chat.id, summary.message_id, text)


async def cancel(update: Update, context: PaylinkContext) -> None:
    """Leave the /newlink conversation."""
    had_draft = await context.services.drafts.discard(chat_of(update).id, sender(update).id)
    await reply(update, context, texts.CANCELLED if had_draft else texts.NOTHING_TO_CANCEL)


async def _create(update: Update, context: PaylinkContext, money: Money, description: str, *, request_key: str) -> bool:
    """Ask the link service for the link (the card follows from the outbox); False if PayerMax refused it."""
    chat, user = chat_of(update), sender(update)
    defaults = await context.services.chat_defaults.defaults_for(chat.id)
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
        result = await context.services.links.create(order)
    except LinkRefused as exc:
        await reply(update, context, texts.sandboxed(exc.link, texts.REFUSED.format(code=exc.code, msg=exc.msg)))
        return False
    except LinkPending as exc:
        await reply(update, context, texts.sandboxed(exc.link, texts.PENDING.format(link_id=exc.link.merchant_link_id)))
        return True
    if not result.created:
        log.info("repeated request for an existing link", extra={"link": result.link.merchant_link_id, "chat": chat.id})
    return True
