"""keep invite codes only as their SHA-256

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00

An open invite code in the database made whoever could read the file an admin. The column now
holds the hex SHA-256 of the code; the codes already handed out keep working, because the
bot hashes the code from the link before looking it up. Downgrading cannot recover the codes
from their hashes, so it drops the invites (they last 24 hours; ask for new ones).
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_invites = sa.table("invites", sa.column("code_hash", sa.String))


def upgrade() -> None:
    with op.batch_alter_table("invites") as batch_op:
        # No existing_type: Alembic's batch rename trips over SQLAlchemy 2.1's String when given one.
        batch_op.alter_column(
            "code",
            new_column_name="code_hash",
            existing_nullable=False,
            type_=sqlmodel.sql.sqltypes.AutoString(length=64),
        )
    connection = op.get_bind()
    # Hashed here rather than in SQL: SQLite has no SHA-256 function. Codes (22 characters) and
    # hashes (64) never collide, so rows can be rewritten one by one.
    for (code,) in connection.execute(sa.select(_invites.c.code_hash)).all():
        digest = hashlib.sha256(code.encode("utf-8")).hexdigest()
        connection.execute(sa.update(_invites).where(_invites.c.code_hash == code).values(code_hash=digest))


def downgrade() -> None:
    op.execute(sa.delete(_invites))
    with op.batch_alter_table("invites") as batch_op:
        batch_op.alter_column(
            "code_hash",
            new_column_name="code",
            existing_nullable=False,
            type_=sqlmodel.sql.sqltypes.AutoString(length=32),
        )
