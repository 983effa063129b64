"""A "Paid" whose sends get answers nobody can read is tried a few times, then given up with one alert.

The outbox dispatcher runs in-process as the bot builds it (a python-telegram-bot ExtBot paced by
the send budget) against the fake Bot API, on SQLite and PostgreSQL. The fake answers every send
to the seller's chat with a 200 the client cannot read: the HTML page a proxy in front of the Bot
API serves, or a message object python-telegram-bot cannot build. Such a surprise used to be
retried without end (a traceback each time); now it gets ``UNEXPECTED_ATTEMPTS`` tries with
backoff, ends FAILED, and the owner hears about it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.botapi.budget import Limits
from bot.botapi.errors import UNEXPECTED_ATTEMPTS
from storage.db import create_engine, session_factory
from storage.models import Link, OutboxKind, OutboxMessage, OutboxStatus
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_protocol import PROXY_PAGE
from tests.integration.paid_outbox import queue_paid, running_outbox

OWNER = 1001
SELLER_CHAT = 50_001
FIRST_BACKOFF = 0.05  # seconds; the bot's is 1 s, doubling each time
# Retries to one chat are paced like any send (1.05 s apart in a private chat); what this test
# checks is how many there are, so the chat's interval is shortened as the backoff is.
PACING = Limits(private_interval=0.05)
WAIT = 30.0
# Answers python-telegram-bot cannot read: (body, content type).
UNREADABLE = {
    "proxy page": (PROXY_PAGE, "text/html; charset=utf-8"),
    "message without fields": (b'{"ok":true,"result":{}}', "application/json"),
}


@pytest.fixture
async def sessions(migrated_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(migrated_database_url)
    yield session_factory(engine)
    await engine.dispose()


async def _paid_queued(sessions: async_sessionmaker[AsyncSession]) -> Link:
    """An ACTIVE link in the seller's chat and a payment on it, so a "Paid" waits in the outbox."""
    return await queue_paid(
        sessions,
        chat_id=SELLER_CHAT,
        merchant_link_id="PLUNREADABLE01",
        trade_no="TRADEUNREADABLE1",
        owner_chat_ids=(OWNER,),
    )


async def _outbox(sessions: async_sessionmaker[AsyncSession], kind: OutboxKind) -> list[OutboxMessage]:
    async with sessions() as session:
        statement = select(OutboxMessage).where(col(OutboxMessage.kind) == kind).order_by(col(OutboxMessage.id))
        return list((await session.execute(statement)).scalars())


@pytest.mark.parametrize("answer", list(UNREADABLE))
async def test_an_unreadable_answer_is_tried_a_few_times_then_given_up_with_one_alert(
    answer: str,
    migrated_database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At most UNEXPECTED_ATTEMPTS sends, the Paid ends FAILED, the owner is told once, one traceback of ours."""
    caplog.set_level(logging.INFO)
    link = await _paid_queued(sessions)
    async with FakeTelegram() as fake:
        body, content_type = UNREADABLE[answer]
        fake.garble_chat(SELLER_CHAT, body, content_type)
        async with running_outbox(
            fake,
            sessions,
            migrated_database_url,
            limits=PACING,
            owner_chat_ids=(OWNER,),
            first_backoff_seconds=FIRST_BACKOFF,
        ):
            alert = await fake.wait_for_message(lambda message: message.chat_id == OWNER, timeout=WAIT)
            # Any further try would come within a few backoffs of the last one.
            await asyncio.sleep(FIRST_BACKOFF * 2**UNEXPECTED_ATTEMPTS)

    tries = [call for call in fake.calls if call.method == "sendMessage" and call.params.get("chat_id") == SELLER_CHAT]
    assert 1 < len(tries) <= UNEXPECTED_ATTEMPTS and all(call.garbled for call in tries)
    [paid] = await _outbox(sessions, OutboxKind.PAID)
    assert paid.status == OutboxStatus.FAILED and paid.attempts == len(tries) - 1
    alerts = await _outbox(sessions, OutboxKind.ALERT)
    assert [(row.chat_id, row.status) for row in alerts] == [(OWNER, OutboxStatus.SENT)]
    assert [message.chat_id for message in fake.sent()] == [OWNER]
    assert str(SELLER_CHAT) in (alert.text or "") and link.merchant_link_id in (alert.text or "")
    tracebacks = [record for record in caplog.records if record.exc_info]
    ours = [record for record in tracebacks if record.name.startswith("paylink")]
    # Ours once per message; python-telegram-bot logs one of its own for each answer it cannot decode.
    assert len(ours) == 1 and len(tracebacks) <= len(tries) + 1, [(r.name, r.getMessage()[:80]) for r in tracebacks]
