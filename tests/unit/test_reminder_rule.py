"""When a link's creator hears it is still unpaid: 2 hours before expiry by default, halfway for short links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services.reminders import remind_at

EXPIRES = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
HOUR = 3600
DAY = 24 * HOUR


def test_default_is_two_hours_before_expiry() -> None:
    assert remind_at(EXPIRES, DAY, None) == EXPIRES - timedelta(hours=2)
    assert remind_at(EXPIRES, 4 * HOUR, None) == EXPIRES - timedelta(hours=2)


def test_short_links_are_reminded_halfway() -> None:
    assert remind_at(EXPIRES, HOUR, None) == EXPIRES - timedelta(minutes=30)
    assert remind_at(EXPIRES, 3 * HOUR, None) == EXPIRES - timedelta(hours=1, minutes=30)


def test_a_chosen_time_is_kept_but_never_before_halfway() -> None:
    assert remind_at(EXPIRES, 7 * DAY, 6 * HOUR) == EXPIRES - timedelta(hours=6)
    assert remind_at(EXPIRES, 2 * HOUR, 6 * HOUR) == EXPIRES - timedelta(hours=1)


def test_off_or_no_expiry_means_no_reminder() -> None:
    assert remind_at(EXPIRES, DAY, 0) is None
    assert remind_at(None, DAY, None) is None
