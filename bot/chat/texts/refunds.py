"""Refunds in words: the confirmation, what became of it, PayerMax's refusals, the chat's news and the card's state."""

from __future__ import annotations

from decimal import Decimal

from bot.chat.texts.base import Markup, _, clip, join, ltr, money, name_of, plain, t, when
from bot.chat.texts.cards import method_name
from bot.chat.texts.team import person
from bot.money import Money
from bot.payermax.errors import RefundRefusal, classify_refund_refusal
from bot.services.refund_summary import RefundState, RefundSummary
from bot.services.refunds import (
    NOT_SENT,
    REFUND_WINDOW,
    Proposal,
    RefundError,
    RefundOutcome,
    RefundProblem,
    RefundResult,
)
from storage.models import Link, Payment, Refund, RefundStatus

REASON_UNITS = 120  # how much of a reason a message repeats


def _amount(refund: Refund) -> str:
    return money(Money(refund.amount, refund.currency))


def _card(payment: Payment) -> str:
    """A card as people read it on receipts: its last four digits (PayerMax gives it masked)."""
    digits = "".join(ch for ch in payment.card_number or "" if ch.isdigit())
    return ltr(f"····{digits[-4:]}") if len(digits) >= 4 else ""


def refund_button() -> str:
    """The paid card's button."""
    return _("↩️ Refund")


def confirm_refund_button(amount: str) -> str:
    """Yes under the confirmation (plain text)."""
    return plain(_("↩️ Yes, refund {amount}"), amount=amount)


def keep_money_button() -> str:
    """No under the confirmation."""
    return _("✖️ No")


def refund_check_below() -> str:
    """The pop-up after the card's Refund (plain text)."""
    return _("Check the refund below, then confirm it.")


def refund_sending() -> str:
    """The pop-up after Yes (plain text)."""
    return _("Sending the refund to PayerMax…")


def refund_confirmation(proposal: Proposal, *, from_button: bool) -> Markup:
    """What will happen, amount first, and that it cannot be undone."""
    refund, link, payment = proposal.refund, proposal.link, proposal.payment
    card = _card(payment)
    values = {"amount": _amount(refund), "trade": ltr(refund.out_trade_no)}
    if card:
        question = t(
            _("Refund <b>{amount}</b> of order <code>{trade}</code> to the customer's card {card}?"),
            card=card,
            **values,
        )
    else:
        question = t(
            _("Refund <b>{amount}</b> of order <code>{trade}</code> to the customer's {method}?"),
            method=method_name(payment.payment_method),
            **values,
        )
    lines = [
        question,
        t(
            _("{description} · link <code>{link_id}</code>"),
            description=clip(link.description, 80),
            link_id=ltr(link.merchant_link_id),
        ),
    ]
    if refund.comments:
        lines.append(
            t(_("Reason (PayerMax keeps it with the refund): {reason}"), reason=clip(refund.comments, REASON_UNITS))
        )
    if proposal.remaining_after > 0:
        lines.append(
            t(_("{left} stays refundable after this."), left=money(Money(proposal.remaining_after, refund.currency)))
        )
    else:
        lines.append(t(_("Nothing stays refundable after this.")))
    lines.append(t(_("<b>This cannot be undone.</b>")))
    if from_button:
        lines.append(
            t(
                _("To refund only part, send <code>/refund {link_id} amount reason</code>."),
                link_id=ltr(link.merchant_link_id),
            )
        )
    if link.sandbox:
        lines.append(t(_("🧪 SANDBOX: no real money moves.")))
    return join(lines)


def refusal_reason(refusal: RefundRefusal | None, code: str, msg: str) -> Markup:
    """Why PayerMax refused a refund, in words, and what to do about it."""
    match refusal:
        case RefundRefusal.INSUFFICIENT_BALANCE:
            return t(
                _(
                    "Your PayerMax balance is too low to cover it. Refunds come out of the money PayerMax has "
                    "not paid out to you yet; try again once enough has come in."
                )
            )
        case RefundRefusal.TOO_OLD:
            return t(_("The payment is more than 180 days old. PayerMax no longer refunds it."))
        case RefundRefusal.IN_PROGRESS:
            return t(_("Another refund of this order is still being processed. Wait for it to finish, then try again."))
        case RefundRefusal.FULL_REFUND_ONLY:
            return t(_("This payment method can only be refunded in full. Refund the whole amount instead."))
        case RefundRefusal.EXCEEDS_REFUNDABLE:
            return t(_("That is more than PayerMax says is left to refund on this order."))
        case RefundRefusal.ORDER_NOT_FOUND:
            return t(_("PayerMax doesn't know this order."))
        case RefundRefusal.ORDER_NOT_PAID:
            return t(_("PayerMax says this order was not paid, so there is nothing to refund."))
        case RefundRefusal.TEMPORARY:
            return t(_("PayerMax is busy right now. Try again in a few minutes."))
        case RefundRefusal.INVALID_REQUEST | RefundRefusal.REFUND_NO_REUSED:
            return t(
                _("PayerMax found something wrong in the request ({code}: {msg}). Please tell the bot's operator."),
                code=ltr(code),
                msg=clip(msg, REASON_UNITS),
            )
        case _:
            if code == NOT_SENT:
                return t(_("PayerMax could not be reached for an hour, so I gave up. Nothing was refunded; try again."))
            return t(_("PayerMax said: {code} {msg}"), code=ltr(code), msg=clip(msg, REASON_UNITS))


