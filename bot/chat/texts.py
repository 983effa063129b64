"""Every sentence the bot says, in one place, as Telegram HTML.

Templates are :class:`Markup`; their ``format`` escapes every value that is not itself Markup,
so text a person typed (descriptions, names, search words, amounts they got wrong) can never
become markup. Builders of long messages fit them to Telegram's limits by construction: user
fields are clipped in UTF-16 units and lists leave lines out with a note of how many.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from bot.botapi.markup import CAPTION_LIMIT, MESSAGE_LIMIT, Markup, clip, fit_lines, join, visible_length
from bot.money import Money, format_money
from bot.services.access import GRANTORS, Action, Refusal, Role
from bot.services.chat_defaults import SettingError, SettingProblem
from bot.services.link_actions import CancelOutcome, CancelResult
from bot.services.link_queries import FoundLink, LinkPage, Timeline
from bot.services.team import TeamError, TeamMember, TeamProblem
from storage.models import AuditEvent, Chat, Link, LinkStatus, Payment

# How much of a person's own text a list or card shows (UTF-16 units).
NAME_UNITS = 48
LIST_DESCRIPTION_UNITS = 60
BUTTON_DESCRIPTION_UNITS = 28

SANDBOX_BANNER = Markup("🧪 <b>SANDBOX</b> test link: no real money moves.")

HELP = Markup(
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

ASK_AMOUNT = Markup(
    "How much? Send an amount, e.g. <code>150000 IDR</code> or <code>12.50</code> "
    "({currency} if you give no currency).\n/cancel to stop."
)
ASK_DESCRIPTION = Markup("What is it for? The customer sees this on the payment page (up to 256 characters).")
CONFIRM = Markup("Create this link?\n\n<b>{amount}</b>\n{description}\nValid for {expiry}")
SUMMARY_CREATED = Markup("✅ Link created: <b>{amount}</b>\n{description}\nThe card with the QR code follows.")
SUMMARY_REFUSED = Markup("❌ Not created: <b>{amount}</b>\n{description}\nPayerMax refused it; the reason is below.")
SUMMARY_CANCELLED = Markup("✖️ Not created: <b>{amount}</b>\n{description}\nNothing was sent to PayerMax.")
CREATING = "Creating the link…"
CANCELLED = Markup("Cancelled. Nothing was created.")
NOTHING_TO_CANCEL = Markup("There is nothing to cancel. /help shows what I can do.")
ALREADY_REQUESTED = "This link is already being created; the card follows."
NEED_DESCRIPTION = Markup(
    "Add what the payment is for after the amount, e.g. <code>/link 150000 IDR Winter shoes</code>."
)
DESCRIPTION_TOO_LONG = Markup(
    "That description is {length} characters; PayerMax allows 256. Please send a shorter one."
)
DESCRIPTION_EMPTY = Markup("The description cannot be empty. What is the payment for?")
UNKNOWN_COMMAND = Markup("I don't know that command.")
PENDING = Markup(
    "PayerMax has not confirmed link <code>{link_id}</code> yet. I keep checking and post the card here "
    "as soon as it is confirmed; there is no need to try again."
)
REFUSED = Markup(
    "PayerMax refused to create the link: <b>{code}</b> {msg}\nNothing was charged. Check the amount and try again."
)
BAD_AMOUNT = Markup("{reason}")
NO_DRAFT = Markup("Send /link 150000 IDR Winter shoes to make a payment link, or /newlink to be asked step by step.")
PRESS_CREATE = Markup("Press ✅ Create link under the summary, or /cancel.")
STALE_SUMMARY = "This summary is out of date. Start again with /newlink."
LINK_FAILED = Markup(
    "Link <code>{link_id}</code> ({amount}, {description}) could not be created: <b>{code}</b> {msg}\n"
    "Nothing was charged. Please make a new link."
)
INTERNAL_ERROR = Markup("Something went wrong on my side and nothing was created. Please try again in a minute.")


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


def name_of(name: str, user_id: int | None = None) -> str:
    """A person's name as lists show it: clipped, or their id when they have none."""
    return clip(name, NAME_UNITS) if name else str(user_id or "?")


