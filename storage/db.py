"""Async engine and sessions for SQLite (aiosqlite) and PostgreSQL (asyncpg), batch transactions, and migrations."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage.private import log_tightened, private_sqlite_files
from storage.writer_gate import WriterGate

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("paylink.storage")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_SYNC_DRIVER = "sqlite+pysqlite"
READ_ONLY_OPTION = "paylink_read_only"
# A transaction that only reads: our SQLite "begin" listener's flag, and asyncpg's BEGIN READ ONLY.
READ_ONLY = MappingProxyType({READ_ONLY_OPTION: True, "postgresql_readonly": True})
_QUERY_ONLY = "paylink_query_only"  # whether PRAGMA query_only is on for a pooled SQLite connection
_PG_READ_ONLY_TRANSACTION = "25006"  # SQLSTATE read_only_sql_transaction

T = TypeVar("T")
# Each SQLite async engine's writer gate, for the batch transactions that write beside it.
_WRITER_GATES: weakref.WeakKeyDictionary[Engine, WriterGate] = weakref.WeakKeyDictionary()


class WriteInReadOnlySession(RuntimeError):
    """A statement tried to change the database inside a read-only session: a bug in its caller, never an outage."""


def is_sqlite(engine_or_url: AsyncEngine | str) -> bool:
    """Tell whether this engine or URL is SQLite."""
    url = engine_or_url.url if isinstance(engine_or_url, AsyncEngine) else make_url(engine_or_url)
    return url.get_backend_name() == "sqlite"


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """Create the async engine; on SQLite, make the file owner-only, enable WAL and take write locks up front."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            log_tightened(private_sqlite_files(Path(database)))
        engine = create_async_engine(url, **options)
        gate = WriterGate(SQLITE_BUSY_TIMEOUT_MS / 1000)
        gate.watch(engine.sync_engine)
        _WRITER_GATES[engine.sync_engine] = gate
        _configure_sqlite(engine.sync_engine, gate)
        _refuse_writes_loudly(engine.sync_engine)
        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **options)
    _refuse_writes_loudly(engine.sync_engine)
    return engine


def writer_gate(engine: AsyncEngine) -> WriterGate | None:
    """The queue this SQLite engine's writers wait in for their turn (None on PostgreSQL)."""
    return _WRITER_GATES.get(engine.sync_engine)


def _configure_sqlite(engine: Engine, gate: WriterGate | None) -> None:
    """WAL for concurrent readers, FULL sync for durable money, BEGIN IMMEDIATE to write and plain BEGIN to read.

    With a ``gate`` (the async engine's), a writing transaction first waits its turn among this
    process's writers; the batch thread's engine has none (its units wait for the turn before they
    are handed to the thread).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself instead of the driver's deferred BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()
        record.info[_QUERY_ONLY] = False

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = bool(connection.get_execution_options().get(READ_ONLY_OPTION, False))
        info = connection.connection.info
        if info.get(_QUERY_ONLY, False) != read_only:
            # query_only makes a write in a read-only transaction fail instead of taking the lock. It
            # stays on while the pooled connection only reads, and goes off before one that may write.
            connection.exec_driver_sql(f"PRAGMA query_only={'ON' if read_only else 'OFF'}")
            info[_QUERY_ONLY] = read_only
        if read_only:
            # In WAL mode a deferred transaction that only reads never waits for the writer nor holds it up.
            connection.exec_driver_sql("BEGIN")
        else:
            # A deferred transaction that reads and then writes can deadlock with another writer;
            # taking the write lock at BEGIN makes the second writer wait on busy_timeout instead.
            if gate is not None:
                gate.enter(connection)
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                if gate is not None:
                    gate.leave(info)
                raise


def _refuse_writes_loudly(engine: Engine) -> None:
    """A write in a read-only transaction raises WriteInReadOnlySession, not "readonly database" (an outage)."""

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> BaseException | None:
        connection = context.connection
        if connection is None or not connection.get_execution_options().get(READ_ONLY_OPTION, False):
            return None
        error = context.original_exception
        sqlite_refused = isinstance(error, sqlite3.Error) and error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_READONLY
        if sqlite_refused or getattr(error, "sqlstate", None) == _PG_READ_ONLY_TRANSACTION:
            return WriteInReadOnlySession(f"a read-only session tried to change the database: {error}")
        return None


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def read_session(sessions: async_sessionmaker[AsyncSession]) -> AsyncSession:
    """A session from ``sessions`` whose transactions only read: on SQLite never behind the writer; writing raises.

    Use it for whatever reads without writing in the same transaction (lists, searches, cards,
    reports, scans). Reading then writing in one transaction (a claim, a check under a lock) stays
    in a writing session.
    """
    return sessions(execution_options=READ_ONLY)


@asynccontextmanager
async def read_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A Core connection whose transaction only reads, as in :func:`read_session`."""
    async with engine.connect() as connection:
        yield await connection.execution_options(**READ_ONLY)


class BatchTransactions:
    """Runs synchronous units of work, each in one transaction, with as few thread hand-offs as the database allows.

    aiosqlite runs every cursor call on its own thread: three or four hand-offs a statement, each
    costing the event loop tens of microseconds, so a batch of a few statements paid more for them
    than for its SQL. On a SQLite file the whole unit runs on one dedicated thread with a plain
    sqlite3 connection (the same pragmas and BEGIN IMMEDIATE): one hand-off per unit. PostgreSQL's
    asyncpg needs no thread, so there the unit runs through the async engine.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sync_engine: Engine | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._gate: WriterGate | None = None
        if is_sqlite(engine) and engine.url.database not in (None, "", ":memory:"):
            self._sync_engine = create_sync_engine(engine.url.set(drivername=SQLITE_SYNC_DRIVER))
            _configure_sqlite(self._sync_engine, gate=None)
            self._gate = _WRITER_GATES.get(engine.sync_engine)
            # One thread: the connection never changes threads, and units run one at a time, as on the lock.
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-batch")

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a new transaction and commit it; roll back and raise if it raises."""
        if self._thread is None:
            async with self._engine.begin() as connection:
                return await connection.run_sync(work)
        loop = asyncio.get_running_loop()
        if self._gate is None:
            return await loop.run_in_executor(self._thread, self._run_on_thread, work)
        async with self._gate.turn():
            return await loop.run_in_executor(self._thread, self._run_on_thread, work)

    def _run_on_thread(self, work: Callable[[Connection], T]) -> T:
        assert self._sync_engine is not None
        with self._sync_engine.begin() as connection:
            return work(connection)

    async def close(self) -> None:
        """Close the thread's connections and end the thread."""
        if self._thread is not None and self._sync_engine is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._sync_engine.dispose)
            self._thread.shutdown()


def _alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config  # imported here: a command that never migrates (doctor) does without it

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to the newest migration (or to ``revision``)."""
    from alembic import command

    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.upgrade(_alembic_config(sync), revision))
    log.info("database schema is up to date")
