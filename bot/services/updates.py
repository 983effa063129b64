"""Telegram update dedupe: a redelivered update (webhook retry, restart, another replica) runs once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import repo


class UpdateLog:
    """Remembers which update ids have been handled, in the shared database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def first_time(self, update_id: int) -> bool:
        """Record the update; False if it was seen before."""
        async with self._sessions() as session, session.begin():
            return await repo.remember_update(session, update_id)
