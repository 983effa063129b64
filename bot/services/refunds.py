"""Refunds: asked for, confirmed, committed before PayerMax is called, settled once however PayerMax tells us.

A refund starts PROPOSED: the person sees what will happen and nothing is sent. Confirming moves it
to REQUESTING in one transaction that locks the payment row and checks that the paid amount, less
every refund that went or may go through, still covers it and that no other refund of the payment
is with PayerMax (PayerMax takes one at a time). That commit happens before PayerMax is called with
the refund's own ``outRefundNo``, so two people confirming at once can never refund more than was
paid, and a double press confirms once.

An answer that never came (timeout, 5xx, busy, a bad signature) is settled by ``refundQuery`` with
the same ``outRefundNo``, never by a second application under a new one; the reconciler asks again
about refunds whose outcome is late. However PayerMax reports the result (the refund answer itself,
``refundQuery``, a REFUND notification, repeated or not), :meth:`RefundService._settle` records it
once, with its messages (:func:`outcome_messages`) in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.money import Money, currency_decimals
from bot.payermax.client import PayerMaxClient
from bot.payermax.errors import ApiError, PayerMaxError, RefundRefusal, TransportError, classify_refund_refusal
from bot.payermax.models import (
    MAX_COMMENTS_CHARS,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUND_SUCCESS,
    Notification,
    RefundInfo,
    RefundRequest,
)
from bot.services.access import Refusal
from bot.services.actors import Actor
from bot.services.feed import FeedEvent, feed_entry
from bot.services.link_access import LinkAccess
from bot.services.payments import Outcome
from bot.services.refund_summary import RefundSummary, summarize
from storage import repo
from storage.bulk import OutboxEntry
from storage.db import read_session
from storage.details import DetailKind, RefundSource, detail
from storage.models import (
    AuditAction,
    Link,
    LinkEventKind,
    OutboxKind,
    Payment,
    Refund,
    RefundStatus,
    utcnow,
)

log = logging.getLogger("paylink.refunds")

OUT_REFUND_PREFIX = "RF"
# PayerMax refunds an order for 180 days after its payment (contract §11.1).
REFUND_WINDOW = timedelta(days=180)
# A confirmation left this long is stale: what is refundable may have changed since it was shown.
CONFIRM_WITHIN = timedelta(minutes=30)
# A REQUESTING refund older than this has no live handler settling it: the reconciler takes over.
REQUESTING_GRACE = timedelta(minutes=2)
# A refund not reported settled this long after PayerMax accepted it is asked about (refundQuery).
PENDING_TOO_LONG = timedelta(minutes=10)
MAX_RECHECK = timedelta(hours=6)
# A refund PayerMax never received is not sent later than this after it was confirmed: the moment has passed.
GIVE_UP_SENDING_AFTER = timedelta(hours=1)
# PayerMax's answer for an outRefundNo it does not know (refundQuery); undocumented, the sandbox's choice.
NO_SUCH_REFUND = frozenset({"ORDER_NOT_EXIST"})
# Codes that mean "this outRefundNo is already taken": ask what PayerMax has under it.
_ALREADY_APPLIED = frozenset({"ORDER_REPEAT"})
# Our own failure code for a confirmed refund that never reached PayerMax in time (never PayerMax's).
NOT_SENT = "NOT_SENT"

_STATUS_OF = {
    REFUND_PENDING: RefundStatus.PENDING,
    REFUND_SUCCESS: RefundStatus.SUCCESS,
    REFUND_FAILED: RefundStatus.FAILED,
}


def new_out_refund_no() -> str:
    """A fresh outRefundNo: "RF" and 14 characters (70 random bits), easy to read out to support."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return OUT_REFUND_PREFIX + "".join(secrets.choice(alphabet) for _ in range(14))


def looks_like_ours(out_refund_no: str) -> bool:
    """Tell whether an outRefundNo has the shape this bot gives its refunds."""
    return out_refund_no.startswith(OUT_REFUND_PREFIX) and len(out_refund_no) == len(OUT_REFUND_PREFIX) + 14


class RefundProblem(StrEnum):
    """Why a refund cannot be proposed or confirmed (the chat words each)."""

    NOT_FOUND = "not_found"  # no link or order by that reference, or no such confirmation
    NOT_ALLOWED = "not_allowed"  # .refusal: no refund permission, or the link is not in the person's view
    NOT_PAID = "not_paid"  # the link has no payment to refund
    TOO_OLD = "too_old"  # paid more than 180 days ago (.paid_at)
    NOTHING_LEFT = "nothing_left"  # everything paid was refunded, or is being
    EXCEEDS = "exceeds"  # more than .remaining
    IN_PROGRESS = "in_progress"  # another refund of the payment is with PayerMax (.refund)
    WRONG_CURRENCY = "wrong_currency"  # an amount in another currency than the payment's (.currency)
    TOO_PRECISE = "too_precise"  # more decimals than the currency has (.currency)
    NOT_POSITIVE = "not_positive"
    REASON_TOO_LONG = "reason_too_long"  # more than MAX_COMMENTS_CHARS
    EXPIRED = "expired"  # the confirmation is older than CONFIRM_WITHIN
    NOT_YOURS = "not_yours"  # someone else's confirmation (.refund)


