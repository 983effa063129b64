"""The leases of outbox messages being sent: renewed while their send is under way, so no claim takes them again.

A claim leases a message by moving its ``next_attempt_at`` one lease ahead. A send can outlast
that (Telegram answering slowly, a photo uploading): were the lease left to run out, the next
claim, here or on another replica, would send the same "Paid" again. So while a message is being
sent its lease is renewed every third of a lease, by compare and set on the lease last written:
a message finished, rescheduled or claimed by someone else meanwhile is left alone. A process that
dies stops renewing, and its messages go again once their lease runs out (at least once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import repo
from storage.models import utcnow

log = logging.getLogger("paylink.outbox")

RENEWALS_PER_LEASE = 3  # a renewal may be missed (a slow database) with the lease still holding
# Far beyond python-telegram-bot's timeouts for any send: only a send that hangs gets here. Its
# message is then let go, to be sent again after its lease, rather than held by it for ever.
MAX_SEND_SECONDS = 300.0


@dataclass(eq=False)
class Held:
    """One message being sent here: the lease last written for it, and since when it is held."""

    message_id: int
    until: datetime
    since: float  # time.monotonic()
    renewing: bool = True


class SendLeases:
    """The messages this dispatcher is sending, each with its lease, renewed until the send is over."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], lease: timedelta) -> None:
        self._sessions = sessions
        self._lease = lease
        self._held: dict[int, Held] = {}

    def hold(self, message_id: int, until: datetime) -> Held:
        """A claimed message (leased until ``until``) is about to be sent: keep its lease until released."""
        held = Held(message_id, until, time.monotonic())
        self._held[message_id] = held
        return held

    def sending(self, message_id: int, until: datetime) -> bool:
        """Whether this message is being sent here (its lease is now ``until``, as the caller just claimed it)."""
        held = self._held.get(message_id)
        if held is None or not held.renewing:
            return False
        held.until = until
        return True

    def release(self, held: Held) -> None:
        """The send is over (or never began): the message's own row says what comes next, not this lease."""
        if self._held.get(held.message_id) is held:
            del self._held[held.message_id]

    async def keep(self) -> None:
        """Renew the leases of messages being sent, a fraction of a lease apart, until cancelled."""
        every = self._lease.total_seconds() / RENEWALS_PER_LEASE
        while True:
            await asyncio.sleep(every)
            try:
                await self.renew()
            except Exception:
                log.exception("renewing the leases of outbox messages being sent failed; trying again shortly")

    async def renew(self) -> None:
        """Move every held lease one lease ahead of now, where it is still ours."""
        now = time.monotonic()
        by_lease: dict[datetime, list[Held]] = {}
        for held in list(self._held.values()):
            if not held.renewing:
                continue
            if now - held.since > MAX_SEND_SECONDS:
                held.renewing = False
                log.error(
                    "outbox message %s: its send has taken over %.0fs; it goes again", held.message_id, now - held.since
                )
                continue
            by_lease.setdefault(held.until, []).append(held)
        if not by_lease:
            return
        until = utcnow() + self._lease
        renewed: set[int] = set()
        async with self._sessions() as session, session.begin():
            for held_until, group in by_lease.items():
                ids = [held.message_id for held in group]
                renewed.update(await repo.renew_outbox_leases(session, ids, held_until=held_until, until=until))
        for held_until, group in by_lease.items():
            for held in group:
                if self._held.get(held.message_id) is not held or held.until != held_until:
                    continue  # its send ended meanwhile, or a claim of ours leased it again
                if held.message_id in renewed:
                    held.until = until
                else:
                    held.renewing = False
                    log.warning(
                        "outbox message %s: its lease ran out while it was being sent; it may be sent twice",
                        held.message_id,
                    )