def _left(remaining: Decimal, currency: str) -> Markup:
    if remaining > 0:
        return t(_("{left} can still be refunded."), left=money(Money(remaining, currency)))
    return t(_("Nothing is left to refund."))


def refund_result(result: RefundResult) -> Markup:
    """What the confirmation says once pressed: sent, done, refused, or not confirmed yet."""
    refund = result.refund
    amount = _amount(refund)
    match result.outcome:
        case RefundOutcome.ACCEPTED:
            return join(
                [
                    t(
                        _("⏳ Refund of <b>{amount}</b> sent to PayerMax by {name}."),
                        amount=amount,
                        name=name_of(refund.requested_by_name, refund.requested_by),
                    ),
                    t(_("I'll tell this chat when PayerMax has done it.")),
                ]
            )
        case RefundOutcome.SUCCEEDED:
            return join([t(_("✅ Refunded <b>{amount}</b>."), amount=amount), _left(result.remaining, refund.currency)])
        case RefundOutcome.FAILED:
            return t(
                _(
                    "❌ PayerMax could not complete the refund of <b>{amount}</b>. "
                    "The money stays in your PayerMax balance."
                ),
                amount=amount,
            )
        case RefundOutcome.REFUSED:
            return join(
                [
                    t(_("❌ Not refunded: PayerMax refused the refund of <b>{amount}</b>."), amount=amount),
                    refusal_reason(result.refusal, result.code, result.msg),
                ]
            )
        case RefundOutcome.UNCONFIRMED:
            return t(
                _(
                    "⏳ PayerMax hasn't confirmed the refund of <b>{amount}</b> yet. I'll keep asking and tell "
                    "this chat how it ends. Don't refund it again meanwhile."
                ),
                amount=amount,
            )
        case RefundOutcome.DISCARDED:
            return t(_("Not refunded. Nothing was sent to PayerMax."))
        case _:
            return t(
                _("This refund of <b>{amount}</b> was already answered: {state}."),
                amount=amount,
                state=refund_status(refund),
            )


def refund_status(refund: Refund) -> str:
    """A refund's state in a few words."""
    return refund_status_name(refund.status)


def refund_status_name(status: RefundStatus | str) -> str:
    """A refund status in a few words (as stored: unknown ones as they are)."""
    if status not in set(RefundStatus):
        return str(status)
    return {
        RefundStatus.PROPOSED: _("waiting for confirmation"),
        RefundStatus.DISCARDED: _("called off, nothing sent"),
        RefundStatus.REQUESTING: _("being sent to PayerMax"),
        RefundStatus.PENDING: _("with PayerMax"),
        RefundStatus.SUCCESS: _("refunded"),
        RefundStatus.FAILED: _("failed"),
        RefundStatus.REFUSED: _("refused by PayerMax"),
    }[RefundStatus(status)]


def refund_problem(error: RefundError) -> Markup:
    """Why a refund cannot be made (a refusal for lack of permission is worded by texts.refusal)."""
    match error.problem:
        case RefundProblem.NOT_FOUND:
            return t(
                _(
                    "I don't know that link or order. Send <code>/refund</code> with a link id "
                    "(<code>PL…</code>) or an order number."
                )
            )
        case RefundProblem.NOT_PAID:
            return t(_("This link hasn't been paid, so there is nothing to refund."))
        case RefundProblem.TOO_OLD:
            return t(
                _("This payment is from {when}: PayerMax refunds payments only within {days} days."),
                when=when(error.paid_at),
                days=REFUND_WINDOW.days,
            )
        case RefundProblem.NOTHING_LEFT:
            return t(_("This payment has been refunded in full already."))
        case RefundProblem.EXCEEDS if error.remaining is not None:
            return t(
                _("That is more than is left: at most <b>{left}</b> can still be refunded."),
                left=money(error.remaining),
            )
        case RefundProblem.IN_PROGRESS:
            amount = _amount(error.refund) if error.refund is not None else ""
            return t(
                _(
                    "A refund of {amount} of this payment is still with PayerMax. "
                    "Wait until it is done (the chat is told), then try again."
                ),
                amount=amount,
            )
        case RefundProblem.WRONG_CURRENCY:
            return t(
                _("The refund must be in {currency}, the currency the customer paid in."),
                currency=ltr(error.currency or ""),
            )
        case RefundProblem.TOO_PRECISE:
            return t(_("{currency} doesn't have that many decimals."), currency=ltr(error.currency or ""))
        case RefundProblem.NOT_POSITIVE:
            return t(_("The amount to refund must be more than zero."))
        case RefundProblem.REASON_TOO_LONG:
            return t(_("The reason is too long: PayerMax takes up to 256 characters."))
        case RefundProblem.EXPIRED:
            return t(
                _(
                    "This confirmation is more than 30 minutes old, so I didn't refund. "
                    "Ask again to see what is refundable now."
                )
            )
        case RefundProblem.NOT_YOURS:
            return t(_("Only the person who asked for this refund can confirm it."))
        case _:
            return t(_("I can't make this refund."))


