"""Reading links for people: one link, a page of a chat's links, search, a link's timeline, today's takings.

Telegram-free. Everything is read within what a :class:`~bot.services.link_access.LinkScope` lets
the person see; the handlers check the scope before showing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.link_access import LinkScope
from bot.services.link_search import SearchTerms
from bot.services.refund_summary import RefundSummary, summarize
from storage import repo
from storage.db import read_session
from storage.models import (
    AuditAction,
    Chat,
    FailedAttempt,
    Link,
    LinkEvent,
    LinkStatus,
    Payment,
    Refund,
    RefundStatus,
)

CANCEL_AUDIT_ACTION = AuditAction.CANCEL_LINK
MAX_FOUND = 10  # what one Telegram message can show with details
MAX_PAGE_SIZE = 50


class StatusFilter(StrEnum):
    """The statuses /links can show."""

    ALL = "all"
    ACTIVE = "active"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def statuses(self) -> tuple[LinkStatus, ...] | None:
        """The link statuses this filter keeps (None: every status)."""
        return None if self is StatusFilter.ALL else (LinkStatus(self.value.upper()),)


@dataclass(frozen=True)
class LinkPage:
    """One page of a list of links, newest first."""

    links: list[Link]
    page: int  # 0-based, clamped to the pages there are
    pages: int  # at least 1, even when there are no links
    total: int
    size: int = MAX_PAGE_SIZE  # links a page holds (numbering goes on from page to page)


class Matched(StrEnum):
    """What of a link a search text matched, most telling first."""

    LINK_ID = "link id"
    PAYERMAX_ID = "PayerMax link id"
    ORDER = "order"
    PART_OF_LINK_ID = "part of link id"
    PART_OF_ORDER = "part of order"
    AMOUNT = "amount"
    DESCRIPTION = "description"


@dataclass(frozen=True)
class FoundLink:
    """A search result: the link, its latest payment, and what matched."""

    link: Link
    payment: Payment | None
    matched: Matched


@dataclass(frozen=True)
class Timeline:
    """Everything known about one link: where it came from and what happened to it, oldest first."""

    link: Link
    chat: Chat | None
    events: list[LinkEvent]
    payments: list[Payment]
    refunds: list[Refund] = field(default_factory=list)  # every refund asked for (proposals not confirmed left out)
    failed_attempts: list[FailedAttempt] = field(default_factory=list)  # declined or failed, oldest first

    @property
    def last_failed_attempt(self) -> FailedAttempt | None:
        """The latest attempt that did not go through, what a customer who says "it didn't work" means."""
        return self.failed_attempts[-1] if self.failed_attempts else None


@dataclass(frozen=True)
class CardFacts:
    """What a link card shows beyond the link row: a PAID link's payment and refunds, who cancelled a CANCELLED one."""

    payment: Payment | None = None
    cancelled_by: str | None = None
    refunds: RefundSummary | None = None

    @property
    def refundable(self) -> bool:
        """Whether anything paid is left to refund (what the card's Refund button is for)."""
        return self.payment is not None and (self.refunds is None or self.refunds.remaining > 0)


async def load_card_facts(session: AsyncSession, link: Link) -> CardFacts:
    """Read the facts a card needs for the link's current status."""
    if link.status == LinkStatus.PAID and link.id is not None:
        payments = list(await repo.payments_of(session, link.id))
        refunds = await repo.refunds_of_link(session, link.id)
        paid = sum((payment.amount for payment in payments), start=Decimal(0))
        summary = summarize(paid, payments[0].currency, refunds) if payments else None
        return CardFacts(payment=payments[-1] if payments else None, refunds=summary)
    if link.status == LinkStatus.CANCELLED:
        entry = await repo.latest_audit(session, action=CANCEL_AUDIT_ACTION, subject=link.merchant_link_id)
        return CardFacts(cancelled_by=entry.actor_name if entry else None)
    return CardFacts()


