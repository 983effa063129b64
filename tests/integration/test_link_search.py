"""/find and /status on a history: the search indexes change how fast, never what is found (SQLite and PostgreSQL).

Links are written straight into a real database, as many as it takes for both ways the search
can go (a rare word read from the index, a common word found by walking the newest links); the
answers are compared with those of the same database once the search structures are dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.services.link_access import LinkScope
from bot.services.link_queries import LinkQueries
from bot.services.link_search import search_terms
from storage import search
from storage.db import create_engine, is_sqlite, session_factory, upgrade
from storage.models import Link, LinkStatus, Payment, PaymentSource, utcnow
from tests.databases import downgrade

OWNER, AGENT, OTHER_AGENT = 100, 200, 300
SHOP, MARKET = -100_1, -100_2
EVERYTHING = LinkScope(OWNER, all_links=True)
START = utcnow() - timedelta(days=30)
BEFORE_SEARCH = "0007"  # the revision before 0008 made the search structures
COMMON = "parcel"  # in more links than the index hands over one by one
DESCRIPTIONS = [
    "Winter shoes, size 42 (100% wool)",
    "Café au lait",
    "CAFÉ CRÈME",
    "crème brûlée",
    "Größe M, Straße 5",
    "snake_case mug",
    "snakeXcase mug",
    'The "best" tea',
    "İstanbul lokum",
    "istanbul çay",
    "ชาไทย เย็น",
    "قهوة عربية",
    "Shirt, size XL",
    "Açaí bowl",
    "back\\slash",
]
QUERIES = [
    "winter",
    "WINT",
    "inter sho",
    "café",
    "CAFÉ",
    "cafe",
    "crème",
    "CRÈME",
    "größe",
    "STRASSE",
    "straße",
    "100%",
    "1000%",
    "_",
    "e_c",
    "%",
    '"best"',
    "best",
    "istanbul",
    "İstanbul",
    "ชา",
    "ชาไทย",
    "قهوة",
    "xl",
    "42",
    "m",
    "açaí",
    "AÇAÍ",
    "back\\slash",
    "\\",
    COMMON,
    f"{COMMON} 7",
    f"{COMMON.upper()} shoes",
    "nothing-like-this",
    "PL",
]


def _link(number: int, description: str, *, creator: int = AGENT, chat: int = SHOP) -> dict[str, Any]:
    return {
        "merchant_link_id": f"PLTEST{number:08d}",
        "payermax_link_id": f"PM{number:012d}",
        "chat_id": chat,
        "creator_user_id": creator,
        "creator_name": "Ann Agent",
        "amount": Decimal("150000"),
        "currency": "IDR",
        "country": "ID",
        "description": description,
        "expires_seconds": 86400,
        "status": LinkStatus.ACTIVE,
        "created_at": START + timedelta(minutes=number),
        "updated_at": START + timedelta(minutes=number),
    }


async def _write_links(sessions: async_sessionmaker[AsyncSession], rows: Sequence[dict[str, Any]]) -> None:
    async with sessions() as session, session.begin():
        await session.execute(insert(Link), list(rows))


def _history() -> list[dict[str, Any]]:
    """The described links among 1,200 parcels, spread over three creators and two chats."""
    rows = []
    for number in range(1, 1201):
        creator = (AGENT, OTHER_AGENT, OWNER)[number % 3]
        chat = SHOP if number % 2 else MARKET
        rows.append(_link(number, f"{COMMON} {number}", creator=creator, chat=chat))
    for number, description in enumerate(DESCRIPTIONS, start=2000):
        rows.append(_link(number, description, creator=(AGENT, OTHER_AGENT)[number % 2]))
    return rows


@pytest.fixture
async def engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


async def _found(queries: LinkQueries, text_: str, scope: LinkScope = EVERYTHING) -> list[str]:
    return [item.link.description for item in await queries.find(search_terms(text_), scope)]


async def _drop_search_structures(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        if is_sqlite(engine):
            for trigger in search.SEARCH_TRIGGERS:
                await connection.execute(text(f"DROP TRIGGER {trigger}"))
            await connection.execute(text(f"DROP TABLE {search.SEARCH_TABLE}"))
        else:
            await connection.execute(text("DROP INDEX ix_links_description_trgm"))


async def test_words_match_any_part_in_any_case_with_accents_as_typed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _write_links(sessions, [_link(n, d) for n, d in enumerate(DESCRIPTIONS)])
    queries = LinkQueries(sessions)

    assert await _found(queries, "WINT size") == ["Winter shoes, size 42 (100% wool)"]
    assert await _found(queries, "AÇAÍ") == ["Açaí bowl"]  # upper case found in lower
    assert await _found(queries, "acai") == []  # accents count
    assert await _found(queries, "100%") == ["Winter shoes, size 42 (100% wool)"]
    assert await _found(queries, "1000%") == []  # % is a character, not a wildcard
    assert await _found(queries, "e_c") == ["snake_case mug"]  # and so is _
    assert await _found(queries, '"best"') == ['The "best" tea']
    assert await _found(queries, "xl") == ["Shirt, size XL"]  # two letters: no trigram, still found
    assert await _found(queries, "ชา") == ["ชาไทย เย็น"]
    assert await _found(queries, "قهوة") == ["قهوة عربية"]
    assert await _found(queries, "winter tea") == []  # every word must match


async def test_the_indexes_find_what_a_scan_finds(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Every query, in every scope, gives the same links in the same order with and without the search structures."""
    await _write_links(sessions, _history())
    queries = LinkQueries(sessions)
    scopes = [
        EVERYTHING,
        LinkScope(AGENT, all_links=False),
        LinkScope(OWNER, all_links=True, chat_id=MARKET),
        LinkScope(AGENT, all_links=False, chat_id=SHOP),
    ]
    indexed = {(q, scope): await _found(queries, q, scope) for q in QUERIES for scope in scopes}
    assert indexed[(COMMON, EVERYTHING)] == [f"{COMMON} {n}" for n in range(1200, 1190, -1)]
    # As before the indexes: PostgreSQL lower-cases every letter, SQLite only A to Z.
    upper_case_accents = [] if is_sqlite(engine) else ["CAFÉ CRÈME"]
    assert indexed[("café", EVERYTHING)] == [*upper_case_accents, "Café au lait"]

    await _drop_search_structures(engine)

    scanned = {(q, scope): await _found(queries, q, scope) for q in QUERIES for scope in scopes}
    assert scanned == indexed


