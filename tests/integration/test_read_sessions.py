"""Reads never queue behind a writer: lists, searches and /healthz answer while another transaction writes.

SQLite lets one writer at a time in; every transaction that may write takes that lock at BEGIN.
A session that only reads begins without it (WAL readers see the last commit), and a write in it
is refused loudly. PostgreSQL readers never waited; the same code runs there as a READ ONLY transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.payermax.signing import generate_private_key
from bot.payermax.webhook import MerchantIdentity
from bot.services.link_access import LinkScope
from bot.services.link_queries import LinkQueries, StatusFilter
from bot.services.link_search import search_terms
from bot.services.payments import PaymentService
from bot.web.app import build_web_app
from storage.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    WriteInReadOnlySession,
    create_engine,
    read_connection,
    read_session,
    session_factory,
)
from storage.models import Chat, Link, LinkStatus
from storage.outage import is_outage

SHOP = -100_200_300
SELLER = 42
# Far below the busy timeout a read used to wait out behind the writer (then "database is locked").
PROMPT_SECONDS = SQLITE_BUSY_TIMEOUT_MS / 1000 / 5


@pytest.fixture
async def engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated database on either backend."""
    engine = create_engine(migrated_database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def add_links(sessions: async_sessionmaker[AsyncSession], *descriptions: str) -> None:
    async with sessions() as session, session.begin():
        for number, description in enumerate(descriptions):
            session.add(
                Link(
                    merchant_link_id=f"PL{number:06d}",
                    chat_id=SHOP,
                    creator_user_id=SELLER,
                    amount=Decimal("150000"),
                    currency="IDR",
                    country="ID",
                    description=description,
                    expires_seconds=3600,
                    status=LinkStatus.ACTIVE,
                )
            )


@asynccontextmanager
async def writer_mid_transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    """Another request in the middle of writing: it has renamed every link and not committed yet."""
    async with sessions() as session:
        await session.execute(update(Link).values(description="renamed, not committed"))
        try:
            yield
        finally:
            await session.rollback()


def sqlite_write_lock_is_taken(migrated_database_url: str) -> bool:
    """Whether someone holds the SQLite file's write lock now (always False on PostgreSQL)."""
    if not migrated_database_url.startswith("sqlite"):
        return False
    probe = sqlite3.connect(make_url(migrated_database_url).database or "", isolation_level=None, timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        return "database is locked" in str(error)
    finally:
        probe.close()
    return False


@asynccontextmanager
async def another_process_holding_the_write_lock(migrated_database_url: str) -> AsyncIterator[None]:
    """A plain sqlite3 connection (another process, say) that took the write lock and renamed every link."""
    holder = sqlite3.connect(make_url(migrated_database_url).database or "", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE links SET description = 'renamed, not committed'")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
    finally:
        holder.close()


async def test_links_are_listed_and_found_while_a_writer_holds_the_lock(
    engine: AsyncEngine, migrated_database_url: str
) -> None:
    sessions = session_factory(engine)
    await add_links(sessions, "Winter shoes", "Summer hat")
    queries = LinkQueries(sessions)
    scope = LinkScope(SELLER, all_links=True, chat_id=SHOP)
    winter = search_terms("winter")  # outside the clock: its first use loads Babel's locale data

    async with writer_mid_transaction(sessions):
        locked = sqlite_write_lock_is_taken(migrated_database_url)
        started = time.monotonic()
        page = await queries.list_links(scope, StatusFilter.ALL, 0, 5)
        found = await queries.find(winter, scope)
        took = time.monotonic() - started

    assert locked == migrated_database_url.startswith("sqlite")
    assert took < PROMPT_SECONDS, f"the reads waited {took:.1f} s for the writer"
    # They see what was committed, not the writer's unfinished change.
    assert sorted(link.description for link in page.links) == ["Summer hat", "Winter shoes"]
    assert [hit.link.description for hit in found] == ["Winter shoes"]


async def test_a_write_in_a_read_only_session_raises_and_changes_nothing(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)

    async with read_session(sessions) as session:
        session.add(Chat(id=SHOP, type="supergroup", title="Shop"))
        with pytest.raises(WriteInReadOnlySession) as caught:
            await session.flush()
    async with read_session(sessions) as session:
        with pytest.raises(WriteInReadOnlySession):
            await session.execute(update(Chat).values(title="Renamed"))

    assert not is_outage(caught.value)  # a bug to fix, not "the database is away, try again"
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Chat)) == 0


async def test_a_connection_that_served_a_read_writes_again_and_refuses_again(migrated_database_url: str) -> None:
    engine = create_engine(
        migrated_database_url, pool_size=1, max_overflow=0
    )  # one connection, reused by every session
    sessions = session_factory(engine)
    try:
        async with read_session(sessions) as session:
            await session.scalar(select(func.count()).select_from(Chat))
        async with sessions() as session, session.begin():
            session.add(Chat(id=SHOP, type="supergroup", title="Shop"))
        async with read_session(sessions) as session:
            with pytest.raises(WriteInReadOnlySession):
                await session.execute(update(Chat).values(title="Renamed"))
        async with sessions() as session, session.begin():
            await session.execute(update(Chat).values(title="Renamed"))
        async with read_session(sessions) as session:
            assert await session.scalar(select(Chat.title)) == "Renamed"
    finally:
        await engine.dispose()


@pytest.mark.parametrize("migrated_database_url", ["sqlite"], indirect=True)
async def test_sqlite_read_finishes_while_another_connection_holds_begin_immediate(
    engine: AsyncEngine, migrated_database_url: str
) -> None:
    sessions = session_factory(engine)
    async with another_process_holding_the_write_lock(migrated_database_url):
        started = time.monotonic()
        async with read_session(sessions) as session:
            chats = await session.scalar(select(func.count()).select_from(Chat))
        async with read_connection(engine) as connection:
            also = await connection.scalar(select(func.count()).select_from(Chat))
        took = time.monotonic() - started
        locked = sqlite_write_lock_is_taken(migrated_database_url)

    assert took < PROMPT_SECONDS, f"the read waited {took:.1f} s for the writer"
    assert (chats, also) == (0, 0)  # the holder's chat is not committed
    assert locked  # and it held the lock all along


async def test_health_answers_while_a_writer_holds_the_lock(engine: AsyncEngine, migrated_database_url: str) -> None:
    sessions = session_factory(engine)
    app = build_web_app(
        merchant=MerchantIdentity("sandbox-app", "SANDBOX000001"),
        engine=engine,
        payments=PaymentService(sessions, owner_chat_ids=[]),
        platform_public_key=generate_private_key().public_key(),
    )
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as client,
        writer_mid_transaction(sessions),
    ):
        locked = sqlite_write_lock_is_taken(migrated_database_url)
        started = time.monotonic()
        answer = await client.get("/healthz")
        took = time.monotonic() - started

    assert locked == migrated_database_url.startswith("sqlite")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok", "database": "ok"})
    assert took < PROMPT_SECONDS, f"/healthz waited {took:.1f} s for the writer"
