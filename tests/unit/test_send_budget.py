"""The send budget never books more than Telegram allows, wastes no capacity, and keeps room for "Paid"."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from bot.botapi.budget import Limits, LocalBudget, Priority, SlotGrid


def _max_in_window(times: list[float], width: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= width - 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


def _booked(moments: list[float | None]) -> list[float]:
    assert all(moment is not None for moment in moments)
    return [moment for moment in moments if moment is not None]


def test_global_rate_holds_in_every_one_second_window_whatever_the_priorities() -> None:
    grid = SlotGrid()
    rng = random.Random(7)
    clock = sorted(rng.uniform(0, 3) for _ in range(600))
    booked = [grid.book(rng.randint(1, 500), now, rng.choice([Priority.ANNOUNCE, Priority.REPLY])) for now in clock]
    assert _max_in_window(_booked(booked), 1.0) <= grid.limits.per_second


def test_private_chats_get_one_message_per_interval_and_groups_twenty_a_minute() -> None:
    grid = SlotGrid()
    private = _booked([grid.book(42, 0.0) for _ in range(5)])
    group = _booked([grid.book(-100, 0.0, Priority.REPLY) for _ in range(25)])
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(private))
    assert _max_in_window(group, 60.0) <= 20


def test_many_chats_drain_at_the_full_global_rate() -> None:
    grid = SlotGrid()
    booked = _booked([grid.book(chat, 0.0) for _ in range(20) for chat in range(1, 51)])
    # 1,000 messages at 29/s cannot finish before ~34.5 s; the planner should not need much more.
    assert max(booked) <= 1000 / grid.limits.per_second + 1.0


def test_replies_leave_room_for_announcements() -> None:
    """A flood of replies to many people takes at most its share: a "Paid" booked after it still goes at once."""
    grid = SlotGrid()
    replies = _booked([grid.book(1000 + person, 0.0, Priority.REPLY) for person in range(300)])
    assert _max_in_window(replies, 1.0) <= grid.limits.reply_share
    paid = grid.book(7, 0.0, Priority.ANNOUNCE)
    assert paid is not None and paid < 0.1


def test_courtesies_are_few_and_dropped_when_they_cannot_go_soon() -> None:
    """Thirty strangers refused at once: a few refusals a second go out, the rest are not sent at all."""
    grid = SlotGrid()
    refusals = [grid.book(2000 + stranger, 0.0, Priority.COURTESY) for stranger in range(30)]
    sent = [moment for moment in refusals if moment is not None]
    assert len(sent) <= grid.limits.courtesy_share * (grid.limits.courtesy_horizon + 1)
    assert all(moment <= grid.limits.courtesy_horizon for moment in sent)
    paid = grid.book(9, 0.0, Priority.ANNOUNCE)
    assert paid is not None and paid < 0.2  # "Paid" still goes within the first second


def test_a_429_pauses_everything_until_retry_after() -> None:
    grid = SlotGrid()
    grid.pause_all(until=10.0)
    assert (grid.book(1, 0.0) or 0) >= 10.0
    assert grid.book(5, 0.0, Priority.COURTESY) is None  # a refusal is not worth waiting ten seconds for
    grid.pause_chat(2, until=20.0)
    assert (grid.book(2, 0.0) or 0) >= 20.0


def test_released_slots_are_reused() -> None:
    grid = SlotGrid()
    first = grid.book(1, 0.0)
    assert first is not None
    grid.release(1, first)
    assert grid.book(1, 0.0) == first


async def test_book_many_holds_only_slots_within_the_horizon() -> None:
    """The outbox takes what can go in the next seconds and hands the rest back for later."""
    now = [100.0]
    budget = LocalBudget(clock=lambda: now[0])
    bookings = await budget.book_many([(42, Priority.ANNOUNCE)] * 5, horizon=2.0)
    assert [booking.booked for booking in bookings] == [True, True, False, False, False]
    assert bookings[2].wait > 2.0
    # What was not held is not taken: the chat's third message can still have the slot after the second.
    [third] = await budget.book_many([(42, Priority.ANNOUNCE)], horizon=5.0)
    assert third.booked and abs(third.wait - bookings[2].wait) < 1e-6


def test_telegrams_published_limits_give_the_margins_the_bot_always_kept() -> None:
    """30 a second, 1 a second per private chat, 20 a minute per group: 28, 1.05 s and 3.1 s, as before the setting."""
    limits = Limits.for_telegram(30, 1, 20)
    assert (limits.per_second, limits.private_interval, limits.group_interval) == (28, 1.05, 3.1)
    assert (limits.reply_share, limits.courtesy_share) == (20, 4)
    assert limits == Limits()


def test_other_limits_keep_the_same_margins_and_shares() -> None:
    """Double Telegram's figures: two under the rate, the same seconds added to each interval, the same shares."""
    limits = Limits.for_telegram(60, 2, 40)
    assert limits.per_second == 58
    assert math.isclose(limits.private_interval, 0.55) and math.isclose(limits.group_interval, 1.6)
    assert (limits.reply_share, limits.courtesy_share) == (41, 8)  # 20/28 and 4/28 of 58, rounded down
    assert Limits.for_telegram(2, 1, 1).per_second == 1  # never below one message a second


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Limits.for_telegram(30, 0, 20)


def test_raised_limits_pace_as_they_say() -> None:
    """Fast limits (as the end-to-end tests use) are still limits: the rate and each chat's interval hold."""
    grid = SlotGrid(Limits.for_telegram(1000, 100, 6000))
    rng = random.Random(11)
    booked = _booked([grid.book(rng.randint(1, 50), now / 1000) for now in range(3000)])
    assert _max_in_window(booked, 1.0) <= grid.limits.per_second
    private = _booked([grid.book(42, 5.0) for _ in range(5)])
    group = _booked([grid.book(-100, 5.0) for _ in range(5)])
    assert all(b - a >= 0.06 - 1e-9 for a, b in itertools.pairwise(private))
    assert all(b - a >= 0.11 - 1e-9 for a, b in itertools.pairwise(group))
    assert max(private + group) < 6.0  # ten messages to two chats within a second, not ten seconds
