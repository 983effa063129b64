"""The outbox dispatcher: claims queued messages, paces them through the send budget, retries.

Messages are claimed in short database transactions (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so replicas never take the same row) and leased by moving ``next_attempt_at`` into
the future; while a message is being sent its lease is renewed (:mod:`bot.outbox_leases`), so a
slow send is never claimed and sent again; a process that dies mid-send stops renewing, and its
rows are taken again when their lease ends. Each row carries a dedupe key, written with the fact
it announces, so a payment is queued once.

What a message says is :mod:`bot.announcements`' business (one renderer per kind); what a
failure means is :func:`bot.botapi.errors.classify`'s. This module claims, books each message a
slot of the bot-wide budget (announcements before card edits), and records what happened.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.announcements import ORDER, PRIORITY, RENDERERS, Delivery
from bot.botapi import sending
from bot.botapi.budget import Booking, SendBudget
from bot.botapi.errors import UNEXPECTED_ATTEMPTS, Decision, Verdict, classify
from bot.i18n.reader import Reader, reading_as
from bot.outbox_leases import Held, SendLeases
from bot.services.chat_moves import ChatMoves
from bot.services.readers import Readers
from bot.web import metrics
from storage import repo
from storage.db import read_session
from storage.models import OutboxKind, OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger("paylink.outbox")

# How long a claim holds a message; renewed while it is being sent, it is also how soon after a
# crash the messages the dead process held are sent again.
LEASE = timedelta(seconds=60)
FIRST_BACKOFF_SECONDS = 1.0  # the first retry's delay; each further one waits twice as long
MAX_BACKOFF_SECONDS = 3600.0
HOLD_AHEAD_SECONDS = 2.0  # a message whose slot is further away goes back to the queue
REFILL_AHEAD_SECONDS = 1.0  # claim more once the booked sends reach less than this far ahead
BACKLOG_REFRESH_SECONDS = 5.0
STOP_GRACE_SECONDS = 3.0  # at shutdown, how long sends already under way may take to finish
CANCEL_GRACE_SECONDS = 1.0  # ... and how long a cancelled one may take to unwind before the dispatcher stops anyway
# Failures of these kinds are not worth an owner's attention: the news itself went out (an edit's
# message may have been deleted), or, for a reminder, was only a nudge to a person who may never have
# opened a private chat with the bot; for team news, the change was confirmed to whoever made it, and a
# removed member may well have blocked the bot.
_QUIET_FAILURES = frozenset(
    {OutboxKind.ALERT, OutboxKind.CARD_UPDATE, OutboxKind.SHARED_PAID, OutboxKind.REMINDER, OutboxKind.TEAM}
)


class OutboxDispatcher:
    """Drains the outbox: one claim, a burst of paced sends, repeat; sleeps when idle."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bot: sending.Bot,
        *,
        budget: SendBudget,
        skip_locked: bool,
        owner_chat_ids: Sequence[int] = (),
        batch_size: int = 60,
        idle_poll_seconds: float = 1.0,
        lease: timedelta = LEASE,
        readers: Readers | None = None,
        first_backoff_seconds: float = FIRST_BACKOFF_SECONDS,
        moves: ChatMoves | None = None,
    ) -> None:
        self._sessions = sessions
        self._bot = bot
        self._budget = budget
        self._skip_locked = skip_locked
        self._owners = tuple(owner_chat_ids)
        self._batch_size = batch_size
        self._idle_poll = idle_poll_seconds
        self._lease = lease
        self._leases = SendLeases(sessions, lease)
        self._readers = readers  # who reads each chat: its language and zone (English in UTC without it)
        self._first_backoff = first_backoff_seconds
        self._moves = moves if moves is not None else ChatMoves(sessions, on_moved=self.wake)
        self._wake = asyncio.Event()
        self._booked_until = 0.0  # the latest send slot booked so far (monotonic clock)
        self._backlog_due = 0.0  # when the backlog gauge is next refreshed (monotonic clock)
        self._backing_off: dict[int, datetime] = {}  # message id -> retry time, after network errors

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; errors in one round never end the loop."""
        sending_now: set[asyncio.Task[None]] = set()
        renewing = asyncio.create_task(self._leases.keep(), name="outbox-leases")
        try:
            while not stop.is_set():
                # Cleared before the claim, not after: a wake while claiming (news committed after the
                # claim read the queue) must send the loop round again, not wait for the next poll.
                self._wake.clear()
                try:
                    scheduled = await self._schedule(sending_now)
                except Exception:
                    log.exception("outbox round failed; trying again shortly")
                    scheduled = 0
                # Claim again as soon as the booked sends run short, not when the slowest one is
                # done: waiting for a whole batch leaves Telegram's rate budget idle.
                ahead = self._booked_until - time.monotonic()
                if scheduled and ahead < REFILL_AHEAD_SECONDS:
                    continue
                timeout = max(ahead - REFILL_AHEAD_SECONDS, 0.05) if scheduled else self._idle_poll
                waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        finally:
            # Sends booked for the next moment get a short grace to go out and be recorded; what is
            # still waiting then is dropped (its row stays leased, no longer renewed, and goes again
            # after the lease).
            if sending_now:
                _done, waiting = await asyncio.wait(set(sending_now), timeout=STOP_GRACE_SECONDS)
                for task in waiting:
                    task.cancel()
                await _settle(waiting, "send")
            renewing.cancel()
            await _settle({renewing}, "lease renewal")

    async def _schedule(self, sending_now: set[asyncio.Task[None]]) -> int:
        """Claim due messages, book each a slot (news before card edits), start the near ones and hand the rest back."""
        claimed, until = await self._claim()
        # A message still being sent here whose lease ran out before a renewal landed (a stalled
        # database) comes back to its own sender's claim: the send under way is the one.
        claimed = [message for message in claimed if not self._leases.sending(message.id or 0, until)]
        if not claimed:
            return 0
        claimed.sort(key=lambda message: (ORDER.get(OutboxKind(message.kind), 0), message.id or 0))
        bookings = await self._budget.book_many(
            [(message.chat_id, PRIORITY) for message in claimed], HOLD_AHEAD_SECONDS
        )
        deferred: list[tuple[OutboxMessage, Booking]] = []
        now = time.monotonic()
        for message, booking in zip(claimed, bookings, strict=True):
            if not booking.booked:
                deferred.append((message, booking))
                continue
            self._booked_until = max(self._booked_until, now + booking.wait)
            held = self._leases.hold(message.id or 0, until)
            task = asyncio.create_task(self._send_at(message, booking.wait, held), name=f"outbox-{message.id}")
            sending_now.add(task)
            task.add_done_callback(sending_now.discard)
        if deferred:
            await self._defer(deferred)
        return len(claimed) - len(deferred)

    async def _claim(self) -> tuple[list[OutboxMessage], datetime]:
        """Due messages, leased; and until when."""
        async with self._sessions() as session, session.begin():
            rows = list(
                await repo.due_outbox(session, now=utcnow(), limit=self._batch_size, skip_locked=self._skip_locked)
            )
            until = utcnow() + self._lease
            await repo.postpone_outbox(session, [row.id for row in rows if row.id is not None], until)
        if time.monotonic() >= self._backlog_due:
            # A COUNT per claim would be work on the hot path for a gauge scraped every few seconds.
            self._backlog_due = time.monotonic() + BACKLOG_REFRESH_SECONDS
            metrics.OUTBOX_BACKLOG.set(await self._backlog())
        return rows, until

    async def _backlog(self) -> int:
        async with read_session(self._sessions) as session:
            return await repo.outbox_backlog(session)

    async def _defer(self, deferred: list[tuple[OutboxMessage, Booking]]) -> None:
        """Give messages back to the queue for when their chat may hear from us again."""
        async with self._sessions() as session, session.begin():
            for message, booking in deferred:
                if message.id is not None:
                    await repo.retry_outbox(
                        session,
                        message.id,
                        delay=timedelta(seconds=max(0.0, booking.wait - 0.5)),
                        error="paced",
                        count_attempt=False,
                    )

    async def _send_at(self, message: OutboxMessage, wait: float, held: Held) -> None:
        """Wait for the message's slot, then send it, its lease renewed meanwhile; whatever happens is recorded."""
        try:
            if wait > 0:
                await asyncio.sleep(wait)
            pause = await self._budget.pause_left()
            failure = await self._send(message) if pause <= 0 else None
        finally:
            # Released before recording: from the outcome on, the row's status and retry time say
            # what comes next, and a renewal racing with them changes nothing (compare and set).
            self._leases.release(held)
        if pause > 0:
            # A 429 came while this message waited for its slot: Telegram wants silence until the pause ends.
            await self._retry(message, Decision(Verdict.RETRY, "held back by a 429", wait=pause, counts=False))
        elif failure is not None:
            await self._after_failure(message, failure)
        else:
            await self._sent(message)

    async def _send(self, message: OutboxMessage) -> Exception | None:
        """Render and send one message; the failure, if any (never raises but for cancellation)."""
        try:
            kind = OutboxKind(message.kind)
            reader = await self._readers.chat(message.chat_id) if self._readers is not None else Reader()
            with reading_as(reader):
                await RENDERERS[kind](Delivery(message, self._bot, self._sessions, self._readers))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return exc
        return None

    async def _sent(self, message: OutboxMessage) -> None:
        """Record a message Telegram took."""
        try:
            await self._finish(message, OutboxStatus.SENT)
        except Exception:
            # Telegram has it; the row stays leased and is sent again after the lease (known limit).
            log.exception("outbox message %s was sent but could not be marked sent", message.id)
            return
        metrics.OUTBOX_DELIVERY.observe((utcnow() - message.created_at).total_seconds())
        if self._backing_off:
            await self._recovered()

    async def _after_failure(self, message: OutboxMessage, error: BaseException) -> None:
        """Act on classify's verdict: retry later, or stop and (for news that mattered) tell the owners."""
        decision = classify(error)
        surprise = decision.verdict == Verdict.RETRY and decision.max_attempts == UNEXPECTED_ATTEMPTS
        if surprise and message.attempts == 0:
            # A surprise's traceback once per message: further attempts fail the same way, and the
            # retry (or give-up) line says so in one line each.
            log.warning("outbox message %s (%s) failed unexpectedly", message.id, message.kind, exc_info=error)
        if decision.verdict == Verdict.RETRY:
            await self._retry(message, decision)
        elif decision.verdict == Verdict.MOVED:
            await self._moved(message, decision)
        elif decision.verdict == Verdict.GIVE_UP:
            await self._give_up(message, decision.reason)
        else:
            log.error("Telegram refused outbox message %s (%s): %s", message.id, message.kind, decision.reason)
            await self._give_up(message, decision.reason)

    async def _retry(self, message: OutboxMessage, decision: Decision) -> None:
        if message.id is None:
            return
        if decision.counts and message.attempts + 1 >= decision.max_attempts:
            await self._give_up(message, f"gave up after {message.attempts + 1} attempts: {decision.reason}")
            return
        # A 429's pause was already shared with the whole budget by the rate limiter.
        delay = (
            decision.wait
            if decision.wait is not None
            else max(decision.not_before, _backoff(message.attempts, self._first_backoff))
        )
        log.warning(
            "outbox message %s (%s) to chat %s: %s; retrying in %.1fs",
            message.id,
            message.kind,
            message.chat_id,
            decision.reason,
            delay,
        )
        async with self._sessions() as session, session.begin():
            when = await repo.retry_outbox(
                session,
                message.id,
                delay=timedelta(seconds=delay),
                error=decision.reason,
                count_attempt=decision.counts,
            )
        if decision.network:
            self._backing_off[message.id] = when

    async def _moved(self, message: OutboxMessage, decision: Decision) -> None:
        """The group became a supergroup: move the chat's rows to its new id, and send this message there at once.

        The send is not counted: Telegram refused the address, not the message. The chat's other
        pending messages were moved with it and go to the new id in their turn; one refused the same
        way meanwhile finds the move made and is sent again too. A message that still has the old
        address after the move (a move refused) is retried as any failure, counted, so it cannot loop.
        """
        if message.id is None or decision.moved_to is None:
            return
        moved = await self._moves.move(message.chat_id, decision.moved_to)
        async with read_session(self._sessions) as session:
            readdressed = await repo.outbox_chat_id(session, message.id) != message.chat_id
        if moved.refused is not None or not readdressed:
            why = moved.refused.value if moved.refused is not None else "still addressed to the old id"
            await self._retry(message, Decision(Verdict.RETRY, f"{decision.reason}, not moved: {why}"))
            return
        await self._retry(message, Decision(Verdict.RETRY, decision.reason, wait=0.0, counts=False))

    async def _recovered(self) -> None:
        """Telegram answers again: messages backing off from the outage are due now, not in minutes."""
        waiting, self._backing_off = self._backing_off, {}
        async with self._sessions() as session, session.begin():
            await repo.bring_forward(session, waiting)
        log.info("Telegram reachable again: %d waiting messages brought forward", len(waiting))
        self.wake()

    async def _give_up(self, message: OutboxMessage, error: str) -> None:
        """Stop trying, and tell the owners unless the failed message was itself for them (or cosmetic)."""
        if message.id is None:
            return
        log.error(
            "outbox message %s (%s) to chat %s undeliverable: %s", message.id, message.kind, message.chat_id, error
        )
        async with self._sessions() as session, session.begin():
            await repo.finish_outbox(session, message.id, status=OutboxStatus.FAILED, error=error)
            if message.kind not in _QUIET_FAILURES:
                link = await repo.get_link(session, message.link_id) if message.link_id else None
                await repo.alert_owners(
                    session,
                    self._owners,
                    dedupe_key=f"undeliverable:{message.id}",
                    link_id=message.link_id,
                    skip_chat=message.chat_id,
                    payload={
                        "alert": "undeliverable",
                        "chat_id": message.chat_id,
                        "error": error[:200],
                        "link": link.merchant_link_id if link else None,
                    },
                )
        metrics.OUTBOX_SENT.labels(kind=message.kind, result="undeliverable").inc()
        self.wake()

    async def _finish(self, message: OutboxMessage, status: OutboxStatus, error: str | None = None) -> None:
        if message.id is None:
            return
        async with self._sessions() as session, session.begin():
            await repo.finish_outbox(session, message.id, status=status, error=error)
        metrics.OUTBOX_SENT.labels(kind=message.kind, result=status.value.lower()).inc()


def _backoff(attempts: int, first: float) -> float:
    """Exponential backoff from ``first`` seconds, with jitter so replicas do not retry in lock-step."""
    return min(MAX_BACKOFF_SECONDS, first * 2.0 ** min(attempts, 12)) * random.uniform(0.5, 1.5)


async def _settle(cancelled: set[asyncio.Task[None]], what: str) -> None:
    """Give cancelled tasks a moment to unwind; stopping must not hang on one that does not."""
    if not cancelled:
        return
    _done, stuck = await asyncio.wait(cancelled, timeout=CANCEL_GRACE_SECONDS)
    if stuck:
        log.warning("outbox: %d %s task(s) did not stop when cancelled; left behind", len(stuck), what)
