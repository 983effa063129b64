"""Keeping the bookkeeping tables bounded: handled update ids and delivered outbox messages are
forgotten after ``RETENTION_DAYS``.

Dedupe stays whole: Telegram redelivers an update for at most 24 hours and PayerMax retries a
notification for at most a day, so anything older can no longer come back; a payment's "Paid" is
keyed by the payment row itself (never pruned), so a very late repeat of a notification still
finds it and queues nothing. Deletes go in batches, so a table that grew for months is cut down
over a few rounds without a long lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from storage.models import OutboxMessage, OutboxStatus, ProcessedUpdate


def rows_changed(result: object) -> int:
    """How many rows a DELETE removed."""
    return int(result.rowcount) if isinstance(result, CursorResult) and result.rowcount is not None else 0


log = logging.getLogger("paylink.retention")

MIN_RETENTION = timedelta(days=2)  # longer than Telegram's and PayerMax's retry windows
BATCH = 5000


@dataclass(frozen=True)
class Pruned:
    """How many rows one round forgot."""

    updates: int
    messages: int


class Retention:
    """Forgets what can no longer be repeated, a batch per table per round."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], keep: timedelta, *, batch: int = BATCH) -> None:
        if keep < MIN_RETENTION:
            raise ValueError(f"retention must be at least {MIN_RETENTION.days} days")
        self._sessions = sessions
        self._keep = keep
        self._batch = batch

    async def prune(self, now: datetime) -> Pruned:
        """Delete one batch of old update ids and one of delivered or given-up messages."""
        horizon = now - self._keep
        old_updates = select(col(ProcessedUpdate.update_id)).where(col(ProcessedUpdate.received_at) < horizon)
        old_messages = select(col(OutboxMessage.id)).where(
            col(OutboxMessage.status).in_([OutboxStatus.SENT, OutboxStatus.FAILED]),
            col(OutboxMessage.created_at) < horizon,
        )
        async with self._sessions() as session, session.begin():
            updates = await session.execute(
                delete(ProcessedUpdate).where(col(ProcessedUpdate.update_id).in_(old_updates.limit(self._batch)))
            )
            messages = await session.execute(
                delete(OutboxMessage).where(col(OutboxMessage.id).in_(old_messages.limit(self._batch)))
            )
        pruned = Pruned(rows_changed(updates), rows_changed(messages))
        if pruned.updates or pruned.messages:
            log.info("forgot %d update ids and %d delivered messages older than %s", *pruned.__dict__.values(), horizon)
        return pruned