def sandboxed(link: Link, text: Markup) -> Markup:
    """Mark a message about a sandbox link as such (every one of them says so)."""
    return join([SANDBOX_BANNER, text]) if link.sandbox else text


# --- the link card and its announcements ------------------------------------------------------


def payment_method(payment: Payment) -> str:
    """How the customer paid, with the card masked as PayerMax gave it (plain text)."""
    parts = [payment.payment_method or "unknown method"]
    if payment.card_org:
        parts.append(payment.card_org)
    if payment.card_number:
        parts.append(payment.card_number)
    elif payment.target_org:
        parts.append(payment.target_org)
    return " · ".join(parts)


def _status_line(link: Link, payment: Payment | None, cancelled_by: str | None) -> Markup:
    status = LinkStatus(link.status)
    if status == LinkStatus.PAID:
        paid = Markup("✅ <b>PAID</b> {when}").format(when=when(link.paid_at))
        if payment is None:
            return paid
        return join([paid, Markup("Method: {method}").format(method=payment_method(payment))])
    if status == LinkStatus.EXPIRED:
        ended = min(link.expires_at, link.updated_at) if link.expires_at else link.updated_at
        return Markup("⌛ <b>Expired</b> {when}").format(when=when(ended))
    if status == LinkStatus.CANCELLED:
        if cancelled_by:
            return Markup("✖️ <b>Cancelled</b> {when} by {name}").format(
                when=when(link.updated_at), name=name_of(cancelled_by)
            )
        return Markup("✖️ <b>Cancelled</b> {when}").format(when=when(link.updated_at))
    if status == LinkStatus.FAILED:
        return Markup("❌ <b>Not created</b>")
    return Markup("⏳ Waiting for payment · expires {when}").format(when=when(link.expires_at))


def link_card(link: Link, payment: Payment | None = None, cancelled_by: str | None = None) -> Markup:
    """The caption of a link card (at most a caption's 1,024 units: the description gives way)."""

    def card(description: str) -> Markup:
        lines = [SANDBOX_BANNER] if link.sandbox else []
        lines += [
            Markup("<b>{amount}</b>").format(amount=money_of(link)),
            Markup("{description}").format(description=description),
            Markup(""),
            _status_line(link, payment, cancelled_by),
        ]
        if link.status == LinkStatus.ACTIVE and link.link_url:
            lines.append(Markup("Pay here: {url}").format(url=link.link_url))
        lines.append(Markup("Link ID <code>{link_id}</code>").format(link_id=link.merchant_link_id))
        return join(lines)

    without = visible_length(card(""))
    return card(clip(link.description, CAPTION_LIMIT - without))


def paid_message(link: Link, payment: Payment) -> Markup:
    """The announcement that a link was paid."""
    lines = [
        Markup("✅ <b>Paid: {amount}</b>").format(amount=format_money(Money(payment.amount, payment.currency))),
        Markup("{description}").format(description=link.description),
        Markup("Method: {method}").format(method=payment_method(payment)),
        Markup("Paid at {when} · link <code>{link_id}</code>").format(
            when=when(payment.completed_at), link_id=link.merchant_link_id
        ),
    ]
    if link.sandbox:
        lines.append(Markup("🧪 SANDBOX payment: no real money moved."))
    return join(lines)


def link_failed(link: Link, code: str, msg: str) -> Markup:
    """Tell the chat a link it asked for could not be made after all."""
    return sandboxed(
        link,
        LINK_FAILED.format(
            link_id=link.merchant_link_id, amount=money_of(link), description=link.description, code=code, msg=msg
        ),
    )


def mismatch_alert(merchant_link_id: str, expected: str, reported: str, trade: str) -> Markup:
    """Tell owners PayerMax reported a payment that does not match the link."""
    return Markup(
        "⚠️ <b>Payment mismatch</b> on link <code>{link_id}</code>: we asked for {expected}, PayerMax reported "
        "{reported} (order <code>{trade}</code>). It is NOT marked as paid. Check it in the PayerMax merchant portal."
    ).format(link_id=merchant_link_id, expected=expected, reported=reported, trade=trade)


