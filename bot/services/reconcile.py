"""The reconciler: asks PayerMax about links whose news is late, so a lost notification never loses a sale.

It looks at CREATING links whose handler is gone (crash, restart), ACTIVE links a few minutes
old without a notification, links reaching expiry, and refunds whose result is late
(:meth:`RefundService.check`: ``refundQuery`` with the refund's own outRefundNo). Each round also
does the periodic work that must happen once whatever the number of replicas: pruning old
bookkeeping (retention), queueing the expiry reminders (``bot.services.reminders``) and the daily
summaries that are due. A payment found here goes through
:meth:`PaymentService.apply_to_link` exactly like a notification (same dedupe, same "Paid").
Only the replica holding the ``reconciler`` lease runs a round, and calls are paced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.payermax.client import PayerMaxClient
from bot.payermax.errors import ApiError, PayerMaxError
from bot.payermax.models import STATUS_SUCCESS, LinkInfo, PaymentAttempt
from bot.services.attempts import FailedAttempts
from bot.services.daily_summary import DailySummaries
from bot.services.links import LinkPending, LinkRefused, LinkService
from bot.services.payments import PaymentReport, PaymentService
from bot.services.refunds import RefundService
from bot.services.reminders import Reminders
from bot.services.retention import Retention
from storage import repo
from storage.details import DetailKind, detail
from storage.models import Link, LinkEventKind, LinkStatus, OutboxKind, PaymentSource, Refund, stored_id, utcnow

log = logging.getLogger("paylink.reconcile")

LEASE_NAME = "reconciler"
LEASE_TTL = timedelta(seconds=60)
MIN_RECHECK = timedelta(minutes=5)
MAX_RECHECK = timedelta(hours=1)
AFTER_EXPIRY_GRACE = timedelta(minutes=10)  # a payment finished at the last second still gets reported


def next_check(link: Link, now: datetime) -> datetime | None:
    """When to look again: often while the link is young, hourly later, and right after expiry."""
    age = now - link.created_at
    interval = min(MAX_RECHECK, max(MIN_RECHECK, age / 4))
    moment = now + interval
    if link.expires_at is not None:
        final = link.expires_at + AFTER_EXPIRY_GRACE
        if now >= final:
            return None
        moment = min(moment, final)
    return moment


class Reconciler:
    """Settles links by asking PayerMax, at a bounded rate, on one replica at a time."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: PayerMaxClient,
        links: LinkService,
        payments: PaymentService,
        *,
        calls_per_second: float = 5.0,
        batch_size: int = 50,
        idle_seconds: float = 30.0,
        on_enqueued: Callable[[], None] = lambda: None,
        retention: Retention | None = None,
        refunds: RefundService | None = None,
        reminders: Reminders | None = None,
        summaries: DailySummaries | None = None,
        attempts: FailedAttempts | None = None,
    ) -> None:
        self._sessions = sessions
        self._attempts = attempts
        self._woken = asyncio.Event()
        self._refunds = refunds
        self._retention = retention
        self._reminders = reminders
        self._summaries = summaries
        self._client = client
        self._links = links
        self._payments = payments
        self._pause = 1.0 / calls_per_second
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._on_enqueued = on_enqueued
        self.holder = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"

    async def run(self, stop: asyncio.Event) -> None:
        """Reconcile until ``stop`` is set; a failing round is logged and retried later.

        Stopping is checked between links, so a round never starts a PayerMax call after the stop
        signal; a call in flight is the caller's to wait for or cancel (``bot.app`` bounds it).
        """
        while not stop.is_set():
            self._woken.clear()  # a wake from now on (even during this round) starts the next round at once
            try:
                checked = await self.reconcile_once(stop)
            except Exception:
                log.exception("reconcile round failed")
                checked = 0
            if checked < self._batch_size:
                await self._idle(stop)

    def wake(self) -> None:
        """Start the next round now rather than after the idle wait (links were made due for a reason)."""
        self._woken.set()

    async def _idle(self, stop: asyncio.Event) -> None:
        """Wait until the idle time is over, the reconciler is woken, or told to stop."""
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._woken.wait())]
        try:
            await asyncio.wait(waits, timeout=self._idle_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*waits, return_exceptions=True)

    async def reconcile_once(self, stop: asyncio.Event | None = None) -> int:
        """Check every due link and refund (if this replica holds the lease) until ``stop``; return how many."""
        now = utcnow()
        async with self._sessions() as session, session.begin():
            if not await repo.try_lease(session, LEASE_NAME, self.holder, until=now + LEASE_TTL, now=now):
                return 0
            due = list(await repo.links_due_for_check(session, now=now, limit=self._batch_size))
        refunds = await self._refunds.due(now, self._batch_size) if self._refunds is not None else []
        if self._retention is not None:
            await self._retention.prune(now)  # on the lease holder only, one batch a round
        if self._reminders is not None:
            await self._reminders.queue_due(now)  # on the lease holder only: one reminder per link
        if self._summaries is not None:
            try:
                await self._summaries.queue_due(now)  # on the lease holder only; deduped in the outbox as well
            except Exception:
                log.exception("daily summaries not queued this round")  # a summary must not hold up a payment check
        checked = 0
        for link in due:
            if stop is not None and stop.is_set():
                break
            await self.check(link)
            checked += 1
            await asyncio.sleep(self._pause)
        for refund in refunds:
            if stop is not None and stop.is_set():
                break
            await self._check_refund(refund)
            checked += 1
            await asyncio.sleep(self._pause)
        return checked

    async def _check_refund(self, refund: Refund) -> None:
        """Ask PayerMax about one late refund; a failure is logged and the refund asked about again later."""
        assert self._refunds is not None
        try:
            await self._refunds.check(refund)
        except PayerMaxError as exc:
            log.warning("reconcile: PayerMax did not answer about refund %s: %s", refund.out_refund_no, exc)

    async def check_refunds_of(self, link: Link) -> None:
        """Ask PayerMax now about every unsettled refund of a paid link (the card's Refresh)."""
        if self._refunds is not None and link.status == LinkStatus.PAID and link.id is not None:
            await self._refunds.check_link(link.id)

    async def check(self, link: Link) -> None:
        """Bring one link up to date with PayerMax."""
        try:
            if link.status == LinkStatus.CREATING:
                await self._recover(link)
            else:
                await self._check_active(link)
        except PayerMaxError as exc:
            log.warning("reconcile: PayerMax did not answer about %s: %s", link.merchant_link_id, exc)
        finally:
            await self._reschedule(link)

    async def _recover(self, link: Link) -> None:
        try:
            await self._links.recover(link)
        except LinkPending as exc:
            log.warning("reconcile: link %s still unconfirmed: %s", link.merchant_link_id, exc.cause)
        except LinkRefused as exc:
            async with self._sessions() as session, session.begin():
                await repo.enqueue(
                    session,
                    dedupe_key=f"failed:{link.id}",
                    kind=OutboxKind.LINK_FAILED,
                    chat_id=link.chat_id,
                    link_id=link.id,
                    payload={"code": exc.code, "msg": exc.msg},
                )
            self._on_enqueued()

    async def _check_active(self, link: Link) -> None:
        info = await self._client.query_paybylink(link.merchant_link_id)
        reports = [await self._report(info, attempt) for attempt in info.attempts]
        successful = [report for report in reports if report is not None]
        if successful:
            await self._payments.apply_to_link(link.merchant_link_id, successful, notify_type=PaymentSource.RECONCILE)
        if self._attempts is not None:
            await self._place_attempts(link, info)
        if successful:
            return
        expired = info.link_status == "EXPIRED" or (info.expires_at is not None and info.expires_at <= utcnow())
        if expired:
            await self._mark_expired(link)

    async def _place_attempts(self, link: Link, info: LinkInfo) -> None:
        """PayerMax lists the link's declined orders too: this is where a kept one learns its link.

        A PayerMax that does not answer orderQuery now must not keep the link from being marked
        expired: the attempts are asked about again at the next check.
        """
        assert self._attempts is not None
        try:
            await self._attempts.place(link, info.attempts, self._client.order_query)
        except PayerMaxError as exc:
            log.warning("reconcile: PayerMax did not answer about the attempts on %s: %s", link.merchant_link_id, exc)

    async def _report(self, info: LinkInfo, attempt: PaymentAttempt) -> PaymentReport | None:
        """A successful attempt as a report; a pending one is asked about with orderQuery."""
        amount, currency = info.total_amount, (info.currency or "").upper()
        if attempt.status == STATUS_SUCCESS and amount is not None:
            return PaymentReport(attempt, amount, currency, PaymentSource.RECONCILE)
        if attempt.status != "PENDING" or not attempt.out_trade_no:
            return None
        try:
            order = await self._client.order_query(attempt.out_trade_no)
        except ApiError as exc:
            log.info("reconcile: orderQuery %s: %s", attempt.out_trade_no, exc.code)
            return None
        if order.status != STATUS_SUCCESS:
            return None
        settled = PaymentAttempt(
            out_trade_no=order.out_trade_no,
            status=order.status,
            complete_at=order.complete_time,
            payment_method=order.payment_method,
            target_org=order.target_org,
            card_org=order.card_org,
            card_number=order.card_number,
        )
        return PaymentReport(
            settled, order.total_amount, order.currency.upper(), PaymentSource.RECONCILE, order.trade_token
        )

    async def _mark_expired(self, link: Link) -> None:
        """The link can no longer be paid: say so on its card."""
        async with self._sessions() as session, session.begin():
            current = await repo.get_link(session, stored_id(link), for_update=True)
            if current is None or current.status != LinkStatus.ACTIVE:
                return
            current.status = LinkStatus.EXPIRED
            current.updated_at = utcnow()
            current.next_check_at = None
            await repo.add_link_event(session, stored_id(current), LinkEventKind.EXPIRED, detail(DetailKind.EXPIRED))
            await repo.enqueue(
                session,
                dedupe_key=f"card-expired:{link.id}",
                kind=OutboxKind.CARD_UPDATE,
                chat_id=link.chat_id,
                link_id=link.id,
                payload={},
            )
        log.info("link expired", extra={"link": link.merchant_link_id, "chat": link.chat_id, "status": "EXPIRED"})
        self._on_enqueued()

    async def _reschedule(self, link: Link) -> None:
        async with self._sessions() as session, session.begin():
            current = await repo.get_link(session, stored_id(link))
            if current is None:
                return
            when = next_check(current, utcnow()) if current.status in (LinkStatus.ACTIVE, LinkStatus.CREATING) else None
            await repo.schedule_check(session, stored_id(current), when)
