"""The link card, "Paid", the customer's message, and what the card's buttons say."""

from __future__ import annotations

from bot.botapi.markup import CAPTION_LIMIT, visible_length
from bot.chat.texts.base import (
    NAME_UNITS,
    Markup,
    _,
    clip,
    join,
    ltr,
    money,
    money_of,
    name_of,
    pgettext,
    plain,
    sandbox_banner,
    t,
    when,
)
from bot.i18n.reader import current
from bot.label.text import LabelText
from bot.money import Money
from bot.services.link_actions import CancelOutcome, CancelResult
from storage.models import Link, LinkStatus, Payment

QUESTION_DESCRIPTION_UNITS = 60  # how much of the description a question about a link repeats
STATUS_EMOJI = {
    LinkStatus.CREATING: "🕓",
    LinkStatus.ACTIVE: "⏳",
    LinkStatus.PAID: "✅",
    LinkStatus.EXPIRED: "⌛",
    LinkStatus.CANCELLED: "✖️",
    LinkStatus.FAILED: "❌",
}


def status_text(link: Link) -> str:
    """A link's state in a few words: "waiting for payment", "paid", "expired"."""
    return {
        LinkStatus.CREATING: _("being made"),
        LinkStatus.ACTIVE: _("waiting for payment"),
        LinkStatus.PAID: _("paid"),
        LinkStatus.EXPIRED: _("expired"),
        LinkStatus.CANCELLED: _("cancelled"),
        LinkStatus.FAILED: _("not made"),
    }[LinkStatus(link.status)]


def method_name(method: str | None) -> str:
    """PayerMax's paymentMethodType in the reader's words ("CARD" -> "card"); an unknown one as PayerMax wrote it."""
    names = {
        "CARD": pgettext("payment method", "card"),
        "WALLET": pgettext("payment method", "e-wallet"),
        "APPLEPAY": "Apple Pay",
        "GOOGLEPAY": "Google Pay",
        "ONLINE_BANKING": pgettext("payment method", "online banking"),
        "BANK_TRANSFER": pgettext("payment method", "bank transfer"),
        "VA": pgettext("payment method", "virtual account"),
    }
    if not method:
        return pgettext("payment method", "unknown method")
    return names.get(method.upper(), method)


def payment_method(payment: Payment) -> str:
    """How the customer paid, with the card masked as PayerMax gave it (plain text, kept in one piece)."""
    parts = [method_name(payment.payment_method)]
    if payment.card_org:
        parts.append(payment.card_org)
    if payment.card_number:
        parts.append(payment.card_number)
    elif payment.target_org:
        parts.append(payment.target_org)
    return ltr(" · ".join(parts))


def _status_line(link: Link, payment: Payment | None, cancelled_by: str | None) -> Markup:
    status = LinkStatus(link.status)
    if status == LinkStatus.PAID:
        paid = t(_("✅ <b>PAID</b> {when}"), when=when(link.paid_at))
        if payment is None:
            return paid
        return join([paid, t(_("Paid with {method}"), method=payment_method(payment))])
    if status == LinkStatus.EXPIRED:
        ended = min(link.expires_at, link.updated_at) if link.expires_at else link.updated_at
        return t(_("⌛ <b>Expired</b> {when}"), when=when(ended))
    if status == LinkStatus.CANCELLED:
        if cancelled_by:
            return t(_("✖️ <b>Cancelled</b> {when} by {name}"), when=when(link.updated_at), name=name_of(cancelled_by))
        return t(_("✖️ <b>Cancelled</b> {when}"), when=when(link.updated_at))
    if status == LinkStatus.FAILED:
        return t(_("❌ <b>Not made</b>"))
    if status == LinkStatus.CREATING:
        return t(_("⏳ Being made at PayerMax…"))
    return t(_("⏳ Waiting for payment · valid until {when}"), when=when(link.expires_at))


def link_card(
    link: Link, payment: Payment | None = None, cancelled_by: str | None = None, refund_line: Markup | None = None
) -> Markup:
    """The caption of a link card (at most a caption's 1,024 units: the description gives way).

    ``refund_line`` is what a paid card says about its refunds (texts.card_refund_line), if anything.
    """

    def card(description: str) -> Markup:
        lines = [
            t("<b>{amount}</b>", amount=money_of(link)),  # the amount leads; the sandbox note closes the card
            t("{description}", description=description),
            Markup(""),
            _status_line(link, payment, cancelled_by),
        ]
        if refund_line is not None:
            lines.append(refund_line)
        if link.status == LinkStatus.ACTIVE and link.link_url:
            lines.append(t(_("Pay here: {url}"), url=ltr(link.link_url)))
        lines.append(t(_("Link ID <code>{link_id}</code>"), link_id=ltr(link.merchant_link_id)))
        if link.sandbox:
            lines.append(sandbox_banner())
        return join(lines)

    without = visible_length(card(""))
    return card(clip(link.description, CAPTION_LIMIT - without))