def undeliverable_alert(chat_id: int, merchant_link_id: str | None, error: str) -> Markup:
    """Tell owners a message could not reach its chat."""
    if merchant_link_id:
        return Markup(
            "⚠️ I could not deliver a message about link <code>{link_id}</code> to chat <code>{chat_id}</code>: {error}"
        ).format(link_id=merchant_link_id, chat_id=chat_id, error=error)
    return Markup("⚠️ I could not deliver a message to chat <code>{chat_id}</code>: {error}").format(
        chat_id=chat_id, error=error
    )


def customer_message(link: Link) -> Markup:
    """The clean message for the customer: what, how much, where to pay, until when."""
    lines = [
        Markup("Payment request: <b>{amount}</b>").format(amount=money_of(link)),
        Markup("{description}").format(description=link.description),
    ]
    if link.link_url:
        lines.append(Markup("Pay securely here: {url}").format(url=link.link_url))
    if link.expires_at:
        lines.append(Markup("Valid until {when}").format(when=when(link.expires_at)))
    if link.sandbox:
        lines.append(Markup("🧪 Test link: no real money moves."))
    return join(lines)


# --- refusals ----------------------------------------------------------------------------------

ACTION_WORDS: dict[Action, str] = {
    Action.CREATE_LINK: "create links",
    Action.MANAGE_OWN_LINKS: "manage your own links",
    Action.VIEW_ALL_LINKS: "view all links",
    Action.CANCEL_ANY_LINK: "cancel anyone's links",
    Action.RESEND_LINK: "resend links",
    Action.MANAGE_TEAM: "manage the team",
    Action.CHANGE_SETTINGS: "change chat settings",
    Action.READ_AUDIT: "read the audit log",
}


def _article(role: Role) -> str:
    return ("an " if role.value[0] in "aeiou" else "a ") + role.value


def who_grants(roles: Sequence[Role]) -> str:
    """'an owner' or 'an owner or an admin': the people who may grant or remove a role."""
    return " or ".join(_article(role) for role in Role if role in set(roles))


def refusal(refused: Refusal, user_id: int) -> str:
    """A sentence for the person refused: the role needed and who grants it (plain text)."""
    names = [role.value for role in refused.roles]
    needed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    grantors = " or ".join(
        role.value for role in Role if role in GRANTORS.get(refused.roles[-1], frozenset({Role.OWNER}))
    )
    return (
        f"Sorry, you are not allowed to {ACTION_WORDS[refused.action]}: that needs the {needed} role. "
        f"Ask an {grantors} of this bot to /invite you (your Telegram user id is {user_id})."
    )


# --- team ----------------------------------------------------------------------------------------

ROLE_DUTIES = {
    "admin": "everything but the audit log",
    "agent": "creates links and manages their own",
    "support": "finds and views all links and resends them; cannot create or cancel",
}
INVITE_USAGE = Markup(
    "Which role? <code>/invite agent</code>, <code>/invite support</code> or <code>/invite admin</code>.\n"
    "• admin: {admin} (only owners invite admins)\n• agent: {agent}\n• support: {support}"
)
INVITE_MADE = Markup(
    "Invite for the <b>{role}</b> role:\n{url}\n\n"
    "It works once, until {until}. Whoever opens it first gets the role, so send it only to that person."
)
JOINED = Markup("Welcome! You are now <b>{role}</b> on this bot, so you can {abilities}.\n/help shows the commands.")
ALREADY_OWNER = Markup(
    "You are an owner of this bot already; I left the invite unused for the person it was meant for."
)
TEAM_HEADER = Markup("<b>Team</b> ({count})")
TEAM_FOOTER = Markup("/invite agent adds someone; /remove 123456789 takes them out at once.")
TEAM_MORE = Markup("… and {count} more")
REMOVE_USAGE = Markup(
    "Whom? Send <code>/remove 123456789</code> with their Telegram user id (see /team), "
    "or reply <code>/remove</code> to one of their messages."
)
REMOVED = Markup("{name} is no longer {role} and cannot use the bot from now on.")
NOTIFY_STATE = Markup(
    "Paid messages for links you make in groups also come to you privately: <b>{state}</b>.\n"
    "<code>/notifyme on</code> or <code>/notifyme off</code> changes it."
)
NOTIFY_ON = Markup("Done: when a link you made in a group is paid, I will tell you here in private too.")
NOTIFY_OFF = Markup("Done: Paid messages for your group links go to the group only.")
NOTIFY_USAGE = Markup("Send <code>/notifyme on</code> or <code>/notifyme off</code>.")

