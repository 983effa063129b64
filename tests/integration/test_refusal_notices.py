"""Paced refusals on a real database (SQLite and PostgreSQL): "not allowed" at most once an interval per person.

Two replicas share the database, so the pace must hold when both see the same person at the same
moment: each test uses two RefusalNotices on two engines, as two processes would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.services.notices import RefusalNotices
from storage.db import create_engine, session_factory

INTERVAL = timedelta(seconds=1)  # a minute in the bot; a second keeps the test short
STRANGER = 6006
OTHER = 6007
AT_ONCE = 8


@pytest.fixture
async def replicas(migrated_database_url: str) -> AsyncIterator[tuple[RefusalNotices, RefusalNotices]]:
    """Two RefusalNotices on their own engines over one fresh database."""
    engines = [create_engine(migrated_database_url), create_engine(migrated_database_url)]
    first, second = (RefusalNotices(session_factory(engine), interval=INTERVAL) for engine in engines)
    yield first, second
    for engine in engines:
        await engine.dispose()


async def test_concurrent_refusals_tell_a_person_once(replicas: tuple[RefusalNotices, RefusalNotices]) -> None:
    """Eight commands of one person handled at the same moment on two replicas: exactly one may say "not allowed"."""
    first, second = replicas
    answers = await asyncio.gather(*(notices.may_tell(STRANGER) for notices in (first, second) * (AT_ONCE // 2)))
    assert sorted(answers) == [False] * (AT_ONCE - 1) + [True]
    assert await first.may_tell(OTHER), "another person is paced on their own"
    assert not await second.may_tell(STRANGER)


async def test_a_person_is_told_again_after_the_interval(replicas: tuple[RefusalNotices, RefusalNotices]) -> None:
    """Told once, quiet for the interval, then told once more (and quiet again)."""
    first, second = replicas
    assert await first.may_tell(STRANGER)
    await asyncio.sleep(INTERVAL.total_seconds() / 2)
    assert not await second.may_tell(STRANGER)
    await asyncio.sleep(INTERVAL.total_seconds() / 2 + 0.1)
    answers = await asyncio.gather(first.may_tell(STRANGER), second.may_tell(STRANGER))
    assert sorted(answers) == [False, True]
    assert not await first.may_tell(STRANGER)
