"""chats upgraded to supergroups: where a card was posted, and each move once

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 10:00:00

A group that becomes a supergroup gets a new chat id. Its rows move to the new id, but a card
posted before stays a message of the old group (the Bot API still edits it there), so a link
remembers the chat its card is in. Each move is recorded once, so a repeat is recognised.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Adding a nullable column: SQLite alters the table in place (no rebuild), so the search triggers stay.
    op.add_column("links", sa.Column("card_chat_id", sa.BigInteger(), nullable=True))
    op.create_table(
        "chat_moves",
        sa.Column("old_chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("new_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("moved_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("old_chat_id"),
    )


def downgrade() -> None:
    op.drop_table("chat_moves")
    # SQLite drops the column in place (3.35+), keeping the search triggers a rebuild would lose.
    op.drop_column("links", "card_chat_id")
