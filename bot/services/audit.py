"""Reading the audit log a page at a time (the services write it, each in the transaction of what it records)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from storage.db import read_session
from storage.models import AuditEvent

PAGE_SIZE = 10  # events on one /audit page: a phone screen, well inside a message
MAX_EVENTS = 100  # recent(): more than a chat message can show anyway


@dataclass(frozen=True)
class AuditPage:
    """One page of the log, newest first: its events, its index (from 0) and how many pages there are."""

    events: list[AuditEvent]
    page: int
    pages: int
    total: int


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
        async with read_session(self._sessions) as session:
            return list((await session.execute(statement)).scalars())

    async def page(self, page: int, size: int = PAGE_SIZE) -> AuditPage:
        """Page ``page`` (0 is the newest; one past the end shows the last page)."""
        async with read_session(self._sessions) as session:
            total = int((await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one())
            pages = max(1, -(-total // size))
            page = max(0, min(page, pages - 1))
            statement = (
                select(AuditEvent)
                .order_by(col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc())
                .offset(page * size)
                .limit(size)
            )
            events = list((await session.execute(statement)).scalars())
        return AuditPage(events, page, pages, total)
