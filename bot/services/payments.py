"""Applying what PayerMax reports about payments, from notifications or reconciliation.

Every report is matched to the link we created, checked for amount and currency, and recorded
with its "Paid" message (and the payments feed's post, if a feed is named) in one transaction.
The (link, outTradeNo) pair is the dedupe key, so replays, a PAYBYLINK and a PAYMENT report of
the same payment, and a reconciler finding it too all announce it once.
:meth:`PaymentService.apply_to_link` applies one link's reports with the ORM;
:meth:`PaymentService.apply_link_notifications` applies many PAYBYLINK notifications in one
transaction of set-based statements (the group commit behind the notify endpoint; synchronous
code, so that on SQLite the whole transaction runs on one thread). Both decide with the same
rules, the module functions below.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Any, Protocol, cast

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.payermax.models import NOTIFY_TYPE_PAYBYLINK, UNSUCCESSFUL_STATUSES, Notification, PaymentAttempt
from bot.services.attempts import FailedAttempts
from bot.services.feed import FeedEvent, feed_entry
from bot.services.links import looks_like_ours
from bot.services.shared import shared_paid
from storage import bulk, repo
from storage.db import BatchTransactions, read_session
from storage.details import DetailKind, detail
from storage.models import (
    Link,
    LinkEventKind,
    LinkStatus,
    Member,
    OutboxKind,
    Payment,
    PaymentSource,
    stored_id,
    utcnow,
)

log = logging.getLogger("paylink.payments")


class Outcome(StrEnum):
    """What became of a payment report; the web endpoint answers PayerMax from it."""

    APPLIED = "applied"  # a new payment was recorded and announced
    DUPLICATE = "duplicate"  # already known: nothing changed
    NOT_PAID = "not_paid"  # a report of a pending/failed attempt: nothing to announce
    NOT_OURS = "not_ours"  # a link or order this bot never made (e.g. made in PayerMax's portal)
    UNKNOWN = "unknown"  # looks like ours but is not known (yet): PayerMax should retry
    MISMATCH = "mismatch"  # amount or currency differ from what we created: never shown as paid
    WRONG_LINK = "wrong_link"  # PayerMax's linkId differs from the one it gave us for this link: misrouted or forged

    @property
    def acknowledged(self) -> bool:
        """Whether PayerMax may stop retrying this report (contract §12: never for a link we did not make)."""
        return self in {Outcome.APPLIED, Outcome.DUPLICATE, Outcome.NOT_PAID}


@dataclass(frozen=True)
class PaymentReport:
    """One successful attempt as reported, whoever reported it."""

    attempt: PaymentAttempt
    amount: Decimal
    currency: str
    source: PaymentSource
    trade_token: str | None = None


class LinkFacts(Protocol):
    """What the rules read of a link: a Link object, or a row of storage.bulk.PAYMENT_LINK_COLUMNS."""

    id: int
    merchant_link_id: str
    chat_id: int
    creator_user_id: int
    amount: Decimal
    currency: str
    status: str
    payermax_link_id: str | None


def _stored(link: Link) -> LinkFacts:
    """A link read from the database, as the rules read it: the same object, with its id checked present."""
    stored_id(link)  # a Link is LinkFacts but for the id, which SQLModel types optional until the row is stored
    return cast(LinkFacts, link)


@dataclass(frozen=True)
class LinkReports:
    """What a PAYBYLINK notification says: our link, PayerMax's id for it, and the successful payments."""

    merchant_link_id: str
    payermax_link_id: str | None
    reports: list[PaymentReport]


def _paybylink_reports(notification: Notification) -> LinkReports:
    """The link a PAYBYLINK notification names, and the successful payments it reports (with the amount it states)."""
    info = notification.link
    if info is None:
        raise ValueError(f"a {notification.notify_type} notification names no link")
    amount, currency = info.total_amount or Decimal(0), (info.currency or "").upper()
    reports = [
        PaymentReport(attempt, amount, currency, PaymentSource.PAYBYLINK)
        for attempt in notification.successful_attempts()
    ]
    return LinkReports(info.merchant_link_id, info.link_id, reports)


