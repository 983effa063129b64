"""Which real SQLite and PostgreSQL failures count as an outage (answer 503, log once) and which stay loud bugs."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.web.availability import describe
from storage.db import create_engine
from storage.outage import is_outage

TERMINATE = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1"


def sqlite_error(path: Path, statement: str, *, lock: bool = False) -> BaseException:
    """What SQLAlchemy raises for ``statement`` on this SQLite file (``lock``: while another connection holds it)."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS payments (card_number TEXT)")
    if lock:
        holder.execute("BEGIN EXCLUSIVE")
    engine = create_sync_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with engine.begin() as connection:
            connection.execute(text(statement), {"card": "411111******1111"})
    except Exception as error:
        return error
    finally:
        engine.dispose()
        holder.close()
    raise AssertionError("the statement did not fail")


def test_sqlite_file_locked_by_another_process_is_an_outage(tmp_path: Path) -> None:
    error = sqlite_error(tmp_path / "db.sqlite", "INSERT INTO payments VALUES (:card)", lock=True)
    assert is_outage(error)
    assert describe(error) == "OperationalError: database is locked"  # the driver's words, no SQL, no parameters


@pytest.mark.parametrize(
    "statement", ["INSERT INTO no_such_table VALUES (:card)", "INSERT INTO payments VALUES (:card, :card)"]
)
def test_sqlite_statement_it_refuses_is_not_an_outage(tmp_path: Path, statement: str) -> None:
    assert not is_outage(sqlite_error(tmp_path / "db.sqlite", statement))


async def test_postgresql_nobody_listening_is_an_outage() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{closed}/none")
    try:
        with pytest.raises(Exception) as caught:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert is_outage(caught.value)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgresql_refusing_and_dropping_connections_is_an_outage(database_url: str) -> None:
    url = make_url(database_url)
    engine = create_engine(database_url, pool_pre_ping=False)
    admin = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database="postgres")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await admin.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS false')
            await admin.execute(TERMINATE, url.database)
            with pytest.raises(Exception) as dropped:
                await connection.execute(text("SELECT 1"))
        with pytest.raises(Exception) as refused:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await admin.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true')
        await admin.close()
        await engine.dispose()
    assert is_outage(dropped.value), repr(dropped.value)
    assert is_outage(refused.value), repr(refused.value)
    assert "not currently accepting connections" in describe(refused.value)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgresql_statement_it_refuses_is_not_an_outage(database_url: str) -> None:
    engine = create_engine(database_url)
    errors = []
    try:
        for statement in ("SELECT * FROM no_such_table", "DO $$ BEGIN RAISE EXCEPTION 'refused'; END $$", "SELECT 1/0"):
            with pytest.raises(Exception) as caught:
                async with engine.connect() as connection:
                    await connection.execute(text(statement))
            errors.append(caught.value)
    finally:
        await engine.dispose()
    assert [is_outage(error) for error in errors] == [False, False, False]
