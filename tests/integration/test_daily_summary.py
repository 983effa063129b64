"""The daily summary is queued once a day at the chat's local time, however many replicas (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.services.access import AccessService
from bot.services.actors import Actor
from bot.services.chat_defaults import ChatDefaults, ChatDefaultsService, ChatRef, SettingError, parse_time_of_day
from bot.services.daily_summary import DailySummaries, due_day, period_of, scope_of, summary_period
from bot.services.periods import PeriodKind
from storage.db import create_engine, session_factory
from storage.models import Chat, Member, OutboxKind, OutboxMessage, Role

JAKARTA = ZoneInfo("Asia/Jakarta")
OWNER, AGENT, FORMER = 10, 20, 30
GROUP = -100_500
DEPLOYMENT = ChatDefaults(
    currency="IDR", country="ID", language="en", customer_language="en", timezone="Asia/Jakarta", expires_seconds=86400
)


def _jakarta(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JAKARTA).astimezone(UTC)


@pytest.fixture
async def sessions(migrated_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(migrated_database_url)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        session.add(Member(user_id=AGENT, role=Role.AGENT, name="Ann", added_by=OWNER))
    yield sessions
    await engine.dispose()


def _replica(sessions: async_sessionmaker[AsyncSession]) -> tuple[DailySummaries, ChatDefaultsService]:
    """One process's summaries, as the app builds them."""
    chats = ChatDefaultsService(sessions, DEPLOYMENT)
    access = AccessService(sessions, owner_ids=frozenset({OWNER}), sandbox=False)
    return DailySummaries(sessions, chats, access), chats


async def _choose(
    chats: ChatDefaultsService,
    chat_id: int,
    text: str,
    when: datetime,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Someone chose the summary's time in /settings at ``when``."""
    chat = ChatRef(chat_id, "group" if chat_id < 0 else "private", "Shop" if chat_id < 0 else None)
    await chats.set_daily_summary(Actor(OWNER, "Olga", chat_id), chat, text)
    async with sessions() as session, session.begin():
        row = await session.get(Chat, chat_id)
        assert row is not None
        row.daily_summary_set_at = when


async def _queued(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as session:
        statement = select(OutboxMessage).where(col(OutboxMessage.kind) == OutboxKind.DAILY_SUMMARY)
        return list((await session.execute(statement.order_by(col(OutboxMessage.id)))).scalars())


async def test_due_once_a_day_at_the_chosen_local_time(sessions: async_sessionmaker[AsyncSession]) -> None:
    summaries, chats = _replica(sessions)
    await _choose(chats, GROUP, "18:00", _jakarta("2026-11-26T10:00"), sessions)
    assert await summaries.queue_due(_jakarta("2026-11-27T17:59")) == 0
    assert await summaries.queue_due(_jakarta("2026-11-27T18:00")) == 1
    assert await summaries.queue_due(_jakarta("2026-11-27T18:00:30")) == 0  # the next round
    assert await summaries.queue_due(_jakarta("2026-11-27T23:59")) == 0
    assert await summaries.queue_due(_jakarta("2026-11-28T18:05")) == 1  # the next day
    [first, second] = await _queued(sessions)
    assert (first.chat_id, first.dedupe_key, second.dedupe_key) == (
        GROUP,
        f"summary:{GROUP}:2026-11-27",
        f"summary:{GROUP}:2026-11-28",
    )
    payload = json.loads(first.payload)
    # Set for the evening: the day so far, counting the group's links.
    assert period_of(payload).kind == PeriodKind.TODAY and period_of(payload).first == date(2026, 11, 27)
    scope = scope_of(payload)
    assert (scope.all_links, scope.chat_id) == (True, GROUP)


async def test_a_time_already_past_when_chosen_starts_the_next_day(sessions: async_sessionmaker[AsyncSession]) -> None:
    summaries, chats = _replica(sessions)
    await _choose(chats, GROUP, "09:00", _jakarta("2026-11-27T15:00"), sessions)
    assert await summaries.queue_due(_jakarta("2026-11-27T15:01")) == 0
    assert await summaries.queue_due(_jakarta("2026-11-28T09:00")) == 1
    [message] = await _queued(sessions)
    period = period_of(json.loads(message.payload))
    assert (period.kind, period.first, period.last) == (PeriodKind.YESTERDAY, date(2026, 11, 27), date(2026, 11, 27))


async def test_a_bot_down_at_the_time_sends_it_later_the_same_day_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    summaries, chats = _replica(sessions)
    await _choose(chats, GROUP, "09:00", _jakarta("2026-11-20T10:00"), sessions)
    assert await summaries.queue_due(_jakarta("2026-11-27T22:00")) == 1  # down from 09:00 to 22:00: still today's
    assert [m.dedupe_key for m in await _queued(sessions)] == [f"summary:{GROUP}:2026-11-27"]


async def test_replicas_racing_queue_one_summary(sessions: async_sessionmaker[AsyncSession]) -> None:
    _first, chats = _replica(sessions)
    await _choose(chats, GROUP, "18:00", _jakarta("2026-11-26T10:00"), sessions)
    replicas = [_replica(sessions)[0] for _ in range(4)]
    moment = _jakarta("2026-11-27T18:00:05")
    await asyncio.gather(*(replica.queue_due(moment) for replica in replicas))
    assert len(await _queued(sessions)) == 1


async def test_private_summaries_follow_the_persons_role_and_off_stops_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    summaries, chats = _replica(sessions)
    for chat_id in (OWNER, AGENT, FORMER):
        await _choose(chats, chat_id, "20:00", _jakarta("2026-11-26T10:00"), sessions)
    assert await summaries.queue_due(_jakarta("2026-11-27T20:00")) == 2  # the former member gets none
    scopes = {m.chat_id: scope_of(json.loads(m.payload)) for m in await _queued(sessions)}
    assert (scopes[OWNER].all_links, scopes[OWNER].chat_id) == (True, None)  # the whole team
    assert (scopes[AGENT].all_links, scopes[AGENT].creator_user_id) == (False, AGENT)  # their own links
    await _choose(chats, OWNER, "off", _jakarta("2026-11-27T21:00"), sessions)
    assert (await chats.defaults_for(OWNER)).summary_minute is None
    assert await summaries.queue_due(_jakarta("2026-11-28T20:00")) == 1  # the agent's only


@pytest.mark.parametrize(
    ("typed", "minute"),
    [("9", 540), ("09:30", 570), ("18.30", 1110), ("18h30", 1110), ("0:00", 0), ("23:59", 1439), ("OFF", None)],
)
def test_times_of_day_people_type(typed: str, minute: int | None) -> None:
    assert parse_time_of_day(typed) == minute


@pytest.mark.parametrize("typed", ["24:00", "9:60", "noon", "9:5", "-1", "1830"])
def test_what_is_not_a_time_of_day_is_refused(typed: str) -> None:
    with pytest.raises(SettingError):
        parse_time_of_day(typed)


def test_due_day_is_the_chats_today_and_the_period_depends_on_noon() -> None:
    moment = _jakarta("2026-11-28T00:30")  # still the 27th in UTC
    assert due_day(moment, "Asia/Jakarta", 30, None) == date(2026, 11, 28)
    assert due_day(moment, "Asia/Jakarta", 31, None) is None
    assert summary_period(11 * 60 + 59, date(2026, 11, 28)).first == date(2026, 11, 27)
    assert summary_period(12 * 60, date(2026, 11, 28)).first == date(2026, 11, 28)
    assert due_day(moment, "Asia/Jakarta", 30, moment + timedelta(seconds=1)) is None
