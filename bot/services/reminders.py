"""Reminding a link's creator, once, that the link is still unpaid some time before it expires.

The moment is fixed when the link becomes ACTIVE (``LinkService``), from the chat's setting, and
moved when the chat changes the setting. The reconciler's lease holder queues the reminders that
are due each round; clearing a link's moment (with ``reminded_at`` set) is committed in the same
transaction as its outbox message, so a link gets one reminder across restarts and replicas.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import bulk, repo
from storage.models import Link, OutboxKind

log = logging.getLogger("paylink.reminders")

DEFAULT_LEAD = timedelta(hours=2)
MIN_LEAD = timedelta(minutes=15)  # what a chat may choose: a reminder at the last minute helps nobody
MAX_LEAD = timedelta(days=7)
OFF = 0  # the stored setting that means "no reminders in this chat"
BATCH = 100  # reminders queued per reconciler round at most


def reminder_lead(validity_seconds: int, setting: int | None) -> timedelta | None:
    """How long before expiry to remind: the chat's choice (else 2 hours), at most half the validity; None: never."""
    if setting == OFF:
        return None
    wanted = DEFAULT_LEAD if setting is None else timedelta(seconds=setting)
    # A short link is reminded halfway through its life, not the moment it is made.
    return min(wanted, timedelta(seconds=validity_seconds) / 2)


def remind_at(expires_at: datetime | None, validity_seconds: int, setting: int | None) -> datetime | None:
    """When the creator of a link expiring at ``expires_at`` is reminded; None: never."""
    lead = reminder_lead(validity_seconds, setting)
    if expires_at is None or lead is None:
        return None
    return expires_at - lead


async def reschedule_chat(session: AsyncSession, chat_id: int, setting: int | None) -> None:
    """Move the reminder of each of the chat's links not reminded yet to follow a changed setting."""
    for link in await repo.links_to_remind_in_chat(session, chat_id):
        link.remind_at = remind_at(link.expires_at, link.expires_seconds, setting)


def reminder_entry(link: Link) -> bulk.OutboxEntry:
    """The outbox message reminding the link's creator, in their private chat (keyword arguments of repo.enqueue)."""
    return {
        "dedupe_key": f"reminder:{link.id}",
        "kind": OutboxKind.REMINDER,
        "chat_id": link.creator_user_id,  # a private chat's id is its person's
        "link_id": link.id,
        "payload": {},
    }


class Reminders:
    """Queues the reminders that are due, on the replica holding the reconciler's lease."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_enqueued: Callable[[], None] = lambda: None,
        batch: int = BATCH,
    ) -> None:
        self._sessions = sessions
        self._on_enqueued = on_enqueued
        self._batch = batch

    async def queue_due(self, now: datetime) -> int:
        """Queue one batch of due reminders, each with its link's marker; return how many were queued."""
        queued = 0
        async with self._sessions() as session, session.begin():
            for link in await repo.links_due_for_reminder(session, now=now, limit=self._batch):
                assert link.id is not None
                if not await repo.claim_reminder(session, link.id, now=now):
                    continue  # paid, cancelled or reminded since it was read
                if link.expires_at is None or link.expires_at <= now:
                    continue  # too late to be of use (the bot was down): marked, not sent
                await repo.enqueue(session, **reminder_entry(link))
                queued += 1
                log.info("reminder queued", extra={"link": link.merchant_link_id, "chat": link.creator_user_id})
        if queued:
            self._on_enqueued()
        return queued
