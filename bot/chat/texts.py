"""Every sentence the bot says, in one place (HTML parse mode; user text is always escaped)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from html import escape

from bot.money import Money, format_money
from bot.services.manage import CancelResult, FoundLink, LinkPage, Timeline
from bot.services.team import TeamMember
from storage.models import AuditEvent, Chat, Link, LinkStatus, Payment

SANDBOX_BANNER = "🧪 <b>SANDBOX</b> test link: no real money moves."

HELP = (
    "I make PayerMax payment links and tell you the moment they are paid.\n\n"
    "<b>Make a link</b>\n"
    "/newlink: I ask for the amount and the description\n"
    "/link 150000 IDR Winter shoes: all in one message\n"
    "Amounts like <code>150000</code>, <code>150,000 IDR</code>, <code>12.50 usd</code> or "
    "<code>IDR 150000</code> work; without a currency I use {currency}.\n\n"
    "<b>Find and manage links</b>\n"
    "/links: recent links here (in private: yours), by status, with today's takings\n"
    "/find winter shoes: search by link id, order number (outTradeNo) or description words\n"
    "/status PL…: one link's story: who made it, payments, notifications, cancellation\n"
    "Card buttons refresh, cancel, share (also as <code>@bot PL…</code> in any chat) and resend the QR.\n\n"
    "<b>Team and settings</b>\n"
    "/team: who may use me · /invite agent: a one-time join link · /remove 12345: take someone out\n"
    "/settings: this chat's currency, country, link validity and page language\n"
    "/notifyme on: also get Paid messages for your group links in private\n"
    "/audit: who did what (owners)\n\n"
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


def _status_line(link: Link, payment: Payment | None = None, cancelled_by: str | None = None) -> str:
    status = LinkStatus(link.status)
    if status == LinkStatus.PAID:
        paid = f"✅ <b>PAID</b> {when(link.paid_at)}"
        return f"{paid}\nMethod: {payment_method(payment)}" if payment is not None else paid
    if status == LinkStatus.EXPIRED:
        ended = min(link.expires_at, link.updated_at) if link.expires_at else link.updated_at
        return f"⌛ <b>Expired</b> {when(ended)}"
    if status == LinkStatus.CANCELLED:
        by = f" by {escape(cancelled_by)}" if cancelled_by else ""
        return f"✖️ <b>Cancelled</b> {when(link.updated_at)}{by}"
    if status == LinkStatus.FAILED:
        return "❌ <b>Not created</b>"
    return f"⏳ Waiting for payment · expires {when(link.expires_at)}"


def link_card(link: Link, payment: Payment | None = None, cancelled_by: str | None = None) -> str:
    """The caption of a link card; a PAID card shows how it was paid, a CANCELLED one who cancelled it."""
    lines = [SANDBOX_BANNER] if link.sandbox else []
    lines += [
        f"<b>{escape(money_of(link))}</b>",
        escape(link.description),
        "",
        _status_line(link, payment, cancelled_by),
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


# --- team, settings and audit ---------------------------------------------------------------

ROLE_DUTIES = {
    "admin": "everything but the audit log",
    "agent": "creates links and manages their own",
    "support": "finds and views all links and resends them; cannot create or cancel",
}
INVITE_USAGE = (
    "Which role? <code>/invite agent</code>, <code>/invite support</code> or <code>/invite admin</code>.\n"
    "• admin: {admin} (only owners invite admins)\n• agent: {agent}\n• support: {support}"
)
INVITE_MADE = (
    "Invite for the <b>{role}</b> role:\n{url}\n\n"
    "It works once, until {until}. Whoever opens it first gets the role, so send it only to that person."
)
JOINED = "Welcome! You are now <b>{role}</b> on this bot, so you can {abilities}.\n/help shows the commands."
ALREADY_OWNER = "You are an owner of this bot already; I left the invite unused for the person it was meant for."
TEAM_HEADER = "<b>Team</b> ({count})"
TEAM_FOOTER = "\n/invite agent adds someone; /remove 123456789 takes them out at once."
REMOVE_USAGE = (
    "Whom? Send <code>/remove 123456789</code> with their Telegram user id (see /team), "
    "or reply <code>/remove</code> to one of their messages."
)
REMOVED = "{name} is no longer {role} and cannot use the bot from now on."
NOTIFY_STATE = (
    "Paid messages for links you make in groups also come to you privately: <b>{state}</b>.\n"
    "<code>/notifyme on</code> or <code>/notifyme off</code> changes it."
)
NOTIFY_ON = "Done: when a link you made in a group is paid, I will tell you here in private too."
NOTIFY_OFF = "Done: Paid messages for your group links go to the group only."
NOTIFY_USAGE = "Send <code>/notifyme on</code> or <code>/notifyme off</code>."

SETTINGS = (
    "<b>Settings for {place}</b>\n"
    "Currency when an amount has none: <b>{currency}</b>\n"
    "Country: <b>{country}</b>\n"
    "New links are valid for: <b>{expiry}</b>\n"
    "Payment page language: <b>{language}</b>\n\n"
    "Tap to change, or type e.g. <code>/settings currency EUR</code>, <code>/settings country ID</code>, "
    "<code>/settings expiry 12h</code>, <code>/settings language es</code>."
)
PICK_CURRENCY = "Which currency for amounts typed without one? For another, send <code>/settings currency XXX</code>."
PICK_EXPIRY = "How long should new links stay payable? (PayerMax allows 1 hour to 30 days.)"
PICK_LANGUAGE = "Which language should the payment page open in? Payers can still switch on the page."
ASK_COUNTRY = "Send <code>/settings country XX</code> with the 2-letter country code, e.g. <code>/settings country ID</code>."
SETTINGS_USAGE = (
    "I know these settings: currency, country, expiry, language. "
    "For example <code>/settings currency EUR</code> or <code>/settings expiry 7d</code>."
)
SETTING_CHANGED = "{name} set to {value}."
SETTING_NAMES = {"currency": "Currency", "country": "Country", "expiry": "Link validity", "language": "Payment page language"}
NOT_ORDERABLE = "\nNote: {currency} is not on PayerMax's list of cashier currencies; PayerMax may refuse links in it unless your contract allows it."
LANGUAGE_NAMES = {
    "en": "English", "ar": "العربية", "es": "Español", "pt": "Português", "tr": "Türkçe", "zh": "中文",
    "th": "ไทย", "id": "Bahasa Indonesia", "ms": "Bahasa Melayu", "vi": "Tiếng Việt", "ja": "日本語", "ko": "한국어",
}

AUDIT_HEADER = "<b>Audit log</b>, newest first"
AUDIT_EMPTY = "Nothing has been recorded yet."
AUDIT_ACTIONS = {
    "create_link": "created link", "cancel_link": "cancelled link", "invite": "invited", "join": "joined as",
    "remove": "removed", "settings": "changed",
}


def person(name: str, user_id: int) -> str:
    """A person for lists: their name (escaped) and Telegram id."""
    return f"{escape(name)} (<code>{user_id}</code>)" if name else f"<code>{user_id}</code>"


def team_list(members: Sequence[TeamMember]) -> str:
    """The /team answer: one line per person, owners first."""
    lines = [TEAM_HEADER.format(count=len(members))]
    for member in members:
        extra = " · Paid privately" if member.notify_private else ""
        lines.append(f"• <b>{member.role.value}</b> · {person(member.name, member.user_id)}{extra}")
    return "\n".join(lines) + TEAM_FOOTER


def language_name(code: str) -> str:
    """A page language for people: 'Español (es)'."""
    return f"{LANGUAGE_NAMES[code]} ({code})" if code in LANGUAGE_NAMES else code


def audit_line(event: AuditEvent) -> str:
    """One audit event for people: when, who, what."""
    action = AUDIT_ACTIONS.get(event.action, event.action)
    what = " ".join(part for part in (escape(action), escape(event.subject)) if part)
    if event.detail:
        what += f": {escape(event.detail)}"
    where = f" in chat <code>{event.chat_id}</code>" if event.chat_id is not None and event.chat_id != event.actor_user_id else ""
    return f"{when(event.created_at)} · {person(event.actor_name, event.actor_user_id)}{where}: {what}"


# --- managing links: card buttons, /links, /find, /status -------------------------------------

STATUS_EMOJI = {
    LinkStatus.CREATING: "🕓", LinkStatus.ACTIVE: "⏳", LinkStatus.PAID: "✅",
    LinkStatus.EXPIRED: "⌛", LinkStatus.CANCELLED: "✖️", LinkStatus.FAILED: "❌",
}
STATUS_WORDS = {
    LinkStatus.CREATING: "being created", LinkStatus.ACTIVE: "waiting for payment", LinkStatus.PAID: "PAID",
    LinkStatus.EXPIRED: "expired", LinkStatus.CANCELLED: "cancelled", LinkStatus.FAILED: "not created",
}
FILTER_NAMES = {"all": "All", "active": "Active", "paid": "Paid", "expired": "Expired", "cancelled": "Cancelled"}

# Callback answers are plain text (no HTML) and at most 200 characters.
CANCEL_ASK = "Cancel this link? The customer will no longer be able to pay it. Press Yes to confirm."
CANCEL_KEPT = "Kept: the link can still be paid."
CANCEL_ANSWERS = {
    "cancelled": "Cancelled. The customer can no longer pay this link.",
    "already_cancelled": "This link was already cancelled{by}. Nothing changed.",
    "already_paid": "Too late to cancel: this link was paid {paid_at}.",
    "already_expired": "This link has already expired, so there is nothing to cancel.",
    "not_created": "PayerMax never created this link, so there is nothing to cancel.",
    "not_ready": "PayerMax has not confirmed this link yet. Try again in a minute.",
    "paid_meanwhile": "Not cancelled: PayerMax says the customer has already paid. I recorded the payment; the card shows it.",
    "refused": "PayerMax refused to cancel this link ({error}). It is unchanged.",
    "unreachable": "I could not reach PayerMax, so the link can still be paid. Please try again in a minute.",
    "not_found": "I know no such link.",
}
REFRESHED = "Checked with PayerMax: {state}."
LINK_GONE = "I know no such link."
NOT_PAYABLE = "This link can no longer be paid ({state}), so there is nothing to send to a customer."
SHARE_BUTTON = "📤 Send to a customer"
SHARED = "Forward the message below to your customer, or tap “Send to a customer” to pick a chat."
QR_SENT = "QR code sent."

LINKS_TITLE_CHAT = "<b>Links in this chat</b>"
LINKS_TITLE_MINE = "<b>Your links</b>"
LINKS_ONLY_YOURS = " (only the ones you made)"
PAID_TODAY = "Paid today (UTC): {totals}"
NOTHING_PAID_TODAY = "Nothing paid yet today (UTC)."
LINKS_PAGE = "{filter} · page {page} of {pages} · {total} link{s}"
LINKS_EMPTY = "No links to show."
LINKS_EMPTY_VIEWER = "You have made no links yourself. /find looks up any link by id, order number or description."
LINKS_HINT = "Tap a link to open its card."

FIND_USAGE = (
    "What should I look for? Send <code>/find</code> with a link id (<code>PL…</code>), an order number "
    "(outTradeNo), a PayerMax link id, or words from the description, e.g. <code>/find winter shoes</code>."
)
FIND_NONE = "Nothing found for <b>{text}</b>.{scope}"
FIND_SCOPE_OWN = " You can see only the links you made."
FIND_HEADER = "Found {count} link{s} for <b>{text}</b>, newest first:"
FIND_FOOTER = "\n/status followed by a link id shows its whole timeline."

STATUS_USAGE = (
    "Which link? Send <code>/status</code> with our link id (<code>PL…</code>), PayerMax's link id "
    "or an order number (outTradeNo)."
)
STATUS_NONE = "No link has the id <b>{text}</b>. /find also searches descriptions."
TIMELINE_MORE = "… {count} more events …"
MAX_MESSAGE_CHARS = 4000  # Telegram allows 4096; room for the markup that is not counted


def status_text(link: Link) -> str:
    """A link's state in a few words: 'waiting for payment', 'PAID', 'expired'."""
    return STATUS_WORDS[LinkStatus(link.status)]