class RefundError(Exception):
    """A refund that cannot be made: the problem and the facts a sentence about it needs."""

    def __init__(
        self,
        problem: RefundProblem,
        *,
        refusal: Refusal | None = None,
        remaining: Money | None = None,
        currency: str | None = None,
        paid_at: datetime | None = None,
        refund: Refund | None = None,
    ) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.refusal = refusal
        self.remaining = remaining
        self.currency = currency
        self.paid_at = paid_at
        self.refund = refund


@dataclass(frozen=True)
class Proposal:
    """A refund shown for confirmation: the PROPOSED row, what it refunds, and what stays refundable after it."""

    refund: Refund
    link: Link
    payment: Payment
    remaining_after: Decimal


class RefundOutcome(StrEnum):
    """What became of a confirmed refund by the time the person is answered."""

    ACCEPTED = "accepted"  # PayerMax took it on (REFUND_PENDING): the chat hears the result later
    SUCCEEDED = "succeeded"  # PayerMax settled it at once
    FAILED = "failed"  # PayerMax could not complete it
    REFUSED = "refused"  # PayerMax refused the application (.refusal, .code, .msg)
    UNCONFIRMED = "unconfirmed"  # PayerMax did not answer; it stays REQUESTING and is settled later
    ALREADY = "already"  # not a proposal any more (a second press): .refund as it is now
    DISCARDED = "discarded"  # the person said no


@dataclass(frozen=True)
class RefundResult:
    """A confirmed (or discarded) refund as it is now, and what to tell the person."""

    outcome: RefundOutcome
    refund: Refund
    link: Link
    remaining: Decimal  # still refundable after this refund (if it goes through)
    refusal: RefundRefusal | None = None
    code: str = ""
    msg: str = ""


def outcome_messages(
    link: Link, refund: Refund, *, remaining: Decimal, feed_chat_id: int | None = None
) -> list[OutboxEntry]:
    """The messages a settled refund queues: its outcome in the link's chat (and where it was asked), the card edit.

    The one place a refund's outcome reaches chats, written in the transaction that settles it;
    a refund that settled (refunded or failed) is also posted in the payments feed, if one is named.
    """
    assert link.id is not None and refund.id is not None
    status = RefundStatus(refund.status).value
    payload = {"refund_id": refund.id, "remaining": format(remaining, "f")}
    messages: list[OutboxEntry] = [
        {
            "dedupe_key": f"refund:{refund.id}:{status}",
            "kind": OutboxKind.REFUND,
            "chat_id": link.chat_id,
            "link_id": link.id,
            "payload": payload,
        },
        _card_edit(link, refund),
    ]
    if refund.chat_id != link.chat_id:
        messages.append(
            {
                "dedupe_key": f"refund-asked:{refund.id}:{status}",
                "kind": OutboxKind.REFUND,
                "chat_id": refund.chat_id,
                "link_id": link.id,
                "payload": payload,
            }
        )
    settled = {RefundStatus.SUCCESS: FeedEvent.REFUNDED, RefundStatus.FAILED: FeedEvent.REFUND_FAILED}
    if (event := settled.get(RefundStatus(refund.status))) is not None:
        feed = feed_entry(
            feed_chat_id,
            link_id=link.id,
            link_chat_id=link.chat_id,
            event=event,
            reference=refund.out_refund_no,
            details={"amount": format(refund.amount, "f"), "currency": refund.currency},
        )
        if feed is not None:
            messages.append(feed)
    return messages


def _card_edit(link: Link, refund: Refund) -> OutboxEntry:
    """The card edit that shows a refund's new state."""
    assert link.id is not None
    return {
        "dedupe_key": f"card-refund:{refund.id}:{RefundStatus(refund.status).value}",
        "kind": OutboxKind.CARD_UPDATE,
        "chat_id": link.chat_id,
        "link_id": link.id,
        "payload": {},
    }


def next_refund_check(refund: Refund, now: datetime) -> datetime | None:
    """When the reconciler should next ask about an unsettled refund: soon at first, then less and less often."""
    if not RefundStatus(refund.status).open:
        return None
    started = refund.confirmed_at or refund.created_at
    return now + min(MAX_RECHECK, max(PENDING_TOO_LONG, (now - started) / 4))


