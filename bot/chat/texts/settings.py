"""/settings, /language, the first-run offer, and /audit."""

from __future__ import annotations

from datetime import datetime

from babel.core import Locale
from babel.dates import get_timezone_location

from bot.botapi.markup import MESSAGE_LIMIT, fit_lines
from bot.chat.texts.base import (
    Markup,
    _,
    clip,
    count,
    expiry_text,
    local_examples,
    ltr,
    ngettext,
    pgettext,
    plain,
    short_when,
    t,
)
from bot.chat.texts.details import after_colon, audit_detail, summary_time
from bot.chat.texts.team import person, role_name
from bot.i18n import clock
from bot.i18n.locales import NATIVE_NAMES, format_locale
from bot.i18n.reader import current
from bot.services.audit import AuditPage
from bot.services.chat_defaults import ChatDefaults, SettingError, SettingProblem
from bot.services.feed import FeedChat
from storage.details import read_detail
from storage.models import AuditAction, AuditEvent, Role


def language_name(code: str | None) -> str:
    """A language by its own name ("Bahasa Indonesia"); "—" when none is set."""
    return NATIVE_NAMES.get(code or "", code or "—")


def country_name(code: str | None) -> str:
    """A country's name in the reader's language ("Indonesia"), with its code."""
    if not code:
        return "—"
    name = format_locale(current().locale).territories.get(code, code)
    return f"{name} ({code})"


def currency_name(code: str | None) -> str:
    """A currency's code and its name in the reader's language ("IDR · Rupiah Indonesia")."""
    if not code:
        return _("not chosen")
    name = Locale.parse(str(format_locale(current().locale))).currencies.get(code, "")
    return f"{code} · {name}" if name else code


def zone_name(zone: str | None, now: datetime) -> str:
    """A time zone for people: its city in the reader's language and its abbreviation or offset."""
    if not zone:
        return "—"
    local = now.astimezone(clock.zone(zone))
    try:
        city = get_timezone_location(clock.zone(zone), locale=format_locale(current().locale), return_city=True)
    except (LookupError, ValueError):
        city = zone
    label = clock.zone_label(local)
    return label if city in (label, zone) and zone == "UTC" else f"{city} · {label}"


def reminder_setting(seconds: int | None) -> str:
    """A chat's reminder setting in words: when the creator of an unpaid link hears about it."""
    if seconds is None:
        return _("2 hours before expiry (halfway for shorter links)")
    if seconds == 0:
        return pgettext("reminders", "off")
    return plain(_("{time} before expiry (halfway for shorter links)"), time=expiry_text(seconds))


def feed_line(feed: FeedChat | None, chat_id: int) -> Markup:
    """Where every payment of the team is posted: this group, another one, or nowhere."""
    if feed is None:
        return t(_("Payments feed: <b>off</b>"))
    if feed.chat_id == chat_id:
        return t(_("Payments feed: <b>this group</b>"))
    return t(_("Payments feed: <b>{chat}</b>"), chat=ltr(clip(feed.title or str(feed.chat_id), 48)))


def settings_view(
    place: str | None, defaults: ChatDefaults, *, group: bool, now: datetime, feed: FeedChat | None, chat_id: int
) -> Markup:
    """/settings: the chat's defaults for new links, its languages, reminders and the payments feed."""
    lines = [
        t(_("<b>Settings for {place}</b>"), place=ltr(clip(place, 48)) if place else _("this private chat")),
        t(_("Currency: <b>{currency}</b>"), currency=currency_name(defaults.currency)),
        t(_("Country: <b>{country}</b>"), country=country_name(defaults.country)),
        t(_("Time zone: <b>{zone}</b>"), zone=zone_name(defaults.timezone, now)),
        t(_("Links stay payable for <b>{expiry}</b>"), expiry=expiry_text(defaults.expires_seconds)),
    ]
    if group:
        lines.append(t(_("This group's language: <b>{language}</b>"), language=language_name(defaults.language)))
    lines.append(t(_("Customers read: <b>{language}</b>"), language=language_name(defaults.customer_language)))
    lines.append(t(_("Reminders: <b>{reminder}</b>"), reminder=reminder_setting(defaults.reminder_seconds)))
    lines.append(feed_line(feed, chat_id))
    lines.append(t(_("Daily summary: <b>{time}</b>"), time=summary_time(defaults.summary_minute)))
    lines += [
        Markup(""),
        t(
            _(
                "Tap to change, or type for example <code>/settings currency {currency}</code>, "
                "<code>/settings zone {zone}</code>, <code>/settings expiry 12h</code>."
            ),
            **local_examples(),
        ),
    ]
    return Markup("\n").join(lines)


