"""Filling bench.scale's database once, in bulk, and finding it filled the next time.

PostgreSQL gets a database of its own on the server the URL names (``paylink_scale_<links>``),
written with COPY; SQLite a file in the data folder, written with executemany on one connection.
A small ``bench_scale_fill`` table records what was filled: a later run with the same shape
reuses the database (first bringing its schema to the newest migration, as an upgrade of a
production database would) instead of filling it again.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import Table, create_engine, insert, text
from sqlalchemy.engine import Connection, make_url
from sqlmodel import SQLModel

from bench.scale_data import History, Shape, chats
from storage.db import SQLITE_SYNC_DRIVER, is_sqlite, upgrade
from storage.db import create_engine as create_async_engine

MARKER_TABLE = "bench_scale_fill"
DATA_VERSION = 3  # bump when what a fill writes changes
CHUNK = 20_000


@dataclass(frozen=True)
class Filled:
    """The database a run measures, and what it cost to get there."""

    url: str
    shape: Shape
    reused: bool
    fill_seconds: float  # 0 when reused
    upgrade_seconds: float  # migrations applied to the filled database (0 when none were due)
    revision_before: str | None
    revision_after: str | None


def database_url_for(server_url: str | None, data_dir: Path, links: int) -> str:
    """Where a history of ``links`` links lives: a database of its own on the PostgreSQL server, or a SQLite file."""
    if server_url is None or is_sqlite(server_url):
        return f"sqlite+aiosqlite:///{data_dir / f'paylink-scale-{links}.db'}"
    url = make_url(server_url).set(drivername="postgresql+asyncpg", database=f"paylink_scale_{links}")
    return url.render_as_string(hide_password=False)


async def _admin(url: str) -> asyncpg.Connection:
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database="postgres",
    )


async def _postgres_database_exists(url: str) -> bool:
    admin = await _admin(url)
    try:
        return bool(await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", make_url(url).database))
    finally:
        await admin.close()


async def _recreate_postgres_database(url: str) -> None:
    name = make_url(url).database
    admin = await _admin(url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def _sqlite_file(url: str) -> Path:
    return Path(make_url(url).database or "")


def _remove_sqlite_files(url: str) -> None:
    database = _sqlite_file(url)
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        path.unlink(missing_ok=True)
    database.parent.mkdir(parents=True, exist_ok=True)


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


async def drop(url: str) -> None:
    """Remove a filled database."""
    if is_sqlite(url):
        _remove_sqlite_files(url)
        return
    admin = await _admin(url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await admin.close()


async def _marker(url: str) -> dict[str, Any] | None:
    """What the fill marker says, or None when the database is missing or was never completely filled."""
    if is_sqlite(url):
        if not _sqlite_file(url).exists():
            return None
    elif not await _postgres_database_exists(url):
        return None
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            found = await connection.execute(
                text("SELECT 1 FROM information_schema.tables WHERE table_name = :name")
                if not is_sqlite(url)
                else text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
                {"name": MARKER_TABLE},
            )
            if found.first() is None:
                return None
            row = (await connection.execute(text(f"SELECT * FROM {MARKER_TABLE}"))).mappings().first()
            return dict(row) if row else None
    finally:
        await engine.dispose()


async def _revision(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
    finally:
        await engine.dispose()


async def ensure_filled(url: str, links: int, *, seed: int, refill: bool, fill_at: str) -> Filled:
    """Fill the database at ``url`` unless it already holds this history; bring its schema to the newest migration."""
    marker = None if refill else await _marker(url)
    if marker is not None and (marker["links"], marker["seed"], marker["data_version"]) == (links, seed, DATA_VERSION):
        shape = Shape(links=links, ends=_as_utc(marker["ends"]), seed=seed)
        before = await _revision(url)
        started = time.perf_counter()
        await _upgrade(url, "head")
        upgraded = time.perf_counter() - started
        after = await _revision(url)
        return Filled(url, shape, True, 0.0, upgraded if after != before else 0.0, before, after)

    shape = Shape(links=links, ends=datetime.now(UTC).replace(microsecond=0), seed=seed)
    started = time.perf_counter()
    if is_sqlite(url):
        _remove_sqlite_files(url)
    else:
        await _recreate_postgres_database(url)
    await _upgrade(url, fill_at)
    if is_sqlite(url):
        _fill_sqlite(url, shape)
    else:
        await _fill_postgres(url, shape)
    filled = time.perf_counter() - started
    before = await _revision(url)
    started = time.perf_counter()
    await _upgrade(url, "head")
    upgraded = time.perf_counter() - started
    after = await _revision(url)
    await _analyse_and_mark(url, shape)
    return Filled(url, shape, False, filled, upgraded if after != before else 0.0, before, after)


async def ensure_filled_apart(url: str, links: int, *, seed: int, refill: bool, fill_at: str) -> Filled:
    """:func:`ensure_filled` in a process of its own: the memory a fill takes never hides what is measured later."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as child:
        work = partial(_ensure_filled_now, url, links, seed=seed, refill=refill, fill_at=fill_at)
        return await asyncio.get_running_loop().run_in_executor(child, work)


