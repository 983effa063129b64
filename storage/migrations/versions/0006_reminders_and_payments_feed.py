"""expiry reminders and the payments feed

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 10:00:00

Links get the moment their creator is reminded they are unpaid (and the marker that it was done),
chats a reminder setting, and a one-row table of team-wide settings holds the payments feed chat.
Links already active keep no reminder: only links made from now on are reminded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("remind_at", storage.models.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reminded_at", storage.models.UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_links_reminder_due", "links", ["status", "remind_at"])
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("reminder_seconds", sa.Integer(), nullable=True))
    op.create_table(
        "team_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("team_settings")
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("reminder_seconds")
    op.drop_index("ix_links_reminder_due", table_name="links")
    with op.batch_alter_table("links") as batch:
        batch.drop_column("reminded_at")
        batch.drop_column("remind_at")
