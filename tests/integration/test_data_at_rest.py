"""Data at rest: other local users cannot read the database, and it holds no usable invite code."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.services.access import AccessService, Role
from bot.services.team import TeamService
from storage.db import create_engine, session_factory, upgrade
from storage.models import utcnow
from tests.cli import cli_env, run_cli

OWNER = 1001
NEWCOMER = 7007
TOKEN = "123456:ABCdefGHIjkl"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems run with (022), under which new files are readable by everyone."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


async def test_migration_hashes_invites_handed_out_before_the_upgrade(database_url: str) -> None:
    """An invite made by the old version still works after the upgrade, but its code is no longer stored."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "0001")
        code = "Zq3v0pX5bN2mR8tY1wK4cA"
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO invites (code, role, created_by, created_at, expires_at)"
                    " VALUES (:code, 'admin', :owner, :now, :until)"
                ),
                {"code": code, "owner": OWNER, "now": utcnow(), "until": utcnow() + timedelta(hours=23)},
            )
        await upgrade(engine)

        async with engine.connect() as connection:
            rows = [tuple(row) for row in (await connection.execute(text("SELECT * FROM invites"))).all()]
        assert len(rows) == 1 and not any(code in str(value) for value in rows[0])
        assert hashlib.sha256(code.encode()).hexdigest() in rows[0]

        sessions = session_factory(engine)
        team = TeamService(sessions, AccessService(sessions, owner_ids=frozenset({OWNER}), sandbox=False))
        assert await team.accept(code, NEWCOMER, "Nia") == Role.ADMIN
    finally:
        await engine.dispose()


async def test_a_new_database_is_owner_only_down_to_its_wal_files(tmp_path: Path, usual_umask: None) -> None:
    """The folder is made 0700 and the database file 0600 before SQLite opens it; -wal and -shm inherit 0600."""
    database = tmp_path / "fresh" / "paylink.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        await upgrade(engine)
        async with engine.connect() as connection:
            await connection.execute(text("SELECT count(*) FROM invites"))
            companions = [Path(f"{database}-wal"), Path(f"{database}-shm")]
            assert all(path.exists() for path in companions)  # WAL mode, connection open
            assert {path.name: mode(path) for path in [database, *companions]} == {
                "paylink.db": 0o600,
                "paylink.db-wal": 0o600,
                "paylink.db-shm": 0o600,
            }
        assert mode(database.parent) == 0o700
    finally:
        await engine.dispose()


def test_db_upgrade_tightens_an_existing_data_folder_and_says_so(tmp_path: Path, usual_umask: None) -> None:
    """A data folder and database left readable by an older version are made owner-only, in one log line."""
    data = tmp_path / "data"
    data.mkdir()
    sqlite3.connect(data / "paylink.db").close()
    assert (mode(data), mode(data / "paylink.db")) == (0o755, 0o644)

    env = cli_env(TELEGRAM_BOT_TOKEN=TOKEN, DATA_DIR=str(data))
    result = run_cli("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (mode(data), mode(data / "paylink.db")) == (0o700, 0o600)
    [line] = result.stderr.strip().splitlines()
    assert f"{data} 0755 -> 0700" in line and f"{data / 'paylink.db'} 0644 -> 0600" in line

    again = run_cli("db", "upgrade", env=env, cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == ""  # nothing left to tighten, nothing said