TEAM_PROBLEMS: dict[TeamProblem, str] = {
    TeamProblem.OWNER_NOT_INVITABLE: "Owners are named in the bot's configuration (ADMIN_USER_IDS), not invited.",
    TeamProblem.MAY_NOT_INVITE: "Only {grantors} can invite {role}.",
    TeamProblem.INVITER_LOST_RIGHTS: (
        "This invite no longer works: the person who made it can no longer grant that role. Ask for a new one."
    ),
    TeamProblem.INVITE_USED: "This invite has already been used. Ask for a new one.",
    TeamProblem.INVITE_UNKNOWN: "I don't know this invite. Check the link, or ask for a new one.",
    TeamProblem.INVITE_EXPIRED: "This invite has expired (invites work for 24 hours). Ask for a new one.",
    TeamProblem.OWNER_NOT_REMOVABLE: (
        "{user_id} is an owner. Owners are named in ADMIN_USER_IDS and cannot be removed from chat."
    ),
    TeamProblem.NOT_ON_TEAM: "{user_id} is not on the team. /team lists who is.",
    TeamProblem.MAY_NOT_REMOVE: "Only {grantors} can remove {role}.",
    TeamProblem.NOT_A_MEMBER: (
        "Private Paid messages are for team members who joined by invite; owners named in "
        "ADMIN_USER_IDS and people not on the team cannot turn them on."
    ),
}


def team_problem(error: TeamError) -> Markup:
    """Why a team change could not be made, for the person who asked."""
    role = error.role
    return Markup("{sentence}").format(
        sentence=TEAM_PROBLEMS[error.problem].format(
            grantors=who_grants(list(error.grantors)),
            role=_article(role) if role else "",
            user_id=error.user_id or "",
        )
    )


def person(name: str, user_id: int) -> Markup:
    """A person for lists: their (clipped) name and Telegram id."""
    if name:
        return Markup("{name} (<code>{user_id}</code>)").format(name=name_of(name), user_id=user_id)
    return Markup("<code>{user_id}</code>").format(user_id=user_id)


def team_list(members: Sequence[TeamMember]) -> Markup:
    """The /team answer: one line per person, owners first; a team too big for a message says how many more."""
    lines = [
        Markup("• <b>{role}</b> · {person}{extra}").format(
            role=member.role.value,
            person=person(member.name, member.user_id),
            extra=" · Paid privately" if member.notify_private else "",
        )
        for member in members
    ]
    return fit_lines(
        [TEAM_HEADER.format(count=len(members))],
        lines,
        limit=MESSAGE_LIMIT,
        more=lambda count: TEAM_MORE.format(count=count),
        tail=[Markup(""), TEAM_FOOTER],
    )


# --- settings and audit ------------------------------------------------------------------------

