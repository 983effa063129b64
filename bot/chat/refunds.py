"""Refunds in the chat: ``/refund <link or order> [amount] [reason]``, the paid card's Refund button, the confirmation.

Asking shows what will happen (amount first, the order, the customer's card, "cannot be undone")
and sends nothing; only the person who asked can confirm, and the refund service commits the
refund before PayerMax hears of it, so a double press or a redelivered update refunds once. The
outcome PayerMax settles later reaches the link's chat through the outbox.
"""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardMarkup, Message, Update

from bot.botapi import sending
from bot.botapi.markup import Markup, visible_text
from bot.chat import keyboards, texts
from bot.chat.context import PaylinkContext, actor, arguments, chat_of, message_of, query_of
from bot.chat.guards import refuse, refuse_unless
from bot.chat.reply import reply
from bot.i18n.reader import current
from bot.money import AmountError, AmountProblem, Money, read_amount_prefix, settle
from bot.services.access import Action
from bot.services.refunds import Proposal, RefundError, RefundOutcome, RefundProblem
from storage.models import Link, RefundStatus

log = logging.getLogger("paylink.chat.refunds")

CONFIRM_PATTERN = rf"^{keyboards.REFUND_PREFIX}:({keyboards.REFUND_YES}|{keyboards.REFUND_NO}):(\d+)$"


class _Unreadable(Exception):
    """The amount typed after the link id cannot be used; ``answer`` says why."""

    def __init__(self, answer: Markup) -> None:
        super().__init__("unreadable amount")
        self.answer = answer


def _amount_and_reason(typed: str, link: Link) -> tuple[Money | None, str]:
    """What follows the link id: an amount when its first word has a digit (in the paid currency), then the reason."""
    first = typed.split(maxsplit=1)[0] if typed else ""
    if not any(ch.isdigit() for ch in first):
        return None, typed  # no amount: everything that is left, and all of it is the reason
    try:
        reading = read_amount_prefix(typed, locale=current().locale, chat_currency=link.currency)
        if len(reading.amounts) > 1:
            raise AmountError(AmountProblem.AMBIGUOUS_AMOUNT, reading.text)
        reason = reading.rest
        if reading.currency is None and reading.currency_token and reading.currency_token.isalpha():
            reason = f"{reading.currency_token} {reason}".strip()  # "50000 try again": a word, not lira
        currency = reading.currency or link.currency
        return settle(reading, reading.amounts[0], currency), reason
    except AmountError as exc:
        raise _Unreadable(texts.amount_problem(exc)) from None


async def refund_command(update: Update, context: PaylinkContext) -> None:
    """Ask to refund a paid link: /refund PL… 50000 damaged box (without an amount: all that is left)."""
    if await refuse_unless(update, context, Action.REFUND):
        return
    typed = arguments(update)
    reference, _, rest = typed.partition(" ")
    if not reference:
        await reply(update, context, texts.refund_usage())
        return
    link = await context.services.link_queries.lookup(reference)
    if link is None:
        await reply(update, context, texts.refund_problem(RefundError(RefundProblem.NOT_FOUND)))
        return
    try:
        amount, reason = _amount_and_reason(rest.strip(), link)
    except _Unreadable as exc:
        await reply(update, context, exc.answer)
        return
    message = message_of(update)
    proposal = await _propose(
        update,
        context,
        reference=reference,
        amount=amount,
        reason=reason,
        request_key=f"msg:{message.chat_id}:{message.message_id}",
    )
    if proposal is not None:
        await reply(update, context, _confirmation(proposal, from_button=False), buttons=_buttons(proposal))


async def ask_refund(update: Update, context: PaylinkContext, link: Link) -> None:
    """The paid card's Refund: show the confirmation for everything left, as a reply to the card."""
    query = query_of(update)
    proposal = await _propose(update, context, link_id=link.id, request_key=f"press:{query.id}")
    if proposal is None:
        return
    await sending.answer(query, texts.refund_check_below())
    pressed = query.message
    await sending.send_text(
        context.bot,
        chat_of(update).id,
        _confirmation(proposal, from_button=True),
        buttons=_buttons(proposal),
        reply_to=pressed.message_id if isinstance(pressed, Message) else None,
    )


