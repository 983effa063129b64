"""Managing links as a team: cancel, refresh, list, find, and a link's timeline.

Telegram-free. Who may see a link is a :class:`LinkScope`: owners, admins and support see every
link, an agent only the links they created. Cancelling asks PayerMax first (``expirePaybylink``)
and then moves the link forward to CANCELLED under a row lock, so two presses cancel once; the
card is edited from the outbox like every other change of a link.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timezone
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.payermax.client import PayerMaxClient
from bot.payermax.errors import ApiError, PayerMaxError
from bot.services.access import PERMISSIONS, AccessService, Action, Refusal, refusal_of
from bot.services.actors import Actor
from bot.services.reconcile import Reconciler
from storage import repo
from storage.models import Chat, Link, LinkEvent, LinkStatus, OutboxKind, Payment, utcnow

log = logging.getLogger("paylink.manage")

CANCEL_AUDIT_ACTION = "cancel_link"
MAX_FOUND = 10  # what one Telegram message can show with details
MAX_PAGE_SIZE = 50


@dataclass(frozen=True)
class LinkScope:
    """Which links a person may see: all of them or only their own, optionally within one chat."""

    user_id: int
    all_links: bool
    chat_id: int | None = None

    @property
    def creator_user_id(self) -> int | None:
        """The creator every link in scope has, or None when anyone's links are in scope."""
        return None if self.all_links else self.user_id

    def covers(self, link: Link) -> bool:
        """Tell whether this link is in scope."""
        if self.chat_id is not None and link.chat_id != self.chat_id:
            return False
        return self.all_links or link.creator_user_id == self.user_id

    def in_chat(self, chat_id: int) -> LinkScope:
        """The same person's view, narrowed to one chat's links."""
        return LinkScope(self.user_id, self.all_links, chat_id)

    def own_only(self) -> LinkScope:
        """The same person's view, narrowed to the links they created."""
        return LinkScope(self.user_id, False, self.chat_id)


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


@dataclass(frozen=True)
class FoundLink:
    """A search result: the link, its latest payment, and what matched."""

    link: Link
    payment: Payment | None
    matched: str  # "link id", "PayerMax link id", "order", "description"


@dataclass(frozen=True)
class Timeline:
    """Everything known about one link: where it came from and what happened to it, oldest first."""

    link: Link
    chat: Chat | None
    events: list[LinkEvent]
    payments: list[Payment]


@dataclass(frozen=True)
class CardFacts:
    """What a link card shows beyond the link row: the payment of a PAID link, who cancelled a CANCELLED one."""

    payment: Payment | None = None
    cancelled_by: str | None = None


async def load_card_facts(session: AsyncSession, link: Link) -> CardFacts:
    """Read the facts a card needs for the link's current status."""
    if link.status == LinkStatus.PAID and link.id is not None:
        return CardFacts(payment=(await repo.latest_payments(session, [link.id])).get(link.id))
    if link.status == LinkStatus.CANCELLED:
        entry = await repo.latest_audit(session, action=CANCEL_AUDIT_ACTION, subject=link.merchant_link_id)
        return CardFacts(cancelled_by=entry.actor_name if entry else None)
    return CardFacts()


class CancelOutcome(StrEnum):
    """What became of a request to cancel a link."""

    CANCELLED = "cancelled"  # this request cancelled it
    ALREADY_CANCELLED = "already_cancelled"
    ALREADY_PAID = "already_paid"
    ALREADY_EXPIRED = "already_expired"
    NOT_CREATED = "not_created"  # PayerMax refused to make it: nothing to cancel
    NOT_READY = "not_ready"  # PayerMax has not confirmed it yet
    PAID_MEANWHILE = "paid_meanwhile"  # PayerMax says paid: the payment is now recorded
    REFUSED = "refused"  # PayerMax refused to expire it for another reason
    UNREACHABLE = "unreachable"  # PayerMax did not answer: nothing changed
    NOT_ALLOWED = "not_allowed"
    NOT_FOUND = "not_found"


_OUTCOME_OF_STATUS: dict[LinkStatus, CancelOutcome] = {
    LinkStatus.CREATING: CancelOutcome.NOT_READY,
    LinkStatus.PAID: CancelOutcome.ALREADY_PAID,
    LinkStatus.EXPIRED: CancelOutcome.ALREADY_EXPIRED,
    LinkStatus.CANCELLED: CancelOutcome.ALREADY_CANCELLED,
    LinkStatus.FAILED: CancelOutcome.NOT_CREATED,
}


@dataclass(frozen=True)
class CancelResult:
    """The outcome of a cancel, the link as it is now, and what the person needs to hear about it."""

    outcome: CancelOutcome
    link: Link | None
    refusal: Refusal | None = None
    cancelled_by: str | None = None  # who cancelled it, for ALREADY_CANCELLED
    error: str | None = None  # PayerMax's code and message, for REFUSED and UNREACHABLE


