"""indexes for a long history: description search, /links pages, today's takings

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 22:30:00

- /links pages and their counts: a chat's or a creator's links newest first, with or without one status.
- Today's takings: payments by completion time.
- /find by words: a trigram GIN index on ``lower(description)`` on PostgreSQL (pg_trgm); on SQLite an
  FTS5 table with the trigram tokenizer, filled from the links already there and kept by triggers.
  Without pg_trgm (or FTS5's trigram tokenizer) the search still works, by a scan, and a warning
  says so.

On a database of 1,000,000 links this took 31-33 s on PostgreSQL (two shared cores, busy), during
which links cannot be written (bench/scale.py --fill-at 0007 measures it).
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

log = logging.getLogger("paylink.storage")

LIST_INDEXES = {
    "ix_links_chat_created": ["chat_id", "created_at", "id"],
    "ix_links_chat_status_created": ["chat_id", "status", "created_at", "id"],
    "ix_links_creator_created": ["creator_user_id", "created_at", "id"],
    "ix_links_creator_status_created": ["creator_user_id", "status", "created_at", "id"],
}
DESCRIPTION_STATISTICS = 1000  # PostgreSQL's default is 100
SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE links_search USING fts5("
    "description, content='links', content_rowid='id', tokenize='trigram')",
    """CREATE TRIGGER links_search_insert AFTER INSERT ON links BEGIN
        INSERT INTO links_search(rowid, description) VALUES (new.id, new.description);
    END""",
    """CREATE TRIGGER links_search_delete AFTER DELETE ON links BEGIN
        INSERT INTO links_search(links_search, rowid, description) VALUES ('delete', old.id, old.description);
    END""",
    """CREATE TRIGGER links_search_update AFTER UPDATE OF description ON links BEGIN
        INSERT INTO links_search(links_search, rowid, description) VALUES ('delete', old.id, old.description);
        INSERT INTO links_search(rowid, description) VALUES (new.id, new.description);
    END""",
    "INSERT INTO links_search(links_search) VALUES ('rebuild')",
)


def upgrade() -> None:
    for name, columns in LIST_INDEXES.items():
        op.create_index(name, "links", columns)
    op.create_index("ix_payments_completed_at", "payments", ["completed_at"])
    if op.get_bind().dialect.name == "postgresql":
        _postgres_trigram_index()
    else:
        _sqlite_search_table()


def _postgres_trigram_index() -> None:
    connection = op.get_bind()
    try:
        with connection.begin_nested():
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as error:
        log.warning(
            "pg_trgm could not be enabled (%s): /find by words will scan the links. A database owner can add "
            "the index later: CREATE EXTENSION pg_trgm; CREATE INDEX ix_links_description_trgm ON links USING gin "
            "(lower(description) gin_trgm_ops)",
            str(error.orig).splitlines()[0],
        )
        return
    op.execute("CREATE INDEX ix_links_description_trgm ON links USING gin (lower(description) gin_trgm_ops)")
    # The planner's guess of how many descriptions hold a word decides between this index and walking the
    # newest links: without statistics on the expression every word looks rare (a common one then reads
    # hundreds of thousands of rows), and the default sample misses words in a few thousand links.
    op.execute(f"ALTER INDEX ix_links_description_trgm ALTER COLUMN 1 SET STATISTICS {DESCRIPTION_STATISTICS}")
    op.execute("ANALYZE links")


def _sqlite_search_table() -> None:
    connection = op.get_bind()
    try:
        with connection.begin_nested():
            for statement in SQLITE_SEARCH:
                op.execute(statement)
    except DBAPIError as error:
        log.warning("SQLite has no FTS5 trigram tokenizer (%s): /find by words will scan the links", error.orig)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_links_description_trgm")
    else:
        for trigger in ("links_search_update", "links_search_delete", "links_search_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS links_search")
    op.drop_index("ix_payments_completed_at", table_name="payments")
    for name in reversed(LIST_INDEXES):
        op.drop_index(name, table_name="links")
