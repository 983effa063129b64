"""the reader's language and clock: people, a chat's languages and time zone, questions before a link

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 20:30:00

``chats.language`` used to be the payment page's language; it becomes ``customer_language`` (the
customer's message and PayerMax's page), and ``language`` now means the bot's language for the chat.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.alter_column("language", new_column_name="customer_language", type_=sa.String(length=16))
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("setup_offered_at", storage.models.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "people",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("telegram_language", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_index("ix_people_username", "people", ["username"])
    with op.batch_alter_table("drafts") as batch:
        batch.add_column(sa.Column("request_key", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("choices", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.drop_column("choices")
        batch.drop_column("request_key")
    op.drop_index("ix_people_username", table_name="people")
    op.drop_table("people")
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("setup_offered_at")
        batch.drop_column("timezone")
        batch.drop_column("language")
    with op.batch_alter_table("chats") as batch:
        batch.alter_column("customer_language", new_column_name="language", type_=sa.String(length=8))
