"""Acting on a link for people: cancel it (PayerMax's expirePaybylink) or refresh it (ask PayerMax now).

Telegram-free. Cancelling asks PayerMax first and then moves the link forward to CANCELLED under
a row lock, so two presses cancel once; the card is edited from the outbox like every other change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.payermax.client import PayerMaxClient
from bot.payermax.errors import ApiError, PayerMaxError
from bot.services.access import Refusal
from bot.services.actors import Actor
from bot.services.link_access import LinkAccess
from bot.services.link_queries import CANCEL_AUDIT_ACTION, LinkQueries
from bot.services.reconcile import Reconciler
from storage import repo
from storage.details import DetailKind, detail
from storage.models import Link, LinkEventKind, LinkStatus, OutboxKind, stored_id, utcnow

log = logging.getLogger("paylink.links.actions")


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


class LinkActions:
    """Cancels and refreshes links, for the people allowed to."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: PayerMaxClient,
        reconciler: Reconciler,
        access: LinkAccess,
        queries: LinkQueries,
        *,
        on_enqueued: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._reconciler = reconciler
        self._access = access
        self._queries = queries
        self._on_enqueued = on_enqueued

    async def cancel_obstacle(self, link: Link, user_id: int) -> CancelResult | None:
        """Why this person cannot cancel this link right now (not allowed, already final), or None."""
        refusal = await self._access.cancel_refusal(link, user_id)
        if refusal is not None:
            return CancelResult(CancelOutcome.NOT_ALLOWED, link, refusal=refusal)
        if link.status != LinkStatus.ACTIVE:
            return await self._result_for_status(link)
        return None

    async def cancel(self, link_id: int, actor: Actor) -> CancelResult:
        """Expire the link at PayerMax, then record it CANCELLED once; refuse with the reason when it cannot be."""
        link = await self._queries.get(link_id)
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
        link = await self._queries.get(link_id)
        if link is None:
            return None
        await self._reconciler.check(link)
        await self._reconciler.check_refunds_of(link)
        async with self._sessions() as session, session.begin():
            await repo.add_link_event(
                session,
                link_id,
                LinkEventKind.REFRESHED,
                detail(DetailKind.BY, name=actor.name),
                actor_user_id=actor.user_id,
            )
            return await repo.get_link(session, link_id)

    async def _after_refused_expire(self, link: Link, exc: ApiError) -> CancelResult:
        """PayerMax would not expire the link: find out why (usually it was just paid) and record that."""
        log.info("cancel: PayerMax refused to expire %s: %s %s", link.merchant_link_id, exc.code, exc.msg)
        await self._reconciler.check(link)
        current = await self._queries.get(link.id) if link.id is not None else None
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
            current = await repo.get_link(session, stored_id(link), for_update=True)
            assert current is not None
            if current.status != LinkStatus.ACTIVE:
                # Another press (or a payment) got there first while PayerMax answered us.
                changed = False
            else:
                changed = True
                current.status = LinkStatus.CANCELLED
                current.updated_at = utcnow()
                current.next_check_at = None
                await repo.record_link_action(
                    session,
                    current,
                    actor_user_id=actor.user_id,
                    actor_name=actor.name,
                    chat_id=actor.chat_id,
                    kind=LinkEventKind.CANCELLED,
                    action=CANCEL_AUDIT_ACTION,
                    timeline_detail=detail(DetailKind.BY, name=actor.name),
                    audit_detail=detail(
                        DetailKind.LINK,
                        amount=current.amount,
                        currency=current.currency,
                        description=current.description,
                    ),
                )
                await repo.enqueue(
                    session,
                    dedupe_key=f"card-cancelled:{current.id}",
                    kind=OutboxKind.CARD_UPDATE,
                    chat_id=current.chat_id,
                    link_id=current.id,
                    payload={},
                )
        if not changed:
            return await self._result_for_status(current)
        self._on_enqueued()
        log.info(
            "link cancelled", extra={"link": current.merchant_link_id, "chat": current.chat_id, "user": actor.user_id}
        )
        return CancelResult(CancelOutcome.CANCELLED, current, cancelled_by=actor.name)

    async def _result_for_status(self, link: Link) -> CancelResult:
        """Why a link in this state cannot be cancelled."""
        outcome = _OUTCOME_OF_STATUS.get(LinkStatus(link.status), CancelOutcome.REFUSED)
        cancelled_by = (
            (await self._queries.card_facts(link)).cancelled_by if outcome == CancelOutcome.ALREADY_CANCELLED else None
        )
        return CancelResult(outcome, link, cancelled_by=cancelled_by)
