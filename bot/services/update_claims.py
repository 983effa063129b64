"""Telegram update dedupe: a redelivered update (webhook retry, restart, another replica) runs once.

An update is claimed before its handlers run and marked done after. A repeat of a done update,
or of one a live replica is handling, is dropped. A claim left unfinished by a process that died
is taken over: with polling only one process receives updates, so any other holder's claim dates
from before a restart; with webhooks several replicas receive them, so a claim is only taken over
once it is older than any handler could take.
"""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import repo
from storage.models import ProcessedUpdate, utcnow

ABANDONED_AFTER = timedelta(minutes=5)  # longer than a handler with every PayerMax retry


class UpdateClaims:
    """Claims update ids in the shared database so each update is handled once."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, sole_receiver: bool) -> None:
        self._sessions = sessions
        self._sole_receiver = sole_receiver
        self.holder = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"

    async def claim(self, update_id: int) -> bool:
        """Take the update on; False if it is done or being handled elsewhere."""
        async with self._sessions() as session, session.begin():
            return await repo.claim_update(session, update_id, self.holder, take_over=self._abandoned)

    async def done(self, update_id: int) -> None:
        """Mark the update handled."""
        async with self._sessions() as session, session.begin():
            await repo.finish_update(session, update_id)

    def _abandoned(self, claim: ProcessedUpdate) -> bool:
        return self._sole_receiver or utcnow() - claim.received_at > ABANDONED_AFTER
