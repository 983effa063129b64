"""The send budget in PostgreSQL: replicas booking at once together stay within one bot's limits."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from bot.botapi.budget import Limits, Priority
from bot.botapi.shared_budget import SharedBudget
from storage.db import create_engine, session_factory

# It checks how long things take: see the "timing" marker.
pytestmark = [pytest.mark.timing, pytest.mark.xdist_group("timing")]


def _max_in_window(times: list[float], width: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= width - 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.fixture
async def budgets(migrated_database_url: str):
    """Two budgets on one database, as two replicas hold them."""
    if not migrated_database_url.startswith("postgresql"):
        pytest.skip("the shared budget is for replicas on PostgreSQL (SQLite deployments run one process)")
    engine = create_engine(migrated_database_url)
    try:
        yield SharedBudget(session_factory(engine)), SharedBudget(session_factory(engine))
    finally:
        await engine.dispose()


async def test_two_replicas_booking_at_once_never_exceed_the_bot_wide_rate(budgets) -> None:
    """400 messages to 100 chats, booked half by each replica, concurrently: at most 29 a second in all."""
    first, second = budgets
    started = time.monotonic()

    async def book(budget: SharedBudget, chat: int) -> float:
        wait = await budget.book(chat, Priority.ANNOUNCE)
        assert wait is not None
        return time.monotonic() - started + wait

    moments = await asyncio.gather(*(book(first if n % 2 else second, 1000 + n % 100) for n in range(400)))
    # Moments are on each caller's clock, measured after the booking returned: allow a little jitter.
    assert _max_in_window(list(moments), 1.0) <= Limits().per_second + 2
    assert max(moments) >= 400 / Limits().per_second - 1  # the slots really are spread out, not all at once


async def test_one_chat_gets_one_message_a_second_across_replicas(budgets) -> None:
    first, second = budgets
    moments = []
    for n in range(6):
        wait = await (first if n % 2 else second).book(42, Priority.ANNOUNCE)
        assert wait is not None
        moments.append(time.monotonic() + wait)  # when the message may go, on this test's clock
    # A booking returns a wait from the database's "now": measured here a moment later, so allow that moment.
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(moments))


async def test_a_429_seen_by_one_replica_pauses_the_other(budgets) -> None:
    first, second = budgets
    await first.pause_all(8.0)
    assert 7.5 < await second.pause_left() <= 8.0
    wait = await second.book(7, Priority.ANNOUNCE)
    assert wait is not None and wait >= 7.5
    assert await second.book(8, Priority.COURTESY) is None  # a refusal is not worth eight seconds of waiting


async def test_book_many_holds_only_what_can_go_soon(budgets) -> None:
    first, second = budgets
    bookings = await first.book_many([(55, Priority.ANNOUNCE)] * 4, horizon=2.0)
    assert [booking.booked for booking in bookings] == [True, True, False, False]
    [next_one] = await second.book_many([(55, Priority.ANNOUNCE)], horizon=5.0)
    assert next_one.booked and abs(next_one.wait - bookings[2].wait) < 0.2
