"""DATABASE_URL in the forms people paste, turned into the async driver URL the bot runs on.

Hosting providers print ``postgres://`` or ``postgresql://`` URLs, which SQLAlchemy maps to
drivers the bot does not ship (psycopg, or none at all); the bot ships asyncpg and aiosqlite, so
it picks them itself. Error messages never repeat the URL: it may hold a password.
"""

from __future__ import annotations

import inspect
from functools import cache

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

POSTGRES_DRIVER = "postgresql+asyncpg"
SQLITE_DRIVER = "sqlite+aiosqlite"
_DRIVERS = {
    "postgres": POSTGRES_DRIVER,
    "postgresql": POSTGRES_DRIVER,
    POSTGRES_DRIVER: POSTGRES_DRIVER,
    "sqlite": SQLITE_DRIVER,
    SQLITE_DRIVER: SQLITE_DRIVER,
}
ACCEPTED_FORMS = (
    "postgres://user:password@host/db, postgresql://..., postgresql+asyncpg://... or sqlite:///path/to/file.db"
)


def normalise_database_url(text: str) -> str:
    """Return the async-driver form of a PostgreSQL or SQLite URL, or raise ValueError saying what is wrong."""
    try:
        url = make_url(text.strip())
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ValueError(f"is not a database URL; use {ACCEPTED_FORMS}") from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError(
            f"the '{url.drivername}' driver is not supported; use {ACCEPTED_FORMS} "
            "(the bot ships asyncpg and aiosqlite)"
        )
    url = url.set(drivername=driver)
    url = _postgres_query(url) if driver == POSTGRES_DRIVER else _sqlite_file(url)
    return url.render_as_string(hide_password=False)


def _postgres_query(url: URL) -> URL:
    """Check the port and translate libpq's ``sslmode`` to asyncpg's ``ssl``; refuse what asyncpg cannot take."""
    if url.port is not None and not 0 < url.port < 65536:
        raise ValueError(f"port {url.port} is not a TCP port (1-65535; PostgreSQL's is usually 5432)")
    query = dict(url.query)
    if "sslmode" in query:
        query["ssl"] = query.pop("sslmode")  # asyncpg takes libpq's sslmode values under the name ssl
    unknown = sorted(set(query) - _asyncpg_parameters())
    if unknown:
        raise ValueError(f"the asyncpg driver does not understand the parameter(s) {', '.join(unknown)}; remove them")
    return url.set(query=query)


@cache
def _asyncpg_parameters() -> frozenset[str]:
    """What asyncpg takes from the URL's query: its connect() arguments, plus one that SQLAlchemy consumes."""
    import asyncpg  # imported here: a bot on SQLite never loads the PostgreSQL driver

    return frozenset(inspect.signature(asyncpg.connect).parameters) - {"dsn", "loop"} | {
        "prepared_statement_cache_size"
    }


def _sqlite_file(url: URL) -> URL:
    """Refuse an in-memory SQLite database: payments would be gone at the next restart."""
    if url.database in (None, "", ":memory:"):
        raise ValueError(
            "a SQLite database needs a file, e.g. sqlite:///data/paylink.db (an in-memory one loses everything)"
        )
    return url