async def test_search_follows_changed_and_removed_descriptions(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _write_links(sessions, [_link(1, "Winter shoes"), _link(2, "Rain boots")])
    queries = LinkQueries(sessions)
    async with sessions() as session, session.begin():
        await session.execute(update(Link).where(Link.description == "Winter shoes").values(description="Summer hat"))
        await session.execute(Link.__table__.delete().where(Link.description == "Rain boots"))

    assert await _found(queries, "summer") == ["Summer hat"]
    assert await _found(queries, "winter") == []
    assert await _found(queries, "boots") == []


async def _search_structures(engine: AsyncEngine) -> list[str]:
    """The search table (SQLite) or trigram index (PostgreSQL) the database has: none before migration 0008."""
    if is_sqlite(engine):
        statement = text("SELECT name FROM sqlite_master WHERE name = :name")
        name = search.SEARCH_TABLE
    else:
        statement = text("SELECT indexname FROM pg_indexes WHERE indexname = :name")
        name = "ix_links_description_trgm"
    async with engine.connect() as connection:
        return list((await connection.execute(statement, {"name": name})).scalars())


async def _indexed_rows(engine: AsyncEngine, word: str) -> int:
    """How many links the SQLite search table holds under ``word`` (PostgreSQL's index always covers every row)."""
    statement = text(f"SELECT count(*) FROM {search.SEARCH_TABLE} WHERE {search.SEARCH_TABLE} MATCH :word")
    async with engine.connect() as connection:
        return (await connection.execute(statement, {"word": f'"{word}"'})).scalar_one()


async def test_upgrade_indexes_the_links_already_there(engine: AsyncEngine) -> None:
    """A database filled before the search structures existed is searched through them after the upgrade."""
    await downgrade(engine, BEFORE_SEARCH)
    assert await _search_structures(engine) == []
    sessions = session_factory(engine)
    await _write_links(sessions, [_link(1, "Winter shoes"), _link(2, "Rain boots")])

    await upgrade(engine)

    assert await _search_structures(engine) != []
    if is_sqlite(engine):
        assert await _indexed_rows(engine, "boots") == 1
    assert await _found(LinkQueries(sessions), "boots") == ["Rain boots"]
    await downgrade(engine, BEFORE_SEARCH)  # the downgrade removes it all, and it comes back
    assert await _search_structures(engine) == []
    await upgrade(engine)
    if is_sqlite(engine):
        assert await _indexed_rows(engine, "winter") == 1
    assert await _found(LinkQueries(sessions), "winter") == ["Winter shoes"]


async def test_a_link_is_named_by_each_of_its_ids(sessions: async_sessionmaker[AsyncSession]) -> None:
    """/status and /find by our id (any case), PayerMax's id or an order number; agents only find their own."""
    await _write_links(sessions, [_link(1, "Winter shoes"), _link(2, "Rain boots", creator=OTHER_AGENT)])
    async with sessions() as session, session.begin():
        boots = (await session.execute(select(Link).where(Link.description == "Rain boots"))).scalar_one()
        session.add(_payment(boots.id, "T2026000000001", completed_minutes_ago=5))
    queries = LinkQueries(sessions)

    for reference in ("PLTEST00000002", "pltest00000002", "PM000000000002", "T2026000000001"):
        found = await queries.lookup(reference)
        assert found is not None and found.id == boots.id, reference
    assert await queries.lookup("pm000000000002") is None  # PayerMax's ids are not ours to upper-case
    assert [
        (item.link.id, item.matched) for item in await queries.find(search_terms("T2026000000001"), EVERYTHING)
    ] == [(boots.id, "order")]
    assert await queries.find(search_terms("PLTEST00000002"), LinkScope(AGENT, all_links=False)) == []


def _payment(link_id: int | None, trade: str, *, completed_minutes_ago: int) -> Payment:
    assert link_id is not None
    return Payment(
        link_id=link_id,
        out_trade_no=trade,
        status="SUCCESS",
        amount=Decimal("150000"),
        currency="IDR",
        source=PaymentSource.PAYBYLINK,
        completed_at=utcnow() - timedelta(minutes=completed_minutes_ago),
    )


async def test_todays_takings_count_only_links_in_scope(sessions: async_sessionmaker[AsyncSession]) -> None:
    rows = [
        _link(1, "mine here", creator=AGENT, chat=SHOP),
        _link(2, "mine elsewhere", creator=AGENT, chat=MARKET),
        _link(3, "theirs here", creator=OTHER_AGENT, chat=SHOP),
    ]
    await _write_links(sessions, rows)
    async with sessions() as session, session.begin():
        links = {link.description: link.id for link in (await session.execute(select(Link))).scalars()}
        session.add(_payment(links["mine here"], "T1", completed_minutes_ago=10))
        session.add(_payment(links["mine elsewhere"], "T2", completed_minutes_ago=10))
        session.add(_payment(links["theirs here"], "T3", completed_minutes_ago=10))
        session.add(_payment(links["theirs here"], "T4", completed_minutes_ago=60 * 24 * 3))  # not today
    queries = LinkQueries(sessions)
    since = utcnow() - timedelta(hours=1)

    async def total(scope: LinkScope) -> dict[str, Decimal]:
        return await queries.paid_totals_since(scope, since)

    assert await total(EVERYTHING) == {"IDR": Decimal("450000")}
    assert await total(LinkScope(OWNER, all_links=True, chat_id=SHOP)) == {"IDR": Decimal("300000")}
    assert await total(LinkScope(AGENT, all_links=False)) == {"IDR": Decimal("300000")}
    assert await total(LinkScope(AGENT, all_links=False, chat_id=SHOP)) == {"IDR": Decimal("150000")}
    assert await total(LinkScope(OTHER_AGENT, all_links=False, chat_id=MARKET)) == {}
