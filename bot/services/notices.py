"""Paced refusals: a person who keeps trying what they may not do hears "not allowed" once a minute.

Kept in the database, so the pace holds whichever replica receives the person's messages.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import repo
from storage.models import utcnow

REFUSAL_INTERVAL = timedelta(minutes=1)


class RefusalNotices:
    """Decides whether a refusal may be sent to a person now."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, interval: timedelta = REFUSAL_INTERVAL) -> None:
        self._sessions = sessions
        self._interval = interval

    async def may_tell(self, user_id: int) -> bool:
        """True at most once per interval per person (and records that they were told)."""
        async with self._sessions() as session, session.begin():
            return await repo.claim_refusal_notice(session, user_id, now=utcnow(), interval=self._interval)