def _wrong_link(link: LinkFacts, notified: str | None) -> bool:
    """Whether the notification names another PayerMax link than the one PayerMax made for ours (contract §12)."""
    wrong = notified is not None and link.payermax_link_id is not None and notified != link.payermax_link_id
    if wrong:
        log.warning(
            "notification refused: it names PayerMax link %s, but %s is PayerMax link %s",
            notified,
            link.merchant_link_id,
            link.payermax_link_id,
            extra={"link": link.merchant_link_id},
        )
    return wrong


def _unknown_link(merchant_link_id: str) -> Outcome:
    """Retry a link that looks like ours (it may not be stored yet); stop one made elsewhere."""
    ours = looks_like_ours(merchant_link_id)
    log.warning(
        "notification for unknown link", extra={"link": merchant_link_id, "status": "ours" if ours else "foreign"}
    )
    return Outcome.UNKNOWN if ours else Outcome.NOT_OURS


def _trade_of(link: LinkFacts, report: PaymentReport) -> str:
    """The outTradeNo a payment is recorded under (an attempt PayerMax left unnamed gets one per link)."""
    return report.attempt.out_trade_no or f"{link.merchant_link_id}-unnamed"


def _is_mismatch(link: LinkFacts, report: PaymentReport) -> bool:
    """Whether the report's amount or currency differ from what we created the link for."""
    return report.currency != link.currency or report.amount != link.amount


def _payment_values(link: LinkFacts, trade: str, report: PaymentReport) -> dict[str, Any]:
    """The columns of the payment this report records."""
    attempt = report.attempt
    return {
        "link_id": link.id,
        "out_trade_no": trade,
        "trade_token": report.trade_token,
        "status": "SUCCESS",
        "amount": report.amount,
        "currency": report.currency,
        "payment_method": attempt.payment_method,
        "target_org": attempt.target_org,
        "card_org": attempt.card_org,
        "card_number": attempt.card_number,
        "source": report.source,
        "completed_at": attempt.complete_at or utcnow(),
    }


def _repeat_detail(notify_type: str, trade: str) -> str:
    return detail(DetailKind.REPEATED, notify_type=notify_type, trade=trade)


def _paid_detail(report: PaymentReport, trade: str) -> str:
    return detail(
        DetailKind.PAID,
        amount=report.amount,
        currency=report.currency,
        method=report.attempt.payment_method,
        trade=trade,
        source=str(report.source),
    )


def _paid_changes(link: LinkFacts, completed_at: datetime) -> dict[str, Any] | None:
    """The link columns a payment changes, or None when the link is already PAID."""
    # A payment is a fact: even a link we expired or cancelled is shown as paid if money came.
    if link.status == LinkStatus.PAID:
        return None
    return {"status": LinkStatus.PAID, "paid_at": completed_at, "updated_at": utcnow()}


def _wants_private_copy(link: LinkFacts) -> bool:
    """Whether the creator could get a private copy of "Paid": only for links made outside their private chat."""
    return link.chat_id != link.creator_user_id  # a private chat's id is the user's


def _announcements(
    link: LinkFacts,
    trade: str,
    payment_id: int,
    *,
    creator_notified_privately: bool,
    feed_chat_id: int | None,
    shared: Sequence[tuple[int, int]] = (),
) -> list[bulk.OutboxEntry]:
    """The messages a new payment queues: "Paid", the card edit, the creator's copy if they asked, the feed's post.

    ``shared``: the (chat, message) of each customer message posted for the link, each edited to say it was paid.
    """
    messages: list[bulk.OutboxEntry] = [
        {
            "dedupe_key": f"paid:{link.id}:{trade}",
            "kind": OutboxKind.PAID,
            "chat_id": link.chat_id,
            "link_id": link.id,
            "payload": {"payment_id": payment_id},
        },
        {
            "dedupe_key": f"card-paid:{link.id}",
            "kind": OutboxKind.CARD_UPDATE,
            "chat_id": link.chat_id,
            "link_id": link.id,
            "payload": {},
        },
    ]
    if creator_notified_privately and _wants_private_copy(link):
        # The agent asked to hear about their group links privately too.
        messages.append(
            {
                "dedupe_key": f"paid-private:{link.id}:{trade}",
                "kind": OutboxKind.PAID,
                "chat_id": link.creator_user_id,
                "link_id": link.id,
                "payload": {"payment_id": payment_id},
            }
        )
    posted = feed_entry(
        feed_chat_id,
        link_id=link.id,
        link_chat_id=link.chat_id,
        event=FeedEvent.PAID,
        reference=trade,
        details={"payment_id": payment_id},
    )
    if posted is not None:
        messages.append(posted)
    messages += [shared_paid(link.id, chat_id, message_id) for chat_id, message_id in shared]
    return messages


