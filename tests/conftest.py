"""Shared fixtures: a database of its own per test (empty or migrated), on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.databases import PostgresDatabases, SqliteTemplate

POSTGRES_ENV = "TEST_DATABASE_URL"
# Nice value for tests marked "timing" (and the bot processes they start).
TIMING_NICENESS = -10
# The sandbox-backed link stack's fixtures (keys, stack) serve several integration modules.
pytest_plugins = ["tests.integration.link_stack"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    """This process's migrated SQLite file, made on first use."""
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """This process's maker and dropper of PostgreSQL test databases; every database is dropped by the end."""
    databases = PostgresDatabases(os.environ[POSTGRES_ENV])
    yield databases
    problems = databases.close()
    if problems:
        pytest.fail("; ".join(problems))


@asynccontextmanager
async def _own_database(request: pytest.FixtureRequest, tmp_path: Path, *, migrated: bool) -> AsyncIterator[str]:
    if request.param == "sqlite":
        database = tmp_path / "paylink.db"
        if migrated:
            await request.getfixturevalue("sqlite_template").copy_to(database)
        yield f"sqlite+aiosqlite:///{database}"
        return
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set (.ci/run sets it to the local PostgreSQL)")
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    name = await databases.create(migrated=migrated)
    try:
        yield databases.url(name)
    finally:
        await databases.drop_later(name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL to an empty database of its own: a SQLite file, or a new PostgreSQL database."""
    async with _own_database(request, tmp_path, migrated=False) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def migrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Like ``database_url``, but the database already has the newest schema (a copy of one migrated once)."""
    async with _own_database(request, tmp_path, migrated=True) as url:
        yield url


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