class LinkQueries:
    """Reads links, their pages, search results and timelines."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, link_id: int) -> Link | None:
        """A link by our row id."""
        async with read_session(self._sessions) as session:
            return await repo.get_link(session, link_id)

    async def lookup(self, reference: str) -> Link | None:
        """The link a support person names: our link id, PayerMax's link id, or a payment's outTradeNo."""
        reference = reference.strip()
        if not reference:
            return None
        async with read_session(self._sessions) as session:
            return await repo.link_by_reference(session, reference)

    async def card_facts(self, link: Link) -> CardFacts:
        """What the link's card shows beyond the link itself."""
        async with read_session(self._sessions) as session:
            return await load_card_facts(session, link)

    async def timeline(self, link_id: int) -> Timeline | None:
        """The link with its chat, its events and its payments, oldest first."""
        async with read_session(self._sessions) as session:
            link = await repo.get_link(session, link_id)
            if link is None:
                return None
            chat = await repo.get_chat(session, link.chat_id)
            events = list(await repo.link_events(session, link_id))
            payments = list(await repo.payments_of(session, link_id))
            refunds = [
                refund
                for refund in await repo.refunds_of_link(session, link_id)
                if refund.status not in (RefundStatus.PROPOSED, RefundStatus.DISCARDED)
            ]
            failed = list(await repo.failed_attempts_of(session, link_id))
        return Timeline(link, chat, events, payments, refunds, failed)

    async def list_links(self, scope: LinkScope, status: StatusFilter, page: int, page_size: int) -> LinkPage:
        """One page of the links in scope with this status, newest first."""
        page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        statuses = status.statuses
        where = {"chat_id": scope.chat_id, "creator_user_id": scope.creator_user_id}
        async with read_session(self._sessions) as session:
            total = await repo.count_links(session, statuses=statuses, **where)
            pages = max(1, -(-total // page_size))  # ceiling division; an empty list is one empty page
            page = min(max(0, page), pages - 1)
            links = list(
                await repo.list_links(session, statuses=statuses, offset=page * page_size, limit=page_size, **where)
            )
        return LinkPage(links, page, pages, total, page_size)

    async def paid_totals_since(self, scope: LinkScope, since: datetime) -> dict[str, Decimal]:
        """What links in scope took since ``since`` (the reader's midnight), per currency, in currency code order."""
        async with read_session(self._sessions) as session:
            payments = await repo.payments_completed_since(
                session, since, chat_id=scope.chat_id, creator_user_id=scope.creator_user_id
            )
        totals: dict[str, Decimal] = {}
        for payment in payments:
            totals[payment.currency] = totals.get(payment.currency, Decimal(0)) + payment.amount
        return dict(sorted(totals.items()))

    async def find(self, terms: SearchTerms, scope: LinkScope) -> list[FoundLink]:
        """Links in scope the search names (an id, part of one, an amount) or describes (every word); newest first."""
        if not terms.words:
            return []
        amount = terms.amount
        async with read_session(self._sessions) as session:
            links = list(
                await repo.find_links(
                    session,
                    reference=terms.text,
                    words=terms.words,
                    fragment=terms.fragment,
                    amounts=amount.stored_texts() if amount else (),
                    currencies=amount.currencies if amount else (),
                    chat_id=scope.chat_id,
                    creator_user_id=scope.creator_user_id,
                    limit=MAX_FOUND,
                )
            )
            ids = [link.id for link in links if link.id is not None]
            payments = await repo.latest_payments(session, ids)
            orders = await repo.orders_of_links(session, ids)
        return [
            FoundLink(
                link,
                payments.get(link.id) if link.id is not None else None,
                _matched(link, terms, orders.get(link.id, []) if link.id is not None else []),
            )
            for link in links
        ]


def _matched(link: Link, terms: SearchTerms, orders: list[str]) -> Matched:
    """Say which of the link's identifiers, its amount or its description the search matched."""
    reference, fragment = terms.text, terms.fragment
    if link.merchant_link_id.upper() == reference.upper():
        return Matched.LINK_ID
    if link.payermax_link_id == reference:
        return Matched.PAYERMAX_ID
    if reference in orders:
        return Matched.ORDER
    if fragment and (fragment in link.merchant_link_id.upper() or fragment in (link.payermax_link_id or "").upper()):
        return Matched.PART_OF_LINK_ID
    if fragment and any(fragment in order.upper() for order in orders):
        return Matched.PART_OF_ORDER
    if terms.amount is not None and terms.amount.matches(link.amount, link.currency):
        return Matched.AMOUNT
    return Matched.DESCRIPTION
