"""Applying what PayerMax reports about payments, from notifications or reconciliation.

Every report goes through :meth:`PaymentService.apply`: it matches the report to the link we
created, checks amount and currency, and records the payment with its "Paid" message in one
transaction. The (link, outTradeNo) pair is the dedupe key, so replays, a PAYBYLINK and a
PAYMENT report of the same payment, and a reconciler finding it too all announce it once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.payermax.models import Notification, PaymentAttempt
from bot.services.links import looks_like_ours
from storage import repo
from storage.models import Link, LinkStatus, Member, Payment, utcnow

log = logging.getLogger("paylink.payments")


class Outcome(StrEnum):
    """What became of a payment report; the web endpoint answers PayerMax from it."""

    APPLIED = "applied"  # a new payment was recorded and announced
    DUPLICATE = "duplicate"  # already known: nothing changed
    NOT_PAID = "not_paid"  # a report of a pending/failed attempt: nothing to announce
    NOT_OURS = "not_ours"  # a link or order this bot never made (e.g. made in PayerMax's portal)
    UNKNOWN = "unknown"  # looks like ours but is not known (yet): PayerMax should retry
    MISMATCH = "mismatch"  # amount or currency differ from what we created: never shown as paid

    @property
    def acknowledged(self) -> bool:
        """Whether PayerMax may stop retrying this report."""
        return self in {Outcome.APPLIED, Outcome.DUPLICATE, Outcome.NOT_PAID, Outcome.NOT_OURS}


@dataclass(frozen=True)
class PaymentReport:
    """One successful attempt as reported, whoever reported it."""

    attempt: PaymentAttempt
    amount: Decimal
    currency: str
    source: str  # PAYBYLINK, PAYMENT or RECONCILE
    trade_token: str | None = None


class PaymentService:
    """Turns verified payment reports into recorded payments and queued announcements."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        owner_chat_ids: Sequence[int],
        on_enqueued: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._owner_chat_ids = tuple(owner_chat_ids)
        self._on_enqueued = on_enqueued

    async def apply_notification(self, notification: Notification) -> Outcome:
        """Apply a PAYBYLINK or PAYMENT notification whose signature was verified."""
        if notification.link is not None:
            info = notification.link
            reports = [
                PaymentReport(attempt, info.total_amount or Decimal(0), (info.currency or "").upper(), "PAYBYLINK")
                for attempt in notification.successful_attempts()
            ]
            return await self.apply_to_link(info.merchant_link_id, reports, notify_type="PAYBYLINK")
        assert notification.order is not None
        order = notification.order
        attempts = notification.successful_attempts()
        async with self._sessions() as session:
            known = await repo.get_payment_by_trade(session, order.out_trade_no)
            link = await repo.get_link(session, known.link_id) if known else None
        if link is None:
            # A PAYMENT report names only the order; the PAYBYLINK report or the reconciler
            # teaches us which link it belongs to. Until then PayerMax keeps retrying.
            log.info("payment notification for an order not linked yet", extra={"trade": order.out_trade_no, "status": order.status})
            return Outcome.UNKNOWN if attempts else Outcome.NOT_PAID
        reports = [PaymentReport(a, order.total_amount, order.currency.upper(), "PAYMENT", order.trade_token) for a in attempts]
        return await self.apply_to_link(link.merchant_link_id, reports, notify_type="PAYMENT")

    async def apply_to_link(self, merchant_link_id: str, reports: Sequence[PaymentReport], *, notify_type: str) -> Outcome:
        """Record each successful report on the link, once, in one transaction with its announcement."""
        async with self._sessions() as session, session.begin():
            link = await repo.get_link_by_merchant_id(session, merchant_link_id, for_update=True)
            if link is None:
                ours = looks_like_ours(merchant_link_id)
                log.warning("notification for unknown link", extra={"link": merchant_link_id, "status": "ours" if ours else "foreign"})
                return Outcome.UNKNOWN if ours else Outcome.NOT_OURS
            if not reports:
                return Outcome.NOT_PAID
            outcomes = [await self._apply_one(session, link, report, notify_type) for report in reports]
        if Outcome.APPLIED in outcomes or Outcome.MISMATCH in outcomes:
            self._on_enqueued()
        for outcome in (Outcome.MISMATCH, Outcome.APPLIED):
            if outcome in outcomes:
                return outcome
        return Outcome.DUPLICATE

    async def _apply_one(self, session: AsyncSession, link: Link, report: PaymentReport, notify_type: str) -> Outcome:
        trade = report.attempt.out_trade_no or f"{link.merchant_link_id}-unnamed"
        if report.currency != link.currency or report.amount != link.amount:
            await self._record_mismatch(session, link, report, trade, notify_type)
            return Outcome.MISMATCH
        if await repo.get_payment(session, link.id, trade) is not None:
            await repo.add_link_event(session, link.id, "notification", f"{notify_type} for {trade} again (already recorded)")
            return Outcome.DUPLICATE
        payment = Payment(
            link_id=link.id,
            out_trade_no=trade,
            trade_token=report.trade_token,
            status="SUCCESS",
            amount=report.amount,
            currency=report.currency,
            payment_method=report.attempt.payment_method,
            target_org=report.attempt.target_org,
            card_org=report.attempt.card_org,
            card_number=report.attempt.card_number,
            source=report.source,
            completed_at=report.attempt.complete_at or utcnow(),
        )
        try:
            async with session.begin_nested():
                session.add(payment)
        except IntegrityError:
            return Outcome.DUPLICATE  # another replica recorded it a moment ago
        await repo.add_link_event(
            session, link.id, "paid", f"{report.amount} {report.currency} by {report.attempt.payment_method or 'unknown method'}, order {trade}, reported by {report.source}"
        )
        # A payment is a fact: even a link we expired or cancelled is shown as paid if money came.
        if link.status != LinkStatus.PAID:
            link.status = LinkStatus.PAID
            link.paid_at = payment.completed_at
            link.updated_at = utcnow()
        await repo.enqueue(
            session, dedupe_key=f"paid:{link.id}:{trade}", kind="paid", chat_id=link.chat_id, link_id=link.id,
            payload={"payment_id": payment.id},
        )
        await repo.enqueue(
            session, dedupe_key=f"card-paid:{link.id}", kind="card_update", chat_id=link.chat_id, link_id=link.id, payload={}
        )
        creator = await session.get(Member, link.creator_user_id)
        if creator is not None and creator.notify_private and link.chat_id != link.creator_user_id:
            # The agent asked to hear about their group links privately too (a private chat's id is the user's).
            await repo.enqueue(
                session, dedupe_key=f"paid-private:{link.id}:{trade}", kind="paid", chat_id=link.creator_user_id,
                link_id=link.id, payload={"payment_id": payment.id},
            )
        log.info("payment recorded", extra={"link": link.merchant_link_id, "chat": link.chat_id, "trade": trade, "status": "PAID"})
        return Outcome.APPLIED

    async def _record_mismatch(self, session: AsyncSession, link: Link, report: PaymentReport, trade: str, notify_type: str) -> None:
        """Keep the evidence and tell the owners; the link is not touched."""
        detail = f"expected {link.amount} {link.currency}, reported {report.amount} {report.currency} (trade {trade})"
        await repo.record_event(session, notify_type=notify_type, reference=link.merchant_link_id, outcome="mismatch", detail=detail, link_id=link.id)
        await repo.add_link_event(session, link.id, "mismatch", detail)
        for owner in self._owner_chat_ids:
            await repo.enqueue(
                session, dedupe_key=f"mismatch:{link.id}:{trade}:{owner}", kind="alert", chat_id=owner, link_id=link.id,
                payload={"alert": "mismatch", "expected": f"{link.amount} {link.currency}", "reported": f"{report.amount} {report.currency}", "trade": trade},
            )
        log.error("payment amount mismatch", extra={"link": link.merchant_link_id, "chat": link.chat_id, "trade": trade, "status": "MISMATCH"})
