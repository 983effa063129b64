"""Reading the audit log (the services write it, each in the transaction of what it records)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from storage.models import AuditEvent

MAX_EVENTS = 100  # more than a chat message can show anyway


class AuditLog:
    """Who did what and when, newest first."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def recent(self, limit: int = 20) -> list[AuditEvent]:
        """The latest ``limit`` events (at most MAX_EVENTS), newest first."""
        limit = max(1, min(limit, MAX_EVENTS))
        statement = (
            select(AuditEvent).order_by(col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc()).limit(limit)
        )
        async with self._sessions() as session:
            return list((await session.execute(statement)).scalars())