SETTINGS = Markup(
    "<b>Settings for {place}</b>\n"
    "Currency when an amount has none: <b>{currency}</b>\n"
    "Country: <b>{country}</b>\n"
    "New links are valid for: <b>{expiry}</b>\n"
    "Payment page language: <b>{language}</b>\n\n"
    "Tap to change, or type e.g. <code>/settings currency EUR</code>, <code>/settings country ID</code>, "
    "<code>/settings expiry 12h</code>, <code>/settings language es</code>."
)
THIS_PRIVATE_CHAT = "this private chat"
PICK_CURRENCY = Markup(
    "Which currency for amounts typed without one? For another, send <code>/settings currency XXX</code>."
)
PICK_EXPIRY = Markup("How long should new links stay payable? (PayerMax allows 1 hour to 30 days.)")
PICK_LANGUAGE = Markup("Which language should the payment page open in? Payers can still switch on the page.")
ASK_COUNTRY = Markup(
    "Send <code>/settings country XX</code> with the 2-letter country code, e.g. <code>/settings country ID</code>."
)
SETTINGS_USAGE = Markup(
    "I know these settings: currency, country, expiry, language. "
    "For example <code>/settings currency EUR</code> or <code>/settings expiry 7d</code>."
)
SETTING_CHANGED = "{name} set to {value}."
SETTING_NAMES = {
    "currency": "Currency",
    "country": "Country",
    "expiry": "Link validity",
    "language": "Payment page language",
}
NOT_ORDERABLE = (
    "Note: {currency} is not on PayerMax's list of cashier currencies; "
    "PayerMax may refuse links in it unless your contract allows it."
)
SETTING_PROBLEMS: dict[SettingProblem, str] = {
    SettingProblem.UNKNOWN_CURRENCY: "'{value}' is not a currency code. Use a 3-letter ISO code such as USD, EUR or IDR.",
    SettingProblem.UNKNOWN_COUNTRY: "'{value}' is not a country code. Use 2 letters, such as US, ID or BR.",
    SettingProblem.EXPIRY_OUT_OF_RANGE: (
        "Links can be valid from 1 hour to 30 days (PayerMax's limits), e.g. 12h or 7d."
    ),
    SettingProblem.NOT_A_DURATION: "'{value}' is not a duration; use e.g. 1h, 24h, 7d.",
    SettingProblem.UNKNOWN_LANGUAGE: "'{value}' is not a page language I can offer. Choose one of: {choices}.",
}
LANGUAGE_NAMES = {
    "en": "English",
    "ar": "العربية",
    "es": "Español",
    "pt": "Português",
    "tr": "Türkçe",
    "zh": "中文",
    "th": "ไทย",
    "id": "Bahasa Indonesia",
    "ms": "Bahasa Melayu",
    "vi": "Tiếng Việt",
    "ja": "日本語",
    "ko": "한국어",
}


def setting_problem(error: SettingError) -> str:
    """Why a setting value cannot be used, and what would work (plain text)."""
    return SETTING_PROBLEMS[error.problem].format(value=clip(error.value, 32), choices=", ".join(error.choices))


def language_name(code: str) -> str:
    """A page language for people: 'Español (es)'."""
    return f"{LANGUAGE_NAMES[code]} ({code})" if code in LANGUAGE_NAMES else code


AUDIT_HEADER = Markup("<b>Audit log</b>, newest first")
AUDIT_EMPTY = Markup("Nothing has been recorded yet.")
AUDIT_MORE = Markup("… {count} older events not shown")
AUDIT_ACTIONS = {
    "create_link": "created link",
    "cancel_link": "cancelled link",
    "invite": "invited",
    "join": "joined as",
    "remove": "removed",
    "settings": "changed",
}
AUDIT_DETAIL_UNITS = 200


def audit_line(event: AuditEvent) -> Markup:
    """One audit event for people: when, who, where, what."""
    action = AUDIT_ACTIONS.get(event.action, event.action)
    what = " ".join(part for part in (action, clip(event.subject, 64)) if part)
    if event.detail:
        what += ": " + clip(event.detail, AUDIT_DETAIL_UNITS)
    where = event.chat_id is not None and event.chat_id != event.actor_user_id
    template = (
        Markup("{when} · {person} in chat <code>{chat}</code>: {what}")
        if where
        else Markup("{when} · {person}: {what}")
    )
    return template.format(
        when=when(event.created_at), person=person(event.actor_name, event.actor_user_id), chat=event.chat_id, what=what
    )


