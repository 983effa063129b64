"""Report periods: what people type after /report and /export, as days of the chat's calendar.

A period is a run of whole local days (first and last included); :meth:`Period.window` turns it
into the UTC moments a query needs, in the chat's time zone, so "today" in Jakarta starts at
Jakarta's midnight. Telegram-free and language-free: the words a reader may type in their own
language come in from the chat layer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

MAX_DAYS = 366  # a year, leap day included: longer periods are refused, not silently cut


class PeriodKind(StrEnum):
    """How a period was asked for (the words it is given back in depend on it)."""

    TODAY = "today"
    YESTERDAY = "yesterday"
    WEEK = "week"  # this week so far, from the reader's first day of the week
    MONTH = "month"  # this month so far
    CALENDAR_MONTH = "calendar_month"  # YYYY-MM
    DAY = "day"  # YYYY-MM-DD
    RANGE = "range"  # YYYY-MM-DD..YYYY-MM-DD


# The words every reader may type, whatever their language.
KEYWORDS: Mapping[str, PeriodKind] = {
    "today": PeriodKind.TODAY,
    "yesterday": PeriodKind.YESTERDAY,
    "week": PeriodKind.WEEK,
    "month": PeriodKind.MONTH,
}

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DAY = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_RANGE = re.compile(r"^(\S+?)\s*\.\.\s*(\S+)$")


class PeriodProblem(StrEnum):
    """Why a typed period cannot be used."""

    UNKNOWN = "unknown"  # not a word or a date shape the bot knows
    BAD_DATE = "bad_date"  # the shape of a date, but no such day (2026-02-30)
    BACKWARDS = "backwards"  # a range that ends before it starts
    TOO_LONG = "too_long"  # more than MAX_DAYS days
    NOT_YET = "not_yet"  # starts after today


class PeriodError(ValueError):
    """A typed period that cannot be used: the problem and the text given."""

    def __init__(self, problem: PeriodProblem, value: str) -> None:
        super().__init__(f"{problem.value}: {value!r}")
        self.problem = problem
        self.value = value


@dataclass(frozen=True)
class Period:
    """Whole local days, ``first`` to ``last`` included."""

    kind: PeriodKind
    first: date
    last: date

    @property
    def day_count(self) -> int:
        """How many days the period has."""
        return (self.last - self.first).days + 1

    def window(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as UTC moments [start, end): from the first day's local midnight to the day after the last's."""
        start = datetime.combine(self.first, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        return start, end

    def days_until(self, today: date) -> list[date]:
        """The period's days up to today (a month so far has no tomorrow to plot)."""
        last = min(self.last, today)
        return [self.first + timedelta(days=offset) for offset in range((last - self.first).days + 1)]


def relative(kind: PeriodKind, today: date, *, first_weekday: int = 0) -> Period:
    """Today, yesterday, this week so far or this month so far, seen from ``today``."""
    if kind == PeriodKind.TODAY:
        return Period(kind, today, today)
    if kind == PeriodKind.YESTERDAY:
        yesterday = today - timedelta(days=1)
        return Period(kind, yesterday, yesterday)
    if kind == PeriodKind.WEEK:
        return Period(kind, today - timedelta(days=(today.weekday() - first_weekday) % 7), today)
    if kind == PeriodKind.MONTH:
        return Period(kind, today.replace(day=1), today)
    raise ValueError(f"{kind} is not relative to today")


def parse_period(
    text: str,
    *,
    today: date,
    first_weekday: int = 0,
    words: Mapping[str, PeriodKind] | None = None,
    default: PeriodKind = PeriodKind.TODAY,
) -> Period:
    """The period a person typed: a word (English or ``words``, the reader's own), a month, a day or a range.

    ``first_weekday`` is the reader's first day of the week (0 = Monday, 6 = Sunday).
    """
    typed = " ".join(text.split())
    if not typed:
        return relative(default, today, first_weekday=first_weekday)
    known = {**KEYWORDS, **{word.casefold(): kind for word, kind in (words or {}).items()}}
    kind = known.get(typed.casefold())
    if kind is not None:
        return relative(kind, today, first_weekday=first_weekday)
    month = _MONTH.match(typed)
    if month:
        first = _date(int(month.group(1)), int(month.group(2)), 1, typed)
        following = (
            first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)
        )
        return _checked(Period(PeriodKind.CALENDAR_MONTH, first, following - timedelta(days=1)), today, typed)
    if _DAY.match(typed):
        day = _iso_day(typed)
        return _checked(Period(PeriodKind.DAY, day, day), today, typed)
    bounds = _RANGE.match(typed)
    if bounds and _DAY.match(bounds.group(1)) and _DAY.match(bounds.group(2)):
        first, last = _iso_day(bounds.group(1)), _iso_day(bounds.group(2))
        if last < first:
            raise PeriodError(PeriodProblem.BACKWARDS, typed)
        return _checked(Period(PeriodKind.RANGE, first, last), today, typed)
    raise PeriodError(PeriodProblem.UNKNOWN, typed)


def _checked(period: Period, today: date, typed: str) -> Period:
    if period.first > today:
        raise PeriodError(PeriodProblem.NOT_YET, typed)
    if period.day_count > MAX_DAYS:
        raise PeriodError(PeriodProblem.TOO_LONG, typed)
    return period


def _iso_day(text: str) -> date:
    year, month, day = (int(part) for part in text.split("-"))
    return _date(year, month, day, text)


def _date(year: int, month: int, day: int, typed: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise PeriodError(PeriodProblem.BAD_DATE, typed) from None
