"""On SQLite this process's writers take turns in the order they came, and none waits forever.

SQLite has one write lock; a transaction that finds it taken sleeps and polls, and a poller can
lose to newcomers until its busy timeout runs out ("database is locked": a seller's button press
answered "Something went wrong" during a burst of a hundred presses). The writer gate queues them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import BatchTransactions, create_engine, read_session, session_factory, writer_gate
from storage.models import ProcessedUpdate, utcnow
from storage.writer_gate import WriterGate

WRITERS = 12  # below the pool's 15 connections: the queue tested is the gate's, not the pool's
BATCH = 999  # the update id the batch unit writes
HOLD = 0.5  # seconds the first writer keeps the lock while the others arrive


@pytest.fixture
async def engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    if not migrated_database_url.startswith("sqlite"):
        pytest.skip("the writer gate is SQLite's: PostgreSQL locks rows, not the file")
    engine = create_engine(migrated_database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_writers_who_wait_are_served_in_the_order_they_came(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    batches = BatchTransactions(engine)
    served: list[int] = []

    # Each writer notes its number while it has the turn (inside its transaction): one at a time.
    async def write(number: int) -> None:
        async with sessions() as session, session.begin():
            session.add(ProcessedUpdate(update_id=number, holder="test", done=True))
            await session.flush()
            served.append(number)

    def batch_unit(connection: Connection) -> None:
        row = {"update_id": BATCH, "holder": "batch", "done": True, "received_at": utcnow()}
        connection.execute(insert(ProcessedUpdate).values(**row))
        served.append(BATCH)

    async def batch_write() -> None:
        await batches.run(batch_unit)  # notifications are stored this way, on a thread of their own

    try:
        async with sessions() as first, first.begin():
            first.add(ProcessedUpdate(update_id=0, holder="first", done=True))
            await first.flush()  # the write lock is taken and held until the block ends
            gate = writer_gate(engine)
            assert gate is not None
            waiting: list[asyncio.Task[None]] = []

            async def arrive(writer: Coroutine[Any, Any, None]) -> None:
                """Start a writer and wait until it is in the queue: a clear order of arrival."""
                waiting.append(asyncio.create_task(writer))
                for _ in range(1000):
                    if gate.waiting == len(waiting):
                        return
                    await asyncio.sleep(0.005)
                raise AssertionError(f"{len(waiting)} writers started, {gate.waiting} queued")

            for number in range(1, WRITERS + 1):
                await arrive(write(number))
                if number == WRITERS // 2:
                    await arrive(batch_write())
            # Readers do not queue: a read answers at once while the lock is held and twelve wait.
            async with read_session(sessions) as reader:
                assert await reader.get(ProcessedUpdate, 0) is None  # not committed yet
            await asyncio.sleep(HOLD)
            assert served == [], "a writer got in while another held the lock"
        await asyncio.wait_for(asyncio.gather(*waiting), timeout=30)
    finally:
        await batches.close()
    half = WRITERS // 2
    expected = [*range(1, half + 1), BATCH, *range(half + 1, WRITERS + 1)]
    assert served == expected, f"served out of turn: {served}"
    async with read_session(sessions) as reader:
        assert await reader.get(ProcessedUpdate, BATCH) is not None


async def test_a_writer_kept_waiting_past_the_timeout_fails_as_a_locked_database() -> None:
    gate = WriterGate(timeout=0.2)
    async with gate.turn():
        with pytest.raises(OperationalError, match="database is locked"):
            async with gate.turn():
                pass
    async with gate.turn():  # the turn was given back: the next writer is served at once
        pass