def paid_message(
    link: Link, payment: Payment, *, made_by: bool = False, place: str | None = None, about: Markup | None = None
) -> Markup:
    """The announcement that a link was paid: the amount first.

    ``made_by``: name who made the link (in a group, where several people make links); ``place``: the
    group the link was made in (the creator's private copy); ``about``: a line of its own instead
    (the payments feed says who made it and where).
    """
    lines = [
        t(_("✅ <b>Paid: {amount}</b>"), amount=money(Money(payment.amount, payment.currency))),
        t("{description}", description=link.description),
    ]
    if about is not None:
        lines.append(about)
    elif place:
        lines.append(t(_("Your link in {chat}"), chat=ltr(clip(place, NAME_UNITS))))
    elif made_by:
        lines.append(t(_("Link by {person}"), person=name_of(link.creator_name, link.creator_user_id)))
    lines += [
        t(_("Paid with {method}"), method=payment_method(payment)),
        t(
            _("Paid at {when} · link <code>{link_id}</code>"),
            when=when(payment.completed_at),
            link_id=ltr(link.merchant_link_id),
        ),
    ]
    if link.sandbox:
        lines.append(t(_("🧪 SANDBOX payment: no real money moved.")))
    return join(lines)


def customer_message(link: Link) -> Markup:
    """The clean message for the customer: how much, what for, where to pay, until when; once paid, thanks."""
    if link.status == LinkStatus.PAID:
        paid = [
            t(_("✅ <b>Paid: {amount}</b>. Thank you!"), amount=money_of(link)),
            t("{description}", description=link.description),
            t(_("Payment received {when}"), when=when(link.paid_at)),
        ]
        if link.sandbox:
            paid.append(t(_("🧪 Test payment: no real money moved.")))
        return join(paid)
    lines = [
        t(_("Payment request: <b>{amount}</b>"), amount=money_of(link)),
        t("{description}", description=link.description),
    ]
    if link.link_url:
        lines.append(t(_("Pay securely here: {url}"), url=ltr(link.link_url)))
    if link.expires_at:
        lines.append(t(_("Valid until {when}"), when=when(link.expires_at)))
    if link.sandbox:
        lines.append(t(_("🧪 Test link: no real money moves.")))
    return join(lines)


def qr_label(link: Link, shop: str) -> LabelText:
    """What the printable QR label says, for the customer: amount, what for, whose shop, until when."""
    return LabelText(
        language=current().locale,
        amount=money_of(link),
        description=link.description,
        shop=shop,
        expiry=plain(_("Valid until {when}"), when=when(link.expires_at)) if link.expires_at else "",
        test_note=_("TEST LINK: no real money moves") if link.sandbox else None,
    )


def inline_title(link: Link) -> str:
    """An inline-mode result's title (plain text)."""
    return f"{money_of(link)} · {link.description}"


def inline_description(link: Link) -> str:
    """An inline-mode result's second line (plain text)."""
    if link.status == LinkStatus.PAID:
        return plain(_("Paid {when}: a thank-you for the customer"), when=when(link.paid_at))
    return plain(_("Payment link, valid until {when}"), when=when(link.expires_at))


def mismatch_alert(merchant_link_id: str, expected: str, reported: str, trade: str) -> Markup:
    """Tell owners PayerMax reported a payment that does not match the link."""
    return t(
        _(
            "⚠️ <b>Payment mismatch</b> on link <code>{link_id}</code>: we asked for {expected}, PayerMax reported "
            "{reported} (order <code>{trade}</code>). It is NOT marked as paid. "
            "Check it in the PayerMax merchant portal."
        ),
        link_id=ltr(merchant_link_id),
        expected=ltr(expected),
        reported=ltr(reported),
        trade=ltr(trade),
    )


def undeliverable_alert(chat_id: int, merchant_link_id: str | None, error: str) -> Markup:
    """Tell owners a message could not reach its chat."""
    if merchant_link_id:
        return t(
            _(
                "⚠️ I couldn't deliver a message about link <code>{link_id}</code> "
                "to chat <code>{chat_id}</code>: {error}"
            ),
            link_id=ltr(merchant_link_id),
            chat_id=ltr(str(chat_id)),
            error=error,
        )
    return t(
        _("⚠️ I couldn't deliver a message to chat <code>{chat_id}</code>: {error}"),
        chat_id=ltr(str(chat_id)),
        error=error,
    )


