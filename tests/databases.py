"""Databases for tests: each test gets its own, empty or already migrated.

Migrating a database from scratch costs a few tenths of a second of CPU (Alembic and the server),
paid by hundreds of tests. A migrated database is therefore a copy: on SQLite of a file migrated
once per process, on PostgreSQL ``CREATE DATABASE … TEMPLATE`` of a database migrated once per
set of migrations and kept on the server under a name holding their hash. PostgreSQL databases
are made and dropped by a thread of their own: a drop waits for a checkpoint, which the next
test need not wait for.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import shutil
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import MIGRATIONS_DIR, create_engine, upgrade

T = TypeVar("T")

# What decides the migrated schema: the migrations and the column types they take from the models.
SCHEMA_SOURCES = [*sorted(MIGRATIONS_DIR.rglob("*.py")), MIGRATIONS_DIR.parent / "models.py"]
# Drops queued beyond this make the next test wait: databases (and any connection a test left open) never pile up.
MAX_PENDING_DROPS = 8
TEMPLATE_LOCK = 0x7061796C696E6B  # "paylink": one builder of templates at a time on the server


def schema_fingerprint() -> str:
    """A short hash of everything that decides the migrated schema."""
    digest = hashlib.sha256()
    for path in SCHEMA_SOURCES:
        digest.update(path.relative_to(MIGRATIONS_DIR.parent).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


async def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest migration."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the schema back to ``revision``, as a test of a migration needs (the bot itself never downgrades)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    async with engine.begin() as connection:

        def run(sync: Connection) -> None:
            config.attributes["connection"] = sync
            command.downgrade(config, revision)

        await connection.run_sync(run)


class SqliteTemplate:
    """A SQLite file migrated once (per process); each migrated test database is a copy of it."""

    def __init__(self, folder: Path) -> None:
        self._file = folder / "migrated.db"
        self._ready = False

    async def copy_to(self, database: Path) -> None:
        """Write a migrated database at ``database`` (its folder must exist)."""
        if not self._ready:
            await migrate(f"sqlite+aiosqlite:///{self._file}")
            self._ready = True
        self._copy(database)

    def _copy(self, database: Path) -> None:
        # Closing the last connection folded the WAL into the file: the file alone is the database.
        assert not Path(f"{self._file}-wal").exists(), "the template's WAL was not folded into it"
        shutil.copy2(self._file, database)  # copy2 keeps the 0600 mode create_engine gave the file


class PostgresDatabases:
    """Makes and drops this process's PostgreSQL test databases, on a thread and event loop of its own.

    Two admin connections: one makes databases when a test asks (the test waits for it), the other
    drops them in the background, one at a time, in the order the tests finished.
    """

    def __init__(self, base_url: str) -> None:
        self._base = make_url(base_url)
        self.template = f"paylink_template_{schema_fingerprint()}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-databases", daemon=True)
        self._thread.start()
        self._template_ready = False
        self._errors: list[str] = []
        self._maker: asyncpg.Connection | None = None
        self._dropper: asyncpg.Connection | None = None
        self._drops: asyncio.Queue[str] | None = None
        self._drop_task: asyncio.Task[None] | None = None

    def url(self, name: str) -> str:
        """The URL of database ``name`` on the test server."""
        return self._base.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)

    async def create(self, *, migrated: bool) -> str:
        """Make a new database (empty, or a copy of the migrated template) and return its name."""
        return await self._on_own_loop(self._create(migrated))

    async def drop_later(self, name: str) -> None:
        """Queue ``name`` to be dropped; wait only while too many drops are queued already."""
        await self._on_own_loop(self._queue_drop(name))

    def close(self) -> list[str]:
        """Drop what is queued, close the connections, end the thread; return what went wrong."""
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        return self._errors

    def _on_own_loop(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return asyncio.wrap_future(future)

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self._base.host or "127.0.0.1",
            port=self._base.port or 5432,
            user=self._base.username or "postgres",
            password=self._base.password,
            database=self._base.database or "postgres",
        )

    async def _create(self, migrated: bool) -> str:
        if self._maker is None:
            self._maker = await self._connect()
        if migrated and not self._template_ready:
            await self._build_template(self._maker)
            self._template_ready = True
        name = f"paylink_test_{secrets.token_hex(6)}"
        template = f' TEMPLATE "{self.template}"' if migrated else ""
        await self._maker.execute(f'CREATE DATABASE "{name}"{template}')
        return name

    async def _build_template(self, admin: asyncpg.Connection) -> None:
        """Make the migrated template unless the server has it; one process builds while the others wait."""
        await admin.execute("SELECT pg_advisory_lock($1)", TEMPLATE_LOCK)
        try:
            if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", self.template):
                return
            # Built under another name and renamed when complete: a run killed halfway leaves no half template.
            building = f"{self.template}_building"
            await admin.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{building}"')
            await migrate(self.url(building))
            await admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{self.template}"')
            # A template cannot be copied while anyone is connected to it: let nobody connect.
            await admin.execute(f'ALTER DATABASE "{self.template}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
        finally:
            await admin.execute("SELECT pg_advisory_unlock($1)", TEMPLATE_LOCK)

    async def _queue_drop(self, name: str) -> None:
        if self._drops is None:
            self._drops = asyncio.Queue(maxsize=MAX_PENDING_DROPS)
            self._drop_task = asyncio.create_task(self._drop_queued(self._drops))
        await self._drops.put(name)

    async def _drop_queued(self, drops: asyncio.Queue[str]) -> None:
        while True:
            name = await drops.get()
            try:
                if self._dropper is None:
                    self._dropper = await self._connect()
                # FORCE: a connection a test left open must not keep its database alive.
                await self._dropper.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # reported when the session ends, not in whichever test is running then
                self._errors.append(f"could not drop {name}: {exc!r}")
            finally:
                drops.task_done()

    async def _close(self) -> None:
        if self._drops is not None and self._drop_task is not None:
            await self._drops.join()
            self._drop_task.cancel()
        for connection in (self._maker, self._dropper):
            if connection is not None:
                await connection.close()
