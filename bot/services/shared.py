"""Customer messages the bot posted for a link (Share): remembered, so that once the link is paid each says so.

A payment queues one edit per remembered message in its own transaction (``services.payments``).
Remembering takes the link's row lock, as recording a payment does, so a message posted while the
link was being paid is either seen by the payment or finds the link paid and queues its edit itself.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import bulk, repo
from storage.models import LinkStatus, OutboxKind


def shared_paid(link_id: int, chat_id: int, message_id: int) -> bulk.OutboxEntry:
    """The edit that makes a customer message posted for a link say "paid, thank you"."""
    return {
        "dedupe_key": f"shared-paid:{link_id}:{chat_id}:{message_id}",
        "kind": OutboxKind.SHARED_PAID,
        "chat_id": chat_id,
        "link_id": link_id,
        "payload": {"message_id": message_id},
    }


class SharedMessages:
    """Remembers the customer messages posted for links."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, on_enqueued: Callable[[], None] = lambda: None
    ) -> None:
        self._sessions = sessions
        self._on_enqueued = on_enqueued

    async def remember(self, link_id: int, chat_id: int, message_id: int) -> None:
        """Remember a posted customer message; if the link was paid meanwhile, queue its edit now."""
        async with self._sessions() as session, session.begin():
            link = await repo.get_link(session, link_id, for_update=True)
            if link is None:
                return
            await repo.remember_shared_message(session, link_id, chat_id, message_id)
            paid = link.status == LinkStatus.PAID
            if paid:
                await repo.enqueue(session, **shared_paid(link_id, chat_id, message_id))
        if paid:
            self._on_enqueued()
