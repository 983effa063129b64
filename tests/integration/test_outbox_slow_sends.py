"""A "Paid" whose send outlasts the outbox lease is sent once; one whose sender stopped mid-send is sent again.

Two outbox dispatchers (two replicas, as the bot builds them: a python-telegram-bot ExtBot paced
by a send budget of its own) share one database, on SQLite and PostgreSQL, and send to the fake
Bot API. The fake takes the send at once but holds its answer back, as a slow Telegram does, for
far longer than the lease each claim takes. The lease used to run out in the middle of the send, and
whichever dispatcher claimed next sent the same "Paid" again: the seller read it twice or more.
Likewise an answer later than python-telegram-bot's default 5 s read timeout: the send ended in
TimedOut and was sent again at once. Replicas send through the bot's own HTTP client
(:mod:`bot.botapi.requests`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.botapi.requests import SEND_READ_TIMEOUT
from bot.outbox import STOP_GRACE_SECONDS, OutboxDispatcher
from storage.db import create_engine, session_factory
from storage.models import Link, OutboxKind, OutboxMessage, OutboxStatus, utcnow
from tests.fakes.telegram_api import Call, FakeTelegram, SentMessage
from tests.integration.paid_outbox import queue_paid, running_outbox

SELLER_CHAT = 50_001
PAID_PREFIX = "✅ Paid"
LEASE = timedelta(seconds=0.3)  # the bot's is 60 s; what matters is a send far longer than it
SLOW_ANSWER = 2.0  # seconds Telegram takes to answer the send: six leases, well inside the read timeout
LATE_ANSWER = 7.0  # past python-telegram-bot's default 5 s read timeout, well inside the bot's
WAIT = 30.0


@pytest.fixture
async def sessions(migrated_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(migrated_database_url)
    yield session_factory(engine)
    await engine.dispose()


async def _paid_queued(sessions: async_sessionmaker[AsyncSession]) -> Link:
    """An ACTIVE link in the seller's chat and a payment on it, so a "Paid" waits in the outbox."""
    return await queue_paid(
        sessions, chat_id=SELLER_CHAT, merchant_link_id="PLSLOWSEND00001", trade_no="TRADESLOWSEND01", owner_chat_ids=()
    )


def _replica(
    fake: FakeTelegram,
    sessions: async_sessionmaker[AsyncSession],
    url: str,
    *,
    read_timeout: float = SEND_READ_TIMEOUT,
) -> AbstractAsyncContextManager[OutboxDispatcher]:
    """One replica's outbox dispatcher, running until the block ends (then stopped as the bot stops it)."""
    return running_outbox(fake, sessions, url, read_timeout=read_timeout, lease=LEASE)


def _to_seller(call: Call) -> bool:
    return call.method == "sendMessage" and call.params.get("chat_id") == SELLER_CHAT


def _paid_messages(fake: FakeTelegram) -> list[SentMessage]:
    """The "Paid" messages the seller's chat has (the fake keeps a send as soon as it takes it)."""
    return [message for message in fake.sent(SELLER_CHAT) if (message.text or "").startswith(PAID_PREFIX)]


async def _paid_row(sessions: async_sessionmaker[AsyncSession], chat_id: int = SELLER_CHAT) -> OutboxMessage:
    async with sessions() as session:
        statement = select(OutboxMessage).where(
            col(OutboxMessage.kind) == OutboxKind.PAID, col(OutboxMessage.chat_id) == chat_id
        )
        return (await session.execute(statement)).scalars().one()


async def _eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not await condition():
        assert loop.time() < deadline, f"not within {WAIT}s: {what}"
        await asyncio.sleep(0.05)