async def _propose(
    update: Update,
    context: PaylinkContext,
    *,
    request_key: str,
    reference: str | None = None,
    link_id: int | None = None,
    amount: Money | None = None,
    reason: str | None = None,
) -> Proposal | None:
    """Have the service check and keep the refund for confirmation; a problem is answered and gives None."""
    try:
        return await context.services.refunds.propose(
            actor(update), reference=reference, link_id=link_id, amount=amount, reason=reason, request_key=request_key
        )
    except RefundError as exc:
        await _tell_problem(update, context, exc)
        return None


async def _tell_problem(update: Update, context: PaylinkContext, error: RefundError) -> None:
    """Say why a refund cannot be made: a refusal for lack of permission, anything else in words."""
    if error.problem == RefundProblem.NOT_ALLOWED and error.refusal is not None:
        await refuse(update, context, error.refusal)
        return
    if update.callback_query is not None:
        await sending.answer(update.callback_query, visible_text(texts.refund_problem(error)), alert=True)
        return
    await reply(update, context, texts.refund_problem(error))


def _confirmation(proposal: Proposal, *, from_button: bool) -> Markup:
    return texts.refund_confirmation(proposal, from_button=from_button)


def _buttons(proposal: Proposal) -> InlineKeyboardMarkup:
    refund = proposal.refund
    assert refund.id is not None
    return keyboards.refund_confirm_keyboard(refund.id, texts.money(Money(refund.amount, refund.currency)))


async def refund_pressed(update: Update, context: PaylinkContext) -> None:
    """Yes or No under a refund's confirmation: only its asker may answer; Yes refunds once, however often pressed."""
    query = query_of(update)
    match = re.match(CONFIRM_PATTERN, query.data or "")
    if match is None:
        await sending.answer(query, texts.link_gone(), alert=True)
        return
    yes, refund_id, who = match.group(1) == keyboards.REFUND_YES, int(match.group(2)), actor(update)
    refunds = context.services.refunds
    message = query.message if isinstance(query.message, Message) else None
    try:
        refund, _link = await refunds.confirmable(refund_id, who)
        if refund.status != RefundStatus.PROPOSED:
            # A second press, or a press on an old confirmation: the first answer stays where it is.
            await sending.answer(query, visible_text(texts.refund_result(await refunds.as_now(refund))))
            return
        if not yes:
            result = await refunds.discard(refund_id, who)
            await sending.answer(query)
    except RefundError as exc:
        await _tell_problem(update, context, exc)
        return
    if yes:
        await sending.answer(query, texts.refund_sending())
        if message is not None:
            # Buttons off before the slow part: a second press while PayerMax answers has nothing to press.
            await sending.edit_buttons(context.bot, message.chat.id, message.message_id, None)
        try:
            result = await refunds.confirm(refund_id, who)
        except RefundError as exc:
            # Found out after the press was answered (more than is left now, another refund under way, too
            # late, permission taken back meanwhile): say so on the confirmation itself.
            if message is not None:
                await sending.edit_text(
                    context.bot, message.chat.id, message.message_id, _problem_text(exc, who.user_id)
                )
            return
    log.info("refund answered: %s", result.outcome.value, extra={"chat": chat_of(update).id, "user": who.user_id})
    if message is not None and result.outcome != RefundOutcome.ALREADY:  # the press that won says how it went
        await sending.edit_text(context.bot, message.chat.id, message.message_id, texts.refund_result(result))


def _problem_text(error: RefundError, user_id: int) -> Markup:
    """A refund problem as a message (a refusal for lack of permission included)."""
    if error.problem == RefundProblem.NOT_ALLOWED and error.refusal is not None:
        return Markup("{sentence}").format(sentence=texts.refusal(error.refusal, user_id))
    return texts.refund_problem(error)