def _log_recorded(link: LinkFacts, trade: str) -> None:
    log.info(
        "payment recorded",
        extra={"link": link.merchant_link_id, "chat": link.chat_id, "trade": trade, "status": "PAID"},
    )


def _overall(outcomes: Sequence[Outcome]) -> Outcome:
    """One answer for a notification's reports: a mismatch first, then a new payment, else a duplicate."""
    for outcome in (Outcome.MISMATCH, Outcome.APPLIED):
        if outcome in outcomes:
            return outcome
    return Outcome.DUPLICATE


def _announces(outcomes: Sequence[Outcome]) -> bool:
    """Whether these outcomes queued outbox messages (the dispatcher should wake)."""
    return Outcome.APPLIED in outcomes or Outcome.MISMATCH in outcomes


@dataclass(frozen=True)
class _Decision:
    """What one report of a batch turned out to be, before the payments are inserted."""

    index: int  # which notification of the batch
    link: LinkFacts
    report: PaymentReport
    trade: str
    outcome: Outcome  # DUPLICATE is final; APPLIED until the insert says otherwise
    values: dict[str, Any] | None = None  # the payment row, for APPLIED


def _decide(index: int, link: LinkFacts, report: PaymentReport, recorded: set[tuple[int, str]]) -> _Decision:
    """Judge a matching report as _apply_one does; ``recorded`` grows, so a payment's second report is a duplicate."""
    trade = _trade_of(link, report)
    if (link.id, trade) in recorded:
        return _Decision(index, link, report, trade, Outcome.DUPLICATE)
    recorded.add((link.id, trade))
    return _Decision(index, link, report, trade, Outcome.APPLIED, _payment_values(link, trade, report))


def _record_batch(requests: Sequence[LinkReports], connection: Connection) -> list[Outcome | None]:
    """Decide and record PAYBYLINK reports in the caller's transaction; None marks a notification to apply alone."""
    links = bulk.links_by_merchant_ids(
        connection, sorted({request.merchant_link_id for request in requests}), for_update=True
    )
    recorded = bulk.recorded_payments(connection, [link.id for link in links.values()])
    outcomes: list[Outcome | None] = []
    decisions: list[_Decision] = []
    for index, request in enumerate(requests):
        reports = request.reports
        link = links.get(request.merchant_link_id)
        if link is None:
            outcomes.append(_unknown_link(request.merchant_link_id))
        elif _wrong_link(link, request.payermax_link_id):
            outcomes.append(Outcome.WRONG_LINK)
        elif not reports:
            outcomes.append(Outcome.NOT_PAID)
        elif any(_is_mismatch(link, report) for report in reports):
            outcomes.append(None)  # rare: the per-notification path keeps the evidence and alerts the owners
        else:
            outcomes.append(Outcome.DUPLICATE)  # replaced below, once the reports are recorded
            decisions.extend(_decide(index, link, report, recorded) for report in reports)
    found: dict[int, list[Outcome]] = {}
    for decision in _record_decided(connection, decisions):
        found.setdefault(decision.index, []).append(decision.outcome)
    for index, reported in found.items():
        outcomes[index] = _overall(reported)
    return outcomes


