"""Report periods: what people type after /report and /export, as days of the chat's calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.services.periods import MAX_DAYS, Period, PeriodError, PeriodKind, PeriodProblem, parse_period

TODAY = date(2026, 11, 27)  # a Friday


def _parse(text: str, **options: object) -> Period:
    return parse_period(text, today=TODAY, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("typed", "kind", "first", "last"),
    [
        ("", PeriodKind.TODAY, TODAY, TODAY),
        ("today", PeriodKind.TODAY, TODAY, TODAY),
        ("  YESTERDAY ", PeriodKind.YESTERDAY, date(2026, 11, 26), date(2026, 11, 26)),
        ("week", PeriodKind.WEEK, date(2026, 11, 23), TODAY),  # from Monday
        ("month", PeriodKind.MONTH, date(2026, 11, 1), TODAY),
        ("2026-02", PeriodKind.CALENDAR_MONTH, date(2026, 2, 1), date(2026, 2, 28)),
        ("2024-2", PeriodKind.CALENDAR_MONTH, date(2024, 2, 1), date(2024, 2, 29)),
        ("2025-12", PeriodKind.CALENDAR_MONTH, date(2025, 12, 1), date(2025, 12, 31)),
        ("2026-11", PeriodKind.CALENDAR_MONTH, date(2026, 11, 1), date(2026, 11, 30)),  # the rest is still to come
        ("2026-11-03", PeriodKind.DAY, date(2026, 11, 3), date(2026, 11, 3)),
        ("2026-10-28..2026-11-03", PeriodKind.RANGE, date(2026, 10, 28), date(2026, 11, 3)),
        ("2026-10-28 .. 2026-11-3", PeriodKind.RANGE, date(2026, 10, 28), date(2026, 11, 3)),
    ],
)
def test_typed_periods_become_local_days(typed: str, kind: PeriodKind, first: date, last: date) -> None:
    assert _parse(typed) == Period(kind, first, last)


def test_the_week_starts_on_the_readers_first_day() -> None:
    assert _parse("week", first_weekday=6).first == date(2026, 11, 22)  # Sunday
    assert _parse("week", first_weekday=4).first == TODAY  # a Friday-first week starts today


def test_the_readers_own_words_are_understood() -> None:
    words = {"hari ini": PeriodKind.TODAY, "bulan": PeriodKind.MONTH}
    assert _parse("Hari  ini", words=words).kind == PeriodKind.TODAY
    assert _parse("bulan", words=words) == Period(PeriodKind.MONTH, date(2026, 11, 1), TODAY)
    assert _parse("month", words=words).kind == PeriodKind.MONTH  # English always works


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("last year", PeriodProblem.UNKNOWN),
        ("2026/11", PeriodProblem.UNKNOWN),
        ("11-2026", PeriodProblem.UNKNOWN),
        ("2026-13", PeriodProblem.BAD_DATE),
        ("2026-02-30", PeriodProblem.BAD_DATE),
        ("2026-11-01..2026-11-31", PeriodProblem.BAD_DATE),
        ("2026-11-03..2026-11-01", PeriodProblem.BACKWARDS),
        ("2024-01-01..2026-01-01", PeriodProblem.TOO_LONG),
        ("2026-11-28", PeriodProblem.NOT_YET),
        ("2026-12", PeriodProblem.NOT_YET),
    ],
)
def test_unusable_periods_say_why(typed: str, problem: PeriodProblem) -> None:
    with pytest.raises(PeriodError) as caught:
        _parse(typed)
    assert caught.value.problem == problem and caught.value.value in typed  # the bad part of a range is named


def test_a_year_is_the_longest_period() -> None:
    assert _parse("2025-11-27..2026-11-27").day_count == MAX_DAYS
    with pytest.raises(PeriodError):
        _parse("2025-11-26..2026-11-27")


def test_the_window_follows_the_chats_midnight_across_a_clock_change() -> None:
    # New York leaves daylight saving on 1 Nov 2026: that day has 25 hours.
    day = Period(PeriodKind.DAY, date(2026, 11, 1), date(2026, 11, 1))
    start, end = day.window(ZoneInfo("America/New_York"))
    assert start == datetime(2026, 11, 1, 4, tzinfo=UTC) and end == datetime(2026, 11, 2, 5, tzinfo=UTC)
    start, end = day.window(ZoneInfo("Asia/Jakarta"))
    assert start == datetime(2026, 10, 31, 17, tzinfo=UTC) and (end - start).total_seconds() == 86400


def test_days_to_plot_stop_at_today() -> None:
    month = _parse("2026-11")
    assert month.days_until(TODAY)[0] == date(2026, 11, 1) and month.days_until(TODAY)[-1] == TODAY
    assert len(_parse("2026-10").days_until(TODAY)) == 31
