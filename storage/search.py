"""Finding links by the words of their description, fast on a long history, with the same answers as a scan.

A word matches when the lower-cased description contains the lower-cased word (any part of a
word, accents as typed); every word must match; newest first. That rule is always the final
filter, so the indexes below only decide which rows are looked at, never which are found:

- PostgreSQL: a trigram GIN index on ``lower(description)`` (migration 0008, pg_trgm). The planner
  weighs it against walking the newest links until a page is found, in one statement.
- SQLite: an FTS5 table with the trigram tokenizer (``links_search``, kept by triggers). SQLite
  cannot weigh a virtual table against an index, so the search asks the FTS table first how many
  links could match: up to ``FEW_CANDIDATES`` (a rare word, an id nobody wrote), only those are
  read; more (a common word), the newest links are walked, as a page of matches comes soon.

Words of fewer than three characters have no trigram: a search made only of those walks the
links, as does one on a database without the index (pg_trgm not allowed, no FTS5 in this SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, Text, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Link

SEARCH_TABLE = "links_search"
SEARCH_TRIGGERS = ("links_search_insert", "links_search_delete", "links_search_update")
TRIGRAM = 3  # characters: shorter words cannot be looked up in a trigram index
# More candidates than this and walking the newest links finds a page sooner than reading them all.
FEW_CANDIDATES = 1_000

# The FTS5 table as SQLAlchemy sees it (its own metadata: the migration makes it, not create_all).
_search = Table(SEARCH_TABLE, MetaData(), Column("rowid", Integer), Column(SEARCH_TABLE, Text))


def like_anywhere(word: str) -> str:
    """A LIKE pattern matching ``word`` anywhere, with LIKE's own wildcards taken literally."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matches(words: Sequence[str]) -> list[Any]:
    return [func.lower(col(Link.description)).like(like_anywhere(word.lower()), escape="\\") for word in words]


def _fts_query(words: Sequence[str]) -> str | None:
    """An FTS5 query that every description containing all the words matches (None: no word is long enough)."""
    phrases = ['"' + word.lower().replace('"', '""') + '"' for word in words if len(word.lower()) >= TRIGRAM]
    return " AND ".join(phrases) or None


async def _has_search_table(session: AsyncSession) -> bool:
    """Tell whether this SQLite database has the FTS5 table and every trigger that keeps it current."""
    names = [SEARCH_TABLE, *SEARCH_TRIGGERS]
    statement = text("SELECT count(*) FROM sqlite_master WHERE name IN :names")
    found = await session.execute(statement.bindparams(bindparam("names", expanding=True)), {"names": names})
    return int(found.scalar_one()) == len(names)


async def links_described(session: AsyncSession, scoped: Any, words: Sequence[str], *, limit: int) -> Sequence[Link]:
    """The newest ``limit`` links of the ``scoped`` select(Link) whose description contains every word."""
    statement = scoped.where(*_matches(words)).order_by(col(Link.created_at).desc(), col(Link.id).desc()).limit(limit)
    if session.get_bind().dialect.name == "sqlite":
        query = _fts_query(words)
        if query is not None and await _has_search_table(session):
            candidates = select(_search.c.rowid).where(_search.c[SEARCH_TABLE].op("MATCH")(query))
            counted = select(func.count()).select_from(candidates.limit(FEW_CANDIDATES + 1).subquery())
            found = int((await session.execute(counted)).scalar_one())
            if found == 0:
                return []
            if found <= FEW_CANDIDATES:
                statement = statement.where(col(Link.id).in_(candidates))
    return (await session.execute(statement)).scalars().all()