def setting_button(name: str, value: str) -> str:
    """A /settings button: what it sets, and its value now."""
    return {
        "currency": _("Currency: {value}"),
        "country": _("Country: {value}"),
        "zone": _("Zone: {value}"),
        "expiry": _("Valid for: {value}"),
        "language": _("Group language: {value}"),
        "customer": _("Customers read: {value}"),
        "reminder": _("Reminders: {value}"),
        "summary": _("Daily summary: {value}"),
    }[name].format(value=value)


def feed_use_button() -> str:
    return _("📣 Use this group as the payments feed")


def feed_stop_button() -> str:
    return _("🔕 Stop the payments feed here")


def feed_started() -> str:
    """After a group was made the payments feed (plain text: also a pop-up)."""
    return _("This group is now the payments feed: every payment of the team is posted here.")


def feed_stopped() -> str:
    """After the payments feed was stopped (plain text: also a pop-up)."""
    return _("The payments feed is off.")


def feed_not_here() -> str:
    """Stopping the feed in a group that is not it (plain text)."""
    return _("This group isn't the payments feed, so there was nothing to stop.")


def feed_only_groups() -> str:
    """/settings feed in a private chat (plain text)."""
    return _("The payments feed has to be a group: use /settings in the group that should see every payment.")


def pick_reminder() -> Markup:
    return t(
        _(
            "When should I remind whoever made a link that it is still unpaid? "
            "By default 2 hours before it expires, or halfway for links valid less than 4 hours."
        )
    )


def pick_currency() -> Markup:
    return t(
        _("Which currency for amounts written without one? For another, send <code>/settings currency XXX</code>.")
    )


def pick_expiry() -> Markup:
    return t(_("How long should new links stay payable? (PayerMax allows 1 hour to 30 days.)"))


def pick_language() -> Markup:
    return t(_("Which language should I use for this group's messages (cards, “Paid”)?"))


def pick_customer_language() -> Markup:
    return t(_("Which language do your customers read? Their message and PayerMax's payment page use it."))


def pick_zone(country: str | None) -> Markup:
    if country:
        return t(
            _(
                "Which time zone? The ones of {country} come first; any other works as "
                "<code>/settings zone Area/City</code>."
            ),
            country=country_name(country),
        )
    return t(
        _(
            "Which time zone? Send <code>/settings zone Area/City</code>, for example "
            "<code>/settings zone {zone}</code>."
        ),
        **local_examples(),
    )


def ask_country() -> Markup:
    return t(
        _(
            "Send <code>/settings country XX</code> with the 2-letter country code, "
            "for example <code>/settings country {country}</code>."
        ),
        **local_examples(),
    )


def settings_usage() -> Markup:
    return t(
        _(
            "I know these settings: <code>currency</code>, <code>country</code>, <code>zone</code>, "
            "<code>expiry</code>, <code>language</code>, <code>customers</code>, <code>reminder</code>, "
            "<code>feed</code>, <code>summary</code>. For example <code>/settings currency EUR</code>, "
            "<code>/settings expiry 7d</code>, <code>/settings reminder 6h</code>, <code>/settings feed on</code> "
            "or <code>/settings summary 18:00</code>."
        )
    )


def summary_off_word() -> str:
    """The word for "off" a person may type after /settings summary, in their language."""
    return pgettext("daily summary", "off")