async def _answered_late_is_read_once(
    sessions: async_sessionmaker[AsyncSession], url: str, *, replicas: int, answer_after: float
) -> None:
    """Telegram takes the seller's "Paid" at once and answers ``answer_after`` seconds later: it is read once."""
    link = await _paid_queued(sessions)
    async with FakeTelegram() as fake, AsyncExitStack() as running:
        with fake.hold_answers(_to_seller) as slow:
            for _ in range(replicas):
                await running.enter_async_context(_replica(fake, sessions, url))
            await slow.wait_held()
            # Each replica claims again every 50 ms: a lease run out would be taken within this.
            await asyncio.sleep(answer_after)
            slow.release()

            async def sent() -> bool:
                return (await _paid_row(sessions)).status == OutboxStatus.SENT

            await _eventually(sent, "the Paid marked sent")

    paid = _paid_messages(fake)
    assert len(paid) == 1, f"the seller read 'Paid' {len(paid)} times"
    assert link.merchant_link_id in (paid[0].text or "")
    assert len([call for call in fake.calls if _to_seller(call)]) == 1
    row = await _paid_row(sessions)
    assert row.status == OutboxStatus.SENT and row.attempts == 0


async def test_a_send_slower_than_the_lease_is_sent_once(
    migrated_database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Two replicas, the send answered six leases late: the seller gets one "Paid", recorded SENT at the first try."""
    await _answered_late_is_read_once(sessions, migrated_database_url, replicas=2, answer_after=SLOW_ANSWER)


async def test_a_send_its_replica_gave_up_on_is_taken_over_after_the_lease(
    migrated_database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A replica stopping mid-send (its answer never came) stops holding the message: another sends it after the lease.

    At least once, by choice: Telegram already had the first send, so the seller reads "Paid"
    twice; a message held for ever by a sender that is gone would be lost instead.
    """
    await _paid_queued(sessions)
    async with FakeTelegram() as fake:
        with fake.hold_answers(_to_seller) as slow:
            async with _replica(fake, sessions, migrated_database_url):
                await slow.wait_held()
                stopping = asyncio.get_running_loop().time()
            # Stopped: it waited STOP_GRACE_SECONDS for the answer, then dropped the send, not
            # waiting out the read timeout.
            stopped_in = asyncio.get_running_loop().time() - stopping
            assert stopped_in < STOP_GRACE_SECONDS + 2.0 < SEND_READ_TIMEOUT, f"stopped in {stopped_in:.1f}s"
        assert (await _paid_row(sessions)).status == OutboxStatus.PENDING
        async with _replica(fake, sessions, migrated_database_url):

            async def sent() -> bool:
                return (await _paid_row(sessions)).status == OutboxStatus.SENT

            await _eventually(sent, "the second replica to send the Paid")

    assert len(_paid_messages(fake)) == 2


async def test_a_paid_answered_after_seven_seconds_is_read_once(
    migrated_database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Telegram takes the "Paid" and answers 7 s later, past PTB's default read timeout: the seller reads it once."""
    await _answered_late_is_read_once(sessions, migrated_database_url, replicas=1, answer_after=LATE_ANSWER)


async def test_a_send_never_answered_goes_again_only_after_a_pause(
    migrated_database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """No answer within the read timeout: Telegram may have the "Paid", so it waits a minute before going again.

    Still at least once (the row stays PENDING, to be sent again), but not at once, and not brought
    forward when another chat's send gets through, as retries after a network error are.
    """
    await _paid_queued(sessions)
    other_chat = SELLER_CHAT + 1
    async with FakeTelegram() as fake:
        with fake.hold_answers(_to_seller) as slow:
            async with _replica(fake, sessions, migrated_database_url, read_timeout=0.5):
                await slow.wait_held()

                async def timed_out() -> bool:
                    return (await _paid_row(sessions)).attempts == 1

                await _eventually(timed_out, "the unanswered send recorded as an attempt")
                slow.release()
                await queue_paid(
                    sessions, chat_id=other_chat, merchant_link_id="PLSLOWSEND00002", trade_no="TRADESLOWSEND02"
                )

                async def other_sent() -> bool:
                    return (await _paid_row(sessions, other_chat)).status == OutboxStatus.SENT

                await _eventually(other_sent, "another chat's Paid sent")
                await asyncio.sleep(0.5)  # a bring-forward would have sent it again by now

    assert len([call for call in fake.calls if _to_seller(call)]) == 1
    row = await _paid_row(sessions)
    assert row.status == OutboxStatus.PENDING
    assert row.next_attempt_at - utcnow() > timedelta(seconds=50)
