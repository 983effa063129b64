"""Telling "the database cannot be reached or used right now" from "the database refused this statement".

The first is an outage: callers answer "try again later" and their client retries. The second
(a constraint, a trigger's RAISE, SQL the server does not understand) is a bug or a rule of this
code and must stay loud. SQLAlchemy wraps most driver errors in a generic ``DBAPIError``, so the
decision is made on the driver's own error, found through the exception's causes.
"""

from __future__ import annotations

import sqlite3
import sys

from sqlalchemy import exc as sa

from storage.db import WriteInReadOnlySession

# SQLite's primary result codes for "cannot use the file now" (not SQLITE_ERROR: a bad statement).
_SQLITE_OUTAGE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)
_OTHER_OUTAGES = (
    sa.TimeoutError,  # no pooled connection came free in time
    OSError,  # connection refused or reset under the driver
    TimeoutError,  # connecting took too long
)


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` means the database is unreachable or unusable for now rather than refusing a statement."""
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, WriteInReadOnlySession):
            return False  # SQLite's query_only says "readonly database" too, but this is our bug, not the file
        if isinstance(cause, sqlite3.Error):
            return getattr(cause, "sqlite_errorcode", 0) & 0xFF in _SQLITE_OUTAGE_CODES
        if isinstance(cause, _OTHER_OUTAGES):
            return True
        if _is_asyncpg_outage(cause):
            return True
        cause = cause.__cause__
    return False


def _is_asyncpg_outage(cause: BaseException) -> bool:
    """An asyncpg error meaning the server is away or unusable for now."""
    asyncpg = sys.modules.get("asyncpg")  # a bot on SQLite never loads the driver, and then no error is asyncpg's
    if asyncpg is None:
        return False
    outages = (
        asyncpg.PostgresConnectionError,  # class 08: connection lost or never made
        asyncpg.exceptions.OperatorInterventionError,  # class 57: shutting down, starting up, backend terminated
        asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections, disk full, out of memory
        asyncpg.exceptions.ObjectNotInPrerequisiteStateError,  # 55000: database not accepting connections
    )
    return isinstance(cause, outages) or type(cause) is asyncpg.InterfaceError  # its subclasses are about our input
