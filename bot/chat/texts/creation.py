"""What the bot says while a link is being made: /newlink's questions, the summary, and what happened."""

from __future__ import annotations

from bot.chat.texts.base import Markup, _, expiry_text, ltr, money_of, sandboxed, t
from storage.models import Link


def ask_amount(currency: str | None) -> Markup:
    """/newlink's first question."""
    if currency:
        return t(
            _(
                "How much? Send the amount, for example <code>150000</code> or <code>12.50 USD</code>. "
                "Without a currency I use {currency}.\n/cancel to stop."
            ),
            currency=ltr(currency),
        )
    return t(_("How much? Send the amount with its currency, for example <code>150000 IDR</code>.\n/cancel to stop."))


def ask_description() -> Markup:
    """/newlink's second question."""
    return t(_("What is it for? Your customer sees this on the payment page (up to 256 characters)."))


def confirm(amount: str, description: str, expires_seconds: int) -> Markup:
    """The summary with Create / Cancel: the amount first, large and unambiguous."""
    return t(
        _("<b>{amount}</b>\n{description}\nValid for {expiry}\n\nCreate this link?"),
        amount=ltr(amount),
        description=description,
        expiry=expiry_text(expires_seconds),
    )


def summary_created(amount: str, description: str) -> Markup:
    """The summary once the link is on its way."""
    return t(
        _("✅ <b>{amount}</b>\n{description}\nLink created. The card with the QR code follows."),
        amount=ltr(amount),
        description=description,
    )


def summary_refused(amount: str, description: str) -> Markup:
    """The summary when PayerMax refused the link."""
    return t(
        _("❌ <b>{amount}</b>\n{description}\nNot created: PayerMax refused it. The reason is below."),
        amount=ltr(amount),
        description=description,
    )


def summary_cancelled(amount: str, description: str) -> Markup:
    """The summary after Cancel."""
    return t(
        _("✖️ <b>{amount}</b>\n{description}\nNot created. Nothing was sent to PayerMax."),
        amount=ltr(amount),
        description=description,
    )


def creating() -> str:
    """A Create press is being handled (plain text)."""
    return _("Creating the link…")


def already_requested() -> str:
    """A second Create press (plain text)."""
    return _("This link is already being made. The card follows.")


def stale_summary() -> str:
    """A press on an old summary (plain text)."""
    return _("This summary is out of date. Start again with /newlink.")


def cancelled() -> Markup:
    """/cancel left a conversation."""
    return t(_("Cancelled. Nothing was made."))


def nothing_to_cancel() -> Markup:
    """/cancel with nothing going on."""
    return t(_("There is nothing to cancel. /help shows what I can do."))


def need_description() -> Markup:
    """/link without what it is for."""
    return t(
        _("Write what the payment is for after the amount, for example <code>/link 150000 IDR Winter shoes</code>.")
    )


def description_too_long(length: int) -> Markup:
    """A description past PayerMax's 256 characters."""
    return t(
        _("That description has {length} characters; PayerMax takes 256 at most. Please send a shorter one."),
        length=length,
    )


def description_empty() -> Markup:
    """An empty description."""
    return t(_("The description can't be empty. What is the payment for?"))


def no_draft() -> Markup:
    """A plain message in private with no conversation going on."""
    return t(
        _(
            "Send <code>/link 150000 IDR Winter shoes</code> to make a payment link, "
            "or /newlink and I'll ask step by step."
        )
    )


def press_create() -> Markup:
    """A message while the summary waits for a press."""
    return t(_("Tap ✅ Create link under the summary, or /cancel."))


def pending(link_id: str) -> Markup:
    """PayerMax has not confirmed the link yet."""
    return t(
        _(
            "PayerMax hasn't confirmed link <code>{link_id}</code> yet. I keep checking and post the card here "
            "as soon as it is confirmed. No need to try again."
        ),
        link_id=ltr(link_id),
    )


def refused(code: str, msg: str) -> Markup:
    """PayerMax refused to create the link."""
    return t(
        _(
            "PayerMax refused to create the link: <b>{code}</b> {msg}\nNothing was charged. "
            "Check the amount and try again."
        ),
        code=ltr(code),
        msg=msg,
    )


def link_failed(link: Link, code: str, msg: str) -> Markup:
    """A link PayerMax refused after all (found by the reconciler)."""
    return sandboxed(
        link,
        t(
            _(
                "Link <code>{link_id}</code> ({amount}, {description}) couldn't be made: <b>{code}</b> {msg}\n"
                "Nothing was charged. Please make a new link."
            ),
            link_id=ltr(link.merchant_link_id),
            amount=money_of(link),
            description=link.description,
            code=ltr(code),
            msg=msg,
        ),
    )


def internal_error() -> Markup:
    """Something failed on our side."""
    return t(_("Something went wrong on my side and nothing was made. Please try again in a minute."))


def create_button() -> str:
    """The summary's Create button."""
    return _("✅ Create link")


def cancel_button() -> str:
    """The summary's Cancel button."""
    return _("✖️ Cancel")