class LinkManager:
    """Cancels, refreshes, lists and finds links, within what each person may see."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: PayerMaxClient,
        reconciler: Reconciler,
        access: AccessService,
        *,
        on_enqueued: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._reconciler = reconciler
        self._access = access
        self._on_enqueued = on_enqueued

    # --- who sees what ---------------------------------------------------------------------

    async def scope_for(self, user_id: int) -> LinkScope | None:
        """The links this person may see, or None if they may see none."""
        allowed = await self._allowed(user_id)
        if Action.VIEW_ALL_LINKS in allowed:
            return LinkScope(user_id, all_links=True)
        if Action.MANAGE_OWN_LINKS in allowed:
            return LinkScope(user_id, all_links=False)
        return None

    async def view_refusal(self, link: Link, user_id: int) -> Refusal | None:
        """None if this person may see this link, else why not."""
        scope = await self.scope_for(user_id)
        if scope is not None and scope.covers(link):
            return None
        return refusal_of(Action.VIEW_ALL_LINKS)

    async def resend_refusal(self, link: Link, user_id: int) -> Refusal | None:
        """None if this person may send this link (Share, QR) again, else why not."""
        refusal = await self._access.check(user_id, Action.RESEND_LINK)
        return refusal or await self.view_refusal(link, user_id)

    async def cancel_refusal(self, link: Link, user_id: int) -> Refusal | None:
        """None if this person may cancel this link: anyone's for owners and admins, their own for agents."""
        allowed = await self._allowed(user_id)
        if Action.CANCEL_ANY_LINK in allowed:
            return None
        if link.creator_user_id == user_id and Action.MANAGE_OWN_LINKS in allowed:
            return None
        return refusal_of(Action.CANCEL_ANY_LINK)

    async def _allowed(self, user_id: int) -> frozenset[Action]:
        """What this person's role lets them do (nothing without a role)."""
        role = await self._access.role_of(user_id)
        return PERMISSIONS[role] if role is not None else frozenset()

    # --- one link --------------------------------------------------------------------------

    async def get(self, link_id: int) -> Link | None:
        """A link by our row id."""
        async with self._sessions() as session:
            return await repo.get_link(session, link_id)

    async def lookup(self, reference: str) -> Link | None:
        """The link a support person names: our link id, PayerMax's link id, or a payment's outTradeNo."""
        reference = reference.strip()
        if not reference:
            return None
        async with self._sessions() as session:
            return await repo.link_by_reference(session, reference)

    async def card_facts(self, link: Link) -> CardFacts:
        """What the link's card shows beyond the link itself."""
        async with self._sessions() as session:
            return await load_card_facts(session, link)

    async def cancel_obstacle(self, link: Link, user_id: int) -> CancelResult | None:
        """Why this person cannot cancel this link right now (not allowed, already final), or None."""
        refusal = await self.cancel_refusal(link, user_id)
        if refusal is not None:
            return CancelResult(CancelOutcome.NOT_ALLOWED, link, refusal=refusal)
        if link.status != LinkStatus.ACTIVE:
            return await self._result_for_status(link)
        return None

    async def cancel(self, link_id: int, actor: Actor) -> CancelResult:
        """Expire the link at PayerMax, then record it CANCELLED once; refuse with the reason when it cannot be."""
        link = await self.get(link_id)
        if link is None:
            return CancelResult(CancelOutcome.NOT_FOUND, None)
        obstacle = await self.cancel_obstacle(link, actor.user_id)
        if obstacle is not None:
            return obstacle
        try:
            await self._client.expire_paybylink(link.merchant_link_id)
        except ApiError as exc:
            return await self._after_refused_expire(link, exc)
        except PayerMaxError as exc:
            log.warning("cancel: PayerMax did not answer about %s: %s", link.merchant_link_id, exc)
            return CancelResult(CancelOutcome.UNREACHABLE, link, error=str(exc))
        return await self._mark_cancelled(link, actor)

    async def refresh(self, link_id: int, actor: Actor) -> Link | None:
        """Ask PayerMax about the link now and apply what it says; return the link as it is afterwards."""
        link = await self.get(link_id)
        if link is None:
            return None
        await self._reconciler.check(link)
        async with self._sessions() as session, session.begin():
            await repo.add_link_event(session, link_id, "refreshed", f"by {actor.name}", actor_user_id=actor.user_id)
            return await repo.get_link(session, link_id)

    async def timeline(self, link_id: int) -> Timeline | None:
        """The link with its chat, its events and its payments, oldest first."""
        async with self._sessions() as session:
            link = await repo.get_link(session, link_id)
            if link is None:
                return None
            chat = await repo.get_chat(session, link.chat_id)
            events = list(await repo.link_events(session, link_id))
            payments = list(await repo.payments_of(session, link_id))
        return Timeline(link, chat, events, payments)

    # --- many links ------------------------------------------------------------------------

    async def list_links(self, scope: LinkScope, status: StatusFilter, page: int, page_size: int) -> LinkPage:
        """One page of the links in scope with this status, newest first."""
        page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        statuses = status.statuses
        where = {"chat_id": scope.chat_id, "creator_user_id": scope.creator_user_id}
        async with self._sessions() as session:
            total = await repo.count_links(session, statuses=statuses, **where)
            pages = max(1, -(-total // page_size))  # ceiling division; an empty list is one empty page
            page = min(max(0, page), pages - 1)
            links = list(await repo.list_links(session, statuses=statuses, offset=page * page_size, limit=page_size, **where))
        return LinkPage(links, page, pages, total)

    async def paid_totals_today(self, scope: LinkScope) -> dict[str, Decimal]:
        """What links in scope took since midnight UTC, per currency (in currency code order)."""
        midnight = datetime.combine(utcnow().date(), time.min, tzinfo=timezone.utc)
        async with self._sessions() as session:
            payments = await repo.payments_completed_since(
                session, midnight, chat_id=scope.chat_id, creator_user_id=scope.creator_user_id
            )
        totals: dict[str, Decimal] = {}
        for payment in payments:
            totals[payment.currency] = totals.get(payment.currency, Decimal(0)) + payment.amount
        return dict(sorted(totals.items()))

    async def find(self, text: str, scope: LinkScope) -> list[FoundLink]:
        """Links in scope that this text names (link id, PayerMax link id, outTradeNo) or describes (every word), newest first."""
        reference = text.strip()
        words = [word for word in reference.split() if word]
        if not words:
            return []
        async with self._sessions() as session:
            links = list(
                await repo.find_links(
                    session, reference=reference, words=words, chat_id=scope.chat_id,
                    creator_user_id=scope.creator_user_id, limit=MAX_FOUND,
                )
            )
            payments = await repo.latest_payments(session, [link.id for link in links if link.id is not None])
            orders = {payment.link_id for payment in await repo.payments_of_trade(session, reference)} if links else set()
        return [FoundLink(link, payments.get(link.id), _matched(link, reference, orders)) for link in links]

    # --- cancelling, inside --------------------------------------------------------------

    async def _after_refused_expire(self, link: Link, exc: ApiError) -> CancelResult:
        """PayerMax would not expire the link: find out why (usually it was just paid) and record that."""
        log.info("cancel: PayerMax refused to expire %s: %s %s", link.merchant_link_id, exc.code, exc.msg)
        await self._reconciler.check(link)
        current = await self.get(link.id) if link.id is not None else None
        if current is None:
            return CancelResult(CancelOutcome.NOT_FOUND, None)
        if current.status == LinkStatus.PAID:
            return CancelResult(CancelOutcome.PAID_MEANWHILE, current)
        if current.status != LinkStatus.ACTIVE:
            return await self._result_for_status(current)
        return CancelResult(CancelOutcome.REFUSED, current, error=f"{exc.code} {exc.msg}".strip())

    async def _mark_cancelled(self, link: Link, actor: Actor) -> CancelResult:
        """Move the link forward to CANCELLED, with its timeline entry, audit entry and card edit, once."""
        async with self._sessions() as session, session.begin():
            current = await repo.get_link(session, link.id, for_update=True)
            assert current is not None
            if current.status != LinkStatus.ACTIVE:
                # Another press (or a payment) got there first while PayerMax answered us.
                changed = False
            else:
                changed = True
                current.status = LinkStatus.CANCELLED
                current.updated_at = utcnow()
                current.next_check_at = None
                await repo.add_link_event(session, current.id, "cancelled", f"by {actor.name}", actor_user_id=actor.user_id)
                await repo.audit(
                    session, actor_user_id=actor.user_id, actor_name=actor.name, chat_id=actor.chat_id,
                    action=CANCEL_AUDIT_ACTION, subject=current.merchant_link_id,
                    detail=f"{current.amount} {current.currency} {current.description}",
                )
                await repo.enqueue(
                    session, dedupe_key=f"card-cancelled:{current.id}", kind=OutboxKind.CARD_UPDATE, chat_id=current.chat_id,
                    link_id=current.id, payload={},
                )
        if not changed:
            return await self._result_for_status(current)
        self._on_enqueued()
        log.info("link cancelled", extra={"link": current.merchant_link_id, "chat": current.chat_id, "user": actor.user_id})
        return CancelResult(CancelOutcome.CANCELLED, current, cancelled_by=actor.name)

    async def _result_for_status(self, link: Link) -> CancelResult:
        """Why a link in this state cannot be cancelled."""
        outcome = _OUTCOME_OF_STATUS.get(LinkStatus(link.status), CancelOutcome.REFUSED)
        cancelled_by = (await self.card_facts(link)).cancelled_by if outcome == CancelOutcome.ALREADY_CANCELLED else None
        return CancelResult(outcome, link, cancelled_by=cancelled_by)


def _matched(link: Link, reference: str, order_link_ids: set[int]) -> str:
    """Say which of the link's identifiers (or its description) the search text matched."""
    if link.merchant_link_id.upper() == reference.upper():
        return "link id"
    if link.payermax_link_id == reference:
        return "PayerMax link id"
    if link.id in order_link_ids:
        return "order"
    return "description"
