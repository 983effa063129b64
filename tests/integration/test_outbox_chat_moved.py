"""News for a group that became a supergroup reaches the new id once each, uncounted, and nothing is lost.

The outbox dispatcher runs in-process as the bot builds it (a python-telegram-bot ExtBot paced by
the send budget) against the fake Bot API, on SQLite and PostgreSQL. Three links of a basic group
are paid, so three "Paid" wait; the fake has upgraded the group and answers sends to its old id with
Telegram's 400 and ``migrate_to_chat_id``. The three are claimed together and all refused: one
refusal moves the chat, the others find it moved; each "Paid" is sent again to the new id at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.botapi.budget import Limits
from storage.db import create_engine, session_factory
from storage.models import ChatMove, Link, OutboxKind, OutboxMessage, OutboxStatus
from tests.fakes.telegram_api import FakeTelegram
from tests.integration.paid_outbox import queue_paid, running_outbox

OWNER = 1001
OLD = -4_500_600
NEW = -100_4_500_600
PACING = Limits(group_interval=0.01)  # the three go out in one burst, as a busy group's news would
WAIT = 30.0


@pytest.fixture
async def sessions(migrated_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(migrated_database_url)
    yield session_factory(engine)
    await engine.dispose()


async def _rows(sessions: async_sessionmaker[AsyncSession], model: Any) -> list[Any]:
    async with sessions() as session:
        return list((await session.execute(select(model))).scalars())


async def test_refused_sends_move_the_group_and_each_paid_arrives_once_in_the_supergroup(
    migrated_database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    links = [
        await queue_paid(
            sessions, chat_id=OLD, merchant_link_id=f"PLMOVED{n}", trade_no=f"TRADEMOVED{n}", owner_chat_ids=(OWNER,)
        )
        for n in range(3)
    ]
    async with FakeTelegram() as fake:
        fake.upgrade_group(OLD, NEW)
        async with running_outbox(fake, sessions, migrated_database_url, limits=PACING, owner_chat_ids=(OWNER,)):
            for link in links:
                await fake.wait_for_message(lambda m, link=link: link.merchant_link_id in (m.text or ""), timeout=WAIT)
            await asyncio.sleep(0.5)  # a doubled send would come now

    # Every "Paid" once, in the supergroup; none accepted in the old group, none for the owner (nothing failed).
    arrived = sorted(link.merchant_link_id for link in links for m in fake.sent(NEW) if link.merchant_link_id in m.text)
    assert arrived == sorted(link.merchant_link_id for link in links)
    assert fake.sent(OLD) == [] and fake.sent(OWNER) == []
    refused = [call for call in fake.calls if call.params.get("chat_id") == OLD]
    assert 1 <= len(refused) <= 3 and all(call.status == HTTPStatus.BAD_REQUEST for call in refused)
    paid = [row for row in await _rows(sessions, OutboxMessage) if row.kind == OutboxKind.PAID]
    assert [(row.chat_id, row.status, row.attempts) for row in paid] == [(NEW, OutboxStatus.SENT, 0)] * 3
    assert {link.chat_id for link in await _rows(sessions, Link)} == {NEW}
    async with sessions() as session:
        moves = (await session.execute(select(col(ChatMove.old_chat_id), col(ChatMove.new_chat_id)))).all()
    assert [tuple(move) for move in moves] == [(OLD, NEW)]
