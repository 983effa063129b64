"""Every sentence the bot says, in one place (HTML parse mode; user text is always escaped)."""

from __future__ import annotations

from datetime import datetime
from html import escape

from bot.money import Money, format_money
from storage.models import Link, LinkStatus, Payment

SANDBOX_BANNER = "🧪 <b>SANDBOX</b> test link: no real money moves."

HELP = (
    "I make PayerMax payment links and tell you the moment they are paid.\n\n"
    "<b>Make a link</b>\n"
    "/newlink: I ask for the amount and the description\n"
    "/link 150000 IDR Winter shoes: all in one message\n"
    "Amounts like <code>150000</code>, <code>150,000 IDR</code>, <code>12.50 usd</code> or "
    "<code>IDR 150000</code> work; without a currency I use {currency}.\n\n"
    "/cancel: stop what we are doing\n"
    "/help: this message"
)

ASK_AMOUNT = "How much? Send an amount, e.g. <code>150000 IDR</code> or <code>12.50</code> ({currency} if you give no currency).\n/cancel to stop."
ASK_DESCRIPTION = "What is it for? The customer sees this on the payment page (up to 256 characters)."
CONFIRM = "Create this link?\n\n<b>{amount}</b>\n{description}\nValid for {expiry}"
CREATING = "Creating the link…"
CANCELLED = "Cancelled. Nothing was created."
NOTHING_TO_CANCEL = "There is nothing to cancel. /help shows what I can do."
ALREADY_REQUESTED = "This link is already being created; the card follows."
NEED_DESCRIPTION = "Add what the payment is for after the amount, e.g. <code>/link 150000 IDR Winter shoes</code>."
DESCRIPTION_TOO_LONG = "That description is {length} characters; PayerMax allows 256. Please send a shorter one."
DESCRIPTION_EMPTY = "The description cannot be empty. What is the payment for?"
UNKNOWN_COMMAND = "I don't know that command.\n\n"
PENDING = (
    "PayerMax has not confirmed link <code>{link_id}</code> yet. I keep checking and post the card here "
    "as soon as it is confirmed; there is no need to try again."
)
REFUSED = "PayerMax refused to create the link: <b>{code}</b> {msg}\nNothing was charged. Check the amount and try again."
BAD_AMOUNT = "{reason}"
NO_DRAFT = "Send /link 150000 IDR Winter shoes to make a payment link, or /newlink to be asked step by step."
PRESS_CREATE = "Press ✅ Create link under the summary, or /cancel."
STALE_SUMMARY = "This summary is out of date. Start again with /newlink."
LINK_FAILED = (
    "Link <code>{link_id}</code> ({amount}, {description}) could not be created: <b>{code}</b> {msg}\n"
    "Nothing was charged. Please make a new link."
)
INTERNAL_ERROR = "Something went wrong on my side and nothing was created. Please try again in a minute."


def expiry_text(seconds: int) -> str:
    """A validity period for people: '24 hours', '7 days', '90 minutes'."""
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day" + ("s" if days != 1 else "")
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour" + ("s" if hours != 1 else "")
    return f"{seconds // 60} minutes"


def when(moment: datetime | None) -> str:
    """A UTC timestamp for people."""
    return moment.strftime("%d %b %Y, %H:%M UTC") if moment else "unknown"


def money_of(link: Link) -> str:
    """The link's amount for people."""
    return format_money(Money(link.amount, link.currency))


def _status_line(link: Link) -> str:
    status = LinkStatus(link.status)
    if status == LinkStatus.PAID:
        return f"✅ <b>PAID</b> {when(link.paid_at)}"
    if status == LinkStatus.EXPIRED:
        return "⌛ <b>Expired</b>"
    if status == LinkStatus.CANCELLED:
        return "✖️ <b>Cancelled</b>"
    if status == LinkStatus.FAILED:
        return "❌ <b>Not created</b>"
    return f"⏳ Waiting for payment · expires {when(link.expires_at)}"


def link_card(link: Link) -> str:
    """The caption of a link card."""
    lines = [SANDBOX_BANNER] if link.sandbox else []
    lines += [
        f"<b>{escape(money_of(link))}</b>",
        escape(link.description),
        "",
        _status_line(link),
    ]
    if link.status == LinkStatus.ACTIVE and link.link_url:
        lines.append(f"Pay here: {escape(link.link_url)}")
    lines.append(f"Link ID <code>{escape(link.merchant_link_id)}</code>")
    return "\n".join(lines)


def payment_method(payment: Payment) -> str:
    """How the customer paid, with the card masked as PayerMax gave it."""
    parts = [payment.payment_method or "unknown method"]
    if payment.card_org:
        parts.append(payment.card_org)
    if payment.card_number:
        parts.append(payment.card_number)
    elif payment.target_org:
        parts.append(payment.target_org)
    return " · ".join(escape(part) for part in parts)


def paid_message(link: Link, payment: Payment) -> str:
    """The announcement that a link was paid."""
    lines = [
        f"✅ <b>Paid: {escape(format_money(Money(payment.amount, payment.currency)))}</b>",
        escape(link.description),
        f"Method: {payment_method(payment)}",
        f"Paid at {when(payment.completed_at)} · link <code>{escape(link.merchant_link_id)}</code>",
    ]
    if link.sandbox:
        lines.append("🧪 SANDBOX payment: no real money moved.")
    return "\n".join(lines)


def sandboxed(link: Link, text: str) -> str:
    """Mark a message about a sandbox link as such (every one of them says so)."""
    return f"{SANDBOX_BANNER}\n{text}" if link.sandbox else text


def link_failed(link: Link, code: str, msg: str) -> str:
    """Tell the chat a link it asked for could not be made after all."""
    return sandboxed(link, LINK_FAILED.format(
        link_id=escape(link.merchant_link_id), amount=escape(money_of(link)), description=escape(link.description),
        code=escape(code), msg=escape(msg),
    ))


def mismatch_alert(merchant_link_id: str, expected: str, reported: str, trade: str) -> str:
    """Tell owners PayerMax reported a payment that does not match the link."""
    return (
        f"⚠️ <b>Payment mismatch</b> on link <code>{escape(merchant_link_id)}</code>: we asked for "
        f"{escape(expected)}, PayerMax reported {escape(reported)} (order <code>{escape(trade)}</code>). "
        "It is NOT marked as paid. Check it in the PayerMax merchant portal."
    )


def undeliverable_alert(chat_id: int, merchant_link_id: str | None, error: str) -> str:
    """Tell owners a message could not reach its chat."""
    about = f" about link <code>{escape(merchant_link_id)}</code>" if merchant_link_id else ""
    return f"⚠️ I could not deliver a message{about} to chat <code>{chat_id}</code>: {escape(error)}"