def cancel_answer(result: CancelResult, user_id: int) -> str:
    """What a person hears after asking to cancel a link (plain text for a callback answer)."""
    if result.refusal is not None:
        return result.refusal.text(user_id)
    template = CANCEL_ANSWERS[result.outcome.value]
    link = result.link
    return template.format(
        by=f" by {result.cancelled_by}" if result.cancelled_by else "",
        paid_at=when(link.paid_at) if link else "",
        error=result.error or "",
    )


def customer_message(link: Link) -> str:
    """The clean message for the customer: what, how much, where to pay, until when."""
    lines = [f"Payment request: <b>{escape(money_of(link))}</b>", escape(link.description)]
    if link.link_url:
        lines.append(f"Pay securely here: {escape(link.link_url)}")
    if link.expires_at:
        lines.append(f"Valid until {when(link.expires_at)}")
    if link.sandbox:
        lines.append("🧪 Test link: no real money moves.")
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def link_button_label(link: Link) -> str:
    """A link on a button (plain text): status, amount, the start of the description."""
    return f"{STATUS_EMOJI[LinkStatus(link.status)]} {money_of(link)} · {_clip(link.description, 28)}"


def _short_when(moment: datetime | None) -> str:
    return moment.strftime("%d %b %H:%M") if moment else "?"