def _record_decided(connection: Connection, decisions: Sequence[_Decision]) -> list[_Decision]:
    """Insert the new payments, then their timeline entries, link changes and messages; return the final decisions."""
    new_ids = bulk.insert_new_payments(connection, [decision.values for decision in decisions if decision.values])
    creators = {
        decision.link.creator_user_id
        for decision in decisions
        if decision.values and _wants_private_copy(decision.link)
    }
    notified_privately = bulk.members_notified_privately(connection, sorted(creators))
    feed_chat_id = bulk.feed_chat_id(connection) if new_ids else None
    shared = bulk.shared_messages(connection, sorted({link_id for link_id, _trade in new_ids}))
    final: list[_Decision] = []
    events: list[tuple[int, LinkEventKind, str]] = []
    link_changes: dict[int, dict[str, Any]] = {}
    messages: list[bulk.OutboxEntry] = []
    for decision in decisions:
        link, trade = decision.link, decision.trade
        payment_id = new_ids.get((link.id, trade))
        if decision.outcome == Outcome.DUPLICATE:
            events.append((link.id, LinkEventKind.NOTIFICATION, _repeat_detail(NOTIFY_TYPE_PAYBYLINK, trade)))
        elif payment_id is None:
            decision = replace(decision, outcome=Outcome.DUPLICATE)  # another replica recorded it a moment ago
        else:
            assert decision.values is not None
            events.append((link.id, LinkEventKind.PAID, _paid_detail(decision.report, trade)))
            changes = None if link.id in link_changes else _paid_changes(link, decision.values["completed_at"])
            if changes is not None:
                link_changes[link.id] = changes
            messages += _announcements(
                link,
                trade,
                payment_id,
                creator_notified_privately=link.creator_user_id in notified_privately,
                feed_chat_id=feed_chat_id,
                shared=shared.get(link.id, ()),
            )
            _log_recorded(link, trade)
        final.append(decision)
    bulk.update_links(connection, link_changes)
    bulk.add_link_events(connection, events)
    bulk.enqueue_many(connection, messages)
    return final


