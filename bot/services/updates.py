"""Telegram update dedupe: a redelivered update (webhook retry, restart, another replica) runs once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import repo


class UpdateLog:
    """Remembers which update ids have been handled, in the shared database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def seen(self, update_id: int) -> bool:
        """Tell whether some replica already handled this update."""
        async with self._sessions() as session:
            return await repo.update_seen(session, update_id)

    async def record(self, update_id: int) -> None:
        """Note the update as handled (a second note of the same id is harmless)."""
        async with self._sessions() as session, session.begin():
            await repo.remember_update(session, update_id)