# --- what the card's buttons say (plain text: Telegram's pop-ups take no markup) ----------------


def cancel_answer(result: CancelResult) -> str:
    """What a person hears after asking to cancel a link."""
    link = result.link
    match result.outcome:
        case CancelOutcome.CANCELLED:
            return _("Cancelled. The customer can no longer pay this link.")
        case CancelOutcome.ALREADY_CANCELLED:
            if result.cancelled_by:
                return plain(
                    _("{name} already cancelled this link. Nothing changed."), name=name_of(result.cancelled_by)
                )
            return _("This link was already cancelled. Nothing changed.")
        case CancelOutcome.ALREADY_PAID:
            return plain(_("Too late to cancel: this link was paid {when}."), when=when(link.paid_at if link else None))
        case CancelOutcome.ALREADY_EXPIRED:
            return _("This link has already expired, so there is nothing to cancel.")
        case CancelOutcome.NOT_CREATED:
            return _("PayerMax never made this link, so there is nothing to cancel.")
        case CancelOutcome.NOT_READY:
            return _("PayerMax hasn't confirmed this link yet. Try again in a minute.")
        case CancelOutcome.PAID_MEANWHILE:
            return _("Not cancelled: PayerMax says the customer has just paid. The card shows the payment.")
        case CancelOutcome.REFUSED:
            return plain(
                _("PayerMax refused to cancel this link ({error}). It is unchanged."), error=result.error or ""
            )
        case CancelOutcome.UNREACHABLE:
            return _("I couldn't reach PayerMax, so the link can still be paid. Please try again in a minute.")
        case _:
            return link_gone()


def cancel_question(link: Link) -> Markup:
    """The message that asks before a link is cancelled, under its Yes / No buttons."""
    return t(
        _(
            "Cancel the link for <b>{amount}</b> · {description}?\n"
            "The customer will no longer be able to pay it. This cannot be undone."
        ),
        amount=money_of(link),
        description=clip(link.description, QUESTION_DESCRIPTION_UNITS),
    )


def cancel_done(result: CancelResult) -> Markup:
    """The question once answered Yes: what became of the link (the same words however often Yes was pressed)."""
    link = result.link
    cancelled = result.outcome in (CancelOutcome.CANCELLED, CancelOutcome.ALREADY_CANCELLED)
    if not cancelled or link is None:
        return t("{answer}", answer=cancel_answer(result))
    values = {"amount": money_of(link), "description": clip(link.description, QUESTION_DESCRIPTION_UNITS)}
    if result.cancelled_by:
        return t(
            _("✖️ Cancelled by {name}: <b>{amount}</b> · {description}. The customer can no longer pay this link."),
            name=name_of(result.cancelled_by),
            **values,
        )
    return t(_("✖️ Cancelled: <b>{amount}</b> · {description}. The customer can no longer pay this link."), **values)


def cancel_kept(link: Link) -> Markup:
    """The question once answered No."""
    return t(
        _("↩️ Kept: <b>{amount}</b> · {description} can still be paid."),
        amount=money_of(link),
        description=clip(link.description, QUESTION_DESCRIPTION_UNITS),
    )


def refreshed(link: Link) -> str:
    """The pop-up after Refresh."""
    return plain(_("Checked with PayerMax: {state}."), state=status_text(link))


def link_gone() -> str:
    """A button about a link that does not exist."""
    return _("I don't know this link.")


def not_payable(link: Link) -> str:
    """Share or QR on a link nobody can pay any more."""
    return plain(_("This link can't be paid any more ({state}), so there is nothing to send."), state=status_text(link))


def shared() -> str:
    """The pop-up after Share."""
    return _("Forward the message below to your customer, or tap “Send to a customer” to pick a chat.")


def qr_sent() -> str:
    """The pop-up after QR."""
    return _("QR code sent.")


# --- the card's buttons -------------------------------------------------------------------------


def open_page_button() -> str:
    return _("Open payment page")


def refresh_button() -> str:
    return _("🔄 Refresh")


def cancel_link_button() -> str:
    return _("✖️ Cancel link")


def share_button() -> str:
    return _("📤 Share")


def qr_button() -> str:
    return _("🔳 QR")


def confirm_cancel_button() -> str:
    return _("🛑 Yes, cancel it")


def keep_button() -> str:
    return _("↩️ No, keep it")


def send_to_customer_button() -> str:
    return _("📤 Send to a customer")


def pay_now_button() -> str:
    return _("💳 Pay now")