class PaymentService:
    """Turns verified payment reports into recorded payments and queued announcements."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        owner_chat_ids: Sequence[int],
        on_enqueued: Callable[[], None] = lambda: None,
        attempts: FailedAttempts | None = None,
    ) -> None:
        self._sessions = sessions
        self._owner_chat_ids = tuple(owner_chat_ids)
        self._on_enqueued = on_enqueued
        self._attempts = attempts  # where declined and failed orders are kept (None: not kept)

    async def apply_notification(self, notification: Notification) -> Outcome:
        """Apply a PAYBYLINK or PAYMENT notification whose signature was verified."""
        if notification.link is not None:
            request = _paybylink_reports(notification)
            return await self.apply_to_link(
                request.merchant_link_id,
                request.reports,
                notify_type=NOTIFY_TYPE_PAYBYLINK,
                payermax_link_id=request.payermax_link_id,
            )
        assert notification.order is not None
        order = notification.order
        if order.status in UNSUCCESSFUL_STATUSES:
            # Declined, failed or left unpaid: no money, but what the customer will tell support about.
            if self._attempts is not None:
                await self._attempts.reported(order, reported_at=notification.notify_time)
            return Outcome.NOT_PAID
        attempts = notification.successful_attempts()
        async with read_session(self._sessions) as session:
            known = await repo.get_payment_by_trade(session, order.out_trade_no)
            link = await repo.get_link(session, known.link_id) if known else None
        if link is None:
            # A PAYMENT report names only the order; the PAYBYLINK report or the reconciler
            # teaches us which link it belongs to. Until then PayerMax keeps retrying.
            log.info(
                "payment notification for an order not linked yet",
                extra={"trade": order.out_trade_no, "status": order.status},
            )
            return Outcome.UNKNOWN if attempts else Outcome.NOT_PAID
        reports = [
            PaymentReport(a, order.total_amount, order.currency.upper(), PaymentSource.PAYMENT, order.trade_token)
            for a in attempts
        ]
        return await self.apply_to_link(link.merchant_link_id, reports, notify_type="PAYMENT")

    async def apply_to_link(
        self,
        merchant_link_id: str,
        reports: Sequence[PaymentReport],
        *,
        notify_type: str,
        payermax_link_id: str | None = None,
    ) -> Outcome:
        """Record each successful report on the link, once, in one transaction with its announcement.

        ``payermax_link_id`` is the linkId the report names, if it names one: it must be the one
        PayerMax gave us for this link.
        """
        async with self._sessions() as session, session.begin():
            found = await repo.get_link_by_merchant_id(session, merchant_link_id, for_update=True)
            if found is None:
                return _unknown_link(merchant_link_id)
            link = _stored(found)
            if _wrong_link(link, payermax_link_id):
                return Outcome.WRONG_LINK
            if not reports:
                return Outcome.NOT_PAID
            outcomes = [await self._apply_one(session, link, report, notify_type) for report in reports]
        if _announces(outcomes):
            self._on_enqueued()
        return _overall(outcomes)

    async def apply_link_notifications(
        self, notifications: Sequence[Notification], transactions: BatchTransactions
    ) -> list[Outcome]:
        """Apply many PAYBYLINK notifications in one transaction of set-based statements; one outcome each, in order.

        A notification whose amount or currency differ from its link's is then applied on its own,
        through :meth:`apply_notification`, which keeps the evidence and alerts the owners.
        """
        requests = [_paybylink_reports(notification) for notification in notifications]
        decided = await transactions.run(partial(_record_batch, requests))
        if Outcome.APPLIED in decided:
            self._on_enqueued()  # once for the whole batch
        outcomes: list[Outcome] = []
        for notification, outcome in zip(notifications, decided, strict=True):
            outcomes.append(outcome if outcome is not None else await self.apply_notification(notification))
        return outcomes

    async def _apply_one(
        self, session: AsyncSession, link: LinkFacts, report: PaymentReport, notify_type: str
    ) -> Outcome:
        trade = _trade_of(link, report)
        if _is_mismatch(link, report):
            await self._record_mismatch(session, link, report, trade, notify_type)
            return Outcome.MISMATCH
        if await repo.get_payment(session, link.id, trade) is not None:
            await repo.add_link_event(session, link.id, LinkEventKind.NOTIFICATION, _repeat_detail(notify_type, trade))
            return Outcome.DUPLICATE
        values = _payment_values(link, trade, report)
        payment = Payment(**values)
        try:
            async with session.begin_nested():
                session.add(payment)
        except IntegrityError:
            return Outcome.DUPLICATE  # another replica recorded it a moment ago
        await repo.add_link_event(session, link.id, LinkEventKind.PAID, _paid_detail(report, trade))
        for name, value in (_paid_changes(link, values["completed_at"]) or {}).items():
            setattr(link, name, value)  # on the Link itself: the rules only read it
        creator = await session.get(Member, link.creator_user_id) if _wants_private_copy(link) else None
        notified_privately = creator is not None and creator.notify_private
        announcements = _announcements(
            link,
            trade,
            stored_id(payment),
            creator_notified_privately=notified_privately,
            feed_chat_id=await repo.feed_chat_id(session),
            shared=[(shared.chat_id, shared.message_id) for shared in await repo.shared_messages_of(session, link.id)],
        )
        for message in announcements:
            await repo.enqueue(session, **message)
        _log_recorded(link, trade)
        return Outcome.APPLIED

    async def _record_mismatch(
        self, session: AsyncSession, link: LinkFacts, report: PaymentReport, trade: str, notify_type: str
    ) -> None:
        """Keep the evidence and tell the owners; the link is not touched."""
        evidence = detail(
            DetailKind.MISMATCH,
            expected_amount=link.amount,
            expected_currency=link.currency,
            reported_amount=report.amount,
            reported_currency=report.currency,
            trade=trade,
        )
        await repo.record_event(
            session,
            notify_type=notify_type,
            reference=link.merchant_link_id,
            outcome="mismatch",
            detail=evidence,
            link_id=link.id,
        )
        await repo.add_link_event(session, link.id, LinkEventKind.MISMATCH, evidence)
        await repo.alert_owners(
            session,
            self._owner_chat_ids,
            dedupe_key=f"mismatch:{link.id}:{trade}",
            link_id=link.id,
            payload={
                "alert": "mismatch",
                "expected": f"{link.amount} {link.currency}",
                "reported": f"{report.amount} {report.currency}",
                "trade": trade,
            },
        )
        log.error(
            "payment amount mismatch",
            extra={"link": link.merchant_link_id, "chat": link.chat_id, "trade": trade, "status": "MISMATCH"},
        )
