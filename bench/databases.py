"""A database of the benchmark's own: a SQLite file in a folder, or a throwaway PostgreSQL database."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from storage.db import is_sqlite

SQLITE_FILE_NAME = "paylink-bench.db"
THROWAWAY_PREFIX = "paylink_bench_"


async def _admin_connection(base_url: str) -> asyncpg.Connection:
    url = make_url(base_url)
    return await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )


@contextlib.asynccontextmanager
async def bench_database(database_url: str | None, folder: Path) -> AsyncIterator[str]:
    """Yield a URL to an empty database: a SQLite file in ``folder`` unless a PostgreSQL URL is given.

    A PostgreSQL URL names the server to use; a new database is created on it and dropped after,
    so the benchmark never touches the one the URL names.
    """
    if database_url is None or is_sqlite(database_url):
        yield f"sqlite+aiosqlite:///{folder / SQLITE_FILE_NAME}"
        return
    name = THROWAWAY_PREFIX + secrets.token_hex(6)
    admin = await _admin_connection(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield (
            make_url(database_url)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        admin = await _admin_connection(database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def describe(database_url: str) -> str:
    """The backend and where it lives, without credentials."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database}"
    return f"PostgreSQL {url.host}:{url.port or 5432}/{url.database}"