class RefundService:
    """Proposes, confirms, sends and settles refunds, for the people allowed to."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: PayerMaxClient,
        access: LinkAccess,
        *,
        notify_url: str,
        owner_chat_ids: Sequence[int] = (),
        retry_delays: Sequence[float] = (0.5, 1.5, 3.0),
        on_enqueued: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._access = access
        self._notify_url = notify_url
        self._owner_chat_ids = tuple(owner_chat_ids)
        self._retry_delays = tuple(retry_delays)
        self._on_enqueued = on_enqueued
        self._clock = clock

    # --- asking and confirming -------------------------------------------------------------

    async def propose(
        self,
        actor: Actor,
        *,
        reference: str | None = None,
        link_id: int | None = None,
        amount: Money | None = None,
        reason: str | None = None,
        request_key: str | None = None,
    ) -> Proposal:
        """Check a refund can be made and keep it for confirmation (nothing is sent); ``amount`` None: all that is left.

        The link is named by ``link_id`` (a card's button) or ``reference`` (our link id, PayerMax's
        link id, or the order's outTradeNo, which also picks that payment). A repeated request key
        returns the first proposal.
        """
        link, payment = await self._target(reference, link_id)
        refusal = await self._access.refund_refusal(link, actor.user_id)
        if refusal is not None:
            raise RefundError(RefundProblem.NOT_ALLOWED, refusal=refusal)
        if payment is None:
            raise RefundError(RefundProblem.NOT_PAID)
        if request_key:
            existing = await self._proposal_of(request_key)
            if existing is not None:
                return existing
        reason = (reason or "").strip() or None
        if reason is not None and len(reason) > MAX_COMMENTS_CHARS:
            raise RefundError(RefundProblem.REASON_TOO_LONG)
        if amount is not None:
            _check_amount(amount, payment.currency)
        paid_at = payment.completed_at or payment.created_at
        if self._clock() - paid_at > REFUND_WINDOW:
            raise RefundError(RefundProblem.TOO_OLD, paid_at=paid_at)
        async with read_session(self._sessions) as session:
            refunds = list(await repo.refunds_of_payment(session, _id(payment)))
        value = _checked_value(payment, refunds, amount.amount if amount else None)
        refund = Refund(
            out_refund_no=new_out_refund_no(),
            request_key=request_key,
            link_id=_id(link),
            payment_id=_id(payment),
            out_trade_no=payment.out_trade_no,
            amount=value,
            currency=payment.currency,
            comments=reason,
            status=RefundStatus.PROPOSED,
            requested_by=actor.user_id,
            requested_by_name=actor.name[:128],
            chat_id=actor.chat_id if actor.chat_id is not None else actor.user_id,
            created_at=self._clock(),
            updated_at=self._clock(),
        )
        try:
            async with self._sessions() as session, session.begin():
                session.add(refund)
        except IntegrityError:
            # The same request raced us between the look-up and the insert: theirs wins.
            existing = await self._proposal_of(request_key) if request_key else None
            if existing is None:
                raise
            return existing
        remaining = summarize(payment.amount, payment.currency, refunds).remaining - value
        return Proposal(refund, link, payment, remaining)

    async def confirmable(self, refund_id: int, actor: Actor) -> tuple[Refund, Link]:
        """The proposal this person may confirm, as it is now; RefundError if it is not theirs to confirm."""
        async with read_session(self._sessions) as session:
            refund = await repo.get_refund(session, refund_id)
            link = await repo.get_link(session, refund.link_id) if refund else None
        if refund is None or link is None:
            raise RefundError(RefundProblem.NOT_FOUND)
        if refund.requested_by != actor.user_id:
            raise RefundError(RefundProblem.NOT_YOURS, refund=refund)
        refusal = await self._access.refund_refusal(link, actor.user_id)
        if refusal is not None:
            raise RefundError(RefundProblem.NOT_ALLOWED, refusal=refusal)
        return refund, link

    async def confirm(self, refund_id: int, actor: Actor) -> RefundResult:
        """Commit the refund (checked again under the payment's lock), then have PayerMax make it.

        Only the person who asked may confirm, and only while they still may refund this link; a
        second press finds it confirmed already and changes nothing.
        """
        proposed, link = await self.confirmable(refund_id, actor)
        if proposed.status != RefundStatus.PROPOSED:
            return await self._as_now(RefundOutcome.ALREADY, proposed, link)
        refund, remaining, confirmed_now = await self._commit(proposed, link, actor)
        if not confirmed_now:
            return RefundResult(RefundOutcome.ALREADY, refund, link, remaining)  # another press got there first
        self._on_enqueued()
        log.info(
            "refund confirmed",
            extra={"link": link.merchant_link_id, "chat": link.chat_id, "user": actor.user_id, "status": "REQUESTING"},
        )
        return await self._send(refund, link)

    async def discard(self, refund_id: int, actor: Actor) -> RefundResult:
        """The person said no: the proposal is dropped (a confirmed refund is not touched)."""
        async with self._sessions() as session, session.begin():
            refund = await repo.get_refund(session, refund_id, for_update=True)
            link = await repo.get_link(session, refund.link_id) if refund else None
            if refund is None or link is None:
                raise RefundError(RefundProblem.NOT_FOUND)
            if refund.requested_by != actor.user_id:
                raise RefundError(RefundProblem.NOT_YOURS, refund=refund)
            if refund.status != RefundStatus.PROPOSED:
                outcome = RefundOutcome.ALREADY
            else:
                outcome = RefundOutcome.DISCARDED
                refund.status, refund.updated_at = RefundStatus.DISCARDED, self._clock()
        return await self._as_now(outcome, refund, link)

    async def _commit(self, proposed: Refund, link: Link, actor: Actor) -> tuple[Refund, Decimal, bool]:
        """PROPOSED -> REQUESTING under the payment's lock, with the checks that keep refunds within what was paid.

        Returns the refund, what stays refundable after it, and whether this call confirmed it.
        """
        now = self._clock()
        async with self._sessions() as session, session.begin():
            # The payment row is the lock every confirmation of its refunds queues on (PostgreSQL);
            # on SQLite, BEGIN IMMEDIATE already runs one writer at a time.
            payment = await repo.get_payment_by_id(session, proposed.payment_id, for_update=True)
            refund = await repo.get_refund(session, _id(proposed), for_update=True)
            assert payment is not None and refund is not None
            others = [r for r in await repo.refunds_of_payment(session, _id(payment)) if r.id != refund.id]
            remaining = summarize(payment.amount, payment.currency, others).remaining
            if refund.status != RefundStatus.PROPOSED:
                return refund, remaining - refund.amount, False
            if now - refund.created_at > CONFIRM_WITHIN:
                refund.status, refund.updated_at = RefundStatus.DISCARDED, now
                expired = RefundError(RefundProblem.EXPIRED, refund=refund)
            else:
                expired = None
            if expired is None:
                _check_can_add(payment, others, refund.amount)
                refund.status = RefundStatus.REQUESTING
                refund.confirmed_at = refund.updated_at = now
                refund.next_check_at = now + REQUESTING_GRACE
                confirmed = detail(
                    DetailKind.REFUND,
                    amount=refund.amount,
                    currency=refund.currency,
                    trade=refund.out_trade_no,
                    refund=refund.out_refund_no,
                    reason=refund.comments,
                    by=actor.name,
                )
                await repo.record_link_action(
                    session,
                    link,
                    actor_user_id=actor.user_id,
                    actor_name=actor.name,
                    chat_id=actor.chat_id,
                    kind=LinkEventKind.REFUND_REQUESTED,
                    action=AuditAction.REFUND,
                    timeline_detail=confirmed,
                    audit_detail=confirmed,
                )
                await repo.enqueue(session, **_card_edit(link, refund))
        if expired is not None:
            raise expired
        return refund, remaining - refund.amount, True

    # --- talking to PayerMax ---------------------------------------------------------------

    async def _send(self, refund: Refund, link: Link, *, tell_chat: bool = False) -> RefundResult:
        """Apply for the refund with its outRefundNo; an unclear outcome is settled by refundQuery, not by guessing.

        ``tell_chat``: nobody waits on the answer (the reconciler sends it), so a refusal is told to the chat.
        """
        request = self._request_for(refund)
        maybe_applied = False  # did any attempt possibly reach PayerMax and apply?
        for attempt, delay in enumerate((0.0, *self._retry_delays)):
            if delay:
                await asyncio.sleep(delay)
            try:
                return await self._record_answer(refund, await self._client.refund(request))
            except ApiError as exc:
                if not (exc.retryable or exc.code in _ALREADY_APPLIED or maybe_applied):
                    return await self._refused(refund, exc.code, exc.msg, tell_chat=tell_chat)
                # Busy, our number taken, or an earlier try may have landed: PayerMax's view decides.
                maybe_applied, retry = True, exc.retryable
                refusal: ApiError | None = None if exc.retryable else exc
            except TransportError as exc:
                log.warning("refund attempt %d for %s failed: %s", attempt + 1, refund.out_refund_no, exc)
                if not exc.outcome_unknown:
                    continue  # PayerMax never saw it: try again with the same outRefundNo
                maybe_applied, retry, refusal = True, True, None
            except PayerMaxError as exc:  # a bad signature or a malformed answer: do not trust it, ask
                log.warning("refund answer for %s not usable: %s", refund.out_refund_no, exc)
                maybe_applied, retry, refusal = True, True, None
            found = await self._look_up(refund)
            if isinstance(found, RefundInfo):
                return await self._record_answer(refund, found)
            if found is _UNANSWERED:
                break  # nobody can say: leave it REQUESTING for the reconciler
            if refusal is not None:  # PayerMax has nothing under our number, and said why
                return await self._refused(refund, refusal.code, refusal.msg, tell_chat=tell_chat)
            if not retry:
                break
            # PayerMax does not have it: apply again, with the same outRefundNo.
        log.warning("refund %s not confirmed by PayerMax yet: the reconciler will ask", refund.out_refund_no)
        return await self._as_now(RefundOutcome.UNCONFIRMED, refund, link)

    async def _look_up(self, refund: Refund) -> RefundInfo | object:
        """PayerMax's view of our refund: its details, _NOT_THERE when PayerMax has no such refund, or _UNANSWERED."""
        try:
            return await self._client.refund_query(refund.out_refund_no)
        except ApiError as exc:
            if exc.code in NO_SUCH_REFUND:
                return _NOT_THERE
            log.warning("refundQuery %s refused: %s", refund.out_refund_no, exc.code)
        except PayerMaxError as exc:
            log.warning("refundQuery %s did not answer: %s", refund.out_refund_no, exc)
        return _UNANSWERED

    def _request_for(self, refund: Refund) -> RefundRequest:
        return RefundRequest(
            out_refund_no=refund.out_refund_no,
            out_trade_no=refund.out_trade_no,
            refund_amount=refund.amount,
            refund_currency=refund.currency,
            comments=refund.comments,
            refund_notify_url=self._notify_url,
        )

    async def _record_answer(self, refund: Refund, info: RefundInfo) -> RefundResult:
        """Store what PayerMax says of the refund (accepted, or already settled); settle it if final."""
        async with self._sessions() as session, session.begin():
            current = await repo.get_refund(session, _id(refund), for_update=True)
            assert current is not None
            link = await repo.get_link(session, current.link_id)
            assert link is not None
            if not _same_refund(current, info):
                # PayerMax's answer under our number describes another refund: never settle on it.
                log.error(
                    "PayerMax describes refund %s as %s %s of %s; we asked for %s %s of %s",
                    current.out_refund_no,
                    info.refund_amount,
                    info.refund_currency,
                    info.out_trade_no,
                    current.amount,
                    current.currency,
                    current.out_trade_no,
                )
                await self._alert_mismatch(session, link, current, info)
                return RefundResult(RefundOutcome.UNCONFIRMED, current, link, await self._remaining(session, current))
            status = _STATUS_OF[info.status]
            await self._accepted(session, link, current, info)
            if status != RefundStatus.PENDING:
                await self._settle(session, link, current, status, info.finish_time, RefundSource.ANSWER)
            remaining = await self._remaining(session, current)
        self._on_enqueued()
        outcome = {
            RefundStatus.SUCCESS: RefundOutcome.SUCCEEDED,
            RefundStatus.FAILED: RefundOutcome.FAILED,
        }.get(RefundStatus(current.status), RefundOutcome.ACCEPTED)
        return RefundResult(outcome, current, link, remaining)

    async def _accepted(self, session: AsyncSession, link: Link, refund: Refund, info: RefundInfo) -> None:
        """REQUESTING -> PENDING: PayerMax has it, under its refundTradeNo."""
        refund.refund_trade_no = refund.refund_trade_no or info.refund_trade_no
        if refund.status != RefundStatus.REQUESTING:
            return
        now = self._clock()
        refund.status, refund.updated_at = RefundStatus.PENDING, now
        refund.next_check_at = now + PENDING_TOO_LONG
        await repo.add_link_event(
            session,
            _id(link),
            LinkEventKind.REFUND_ACCEPTED,
            detail(
                DetailKind.REFUND_ACCEPTED,
                amount=refund.amount,
                currency=refund.currency,
                refund=refund.out_refund_no,
                payermax_refund=info.refund_trade_no,
            ),
        )
        await repo.enqueue(session, **_card_edit(link, refund))

    async def _refused(self, refund: Refund, code: str, msg: str, *, tell_chat: bool = False) -> RefundResult:
        """PayerMax refused the application: nothing was refunded; the refund no longer counts."""
        async with self._sessions() as session, session.begin():
            current = await repo.get_refund(session, _id(refund), for_update=True)
            assert current is not None
            link = await repo.get_link(session, current.link_id)
            assert link is not None
            if current.status == RefundStatus.REQUESTING:
                now = self._clock()
                current.status, current.updated_at, current.next_check_at = RefundStatus.REFUSED, now, None
                current.failure_code, current.failure_message = code[:64], msg[:512]
                await repo.add_link_event(
                    session,
                    _id(link),
                    # Never sent is not a refusal: PayerMax did not hear of it.
                    LinkEventKind.REFUND_FAILED if code == NOT_SENT else LinkEventKind.REFUND_REFUSED,
                    detail(
                        DetailKind.REFUND_REFUSED,
                        amount=current.amount,
                        currency=current.currency,
                        refund=current.out_refund_no,
                        code=code[:64],
                        message=msg[:400],
                    ),
                )
                await session.flush()
                remaining = await self._remaining(session, current)
                if tell_chat:
                    # Nobody is waiting on an answer any more (the confirming handler is gone): tell the chat.
                    for message in outcome_messages(link, current, remaining=remaining):
                        await repo.enqueue(session, **message)
                else:
                    await repo.enqueue(session, **_card_edit(link, current))
            else:
                remaining = await self._remaining(session, current)
        self._on_enqueued()
        log.warning("refund refused", extra={"link": link.merchant_link_id, "chat": link.chat_id, "status": code[:32]})
        return RefundResult(
            RefundOutcome.REFUSED, current, link, remaining, refusal=classify_refund_refusal(code), code=code, msg=msg
        )

    async def _settle(
        self,
        session: AsyncSession,
        link: Link,
        refund: Refund,
        status: RefundStatus,
        finished_at: datetime | None,
        told_by: RefundSource,
    ) -> bool:
        """Record a final status once, with its timeline entry and its messages; False if it was settled already."""
        if not (RefundStatus(refund.status).open or refund.status == RefundStatus.REFUSED):
            return False
        if refund.status == RefundStatus.REFUSED:
            # A signed report that money moved is a fact, even after PayerMax refused the application to us.
            log.warning("refund %s settled as %s after it was refused", refund.out_refund_no, status)
        now = self._clock()
        refund.status, refund.updated_at, refund.next_check_at = status, now, None
        refund.finished_at = finished_at.astimezone(UTC) if finished_at else now
        kind = LinkEventKind.REFUNDED if status == RefundStatus.SUCCESS else LinkEventKind.REFUND_FAILED
        await repo.add_link_event(
            session,
            _id(link),
            kind,
            detail(
                DetailKind.REFUND_RESULT,
                amount=refund.amount,
                currency=refund.currency,
                refund=refund.out_refund_no,
                status=RefundStatus(status).value,
                source=told_by.value,
            ),
        )
        await session.flush()
        remaining = await self._remaining(session, refund)
        feed_chat_id = await repo.feed_chat_id(session)
        for message in outcome_messages(link, refund, remaining=remaining, feed_chat_id=feed_chat_id):
            await repo.enqueue(session, **message)
        log.info(
            "refund settled",
            extra={"link": link.merchant_link_id, "chat": link.chat_id, "status": RefundStatus(status).value},
        )
        return True

    async def _remaining(self, session: AsyncSession, refund: Refund) -> Decimal:
        """What the refund's payment still has to refund, as the database says now."""
        payment = await repo.get_payment_by_id(session, refund.payment_id)
        assert payment is not None
        refunds = await repo.refunds_of_payment(session, refund.payment_id)
        return summarize(payment.amount, payment.currency, refunds).remaining

    async def _alert_mismatch(self, session: AsyncSession, link: Link, refund: Refund, info: RefundInfo) -> None:
        """Keep the evidence of a refund report that does not match our refund, and tell the owners."""
        # The operators' note (notification_events, read in the database, never by sellers) stays a sentence.
        await repo.record_event(
            session,
            notify_type="REFUND",
            reference=refund.out_refund_no,
            outcome="mismatch",
            detail=(
                f"refund {refund.out_refund_no}: expected {refund.amount} {refund.currency} "
                f"of order {refund.out_trade_no}, "
                f"reported {info.refund_amount} {info.refund_currency} of order {info.out_trade_no} ({info.status})"
            ),
            link_id=link.id,
        )
        await repo.add_link_event(
            session,
            _id(link),
            LinkEventKind.REFUND_MISMATCH,
            detail(
                DetailKind.REFUND_MISMATCH,
                refund=refund.out_refund_no,
                status=info.status[:64],
                expected_amount=refund.amount,
                expected_currency=refund.currency,
                expected_trade=refund.out_trade_no,
                reported_amount=info.refund_amount,
                reported_currency=info.refund_currency[:64],
                reported_trade=info.out_trade_no[:64],
            ),
        )
        await repo.alert_owners(
            session,
            self._owner_chat_ids,
            dedupe_key=f"refund-mismatch:{refund.id}:{info.refund_trade_no}:{info.status}",
            link_id=link.id,
            payload={
                "alert": "refund_mismatch",
                "refund": refund.out_refund_no,
                "expected": f"{refund.amount} {refund.currency}",
                "reported": f"{info.refund_amount} {info.refund_currency}",
                "trade": info.out_trade_no,
            },
        )

    # --- REFUND notifications ----------------------------------------------------------------

    async def apply_notification(self, notification: Notification) -> Outcome:
        """Apply a verified REFUND notification (§12 checked here): settle the refund once, with its messages."""
        info = notification.refund
        if info is None:
            raise ValueError(f"a {notification.notify_type} notification names no refund")
        async with self._sessions() as session, session.begin():
            refund = await repo.get_refund_by_out_refund_no(session, info.out_refund_no, for_update=True)
            if refund is None:
                ours = looks_like_ours(info.out_refund_no)
                log.warning("refund notification for unknown refund %s", info.out_refund_no)
                return Outcome.UNKNOWN if ours else Outcome.NOT_OURS
            link = await repo.get_link(session, refund.link_id)
            assert link is not None
            if refund.status in (RefundStatus.PROPOSED, RefundStatus.DISCARDED):
                # We never sent this outRefundNo to PayerMax: misrouted or forged.
                log.warning("refund notification for %s, which was never sent to PayerMax", refund.out_refund_no)
                return Outcome.WRONG_LINK
            if refund.refund_trade_no is not None and info.refund_trade_no != refund.refund_trade_no:
                log.warning(
                    "refund notification names PayerMax refund %s, but %s is %s",
                    info.refund_trade_no,
                    refund.out_refund_no,
                    refund.refund_trade_no,
                )
                return Outcome.WRONG_LINK
            if not _same_refund(refund, info):
                await self._alert_mismatch(session, link, refund, info)
                outcome = Outcome.MISMATCH
            elif info.status == REFUND_PENDING:
                was = refund.status
                await self._accepted(session, link, refund, info)
                outcome = Outcome.APPLIED if was != refund.status else Outcome.DUPLICATE
            elif await self._settle(
                session, link, refund, _STATUS_OF[info.status], info.finish_time, RefundSource.NOTIFICATION
            ):
                outcome = Outcome.APPLIED
            else:
                if RefundStatus(refund.status) != _STATUS_OF[info.status]:
                    log.error(
                        "refund %s is %s, a notification says %s: kept as it was",
                        refund.out_refund_no,
                        refund.status,
                        info.status,
                    )
                await repo.add_link_event(
                    session,
                    _id(link),
                    LinkEventKind.REFUND_NOTIFICATION,
                    detail(
                        DetailKind.REFUND_REPEATED,
                        refund=refund.out_refund_no,
                        status=_STATUS_OF[info.status].value,
                    ),
                )
                outcome = Outcome.DUPLICATE
        if outcome in (Outcome.APPLIED, Outcome.MISMATCH):
            self._on_enqueued()
        return outcome

    # --- the reconciler's part -----------------------------------------------------------------

    async def due(self, now: datetime, limit: int) -> list[Refund]:
        """Unsettled refunds whose next check is due."""
        async with read_session(self._sessions) as session:
            return list(await repo.refunds_due_for_check(session, now=now, limit=limit))

    async def check(self, refund: Refund) -> None:
        """Bring one unsettled refund up to date with PayerMax (refundQuery), resending one PayerMax never got."""
        try:
            found = await self._look_up(refund)
            if isinstance(found, RefundInfo):
                await self._record_answer(refund, found)
            elif found is _NOT_THERE and refund.status == RefundStatus.REQUESTING:
                await self._resend_or_give_up(refund)
            elif found is _NOT_THERE:
                log.error("PayerMax has no refund %s, which it accepted", refund.out_refund_no)
        finally:
            async with self._sessions() as session, session.begin():
                current = await repo.get_refund(session, _id(refund), for_update=True)
                if current is not None:
                    current.next_check_at = next_refund_check(current, self._clock())

    async def check_link(self, link_id: int) -> None:
        """Ask PayerMax about every unsettled refund of a link now (the card's Refresh)."""
        async with read_session(self._sessions) as session:
            refunds = [r for r in await repo.refunds_of_link(session, link_id) if RefundStatus(r.status).open]
        for refund in refunds:
            await self.check(refund)

    async def _resend_or_give_up(self, refund: Refund) -> None:
        """A confirmed refund PayerMax never received: send it now (same outRefundNo), or drop it if too late."""
        started = refund.confirmed_at or refund.created_at
        if self._clock() - started > GIVE_UP_SENDING_AFTER:
            await self._refused(
                refund, NOT_SENT, "PayerMax could not be reached in time; nothing was refunded", tell_chat=True
            )
            return
        async with read_session(self._sessions) as session:
            link = await repo.get_link(session, refund.link_id)
        assert link is not None
        # The person who confirmed it heard "not confirmed yet": a refusal now is told to the chat.
        await self._send(refund, link, tell_chat=True)

    # --- reading -------------------------------------------------------------------------------

    async def summary_of(self, link: Link) -> RefundSummary | None:
        """A paid link's refunds added up (None for a link without payments)."""
        async with read_session(self._sessions) as session:
            payments = list(await repo.payments_of(session, _id(link)))
            refunds = list(await repo.refunds_of_link(session, _id(link)))
        if not payments:
            return None
        return summarize(sum((p.amount for p in payments), start=Decimal(0)), payments[0].currency, refunds)

    async def _target(self, reference: str | None, link_id: int | None) -> tuple[Link, Payment | None]:
        """The link a refund is for and the payment it refunds (an order number picks its payment)."""
        async with read_session(self._sessions) as session:
            if link_id is not None:
                link = await repo.get_link(session, link_id)
            elif reference and reference.strip():
                link = await repo.link_by_reference(session, reference.strip())
            else:
                link = None
            if link is None:
                raise RefundError(RefundProblem.NOT_FOUND)
            payments = list(await repo.payments_of(session, _id(link)))
        by_order = [p for p in payments if reference and p.out_trade_no == reference.strip()]
        chosen = by_order or payments
        return link, chosen[-1] if chosen else None

    async def _proposal_of(self, request_key: str) -> Proposal | None:
        """The proposal a request already made, with its link and payment."""
        async with read_session(self._sessions) as session:
            refund = await repo.get_refund_by_request_key(session, request_key)
            if refund is None:
                return None
            link = await repo.get_link(session, refund.link_id)
            payment = await repo.get_payment_by_id(session, refund.payment_id)
            refunds = [r for r in await repo.refunds_of_payment(session, refund.payment_id) if r.id != refund.id]
        assert link is not None and payment is not None
        remaining = summarize(payment.amount, payment.currency, refunds).remaining - refund.amount
        return Proposal(refund, link, payment, remaining)

    async def as_now(self, refund: Refund) -> RefundResult:
        """A refund that was answered before, as it is now (for a second press)."""
        async with read_session(self._sessions) as session:
            link = await repo.get_link(session, refund.link_id)
        assert link is not None
        return await self._as_now(RefundOutcome.ALREADY, refund, link)

    async def _as_now(self, outcome: RefundOutcome, refund: Refund, link: Link) -> RefundResult:
        """A result that shows the refund as the database has it now."""
        async with read_session(self._sessions) as session:
            current = await repo.get_refund(session, _id(refund)) or refund
            remaining = await self._remaining(session, current)
        return RefundResult(
            outcome, current, link, remaining, code=current.failure_code or "", msg=current.failure_message or ""
        )


class _Marker:
    """A sentinel with a readable name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_NOT_THERE = _Marker("not there")  # refundQuery: PayerMax has no refund under this outRefundNo
_UNANSWERED = _Marker("unanswered")  # refundQuery: no usable answer


def _id(row: Link | Payment | Refund) -> int:
    assert row.id is not None  # a row read from the database
    return row.id


def _same_refund(refund: Refund, info: RefundInfo) -> bool:
    """Whether PayerMax's report is about our refund as we asked for it: order, amount and currency (§12)."""
    return (
        info.out_trade_no == refund.out_trade_no
        and info.refund_currency == refund.currency
        and info.refund_amount == refund.amount
    )


def _check_amount(amount: Money, currency: str) -> None:
    """A positive amount in the payment's currency, with no more decimals than the currency has."""
    if amount.currency != currency:
        raise RefundError(RefundProblem.WRONG_CURRENCY, currency=currency)
    if amount.amount <= 0:
        raise RefundError(RefundProblem.NOT_POSITIVE)
    if amount.amount != amount.amount.quantize(Decimal(1).scaleb(-currency_decimals(currency))):
        raise RefundError(RefundProblem.TOO_PRECISE, currency=currency)


def _checked_value(payment: Payment, refunds: Sequence[Refund], amount: Decimal | None) -> Decimal:
    """The amount to refund (all that is left when None), after the checks PayerMax makes too."""
    summary = summarize(payment.amount, payment.currency, refunds)
    _check_can_add(payment, refunds, amount if amount is not None else summary.remaining)
    return amount if amount is not None else summary.remaining


def _check_can_add(payment: Payment, refunds: Sequence[Refund], amount: Decimal) -> None:
    """Refuse a refund while another is with PayerMax, or one for more than is still refundable."""
    summary = summarize(payment.amount, payment.currency, refunds)
    open_refund = next((r for r in refunds if RefundStatus(r.status).open), None)
    if open_refund is not None:
        raise RefundError(RefundProblem.IN_PROGRESS, refund=open_refund)
    if summary.remaining <= 0:
        raise RefundError(RefundProblem.NOTHING_LEFT)
    if amount > summary.remaining:
        raise RefundError(RefundProblem.EXCEEDS, remaining=Money(summary.remaining, payment.currency))
