"""bot-wide send budget and paced refusals

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refusal_notices",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_sent_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "send_slots",
        sa.Column("slot", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("slot"),
    )
    op.create_table(
        "send_chat_pace",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("next_at", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("chat_id"),
    )


def downgrade() -> None:
    op.drop_table("send_chat_pace")
    op.drop_table("send_slots")
    op.drop_table("refusal_notices")
