"""Times as the reader reads them: in their time zone, their language's date format, with the zone named.

"27 Nov 2026, 23.19 WIB" for an Indonesian in Jakarta, "Nov 27, 2026, 11:19 EST" in New York; where
CLDR has no abbreviation for a zone in a language, the offset ("UTC+7") names it instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_skeleton, get_timezone_name

from bot.i18n.locales import format_locale, is_right_to_left
from bot.i18n.reader import current
from bot.money import isolate


@cache
def zone(name: str) -> ZoneInfo:
    """The IANA zone, or UTC for a name this system does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this system knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def offset_label(offset: timedelta | None) -> str:
    """A UTC offset for people: "UTC", "UTC+7", "UTC+5:30", "UTC-3"."""
    minutes = int((offset or timedelta()).total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def zone_label(local: datetime) -> str:
    """The zone of a local time as the reader knows it: its abbreviation (WIB, EST, TSİ) or its offset."""
    name = get_timezone_name(local, width="short", locale=format_locale(current().locale))
    if name.startswith(("+", "-", "GMT", "UTC")) or not name:
        return offset_label(local.utcoffset())
    return name


def _local(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone(current().timezone))


def _isolated(text: str) -> str:
    """Keep a time in one piece inside right-to-left text."""
    return isolate(text) if is_right_to_left(current().locale) else text


def when(moment: datetime | None) -> str:
    """A moment in full: date, time and zone in the reader's language and time zone."""
    if moment is None:
        return "—"
    local = _local(moment)
    locale = format_locale(current().locale)
    date = format_skeleton("yMMMd", local, tzinfo=local.tzinfo, locale=locale)
    time = format_skeleton("Hm", local, tzinfo=local.tzinfo, locale=locale)
    combined = str(locale.datetime_formats["medium"]).replace("{1}", date).replace("{0}", time)
    return _isolated(f"{combined} {zone_label(local)}")


def short_when(moment: datetime | None) -> str:
    """A moment in a list: day, month and time in the reader's zone (the zone is named in the list's title)."""
    if moment is None:
        return "—"
    local = _local(moment)
    locale = format_locale(current().locale)
    date = format_skeleton("MMMd", local, tzinfo=local.tzinfo, locale=locale)
    time = format_skeleton("Hm", local, tzinfo=local.tzinfo, locale=locale)
    return _isolated(f"{date} {time}")


def time_of_day(moment: datetime | None) -> str:
    """Just the time, in the reader's zone ("16:20")."""
    if moment is None:
        return "—"
    local = _local(moment)
    return _isolated(format_skeleton("Hm", local, tzinfo=local.tzinfo, locale=format_locale(current().locale)))


def moment_in_list(moment: datetime | None, now: datetime) -> str:
    """As short as a phone list allows: the time for today ("16:20"), the day before ("Nov 26")."""
    if moment is None:
        return "—"
    if moment >= today_starts(now):
        return time_of_day(moment)
    local = _local(moment)
    return _isolated(format_skeleton("MMMd", local, tzinfo=local.tzinfo, locale=format_locale(current().locale)))


def day(moment: datetime) -> str:
    """A date for reports and totals ("27 Nov 2026")."""
    local = _local(moment)
    return _isolated(format_skeleton("yMMMd", local, tzinfo=local.tzinfo, locale=format_locale(current().locale)))


def today_starts(now: datetime) -> datetime:
    """Midnight of the reader's today, as an aware UTC moment (for "paid today" totals)."""
    local = now.astimezone(zone(current().timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(UTC)


def current_zone_label(now: datetime) -> str:
    """The reader's zone now, for a heading ("WIB", "UTC+3")."""
    return zone_label(_local(now))
