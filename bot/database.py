"""The configured database: opened with owner-only files, and one line naming the variable when it cannot be used."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import ConfigError, Settings
from storage.db import create_engine, is_sqlite, upgrade
from storage.private import log_tightened, private_folder, private_sqlite_files

# What a first connection raises when the database is not there: socket errors, timeouts, and
# the driver's own errors (wrong database, role or password) wrapped by SQLAlchemy.
UNREACHABLE = (OSError, asyncio.TimeoutError, DBAPIError)


def database_variable(settings: Settings) -> str:
    """The variable that chose the database: DATABASE_URL, or DATA_DIR for the default SQLite file."""
    return "DATABASE_URL" if settings.database_url else "DATA_DIR"


def open_engine(settings: Settings) -> AsyncEngine:
    """Make the data folder 0700 and the SQLite files 0600 (saying what was tightened), then create the engine."""
    url = settings.resolved_database_url
    changes: list[str] = []
    # DATA_DIR holds the default SQLite file and the sandbox's keys; a live bot on PostgreSQL may not use it.
    if settings.is_sandbox or settings.database_url is None or settings.data_dir.exists():
        try:
            changes += private_folder(settings.data_dir)
        except OSError as exc:
            raise ConfigError("DATA_DIR", _folder_problem(settings.data_dir, exc)) from None
    database = make_url(url).database if is_sqlite(url) else None
    if database:
        try:
            changes += private_sqlite_files(Path(database))
        except OSError as exc:
            problem = f"cannot create the SQLite file {database}: {_os_reason(exc)}"
            raise ConfigError(database_variable(settings), problem) from None
    log_tightened(changes)
    return create_engine(url)


async def check_reachable(engine: AsyncEngine, settings: Settings) -> None:
    """Connect once; a database that cannot be reached is a ConfigError naming the variable, not a traceback."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except UNREACHABLE as exc:
        problem = f"cannot connect to {describe(engine)}: {reason(exc, engine)}"
        raise ConfigError(database_variable(settings), problem) from None


async def prepare_schema(engine: AsyncEngine, settings: Settings) -> None:
    """Check the database can be reached, then bring its schema to the newest migration."""
    await check_reachable(engine, settings)
    await upgrade(engine)


def describe(engine: AsyncEngine) -> str:
    """Where the engine points, without the password: 'PostgreSQL at host:5432/db as user' or the SQLite file."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"the SQLite file {url.database}"
    user = f" as {url.username}" if url.username else ""
    return f"PostgreSQL at {url.host}:{url.port or 5432}/{url.database or ''}{user}"


def reason(exc: BaseException, engine: AsyncEngine) -> str:
    """The cause of a failed connection in a few words, with the URL's password scrubbed."""
    if isinstance(exc, DBAPIError):
        words = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
    elif isinstance(exc, asyncio.TimeoutError):
        words = "no answer (is the host right, and is the port open?)"
    elif isinstance(exc, OSError):
        words = _os_reason(exc)
    else:
        words = str(exc)
    password = engine.url.password
    return words.replace(str(password), "***") if password else words


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the database server running and listening there?)"
    return exc.strerror or str(exc) or type(exc).__name__


def _folder_problem(path: Path, exc: OSError) -> str:
    if isinstance(exc, FileExistsError):
        return f"{path} is a file, not a folder; point DATA_DIR at a folder (it is created if missing)"
    if isinstance(exc, NotADirectoryError):
        return f"part of {path} is a file, not a folder; point DATA_DIR at a folder (it is created if missing)"
    return f"cannot use {path} as the data folder: {_os_reason(exc)}"
