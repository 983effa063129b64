"""The outbox dispatcher: sends queued messages to Telegram within its limits, with retries.

Messages are claimed in short database transactions (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so replicas never take the same row) and leased by moving ``next_attempt_at`` into
the future; a process that dies mid-send leaves its rows to be taken again when the lease ends.
Each row carries a dedupe key, written with the fact it announces, so a payment is queued once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.chat import keyboards, texts
from bot.chat.card_view import card_caption
from bot.limits import SendLimiter
from bot.qr import qr_png
from bot.web import metrics
from storage import repo
from storage.models import Link, OutboxMessage, OutboxStatus, Payment, utcnow

log = logging.getLogger("paylink.outbox")

LEASE = timedelta(seconds=60)  # longer than any single send, with its retries inside PTB
MAX_ATTEMPTS = 25  # with capped exponential backoff: about a day of trying
MAX_BACKOFF_SECONDS = 3600.0
HOLD_AHEAD_SECONDS = 2.0  # a message whose slot is further away goes back to the queue
REFILL_AHEAD_SECONDS = 1.0  # claim more once the booked sends reach less than this far ahead
UNPACED_KINDS = frozenset({"card_update"})
NETWORK_ERROR = "network: "
BACKLOG_REFRESH_SECONDS = 5.0
_GONE_PHRASES = ("chat not found", "bot was blocked", "user is deactivated", "bot was kicked", "not enough rights")


class Undeliverable(Exception):
    """The chat cannot receive messages from the bot (blocked, deleted, kicked)."""


class OutboxDispatcher:
    """Drains the outbox: one claim, a burst of paced sends, repeat; sleeps when idle."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bot: Bot,
        *,
        skip_locked: bool,
        owner_chat_ids: Sequence[int] = (),
        limiter: SendLimiter | None = None,
        batch_size: int = 60,
        idle_poll_seconds: float = 1.0,
        lease: timedelta = LEASE,
    ) -> None:
        self._sessions = sessions
        self._bot = bot
        self._skip_locked = skip_locked
        self._owners = tuple(owner_chat_ids)
        self._limiter = limiter or SendLimiter()
        self._batch_size = batch_size
        self._idle_poll = idle_poll_seconds
        self._lease = lease
        self._wake = asyncio.Event()
        self._booked_until = 0.0  # the latest send slot booked so far (monotonic clock)
        self._backlog_due = 0.0  # when the backlog gauge is next refreshed (monotonic clock)
        self._backing_off: dict[int, datetime] = {}  # message id -> retry time, after network errors

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; errors in one round never end the loop."""
        sending: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            try:
                scheduled = await self._schedule(sending)
            except Exception:
                log.exception("outbox round failed; trying again shortly")
                scheduled = 0
            # Claim again as soon as the booked sends run short, not when the slowest one is
            # done: waiting for a whole batch leaves Telegram's rate budget idle.
            ahead = self._booked_until - time.monotonic()
            if scheduled and ahead < REFILL_AHEAD_SECONDS:
                continue
            self._wake.clear()
            timeout = max(ahead - REFILL_AHEAD_SECONDS, 0.05) if scheduled else self._idle_poll
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
        if sending:
            await asyncio.gather(*sending, return_exceptions=True)

    async def _schedule(self, sending: set[asyncio.Task[None]]) -> int:
        """Claim due messages, book each a send slot, start the near ones and hand the rest back."""
        claimed = await self._claim()
        if not claimed:
            return 0
        now = time.monotonic()
        deferred: list[tuple[OutboxMessage, float]] = []
        scheduled = 0
        for message in claimed:
            if message.kind in UNPACED_KINDS:
                slot = now  # edits change a message already there: Telegram's send limits do not count them
            else:
                slot = self._limiter.book(message.chat_id, now)
            if slot - now > HOLD_AHEAD_SECONDS:
                # Undo at once, while this is the chat's latest booking: releasing later, out of
                # order, would leave the chat's next slot far ahead and every retry pushed further.
                self._limiter.release(message.chat_id, slot)
                deferred.append((message, slot))
                continue
            self._booked_until = max(self._booked_until, slot)
            task = asyncio.create_task(self._send_at(message, slot))
            sending.add(task)
            task.add_done_callback(sending.discard)
            scheduled += 1
        if deferred:
            await self._defer(deferred, now)
        return scheduled

    async def _claim(self) -> list[OutboxMessage]:
        async with self._sessions() as session, session.begin():
            rows = list(await repo.due_outbox(session, now=utcnow(), limit=self._batch_size, skip_locked=self._skip_locked))
            await repo.postpone_outbox(session, [row.id for row in rows], utcnow() + self._lease)
        if time.monotonic() >= self._backlog_due:
            # A COUNT per claim would be work on the hot path for a gauge scraped every few seconds.
            self._backlog_due = time.monotonic() + BACKLOG_REFRESH_SECONDS
            metrics.OUTBOX_BACKLOG.set(await self._backlog())
        return rows

    async def _backlog(self) -> int:
        async with self._sessions() as session:
            return await repo.outbox_backlog(session)

    async def _defer(self, deferred: list[tuple[OutboxMessage, float]], now: float) -> None:
        """Give messages back to the queue for when their chat may hear from us again."""
        async with self._sessions() as session, session.begin():
            for message, slot in deferred:
                await repo.retry_outbox(
                    session, message.id, delay=timedelta(seconds=max(0.0, slot - now - 0.5)), error="paced", count_attempt=False
                )

    async def _send_at(self, message: OutboxMessage, slot: float) -> None:
        """Wait for the message's slot, then deliver it; a surprise failure leaves it to its lease."""
        try:
            delay = slot - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            pause = self._limiter.pause_left(time.monotonic())
            if pause > 0:
                # A 429 came while this message waited for its slot: Telegram wants silence until the pause ends.
                await self._retry(message, pause, "held back by a 429", count=False)
                return
            await self._deliver(message)
        except Exception:
            # The row stays leased, so it is tried again when the lease ends: nothing is lost.
            log.exception("outbox message %s (%s) failed unexpectedly; retrying after its lease", message.id, message.kind)

    async def _deliver(self, message: OutboxMessage) -> None:
        """Send one message and record what happened."""
        try:
            await self._send(message)
        except RetryAfter as exc:
            wait = exc.retry_after if isinstance(exc.retry_after, (int, float)) else exc.retry_after.total_seconds()
            self._limiter.pause_all(time.monotonic() + wait)
            await self._retry(message, wait, f"429 retry after {wait}s", count=False)
        except Forbidden as exc:
            await self._give_up(message, str(exc))
        except BadRequest as exc:
            if any(phrase in str(exc).lower() for phrase in _GONE_PHRASES):
                await self._give_up(message, str(exc))
            else:
                # Telegram will refuse this exact request again: retrying would only repeat it.
                log.error("Telegram refused outbox message %s (%s): %s", message.id, message.kind, exc)
                await self._finish(message, OutboxStatus.FAILED, str(exc))
        except NetworkError as exc:  # includes timeouts and 5xx answers
            await self._retry(message, _backoff(message.attempts), f"{NETWORK_ERROR}{exc}")
        except Undeliverable as exc:
            await self._give_up(message, str(exc))
        except TelegramError as exc:
            await self._retry(message, _backoff(message.attempts), f"telegram: {exc}")
        else:
            await self._finish(message, OutboxStatus.SENT)
            metrics.OUTBOX_DELIVERY.observe((utcnow() - message.created_at).total_seconds())
            if self._backing_off:
                await self._recovered()

    async def _send(self, message: OutboxMessage) -> None:
        """Render from the current database state, then talk to Telegram."""
        payload = json.loads(message.payload)
        async with self._sessions() as session:
            link = await repo.get_link(session, message.link_id) if message.link_id else None
            payment = await session.get(Payment, payload["payment_id"]) if "payment_id" in payload else None
        if message.kind == "card":
            await self._send_card(message, link)
        elif message.kind == "card_update":
            await self._update_card(link)
        elif message.kind == "paid":
            assert link is not None and payment is not None
            # The card lives in the link's chat; a copy to the agent's private chat replies to nothing.
            in_card_chat = message.chat_id == link.chat_id
            await self._bot.send_message(
                message.chat_id, texts.paid_message(link, payment), parse_mode=ParseMode.HTML,
                reply_to_message_id=link.card_message_id if in_card_chat else None, allow_sending_without_reply=True,
            )
        elif message.kind == "link_failed":
            assert link is not None
            await self._bot.send_message(message.chat_id, texts.link_failed(link, payload["code"], payload["msg"]), parse_mode=ParseMode.HTML)
        elif message.kind == "alert":
            await self._bot.send_message(message.chat_id, _alert_text(payload, link), parse_mode=ParseMode.HTML)
        else:
            raise BadRequest(f"unknown outbox kind {message.kind}")

    async def _send_card(self, message: OutboxMessage, link: Link | None) -> None:
        """Post the link card (QR photo and caption) and remember its message id."""
        assert link is not None and link.link_url
        if link.card_message_id is not None:
            return  # sent before a crash, recorded: never post a second card
        sent: Message = await self._bot.send_photo(
            message.chat_id, qr_png(link.link_url), caption=await card_caption(self._sessions, link), parse_mode=ParseMode.HTML,
            reply_markup=keyboards.card_keyboard(link),
        )
        async with self._sessions() as session, session.begin():
            current = await repo.get_link(session, link.id, for_update=True)
            assert current is not None
            current.card_message_id = sent.message_id
        if current.status != link.status:
            await self._update_card(current)  # paid while the card was on its way

    async def _update_card(self, link: Link | None) -> None:
        """Edit the card to show the link's current state; no card yet means nothing to edit."""
        if link is None or link.card_message_id is None:
            return
        markup: InlineKeyboardMarkup | None = keyboards.card_keyboard(link)
        try:
            await self._bot.edit_message_caption(
                chat_id=link.chat_id, message_id=link.card_message_id, caption=await card_caption(self._sessions, link),
                parse_mode=ParseMode.HTML, reply_markup=markup,
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def _retry(self, message: OutboxMessage, delay: float, error: str, *, count: bool = True) -> None:
        if count and message.attempts + 1 >= MAX_ATTEMPTS:
            await self._give_up(message, f"gave up after {MAX_ATTEMPTS} attempts: {error}")
            return
        log.warning("outbox message %s (%s) to chat %s: %s; retrying in %.1fs", message.id, message.kind, message.chat_id, error, delay)
        async with self._sessions() as session, session.begin():
            when = await repo.retry_outbox(session, message.id, delay=timedelta(seconds=delay), error=error, count_attempt=count)
        if error.startswith(NETWORK_ERROR):
            self._backing_off[message.id] = when

    async def _recovered(self) -> None:
        """Telegram answers again: messages backing off from the outage are due now, not in minutes."""
        waiting, self._backing_off = self._backing_off, {}
        async with self._sessions() as session, session.begin():
            await repo.bring_forward(session, waiting)
        log.info("Telegram reachable again: %d waiting messages brought forward", len(waiting))
        self.wake()

    async def _give_up(self, message: OutboxMessage, error: str) -> None:
        """Stop trying, and tell the owners unless the failed message was itself for them."""
        log.error("outbox message %s (%s) to chat %s undeliverable: %s", message.id, message.kind, message.chat_id, error)
        async with self._sessions() as session, session.begin():
            await repo.finish_outbox(session, message.id, status=OutboxStatus.FAILED, error=error)
            if message.kind != "alert":
                link = await repo.get_link(session, message.link_id) if message.link_id else None
                for owner in self._owners:
                    if owner != message.chat_id:
                        await repo.enqueue(
                            session, dedupe_key=f"undeliverable:{message.id}:{owner}", kind="alert", chat_id=owner,
                            link_id=message.link_id,
                            payload={"alert": "undeliverable", "chat_id": message.chat_id, "error": error[:200],
                                     "link": link.merchant_link_id if link else None},
                        )
        metrics.OUTBOX_SENT.labels(kind=message.kind, result="undeliverable").inc()
        self.wake()

    async def _finish(self, message: OutboxMessage, status: OutboxStatus, error: str | None = None) -> None:
        async with self._sessions() as session, session.begin():
            await repo.finish_outbox(session, message.id, status=status, error=error)
        metrics.OUTBOX_SENT.labels(kind=message.kind, result=status.value.lower()).inc()


def _backoff(attempts: int) -> float:
    """Exponential backoff with jitter, so replicas do not retry in lock-step."""
    return min(MAX_BACKOFF_SECONDS, 2.0 ** min(attempts, 12)) * random.uniform(0.5, 1.5)


def _alert_text(payload: dict, link: Link | None) -> str:
    if payload.get("alert") == "mismatch":
        return texts.mismatch_alert(link.merchant_link_id if link else "?", payload["expected"], payload["reported"], payload["trade"])
    return texts.undeliverable_alert(int(payload.get("chat_id", 0)), payload.get("link"), str(payload.get("error", "")))