def audit_log(events: Sequence[AuditEvent]) -> Markup:
    """The /audit answer: newest first, as many as fit; what is left out is the oldest."""
    return fit_lines(
        [AUDIT_HEADER],
        [audit_line(event) for event in events],
        limit=MESSAGE_LIMIT,
        more=lambda count: AUDIT_MORE.format(count=count),
    )


# --- managing links: card buttons, /links, /find, /status -------------------------------------

STATUS_EMOJI = {
    LinkStatus.CREATING: "🕓",
    LinkStatus.ACTIVE: "⏳",
    LinkStatus.PAID: "✅",
    LinkStatus.EXPIRED: "⌛",
    LinkStatus.CANCELLED: "✖️",
    LinkStatus.FAILED: "❌",
}
STATUS_WORDS = {
    LinkStatus.CREATING: "being created",
    LinkStatus.ACTIVE: "waiting for payment",
    LinkStatus.PAID: "PAID",
    LinkStatus.EXPIRED: "expired",
    LinkStatus.CANCELLED: "cancelled",
    LinkStatus.FAILED: "not created",
}
FILTER_NAMES = {"all": "All", "active": "Active", "paid": "Paid", "expired": "Expired", "cancelled": "Cancelled"}

# Callback answers are plain text (no HTML) and at most 200 characters.
CANCEL_ASK = "Cancel this link? The customer will no longer be able to pay it. Press Yes to confirm."
CANCEL_KEPT = "Kept: the link can still be paid."
CANCEL_ANSWERS: dict[CancelOutcome, str] = {
    CancelOutcome.CANCELLED: "Cancelled. The customer can no longer pay this link.",
    CancelOutcome.ALREADY_CANCELLED: "This link was already cancelled{by}. Nothing changed.",
    CancelOutcome.ALREADY_PAID: "Too late to cancel: this link was paid {paid_at}.",
    CancelOutcome.ALREADY_EXPIRED: "This link has already expired, so there is nothing to cancel.",
    CancelOutcome.NOT_CREATED: "PayerMax never created this link, so there is nothing to cancel.",
    CancelOutcome.NOT_READY: "PayerMax has not confirmed this link yet. Try again in a minute.",
    CancelOutcome.PAID_MEANWHILE: (
        "Not cancelled: PayerMax says the customer has already paid. I recorded the payment; the card shows it."
    ),
    CancelOutcome.REFUSED: "PayerMax refused to cancel this link ({error}). It is unchanged.",
    CancelOutcome.UNREACHABLE: (
        "I could not reach PayerMax, so the link can still be paid. Please try again in a minute."
    ),
    CancelOutcome.NOT_FOUND: "I know no such link.",
}
REFRESHED = "Checked with PayerMax: {state}."
LINK_GONE = "I know no such link."
NOT_PAYABLE = "This link can no longer be paid ({state}), so there is nothing to send to a customer."
SHARE_BUTTON = "📤 Send to a customer"
SHARED = "Forward the message below to your customer, or tap “Send to a customer” to pick a chat."
QR_SENT = "QR code sent."

LINKS_TITLE_CHAT = Markup("<b>Links in this chat</b>")
LINKS_TITLE_CHAT_OWN = Markup("<b>Links in this chat</b> (only the ones you made)")
LINKS_TITLE_MINE = Markup("<b>Your links</b>")
PAID_TODAY = Markup("Paid today (UTC): {totals}")
NOTHING_PAID_TODAY = Markup("Nothing paid yet today (UTC).")
LINKS_PAGE = Markup("{filter} · page {page} of {pages} · {total} link{s}")
LINKS_EMPTY = Markup("No links to show.")
LINKS_EMPTY_VIEWER = Markup(
    "You have made no links yourself. /find looks up any link by id, order number or description."
)
LINKS_HINT = Markup("Tap a link to open its card.")