def pick_summary(group: bool) -> Markup:
    """What the daily summary is, where it goes, and when it can come."""
    if group:
        return t(
            _(
                "When should I post a summary of this chat's links here each day? Set before noon, it covers "
                "yesterday; from noon on, the day so far. Any other time works as "
                "<code>/settings summary 19:30</code>."
            )
        )
    return t(
        _(
            "When should I send you a summary of the team's links each day? Set before noon, it covers "
            "yesterday; from noon on, the day so far. Any other time works as <code>/settings summary 19:30</code>."
        )
    )


def summary_changed(minute: int | None) -> str:
    """After the daily summary's time was changed (plain text: also a button's pop-up)."""
    if minute is None:
        return _("No daily summary from now on.")
    return plain(_("A summary every day at {time}."), time=summary_time(minute))


def back_button() -> str:
    return _("« Back")


def setting_changed(name: str, value: str) -> str:
    """The pop-up and reply after a change (plain text)."""
    return {
        "currency": _("Currency set to {value}."),
        "country": _("Country set to {value}."),
        "zone": _("Time zone set to {value}."),
        "expiry": _("New links stay payable for {value}."),
        "language": _("This group now reads {value}."),
        "customer": _("Customers now read {value}."),
        "reminder": _("Reminders: {value}."),
    }[name].format(value=value)


def not_orderable(currency: str) -> str:
    """A currency PayerMax's cashier may not take."""
    return plain(
        _(
            "Note: {currency} is not on PayerMax's list of cashier currencies; PayerMax may refuse links in "
            "it unless your contract allows it."
        ),
        currency=currency,
    )


def setting_problem(error: SettingError) -> str:
    """Why a setting value cannot be used, and what would work (plain text)."""
    value = clip(error.value, 32)
    match error.problem:
        case SettingProblem.UNKNOWN_CURRENCY:
            examples = local_examples()
            # The sentence already names USD: where USD is the local money, give another example first.
            if examples["currency"] == "USD":
                examples["currency"] = "EUR"
            return plain(
                _("“{value}” is not a currency code. Use 3 letters, such as {currency} or USD."),
                value=value,
                **examples,
            )
        case SettingProblem.UNKNOWN_COUNTRY:
            return plain(
                _("“{value}” is not a country code. Use 2 letters, such as {country}."), value=value, **local_examples()
            )
        case SettingProblem.EXPIRY_OUT_OF_RANGE:
            return _("Links can stay payable from 1 hour to 30 days (PayerMax's limits), for example 12h or 7d.")
        case SettingProblem.NOT_A_DURATION:
            return plain(_("“{value}” is not a length of time; use for example 1h, 24h or 7d."), value=value)
        case SettingProblem.REMINDER_OUT_OF_RANGE:
            return _("A reminder can come 15 minutes to 7 days before a link expires: for example 2h, or off.")
        case SettingProblem.NOT_A_TIME:
            return plain(
                _("“{value}” is not a time of day. Use hours and minutes, such as 09:00 or 18:30, or off."),
                value=value,
            )
        case SettingProblem.UNKNOWN_ZONE:
            return plain(
                _("“{value}” is not a time zone I know. Use a name such as {zone}."),
                value=value,
                **local_examples(),
            )
        case _:
            return plain(_("“{value}” is not a language I speak. Choose one of the buttons."), value=value)


# --- a person's own language ------------------------------------------------------------------


def language_menu(current_code: str) -> Markup:
    """/language: which language the bot answers this person in."""
    return t(
        _("I answer you in <b>{language}</b>. Which language do you prefer?"), language=language_name(current_code)
    )


def language_set(code: str) -> str:
    """After a choice, in the new language (plain text)."""
    return plain(_("Done: I'll answer you in {language} from now on."), language=language_name(code))


# --- the first-run offer ----------------------------------------------------------------------


def setup_offer(defaults: ChatDefaults, *, group: bool, now: datetime) -> Markup:
    """Offered once to an owner or admin in a new chat: check a few things in a few taps, or skip."""
    lines = [
        t(_("<b>Set up this chat?</b> Check these; tap one to change it, or Done to keep them.")),
        t(_("Currency: <b>{currency}</b>"), currency=currency_name(defaults.currency)),
        t(_("Country: <b>{country}</b>"), country=country_name(defaults.country)),
        t(_("Time zone: <b>{zone}</b>"), zone=zone_name(defaults.timezone, now)),
    ]
    if group:
        lines.append(t(_("This group's language: <b>{language}</b>"), language=language_name(defaults.language)))
    lines.append(t(_("Customers read: <b>{language}</b>"), language=language_name(defaults.customer_language)))
    return Markup("\n").join(lines)


