"""The send planner never books more than Telegram allows, and wastes no capacity."""

from __future__ import annotations

import random

from bot.limits import SendLimiter


def _max_in_window(times: list[float], width: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= width - 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_global_rate_holds_in_every_one_second_window() -> None:
    limiter = SendLimiter()
    rng = random.Random(7)
    clock = sorted(rng.uniform(0, 3) for _ in range(600))  # the dispatcher's clock is monotonic
    booked = [limiter.book(rng.randint(1, 500), now=now) for now in clock]
    assert _max_in_window(booked, 1.0) <= limiter.per_second


def test_private_chats_get_one_message_per_interval_and_groups_twenty_a_minute() -> None:
    limiter = SendLimiter()
    private = [limiter.book(42, now=0.0) for _ in range(5)]
    group = [limiter.book(-100, now=0.0) for _ in range(25)]
    assert all(b - a >= 1.0 for a, b in zip(private, private[1:]))
    assert _max_in_window(group, 60.0) <= 20


def test_many_chats_drain_at_the_full_global_rate() -> None:
    limiter = SendLimiter()
    booked = [limiter.book(chat, now=0.0) for _ in range(20) for chat in range(1, 51)]
    # 1,000 messages at 29/s cannot finish before ~34.5 s; the planner should not need much more.
    assert max(booked) <= 1000 / limiter.per_second + 1.0


def test_a_429_pauses_everything_until_retry_after() -> None:
    limiter = SendLimiter()
    limiter.pause_all(until=10.0)
    assert limiter.book(1, now=0.0) >= 10.0
    limiter.pause_chat(2, until=20.0)
    assert limiter.book(2, now=0.0) >= 20.0


def test_released_slots_are_reused() -> None:
    limiter = SendLimiter()
    first = limiter.book(1, now=0.0)
    limiter.release(1, first)
    assert limiter.book(1, now=0.0) == first