def _ensure_filled_now(url: str, links: int, *, seed: int, refill: bool, fill_at: str) -> Filled:
    return asyncio.run(ensure_filled(url, links, seed=seed, refill=refill, fill_at=fill_at))


def _as_utc(value: datetime | str) -> datetime:
    """A moment read back from the marker (SQLite gives text, PostgreSQL a datetime), in UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def _upgrade(url: str, revision: str) -> None:
    engine = create_async_engine(url)
    try:
        await upgrade(engine, revision)
    finally:
        await engine.dispose()


def _plain(value: Any) -> Any:
    """A column value as the database stores it (Decimals are exact text, vocabularies their value)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, StrEnum):
        return value.value
    return value


async def _copy(connection: asyncpg.Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    records = [tuple(_plain(row[column]) for column in columns) for row in rows]
    await connection.copy_records_to_table(table.name, records=records, columns=columns)


async def _fill_postgres(url: str, shape: Shape) -> None:
    """COPY the history in chunks on one connection, then move the id sequences past it."""
    parsed = make_url(url)
    connection = await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database=parsed.database,
    )
    try:
        now = datetime.now(UTC)
        await _copy(connection, _table("chats"), [{**chat, "created_at": now} for chat in chats()])
        with _progress(shape.links) as tick:
            for rows in History(shape).chunks(CHUNK):
                async with connection.transaction():
                    await _copy(connection, _table("links"), rows.links)
                    await _copy(connection, _table("payments"), rows.payments)
                tick(len(rows.links))
        for table in ("links", "payments"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
    finally:
        await connection.close()


def _fill_sqlite(url: str, shape: Shape) -> None:
    """executemany the history in chunks on one plain sqlite3 connection (types converted by SQLAlchemy)."""
    engine = create_engine(make_url(url).set(drivername=SQLITE_SYNC_DRIVER))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            now = datetime.now(UTC)
            connection.execute(insert(_table("chats")), [{**chat, "created_at": now} for chat in chats()])
        with _progress(shape.links) as tick:
            for rows in History(shape).chunks(CHUNK):
                with engine.begin() as connection:
                    _insert_many(connection, _table("links"), rows.links)
                    _insert_many(connection, _table("payments"), rows.payments)
                tick(len(rows.links))
    finally:
        engine.dispose()


def _insert_many(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(insert(table), rows)


async def _analyse_and_mark(url: str, shape: Shape) -> None:
    """Record what was filled; on PostgreSQL first refresh the planner's statistics, as autovacuum would by now.

    SQLite gets no ANALYZE: the bot never runs one, so its planner works without statistics there too.
    """
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT") if not is_sqlite(url) else None
    if engine is not None:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("VACUUM ANALYZE"))
        finally:
            await engine.dispose()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    f"CREATE TABLE {MARKER_TABLE} (links INTEGER NOT NULL, seed INTEGER NOT NULL,"
                    " data_version INTEGER NOT NULL, ends TIMESTAMP WITH TIME ZONE NOT NULL)"
                )
            )
            await connection.execute(
                text(f"INSERT INTO {MARKER_TABLE} VALUES (:links, :seed, :version, :ends)"),
                {
                    "links": shape.links,
                    "seed": shape.seed,
                    "version": DATA_VERSION,
                    "ends": shape.ends.isoformat() if is_sqlite(url) else shape.ends,
                },
            )
    finally:
        await engine.dispose()


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    """A tick(n) that prints how far the fill is, about every tenth."""
    done = 0
    started = time.perf_counter()
    step = max(1, total // 10)
    next_report = step

    def tick(count: int) -> None:
        nonlocal done, next_report
        done += count
        if done >= next_report or done == total:
            elapsed = time.perf_counter() - started
            print(f"  filled {done:,}/{total:,} links in {elapsed:.0f} s", flush=True)
            next_report += step

    yield tick