def done_button() -> str:
    return _("✅ Done")


def setup_done() -> Markup:
    return t(_("All set. /settings changes any of this later."))


# --- the audit log ------------------------------------------------------------------------------


def audit_action(action: AuditAction | str) -> str:
    """An audit entry's verb."""
    return {
        AuditAction.CREATE_LINK: _("made link"),
        AuditAction.CANCEL_LINK: _("cancelled link"),
        AuditAction.INVITE: _("invited"),
        AuditAction.JOIN: _("joined as"),
        AuditAction.REMOVE: _("removed"),
        AuditAction.SETTINGS: _("changed"),
        AuditAction.REFUND: _("refunded on link"),
        AuditAction.REFUND_PERMISSION: _("changed the refund permission of"),
    }.get(AuditAction(action), str(action))


def _setting_word(subject: str) -> str:
    """A setting's name in an audit entry (stored in English), in the reader's words."""
    return {
        "currency": pgettext("setting", "currency"),
        "country": pgettext("setting", "country"),
        "language": pgettext("setting", "language"),
        "customer language": pgettext("setting", "customers' language"),
        "time zone": pgettext("setting", "time zone"),
        "expiry": pgettext("setting", "validity"),
        "reminders": pgettext("setting", "reminders"),
        "payments feed": pgettext("setting", "payments feed"),
        "daily summary": pgettext("setting", "daily summary"),
    }.get(subject, subject)


def audit_line(event: AuditEvent) -> Markup:
    """One audit event for people: when, who, where, what (amounts and moments the reader's way)."""
    subject: Markup | str = ltr(clip(event.subject, 64))
    if event.action in (AuditAction.INVITE, AuditAction.JOIN) and event.subject in set(Role):
        subject = role_name(Role(event.subject))  # the role, in the reader's words
    elif event.action == AuditAction.SETTINGS:
        subject = _setting_word(event.subject)
    elif event.action in (AuditAction.REMOVE, AuditAction.REFUND_PERMISSION) and event.subject.lstrip("-").isdigit():
        # The person by the name the entry kept, with their id.
        about = read_detail(event.detail)
        subject = person(about.text("name") if about else "", int(event.subject))
    what = Markup(" ").join(part for part in (audit_action(event.action), subject) if part) + after_colon(
        audit_detail(event)
    )
    where = event.chat_id is not None and event.chat_id != event.actor_user_id
    if where:
        return t(
            _("{when} · {person} in chat <code>{chat}</code>: {what}"),
            when=short_when(event.created_at),
            person=person(event.actor_name, event.actor_user_id),
            chat=ltr(str(event.chat_id)),
            what=what,
        )
    return t(
        _("{when} · {person}: {what}"),
        when=short_when(event.created_at),
        person=person(event.actor_name, event.actor_user_id),
        what=what,
    )


def audit_log(page: AuditPage, *, now: datetime) -> Markup:
    """One /audit page: newest first, its place among the pages, and the zone its times are in."""
    head = t(
        _("<b>Audit log</b>, newest first · page {page} of {pages} · times in {zone}"),
        page=count(page.page + 1),
        pages=count(page.pages),
        zone=clock.current_zone_label(now),
    )
    return fit_lines(
        [head],
        [audit_line(event) for event in page.events],
        limit=MESSAGE_LIMIT,
        more=lambda more: t(
            ngettext("… {count} older event not shown", "… {count} older events not shown", more), count=count(more)
        ),
    )


def audit_newer_button() -> str:
    """The page of newer audit events."""
    return _("‹ Newer")


def audit_older_button() -> str:
    """The page of older audit events."""
    return _("Older ›")


def audit_empty() -> Markup:
    return t(_("Nothing has been recorded yet."))