FIND_USAGE = Markup(
    "What should I look for? Send <code>/find</code> with a link id (<code>PL…</code>), an order number "
    "(outTradeNo), a PayerMax link id, or words from the description, e.g. <code>/find winter shoes</code>."
)
FIND_NONE = Markup("Nothing found for <b>{text}</b>.")
FIND_NONE_OWN = Markup("Nothing found for <b>{text}</b>. You can see only the links you made.")
FIND_HEADER = Markup("Found {count} link{s} for <b>{text}</b>, newest first:")
FIND_FOOTER = Markup("/status followed by a link id shows its whole timeline.")
FIND_MORE = Markup("… {count} more not shown")
QUERY_UNITS = 64  # how much of a search text an answer repeats

STATUS_USAGE = Markup(
    "Which link? Send <code>/status</code> with our link id (<code>PL…</code>), PayerMax's link id "
    "or an order number (outTradeNo)."
)
STATUS_NONE = Markup("No link has the id <b>{text}</b>. /find also searches descriptions.")
TIMELINE_MORE = Markup("… {count} more events …")


def status_text(link: Link) -> str:
    """A link's state in a few words: 'waiting for payment', 'PAID', 'expired'."""
    return STATUS_WORDS[LinkStatus(link.status)]


def cancel_answer(result: CancelResult) -> str:
    """What a person hears after asking to cancel a link (plain text for a callback answer)."""
    link = result.link
    return CANCEL_ANSWERS[result.outcome].format(
        by=f" by {name_of(result.cancelled_by)}" if result.cancelled_by else "",
        paid_at=when(link.paid_at) if link else "",
        error=result.error or "",
    )


def link_button_label(link: Link) -> str:
    """A link on a button (plain text): status, amount, the start of the description."""
    return (
        f"{STATUS_EMOJI[LinkStatus(link.status)]} {money_of(link)} · {clip(link.description, BUTTON_DESCRIPTION_UNITS)}"
    )


def _short_when(moment: datetime | None) -> str:
    return moment.strftime("%d %b %H:%M") if moment else "?"


def _link_line(link: Link) -> Markup:
    """One link in a list: status, amount, description, when it was made, its id."""
    return Markup("{emoji} <b>{amount}</b> {description}\n    {state} · made {made} · <code>{link_id}</code>").format(
        emoji=STATUS_EMOJI[LinkStatus(link.status)],
        amount=money_of(link),
        description=clip(link.description, LIST_DESCRIPTION_UNITS),
        state=status_text(link),
        made=_short_when(link.created_at),
        link_id=link.merchant_link_id,
    )


def paid_totals(totals: dict[str, Decimal]) -> Markup:
    """Today's takings per currency, or that there are none."""
    if not totals:
        return NOTHING_PAID_TODAY
    amounts = [
        Markup("<b>{amount}</b>").format(amount=format_money(Money(amount, code))) for code, amount in totals.items()
    ]
    return PAID_TODAY.format(totals=join(amounts, " · "))


def links_page(
    page: LinkPage, *, in_group: bool, own_only: bool, status_filter: str, totals: dict[str, Decimal], viewer: bool
) -> Markup:
    """The /links message: title, today's totals, the page's links."""
    if in_group:
        title = LINKS_TITLE_CHAT_OWN if own_only else LINKS_TITLE_CHAT
    else:
        title = LINKS_TITLE_MINE
    lines = [title, paid_totals(totals), Markup("")]
    if not page.links:
        lines.append(LINKS_EMPTY_VIEWER if viewer and not in_group and status_filter == "all" else LINKS_EMPTY)
    else:
        lines += [_link_line(link) for link in page.links]
        lines += [Markup(""), LINKS_HINT]
    lines.append(
        LINKS_PAGE.format(
            filter=FILTER_NAMES[status_filter],
            page=page.page + 1,
            pages=page.pages,
            total=page.total,
            s="" if page.total == 1 else "s",
        )
    )
    return join(lines)


def find_none(text: str, *, own_only: bool) -> Markup:
    """Nothing matched the search."""
    return (FIND_NONE_OWN if own_only else FIND_NONE).format(text=clip(text, QUERY_UNITS))


