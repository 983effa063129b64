"""Shared fixtures: a fresh database per test, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

POSTGRES_ENV = "TEST_DATABASE_URL"
# The sandbox-backed link stack's fixtures (keys, stack) serve several integration modules.
pytest_plugins = ["tests.integration.link_stack"]


async def _admin_connection(base_url: str) -> asyncpg.Connection:
    url = make_url(base_url)
    return await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
    )


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """A URL to an empty database of its own: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'paylink.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set (.ci/run sets it to the local PostgreSQL)")
    name = f"paylink_test_{secrets.token_hex(6)}"
    admin = await _admin_connection(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield make_url(base).set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    admin = await _admin_connection(base)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
