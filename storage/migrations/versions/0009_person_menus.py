"""the command menu set for each person's private chat

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 12:00:00

Audit and timeline details written from now on are structured (``storage.details``); older rows
keep their English sentences and are shown as they are, so no data is rewritten here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("menu", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("menu")