def found_links(text: str, found: Sequence[FoundLink]) -> Markup:
    """The /find answer: each link with its state, how it was paid, and what matched."""
    items: list[Markup] = []
    for item in found:
        link = item.link
        lines = [
            Markup(""),
            Markup("{emoji} <b>{state}</b> · <b>{amount}</b> · {description}").format(
                emoji=STATUS_EMOJI[LinkStatus(link.status)],
                state=status_text(link),
                amount=money_of(link),
                description=clip(link.description, 80),
            ),
        ]
        if item.payment is not None:
            payment = item.payment
            lines.append(
                Markup("    paid {when} · {method} · order <code>{trade}</code>").format(
                    when=when(payment.completed_at), method=payment_method(payment), trade=payment.out_trade_no
                )
            )
        lines.append(
            Markup("    link <code>{link_id}</code> · made by {name}, {when} · matched {matched}").format(
                link_id=link.merchant_link_id,
                name=name_of(link.creator_name, link.creator_user_id),
                when=when(link.created_at),
                matched=item.matched,
            )
        )
        items.append(join(lines))
    head = FIND_HEADER.format(count=len(found), s="" if len(found) == 1 else "s", text=clip(text, QUERY_UNITS))
    return fit_lines(
        [head],
        items,
        limit=MESSAGE_LIMIT,
        more=lambda count: FIND_MORE.format(count=count),
        tail=[Markup(""), FIND_FOOTER],
    )


def _place(link: Link, chat: Chat | None) -> Markup:
    """Where a link was made, for people."""
    if chat is None:
        return Markup("chat <code>{chat_id}</code>").format(chat_id=link.chat_id)
    if chat.type == "private":
        return Markup("a private chat (<code>{chat_id}</code>)").format(chat_id=link.chat_id)
    return Markup("{title} ({type} <code>{chat_id}</code>)").format(
        title=clip(chat.title or "a group", NAME_UNITS), type=chat.type, chat_id=link.chat_id
    )


def timeline(view: Timeline) -> Markup:
    """The /status answer: the link, where and by whom it was made, its payments and every event."""
    link = view.link
    status = Markup("Status: {emoji} <b>{state}</b>").format(
        emoji=STATUS_EMOJI[LinkStatus(link.status)], state=status_text(link)
    )
    if link.status == LinkStatus.PAID:
        status = Markup("{status} {when}").format(status=status, when=when(link.paid_at))
    ids = Markup("Link <code>{link_id}</code>").format(link_id=link.merchant_link_id)
    if link.payermax_link_id:
        ids = Markup("{ids} · PayerMax <code>{payermax}</code>").format(ids=ids, payermax=link.payermax_link_id)
    head = [
        Markup("<b>{amount}</b> · {description}").format(amount=money_of(link), description=link.description),
        ids,
        status,
        Markup("Made by {person} in {place}, {when}").format(
            person=person(link.creator_name, link.creator_user_id),
            place=_place(link, view.chat),
            when=when(link.created_at),
        ),
    ]
    if link.expires_at and link.status == LinkStatus.ACTIVE:
        head.append(Markup("Expires {when}").format(when=when(link.expires_at)))
    if link.failure_code:
        head.append(
            Markup("PayerMax refused it: {code} {message}").format(
                code=link.failure_code, message=clip(link.failure_message or "", 200)
            )
        )
    payments = [
        Markup("• {amount} · {method} · order <code>{trade}</code> · {when} (first reported by {source})").format(
            amount=format_money(Money(p.amount, p.currency)),
            method=payment_method(p),
            trade=p.out_trade_no,
            when=when(p.completed_at),
            source=p.source,
        )
        for p in view.payments[:10]
    ]
    if payments:
        head += [Markup(""), Markup("<b>Payments</b>"), *payments]
    head += [Markup(""), Markup("<b>Timeline</b> (UTC)")]
    events = [
        Markup("{when} · {kind}{detail}").format(
            when=event.created_at.strftime("%d %b %H:%M:%S"),
            kind=event.kind,
            detail=": " + clip(event.detail, 160) if event.detail else "",
        )
        for event in view.events
    ]
    return fit_lines(
        head, events, limit=MESSAGE_LIMIT, more=lambda count: TIMELINE_MORE.format(count=count), keep_first=5
    )
