"""a chat's daily summary: the local time it is sent at, and when that was chosen

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:00:00

``daily_summary_minute`` is minutes after the chat's local midnight (NULL: off, the default);
``daily_summary_set_at`` is when it was last chosen, so a time already past when it was turned on
waits for the next day instead of sending at once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("daily_summary_minute", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("daily_summary_set_at", storage.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("daily_summary_set_at")
        batch.drop_column("daily_summary_minute")
