"""Bookkeeping tables stay bounded, and what may still come back is kept (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.retention import Retention
from storage import repo
from storage.db import create_engine, session_factory
from storage.models import OutboxKind, OutboxMessage, OutboxStatus, ProcessedUpdate, utcnow

NOW = utcnow()
KEEP = timedelta(days=30)


@pytest.fixture
async def sessions(migrated_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(migrated_database_url)
    yield session_factory(engine)
    await engine.dispose()


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Updates and messages 40 days old and 1 day old, in every outbox state."""
    async with sessions() as session, session.begin():
        for update_id, age in ((1, 40), (2, 40), (3, 1)):
            session.add(ProcessedUpdate(update_id=update_id, holder="x", done=True, received_at=NOW - timedelta(age)))
        for key, age, status in (
            ("old-sent", 40, OutboxStatus.SENT),
            ("old-failed", 40, OutboxStatus.FAILED),
            ("old-pending", 40, OutboxStatus.PENDING),  # never delivered yet: must not be lost
            ("new-sent", 1, OutboxStatus.SENT),
        ):
            when = NOW - timedelta(age)
            session.add(
                OutboxMessage(
                    dedupe_key=key,
                    kind=OutboxKind.ALERT,
                    chat_id=1,
                    status=status,
                    created_at=when,
                    next_attempt_at=when,
                )
            )


async def _keys(sessions: async_sessionmaker[AsyncSession]) -> tuple[set[int], set[str]]:
    async with sessions() as session:
        updates = set((await session.execute(select(ProcessedUpdate.update_id))).scalars())
        messages = set((await session.execute(select(OutboxMessage.dedupe_key))).scalars())
    return updates, messages


async def test_old_bookkeeping_is_forgotten_and_the_rest_kept(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _seed(sessions)
    pruned = await Retention(sessions, KEEP).prune(NOW)
    assert (pruned.updates, pruned.messages) == (2, 2)
    assert await _keys(sessions) == ({3}, {"old-pending", "new-sent"})

    # A message queued again under a key that is still kept is still refused as a repeat.
    async with sessions() as session, session.begin():
        added = await repo.enqueue(session, dedupe_key="new-sent", kind=OutboxKind.ALERT, chat_id=1, payload={})
    assert not added


async def test_a_big_backlog_goes_in_batches(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _seed(sessions)
    retention = Retention(sessions, KEEP, batch=1)
    first = await retention.prune(NOW)
    assert (first.updates, first.messages) == (1, 1)
    await retention.prune(NOW)
    assert (await retention.prune(NOW)).updates == 0
    async with sessions() as session:
        count = (await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
    assert count == 2


def test_retention_shorter_than_the_retry_windows_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 days"):
        Retention(session_factory(create_engine("sqlite+aiosqlite://")), timedelta(days=1))
