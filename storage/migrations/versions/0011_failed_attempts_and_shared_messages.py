"""failed payment attempts, shared customer messages, links by amount

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 10:00:00

Declined and failed payment attempts are kept once per order (with no link until PayerMax lists the
order on one of ours), the customer messages the bot posts are remembered so they can say "paid"
later, and links get an index on their amount for /find by amount.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "failed_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("out_trade_no", sa.String(length=64), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", storage.models.DecimalText(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("payment_method", sa.String(length=64), nullable=True),
        sa.Column("target_org", sa.String(length=64), nullable=True),
        sa.Column("card_org", sa.String(length=32), nullable=True),
        sa.Column("card_number", sa.String(length=32), nullable=True),
        sa.Column("result_code", sa.String(length=64), nullable=True),
        sa.Column("result_msg", sa.String(length=256), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("attempted_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("out_trade_no"),
    )
    op.create_index("ix_failed_attempts_link_id", "failed_attempts", ["link_id"])
    op.create_table(
        "shared_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chat_id", "message_id", name="uq_shared_messages_chat_message"),
    )
    op.create_index("ix_shared_messages_link_id", "shared_messages", ["link_id"])
    op.create_index("ix_links_amount", "links", ["amount"])


def downgrade() -> None:
    op.drop_index("ix_links_amount", table_name="links")
    op.drop_index("ix_shared_messages_link_id", table_name="shared_messages")
    op.drop_table("shared_messages")
    op.drop_index("ix_failed_attempts_link_id", table_name="failed_attempts")
    op.drop_table("failed_attempts")