def _link_line(link: Link) -> str:
    """One link in a list: status, amount, description, when it was made, its id."""
    return (
        f"{STATUS_EMOJI[LinkStatus(link.status)]} <b>{escape(money_of(link))}</b> {escape(link.description)}\n"
        f"    {escape(status_text(link))} · made {_short_when(link.created_at)} · <code>{escape(link.merchant_link_id)}</code>"
    )


def paid_totals(totals: dict[str, Decimal]) -> str:
    """Today's takings per currency, or that there are none."""
    if not totals:
        return NOTHING_PAID_TODAY
    return PAID_TODAY.format(totals=" · ".join(f"<b>{escape(format_money(Money(amount, code)))}</b>" for code, amount in totals.items()))


def links_page(page: LinkPage, *, in_group: bool, own_only: bool, status_filter: str, totals: dict[str, Decimal], viewer: bool) -> str:
    """The /links message: title, today's totals, the page's links."""
    title = LINKS_TITLE_CHAT if in_group else LINKS_TITLE_MINE
    if in_group and own_only:
        title += LINKS_ONLY_YOURS
    lines = [title, paid_totals(totals), ""]
    if not page.links:
        lines.append(LINKS_EMPTY_VIEWER if viewer and not in_group and status_filter == "all" else LINKS_EMPTY)
    else:
        lines += [_link_line(link) for link in page.links]
        lines += ["", LINKS_HINT]
    lines.append(
        LINKS_PAGE.format(
            filter=FILTER_NAMES[status_filter], page=page.page + 1, pages=page.pages, total=page.total, s="" if page.total == 1 else "s"
        )
    )
    return "\n".join(lines)