def refund_usage() -> Markup:
    """/refund without a link."""
    return t(
        _(
            "Which payment? Send <code>/refund</code> with a link id or order number, then optionally an "
            "amount and a reason, for example <code>/refund PL… 50000 damaged box</code>. Without an amount "
            "everything that is left is refunded. Or press ↩️ Refund on a paid card."
        )
    )


def refund_message(link: Link, refund: Refund, remaining: Decimal) -> Markup:
    """The chat's news once PayerMax has settled a refund (or a refund could not be made after all)."""
    amount = _amount(refund)
    by = name_of(refund.requested_by_name, refund.requested_by)
    ids = t(
        _("Order <code>{trade}</code> · link <code>{link_id}</code> · asked for by {name}"),
        trade=ltr(refund.out_trade_no),
        link_id=ltr(link.merchant_link_id),
        name=by,
    )
    description = t("{description}", description=link.description)
    status = RefundStatus(refund.status)
    if status == RefundStatus.SUCCESS:
        lines = [
            t(_("↩️ <b>Refunded: {amount}</b>"), amount=amount),
            description,
            ids,
            _left(remaining, refund.currency),
        ]
        if link.sandbox:
            lines.append(t(_("🧪 SANDBOX refund: no real money moved.")))
        return join(lines)
    if status == RefundStatus.FAILED:
        return join(
            [
                t(_("❌ <b>Refund failed: {amount}</b>"), amount=amount),
                description,
                ids,
                t(_("PayerMax could not complete it. The money stays in your PayerMax balance; you can try again.")),
            ]
        )
    return join(
        [
            t(_("❌ <b>Refund not made: {amount}</b>"), amount=amount),
            description,
            ids,
            refusal_reason(_refusal_of(refund), refund.failure_code or "", refund.failure_message or ""),
        ]
    )


def _refusal_of(refund: Refund) -> RefundRefusal | None:
    return (
        classify_refund_refusal(refund.failure_code)
        if refund.failure_code and refund.failure_code != NOT_SENT
        else None
    )


def card_refund_line(summary: RefundSummary) -> Markup | None:
    """The paid card's line about refunds (None when there is nothing to say)."""
    currency = summary.currency

    def of(value: Decimal) -> str:
        return money(Money(value, currency))

    match summary.state:
        case RefundState.PENDING:
            return t(_("⏳ <b>REFUND PENDING</b>: {amount}"), amount=of(summary.pending))
        case RefundState.REFUNDED:
            return t(_("↩️ <b>REFUNDED</b>: {amount}"), amount=of(summary.refunded))
        case RefundState.PARTIALLY_REFUNDED:
            return t(
                _("↩️ <b>PARTIALLY REFUNDED</b>: {refunded} of {paid} · {left} left"),
                refunded=of(summary.refunded),
                paid=of(summary.paid),
                left=of(summary.remaining),
            )
        case RefundState.FAILED:
            failed = of(summary.latest.amount) if summary.latest is not None else ""
            if summary.refunded:
                return t(
                    _("❌ <b>REFUND FAILED</b>: {amount} ({refunded} refunded before)"),
                    amount=failed,
                    refunded=of(summary.refunded),
                )
            return t(_("❌ <b>REFUND FAILED</b>: {amount}"), amount=failed)
        case _:
            return None


def timeline_refund(refund: Refund) -> Markup:
    """One refund in /status: amount, state, who asked and when, the reason."""
    line = t(
        _("• {amount} · {state} · asked for by {person}, {when} · <code>{refund_id}</code>"),
        amount=_amount(refund),
        state=refund_status(refund),
        person=person(refund.requested_by_name, refund.requested_by),
        when=when(refund.confirmed_at or refund.created_at),
        refund_id=ltr(refund.out_refund_no),
    )
    if refund.comments:
        return t("{line}\n    {reason}", line=line, reason=clip(refund.comments, REASON_UNITS))
    return line


def refund_mismatch_alert(refund_id: str, expected: str, reported: str, trade: str) -> Markup:
    """Tell owners PayerMax reported a refund that does not match the one we asked for."""
    return t(
        _(
            "⚠️ <b>Refund mismatch</b> on refund <code>{refund_id}</code>: we asked for {expected}, PayerMax "
            "reported {reported} (order <code>{trade}</code>). It is NOT marked as refunded. Check it in the "
            "PayerMax merchant portal."
        ),
        refund_id=ltr(refund_id),
        expected=ltr(expected),
        reported=ltr(reported),
        trade=ltr(trade),
    )
