"""One SQLite writer at a time in this process, served in the order they came.

SQLite has one write lock per file; a transaction that cannot take it sleeps and polls (the busy
timeout), and a poller can lose to newcomers again and again. Under a burst (a hundred button
presses, each claiming its update and marking it done) one handler could poll past the timeout and
fail with "database is locked" while others that came later went first. The gate queues the
process's writers in an ``asyncio.Lock`` (first come, first served) before they ask SQLite for the
lock, so only one of them ever polls, and only for the moment another process or the writer before
it is committing. Readers never pass through it (in WAL mode they never wait for the writer).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.util import await_only

HOLDS_GATE = "paylink_holds_writer_gate"  # in a pooled connection's info: its transaction holds the gate


class WriterGate:
    """A first-come, first-served turn to write, given back when the transaction ends."""

    def __init__(self, timeout: float) -> None:
        self._lock = asyncio.Lock()
        self._timeout = timeout
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """How many writers are queued for their turn now."""
        return self._waiting

    async def _acquire(self) -> None:
        self._waiting += 1
        try:
            await self._queue()
        finally:
            self._waiting -= 1

    async def _queue(self) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can lose a lock granted just as it is
        # cancelled, or swallow the cancellation; Lock.acquire under timeout() does neither.
        try:
            async with asyncio.timeout(self._timeout):
                await self._lock.acquire()
        except TimeoutError:
            # The same failure as SQLite's own busy timeout, so callers treat it alike.
            locked = sqlite3.OperationalError("database is locked (this process's other writers kept it)")
            raise OperationalError("BEGIN IMMEDIATE", None, locked) from None

    def enter(self, connection: Connection) -> None:
        """Wait for this connection's turn to write (called from the "begin" event, inside SQLAlchemy's greenlet)."""
        info = connection.connection.info
        if info.get(HOLDS_GATE):
            return
        await_only(self._acquire())
        info[HOLDS_GATE] = True

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the turn to write for the block (a unit of work run on another thread)."""
        await self._acquire()
        try:
            yield
        finally:
            self._lock.release()

    def leave(self, info: dict[Any, Any]) -> None:
        """Give the turn to the next writer if this connection holds it."""
        if info.pop(HOLDS_GATE, False):
            self._lock.release()

    def watch(self, engine: Engine) -> None:
        """Give the turn back when a transaction commits or rolls back, or its connection goes back or breaks."""

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _on_end(connection: Connection) -> None:
            self.leave(connection.connection.info)

        # A safety net: a connection returned to the pool, or invalidated, mid-transaction.
        @event.listens_for(engine, "checkin")
        def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
            self.leave(record.info)

        @event.listens_for(engine, "invalidate")
        def _on_invalidate(_dbapi_connection: Any, record: Any, _error: Any) -> None:
            self.leave(record.info)
