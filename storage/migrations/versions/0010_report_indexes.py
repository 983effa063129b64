"""indexes for /report over a long history: links that ended in a period, payments' links by id

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 23:30:00

- Links that expired (at their expiry time) or were cancelled (at their last change) in a period:
  by status and that time, instead of every expired and cancelled link there is.
- PostgreSQL only: a period's payments join their links by id, and with only the primary key the
  planner prefers reading all links into a hash to looking a month's tens of thousands up one by
  one. An index of the id carrying what a report reads of the link (creator, name, chat) makes each
  look-up an index-only read it prices right. SQLite looks links up by rowid, which is already that.

On a database of 1,000,000 links this takes a few seconds on PostgreSQL, during which links
cannot be written (bench/scale.py measures it when it upgrades a filled database).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_links_status_updated", "links", ["status", "updated_at"])
    op.create_index("ix_links_status_ended", "links", ["status", sa.text("coalesce(expires_at, updated_at)")])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_links_id_for_reports",
            "links",
            ["id"],
            postgresql_include=["creator_user_id", "creator_name", "chat_id"],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_links_id_for_reports", table_name="links")
    op.drop_index("ix_links_status_ended", table_name="links")
    op.drop_index("ix_links_status_updated", table_name="links")