def found_links(text: str, found: Sequence[FoundLink]) -> str:
    """The /find answer: each link with its state, how it was paid, and what matched."""
    lines = [FIND_HEADER.format(count=len(found), s="" if len(found) == 1 else "s", text=escape(text))]
    for item in found:
        link = item.link
        lines.append("")
        lines.append(
            f"{STATUS_EMOJI[LinkStatus(link.status)]} <b>{escape(status_text(link))}</b> · <b>{escape(money_of(link))}</b> · {escape(_clip(link.description, 80))}"
        )
        if item.payment is not None:
            payment = item.payment
            lines.append(
                f"    paid {when(payment.completed_at)} · {payment_method(payment)} · order <code>{escape(payment.out_trade_no)}</code>"
            )
        lines.append(
            f"    link <code>{escape(link.merchant_link_id)}</code> · made by {escape(link.creator_name or str(link.creator_user_id))}, "
            f"{when(link.created_at)} · matched {escape(item.matched)}"
        )
    return "\n".join(lines) + FIND_FOOTER


def _place(link: Link, chat: Chat | None) -> str:
    """Where a link was made, for people."""
    if chat is None:
        return f"chat <code>{link.chat_id}</code>"
    if chat.type == "private":
        return f"a private chat (<code>{link.chat_id}</code>)"
    return f"{escape(chat.title or 'a group')} ({escape(chat.type)} <code>{link.chat_id}</code>)"


def timeline(view: Timeline) -> str:
    """The /status answer: the link, where and by whom it was made, its payments and every event."""
    link = view.link
    head = [
        f"<b>{escape(money_of(link))}</b> · {escape(link.description)}",
        f"Link <code>{escape(link.merchant_link_id)}</code>"
        + (f" · PayerMax <code>{escape(link.payermax_link_id)}</code>" if link.payermax_link_id else ""),
        f"Status: {STATUS_EMOJI[LinkStatus(link.status)]} <b>{escape(status_text(link))}</b>"
        + (f" {when(link.paid_at)}" if link.status == LinkStatus.PAID else ""),
        f"Made by {person(link.creator_name, link.creator_user_id)} in {_place(link, view.chat)}, {when(link.created_at)}",
    ]
    if link.expires_at and link.status == LinkStatus.ACTIVE:
        head.append(f"Expires {when(link.expires_at)}")
    if link.failure_code:
        head.append(f"PayerMax refused it: {escape(link.failure_code)} {escape(link.failure_message or '')}")
    payments = [
        f"• {escape(format_money(Money(p.amount, p.currency)))} · {payment_method(p)} · order <code>{escape(p.out_trade_no)}</code> · "
        f"{when(p.completed_at)} (first reported by {escape(p.source)})"
        for p in view.payments
    ]
    if payments:
        head += ["", "<b>Payments</b>", *payments]
    head += ["", "<b>Timeline</b> (UTC)"]
    events = [
        f"{event.created_at.strftime('%d %b %H:%M:%S')} · {escape(event.kind)}" + (f": {escape(event.detail)}" if event.detail else "")
        for event in view.events
    ]
    return "\n".join(head + _fit(events, len("\n".join(head))))


def _fit(lines: list[str], used: int) -> list[str]:
    """Keep the first few and the latest lines that fit in one message, saying how many were left out."""
    kept_head = lines[:5]
    tail = lines[5:]
    budget = MAX_MESSAGE_CHARS - used - sum(len(line) + 1 for line in kept_head) - len(TIMELINE_MORE) - 20
    kept_tail: list[str] = []
    for line in reversed(tail):
        if budget - len(line) - 1 < 0:
            break
        budget -= len(line) + 1
        kept_tail.insert(0, line)
    dropped = len(tail) - len(kept_tail)
    return kept_head + ([TIMELINE_MORE.format(count=dropped)] if dropped else []) + kept_tail
