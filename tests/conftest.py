"""Shared fixtures: a fresh database per test, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

POSTGRES_ENV = "TEST_DATABASE_URL"
# Nice value for tests marked "timing" (and the bot processes they start).
TIMING_NICENESS = -10
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


@pytest.fixture(autouse=True)
def _timing_runs_first_on_the_cpu(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked ``timing`` (and the bot it starts) is served before other work on the machine.

    Such a test asserts how long the bot takes (news within 2 s of a flood, exit within 10 s of
    SIGTERM), as it would on a machine of its own; the other test workers and whatever else the
    machine runs must not decide it. Raising the priority needs root (as in CI); elsewhere the
    test runs at the priority it has; ``scripts/test`` also runs the other tests at a lowered one.
    The marked tests run in a pytest of their own, one at a time (and share an xdist group, so a
    plain ``pytest -n`` never runs two at a time either).
    """
    if request.node.get_closest_marker("timing") is None:
        yield
        return
    before = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, TIMING_NICENESS)
    except PermissionError:
        yield
        return
    try:
        yield
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, before)  # lowering one's priority again is always allowed


@pytest.fixture(autouse=True)
def _kept_in_its_xdist_group(request: pytest.FixtureRequest) -> None:
    """Fail a grouped test that pytest-xdist did not keep in its group (with pytest 9.2 it silently did not)."""
    in_a_group = request.node.get_closest_marker("xdist_group") is not None
    if in_a_group and getattr(request.config.option, "loadgroup", False) and "@" not in request.node.nodeid:
        pytest.fail("--dist loadgroup ignored this test's xdist_group (pytest-xdist#1386): see pyproject.toml")
