"""Refunds through the real services, the sandbox over HTTP and the bot's REFUND endpoint, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.botapi.markup import visible_text
from bot.chat import texts
from bot.i18n.reader import Reader, reading_as
from bot.money import Money
from bot.payermax.errors import RefundRefusal
from bot.sandbox.keys import SandboxKeys
from bot.services.actors import Actor
from bot.services.refund_summary import RefundState
from bot.services.refunds import GIVE_UP_SENDING_AFTER, RefundError, RefundOutcome, RefundProblem
from bot.services.team import TeamError, TeamProblem
from storage import repo
from storage.models import (
    AuditAction,
    AuditEvent,
    Link,
    LinkEvent,
    LinkEventKind,
    Member,
    OutboxKind,
    Refund,
    RefundStatus,
    Role,
    utcnow,
)
from storage.refund_facts import refund_facts
from tests.integration.link_stack import closed_port_url
from tests.integration.refund_stack import OWNER, RefundStack, owner, refund_stack, wait_for
from tests.keys import rsa_key


@pytest.fixture
async def stack(migrated_database_url: str, keys: SandboxKeys, tmp_path: Path) -> AsyncIterator[RefundStack]:
    async with refund_stack(migrated_database_url, keys, tmp_path) as started:
        yield started


NBSP = "\u00a0"


def idr(amount: str) -> Money:
    return Money(Decimal(amount), "IDR")


def worded(entry: LinkEvent | AuditEvent, locale: str = "en") -> str:
    """A timeline or audit entry's detail as a reader of /status or /audit in that language sees it."""
    with reading_as(Reader(locale)):
        return visible_text(texts.event_detail(entry) if isinstance(entry, LinkEvent) else texts.audit_detail(entry))


async def timeline(stack: RefundStack, link: Link, kind: LinkEventKind) -> list[LinkEvent]:
    """A link's timeline entries of one kind, oldest first."""
    return [event for event in await stack.events(link) if event.kind == kind]


async def settled(stack: RefundStack, refund_id: int) -> Refund:
    """Settle at the sandbox and wait until its REFUND notification has settled our refund."""
    await stack.settle()
    await wait_for(
        lambda: _is_final(stack, refund_id),
        what=f"refund {refund_id} settled by its notification",
    )
    return await stack.refund(refund_id)


async def _is_final(stack: RefundStack, refund_id: int) -> bool:
    return (await stack.refund(refund_id)).status in (RefundStatus.SUCCESS, RefundStatus.FAILED)


async def test_partial_refund_is_sent_once_and_announced_once(stack: RefundStack) -> None:
    """Propose, confirm twice, PayerMax settles and notifies twice: one refund, one message, partly refunded."""
    link = await stack.paid_link("150000")
    proposal = await stack.refunds.propose(
        owner(), link_id=link.id, amount=idr("50000"), reason="Box arrived damaged", request_key="msg:1:1"
    )
    assert (proposal.refund.status, proposal.refund.amount, proposal.remaining_after) == (
        RefundStatus.PROPOSED,
        Decimal("50000"),
        Decimal("100000"),
    )
    assert stack.refund_calls() == []  # nothing is sent before the confirmation
    again = await stack.refunds.propose(owner(), link_id=link.id, amount=idr("50000"), request_key="msg:1:1")
    assert again.refund.id == proposal.refund.id  # the same message, redelivered, proposes nothing new

    assert proposal.refund.id is not None
    first, second = await asyncio.gather(
        stack.refunds.confirm(proposal.refund.id, owner()), stack.refunds.confirm(proposal.refund.id, owner())
    )
    assert sorted([first.outcome, second.outcome]) == sorted([RefundOutcome.ACCEPTED, RefundOutcome.ALREADY])
    [call] = stack.refund_calls()
    assert call["outRefundNo"] == proposal.refund.out_refund_no
    assert (call["refundAmount"], call["refundCurrency"]) == (Decimal("50000"), "IDR")
    assert call["comments"] == "Box arrived damaged"
    assert call["refundNotifyUrl"] == stack.refund_notify_url
    assert (await stack.refund(proposal.refund.id)).status == RefundStatus.PENDING

    stack.gateway.faults.update({"notify_duplicates": 2})  # PayerMax delivers the REFUND notification twice
    refund = await settled(stack, proposal.refund.id)
    assert refund.status == RefundStatus.SUCCESS and refund.finished_at is not None
    await asyncio.sleep(0.3)  # the second copy arrives and is acknowledged as a repeat
    announcements = await stack.outbox(OutboxKind.REFUND)
    assert [(m.chat_id, m.dedupe_key) for m in announcements] == [(OWNER, f"refund:{refund.id}:SUCCESS")]
    summary = await stack.refunds.summary_of(link)
    assert summary is not None
    assert (summary.state, summary.refunded, summary.remaining) == (
        RefundState.PARTIALLY_REFUNDED,
        Decimal("50000"),
        Decimal("100000"),
    )
    kinds = [event.kind for event in await stack.events(link)]
    assert kinds.count(LinkEventKind.REFUND_REQUESTED) == 1 and kinds.count(LinkEventKind.REFUNDED) == 1
    assert LinkEventKind.REFUND_NOTIFICATION in kinds  # the repeat is on the timeline, and changed nothing
    # What reports read (storage.refund_facts): refunds settled in a period, per currency, within a view.
    now = utcnow()

    async def refunded(chat_id: int | None, start: datetime, end: datetime) -> list[tuple[str, Decimal]]:
        async with stack.sessions() as session:
            facts = await refund_facts(session, chat_id=chat_id, refunded_from=start, refunded_before=end)
        return [(fact.currency, fact.amount) for fact in facts if fact.counts_as_refunded]

    hour = timedelta(hours=1)
    assert await refunded(None, now - hour, now + hour) == [("IDR", Decimal("50000"))]
    assert await refunded(None, now + hour, now + 2 * hour) == []
    assert await refunded(-1, now - hour, now + hour) == []
    [audited] = [event for event in await stack.audit() if event.action == AuditAction.REFUND]
    assert audited.actor_user_id == OWNER and audited.subject == link.merchant_link_id
    ids = f"order {refund.out_trade_no}, refund {refund.out_refund_no}"
    assert worded(audited) == f"IDR{NBSP}50,000, {ids} · Box arrived damaged"
    # Each step on the timeline, stored as facts and worded for whoever reads it.
    [asked] = await timeline(stack, link, LinkEventKind.REFUND_REQUESTED)
    [accepted] = await timeline(stack, link, LinkEventKind.REFUND_ACCEPTED)
    [refunded] = await timeline(stack, link, LinkEventKind.REFUNDED)
    [again, *_] = await timeline(stack, link, LinkEventKind.REFUND_NOTIFICATION)
    assert (asked.actor_user_id, worded(asked)) == (OWNER, f"IDR{NBSP}50,000 by Ann Owner, {ids} · Box arrived damaged")
    assert (
        worded(accepted) == f"IDR{NBSP}50,000, refund {refund.out_refund_no}, its id there is {refund.refund_trade_no}"
    )
    assert worded(refunded) == f"IDR{NBSP}50,000, refund {refund.out_refund_no}, first told by refund notification"
    assert worded(again) == f"refund {refund.out_refund_no} (refunded), already recorded"
    for entry in (audited, asked, accepted, refunded):
        indonesian = worded(entry, "id")
        assert indonesian.startswith(f"Rp{NBSP}50.000") and "IDR" not in indonesian, indonesian


async def test_more_than_what_remains_is_refused_before_payermax(stack: RefundStack) -> None:
    """After a partial refund, a larger one is refused with what remains, and PayerMax hears nothing of it."""
    link = await stack.paid_link("150000")
    proposal = await stack.refunds.propose(owner(), link_id=link.id, amount=idr("50000"))
    assert proposal.refund.id is not None
    await stack.refunds.confirm(proposal.refund.id, owner())
    with pytest.raises(RefundError) as pending:
        await stack.refunds.propose(owner(), link_id=link.id, amount=idr("10000"))
    assert pending.value.problem == RefundProblem.IN_PROGRESS  # PayerMax takes one refund of an order at a time
    await settled(stack, proposal.refund.id)

    with pytest.raises(RefundError) as refused:
        await stack.refunds.propose(owner(), reference=link.merchant_link_id, amount=idr("120000"))
    assert refused.value.problem == RefundProblem.EXCEEDS
    assert refused.value.remaining == idr("100000")
    with pytest.raises(RefundError) as wrong_currency:
        await stack.refunds.propose(owner(), link_id=link.id, amount=Money(Decimal("5"), "USD"))
    assert wrong_currency.value.problem == RefundProblem.WRONG_CURRENCY
    assert len(stack.refund_calls()) == 1

    # The rest, by order number and without an amount: everything that is left.
    [payment] = await stack.payments_of(link)
    rest = await stack.refunds.propose(owner(), reference=payment.out_trade_no)
    assert (rest.refund.amount, rest.remaining_after) == (Decimal("100000"), Decimal("0"))
    assert rest.refund.id is not None
    await stack.refunds.confirm(rest.refund.id, owner())
    await settled(stack, rest.refund.id)
    summary = await stack.refunds.summary_of(link)
    assert summary is not None and (summary.state, summary.remaining) == (RefundState.REFUNDED, Decimal("0"))
    with pytest.raises(RefundError) as nothing:
        await stack.refunds.propose(owner(), link_id=link.id)
    assert nothing.value.problem == RefundProblem.NOTHING_LEFT


@pytest.mark.parametrize("amounts", [("60000",) * 6, ("100000", "60000", "50000", "40000", "120000")])
async def test_concurrent_confirmations_never_refund_more_than_was_paid(stack: RefundStack, amounts: tuple) -> None:
    """People confirming refunds of one payment at the same moment: what is refunded stays within what was paid."""
    link = await stack.paid_link("150000")
    proposals = [
        await stack.refunds.propose(Actor(OWNER, f"Owner {n}", -100 - n), link_id=link.id, amount=idr(amount))
        for n, amount in enumerate(amounts)
    ]
    results = await asyncio.gather(
        *(stack.refunds.confirm(p.refund.id or 0, Actor(OWNER, "Owner", -100)) for p in proposals),
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException) and r.outcome == RefundOutcome.ACCEPTED]
    refused = [r for r in results if isinstance(r, RefundError)]
    assert len(accepted) == 1 and len(refused) == len(amounts) - 1, results
    assert {error.problem for error in refused} <= {RefundProblem.IN_PROGRESS, RefundProblem.EXCEEDS}
    refunds = await stack.refunds_in_db()
    counted = sum((r.amount for r in refunds if RefundStatus(r.status).counted), start=Decimal(0))
    assert counted <= Decimal("150000")
    assert len(stack.refund_calls()) == 1  # PayerMax was asked once

    # Once that one is settled, another round of simultaneous confirmations takes only what is left.
    await settled(stack, accepted[0].refund.id or 0)
    left = Decimal("150000") - accepted[0].refund.amount
    second = [
        await stack.refunds.propose(Actor(OWNER, "Owner", -200 - n), link_id=link.id, amount=idr(str(left)))
        for n in range(4)
    ]
    results = await asyncio.gather(
        *(stack.refunds.confirm(p.refund.id or 0, Actor(OWNER, "Owner", -200)) for p in second),
        return_exceptions=True,
    )
    assert sum(1 for r in results if not isinstance(r, BaseException) and r.outcome == RefundOutcome.ACCEPTED) == 1
    refunds = await stack.refunds_in_db()
    assert sum((r.amount for r in refunds if RefundStatus(r.status).counted), start=Decimal(0)) == Decimal("150000")
    assert len(stack.refund_calls()) == 2


@pytest.mark.parametrize(
    "fault",
    [
        {"refund_delay": 1.0},  # applied, but the answer comes after the client gave up
        {"drop_after_refund": 1},  # applied, then the connection is dropped
        {"refund_status": 503, "refund_status_count": 1},  # a 5xx, not applied
    ],
)
async def test_an_unclear_answer_is_settled_by_refund_query(stack: RefundStack, fault: dict) -> None:
    """A timeout, a dropped connection or a 5xx: refundQuery with the same outRefundNo decides; one refund."""
    link = await stack.paid_link("150000")
    proposal = await stack.refunds.propose(owner(), link_id=link.id, amount=idr("20000"))
    stack.gateway.faults.update(fault)
    assert proposal.refund.id is not None
    result = await stack.refunds.confirm(proposal.refund.id, owner())
    assert result.outcome == RefundOutcome.ACCEPTED, result
    queries = [envelope["data"] for api, envelope in stack.gateway.requests_seen() if api == "refundQuery"]
    assert queries and {q["outRefundNo"] for q in queries} == {proposal.refund.out_refund_no}
    assert {call["outRefundNo"] for call in stack.refund_calls()} == {proposal.refund.out_refund_no}
    [at_payermax] = stack.sandbox_refunds()
    assert at_payermax["outRefundNo"] == proposal.refund.out_refund_no


async def test_payermax_refusals_are_explained_and_count_for_nothing(stack: RefundStack) -> None:
    """A low balance, and part of a wallet payment: refused with the reason; the amount stays refundable."""
    link = await stack.paid_link("150000")
    stack.gateway.faults.update({"insufficient_balance": True})
    proposal = await stack.refunds.propose(owner(), link_id=link.id, amount=idr("50000"))
    result = await stack.refunds.confirm(proposal.refund.id or 0, owner())
    assert (result.outcome, result.refusal) == (RefundOutcome.REFUSED, RefundRefusal.INSUFFICIENT_BALANCE)
    assert result.remaining == Decimal("150000")
    assert (await stack.refund(proposal.refund.id or 0)).status == RefundStatus.REFUSED
    [refused] = await timeline(stack, link, LinkEventKind.REFUND_REFUSED)
    assert worded(refused).startswith(
        f"IDR{NBSP}50,000, refund {proposal.refund.out_refund_no}: REFUND_INSUFFICIENT_BALANCE "
    ), worded(refused)
    stack.gateway.faults.update({"insufficient_balance": False})

    wallet = await stack.paid_link("80000", method="WALLET")
    part = await stack.refunds.propose(owner(), link_id=wallet.id, amount=idr("10000"))
    result = await stack.refunds.confirm(part.refund.id or 0, owner())
    assert (result.outcome, result.refusal) == (RefundOutcome.REFUSED, RefundRefusal.FULL_REFUND_ONLY)
    whole = await stack.refunds.propose(owner(), link_id=wallet.id)
    result = await stack.refunds.confirm(whole.refund.id or 0, owner())
    assert result.outcome == RefundOutcome.ACCEPTED and result.remaining == Decimal("0")


async def test_a_failed_refund_gives_the_amount_back_and_is_told_once(stack: RefundStack) -> None:
    """PayerMax accepts, then cannot complete: REFUND FAILED, the chat told once, the amount refundable again."""
    link = await stack.paid_link("150000")
    stack.gateway.faults.update({"refund_fail_next": 1})
    proposal = await stack.refunds.propose(owner(), link_id=link.id, amount=idr("30000"))
    await stack.refunds.confirm(proposal.refund.id or 0, owner())
    refund = await settled(stack, proposal.refund.id or 0)
    assert refund.status == RefundStatus.FAILED
    summary = await stack.refunds.summary_of(link)
    assert summary is not None and (summary.state, summary.remaining) == (RefundState.FAILED, Decimal("150000"))
    assert [m.dedupe_key for m in await stack.outbox(OutboxKind.REFUND)] == [f"refund:{refund.id}:FAILED"]


async def test_refund_notifications_are_checked_before_anything_changes(stack: RefundStack) -> None:
    """Forged, misaddressed, unknown or mismatching REFUND notifications change nothing and are not acknowledged."""
    link = await stack.paid_link("150000")
    proposal = await stack.refunds.propose(owner(), link_id=link.id, amount=idr("50000"))
    await stack.refunds.confirm(proposal.refund.id or 0, owner())
    refund = await stack.refund(proposal.refund.id or 0)
    good = {
        "outRefundNo": refund.out_refund_no,
        "refundTradeNo": refund.refund_trade_no,
        "outTradeNo": refund.out_trade_no,
        "refundAmount": 50000,
        "refundCurrency": "IDR",
        "status": "REFUND_SUCCESS",
        "refundFinishTime": "2026-11-28T10:00:00Z",
    }
    forged = await stack.post_refund_notification(good, key=rsa_key("stranger"))
    assert forged.status_code == 401
    elsewhere = await stack.post_refund_notification(good, merchantNo="SOMEONE-ELSE")
    assert elsewhere.status_code == 403
    unknown = await stack.post_refund_notification({**good, "outRefundNo": "RFAAAAAAAAAAAAAA"})
    assert unknown.status_code == 404
    foreign = await stack.post_refund_notification({**good, "outRefundNo": "portal-refund-1"})
    assert foreign.status_code == 404
    more = await stack.post_refund_notification({**good, "refundAmount": 150000})
    assert more.status_code == 409 and more.json()["code"] != "SUCCESS"
    other_order = await stack.post_refund_notification({**good, "outTradeNo": "T-SOMETHING-ELSE"})
    assert other_order.status_code == 409
    other_refund = await stack.post_refund_notification({**good, "refundTradeNo": "RSBX000"})
    assert other_refund.status_code == 409
    payment_type = await stack.post_refund_notification(good, notifyType="PAYBYLINK")
    assert payment_type.status_code == 400
    assert (await stack.refund(refund.id or 0)).status == RefundStatus.PENDING
    assert await stack.outbox(OutboxKind.REFUND) == []
    alerts = [m for m in await stack.outbox(OutboxKind.ALERT) if '"refund_mismatch"' in m.payload]
    assert alerts and {m.chat_id for m in alerts} == {OWNER}
    mismatches = [worded(event) for event in await timeline(stack, link, LinkEventKind.REFUND_MISMATCH)]
    assert mismatches == [
        f"expected IDR{NBSP}50,000, reported IDR{NBSP}150,000 (order {refund.out_trade_no}, "
        f"refund {refund.out_refund_no})",
        f"expected IDR{NBSP}50,000 of order {refund.out_trade_no}, reported IDR{NBSP}50,000 of order "
        f"T-SOMETHING-ELSE (refund {refund.out_refund_no})",
    ]

    accepted = await stack.post_refund_notification(good)
    assert accepted.status_code == 200 and accepted.json() == {"code": "SUCCESS", "msg": "Success"}
    assert (await stack.refund(refund.id or 0)).status == RefundStatus.SUCCESS
    assert len(await stack.outbox(OutboxKind.REFUND)) == 1


async def test_the_reconciler_settles_refunds_pending_too_long(stack: RefundStack) -> None:
    """The REFUND notification never arrives: the reconciler asks refundQuery and tells the chat once."""
    lost = stack.refund_service(stack.client, notify_url=closed_port_url() + "/payermax/refund-notify")
    link = await stack.paid_link("150000")
    proposal = await lost.propose(owner(), link_id=link.id, amount=idr("50000"))
    await lost.confirm(proposal.refund.id or 0, owner())
    await stack.settle()  # PayerMax settles it; its notification goes nowhere
    reconciler = stack.reconciler()
    assert await reconciler.reconcile_once() == 0  # not due yet: pending for less than the grace
    async with stack.sessions() as session, session.begin():
        await session.execute(
            update(Refund)
            .where(col(Refund.id) == proposal.refund.id)
            .values(next_check_at=utcnow() - timedelta(seconds=1))
        )
    await reconciler.reconcile_once()
    assert (await stack.refund(proposal.refund.id or 0)).status == RefundStatus.SUCCESS
    await reconciler.reconcile_once()
    assert len(await stack.outbox(OutboxKind.REFUND)) == 1
    [refunded] = await timeline(stack, link, LinkEventKind.REFUNDED)
    assert worded(refunded).endswith("first told by PayerMax's answer"), worded(refunded)


async def test_a_refund_payermax_never_received_is_sent_by_the_reconciler(stack: RefundStack) -> None:
    """Confirmed while PayerMax was unreachable: it stays REQUESTING; the reconciler sends it (same outRefundNo)."""
    unreachable = stack.refund_service(stack.new_client(closed_port_url()))
    link = await stack.paid_link("150000")
    proposal = await unreachable.propose(owner(), link_id=link.id, amount=idr("50000"))
    result = await unreachable.confirm(proposal.refund.id or 0, owner())
    assert result.outcome == RefundOutcome.UNCONFIRMED
    assert (await stack.refund(proposal.refund.id or 0)).status == RefundStatus.REQUESTING
    with pytest.raises(RefundError) as busy:  # it still counts: nobody can refund the amount twice meanwhile
        await stack.refunds.propose(owner(), link_id=link.id, amount=idr("100000"))
    assert busy.value.problem == RefundProblem.IN_PROGRESS
    async with stack.sessions() as session, session.begin():
        await session.execute(
            update(Refund)
            .where(col(Refund.id) == proposal.refund.id)
            .values(next_check_at=utcnow() - timedelta(seconds=1))
        )
    await stack.reconciler().reconcile_once()
    assert (await stack.refund(proposal.refund.id or 0)).status == RefundStatus.PENDING
    assert [call["outRefundNo"] for call in stack.refund_calls()] == [proposal.refund.out_refund_no]


async def test_a_refund_payermax_never_received_is_dropped_when_too_late(stack: RefundStack) -> None:
    """Unsent past the give-up time: dropped, told once, refundable again; the timeline says failed, not refused."""
    unreachable = stack.refund_service(stack.new_client(closed_port_url()))
    link = await stack.paid_link("150000")
    proposal = await unreachable.propose(owner(), link_id=link.id, amount=idr("50000"))
    assert (await unreachable.confirm(proposal.refund.id or 0, owner())).outcome == RefundOutcome.UNCONFIRMED
    too_long_ago = utcnow() - GIVE_UP_SENDING_AFTER - timedelta(minutes=1)
    async with stack.sessions() as session, session.begin():
        await session.execute(
            update(Refund)
            .where(col(Refund.id) == proposal.refund.id)
            .values(confirmed_at=too_long_ago, created_at=too_long_ago, next_check_at=utcnow() - timedelta(seconds=1))
        )
    await stack.reconciler().reconcile_once()
    assert (await stack.refund(proposal.refund.id or 0)).status == RefundStatus.REFUSED
    assert stack.refund_calls() == []  # PayerMax never hears of it
    assert await timeline(stack, link, LinkEventKind.REFUND_REFUSED) == []
    [dropped] = await timeline(stack, link, LinkEventKind.REFUND_FAILED)
    assert worded(dropped) == (
        f"IDR{NBSP}50,000, refund {proposal.refund.out_refund_no}: PayerMax could not be reached in time"
    ), worded(dropped)
    assert len(await stack.outbox(OutboxKind.REFUND)) == 1  # the chat is told once
    whole = await stack.refunds.propose(owner(), link_id=link.id)
    assert whole.refund.amount == Decimal("150000")


async def test_refund_permission_is_per_person(stack: RefundStack) -> None:
    """Owners and admins refund by role; an agent or support person only once an owner grants it, and not after."""
    link = await stack.paid_link("150000")
    agent, support, admin = 501, 502, 503
    async with stack.sessions() as session, session.begin():
        for user_id, role in ((agent, Role.AGENT), (support, Role.SUPPORT), (admin, Role.ADMIN)):
            session.add(Member(user_id=user_id, role=role, name=f"P{user_id}", added_by=OWNER))

    for user_id in (agent, support):
        with pytest.raises(RefundError) as refused:
            await stack.refunds.propose(Actor(user_id, "P"), link_id=link.id, amount=idr("1000"))
        assert refused.value.problem == RefundProblem.NOT_ALLOWED
        assert refused.value.refusal is not None and refused.value.refusal.roles == [Role.OWNER, Role.ADMIN]
    await stack.refunds.propose(Actor(admin, "P"), link_id=link.id, amount=idr("1000"))

    with pytest.raises(TeamError) as not_owner:
        await stack.team.set_can_refund(Actor(admin, "P"), support, True)
    assert not_owner.value.problem == TeamProblem.MAY_NOT_GRANT_REFUNDS
    with pytest.raises(TeamError) as by_role:
        await stack.team.set_can_refund(owner(), admin, True)
    assert by_role.value.problem == TeamProblem.REFUNDS_BY_ROLE
    granted = await stack.team.set_can_refund(owner(), support, True)
    assert granted.can_refund
    await stack.refunds.propose(Actor(support, "P"), link_id=link.id, amount=idr("1000"))
    await stack.team.set_can_refund(owner(), agent, True)
    with pytest.raises(RefundError) as not_theirs:  # agents see only their own links, grant or not
        await stack.refunds.propose(Actor(agent, "P"), link_id=link.id, amount=idr("1000"))
    assert not_theirs.value.problem == RefundProblem.NOT_ALLOWED
    own = await stack.paid_link("20000", creator=agent)
    await stack.refunds.propose(Actor(agent, "P"), link_id=own.id, amount=idr("1000"))

    proposal = await stack.refunds.propose(Actor(support, "P"), link_id=link.id, amount=idr("1000"))
    await stack.team.set_can_refund(owner(), support, False)
    with pytest.raises(RefundError) as revoked:  # taken back between asking and confirming
        await stack.refunds.confirm(proposal.refund.id or 0, Actor(support, "P"))
    assert revoked.value.problem == RefundProblem.NOT_ALLOWED
    with pytest.raises(RefundError) as someone_else:
        await stack.refunds.confirm(proposal.refund.id or 0, owner())
    assert someone_else.value.problem == RefundProblem.NOT_YOURS
    grants = [event for event in await stack.audit() if event.action == AuditAction.REFUND_PERMISSION]
    assert [worded(event) for event in grants] == [
        "may refund now (support)",
        "may refund now (agent)",
        "may not refund any more (support)",
    ]
    assert stack.refund_calls() == []


async def test_the_payments_feed_hears_each_settled_refund_once(stack: RefundStack) -> None:
    """With a feed group named, the payment, a refund that went through and one that failed are each posted once."""
    feed_group = -100_555
    async with stack.sessions() as session, session.begin():
        await repo.set_feed_chat(session, feed_group, now=utcnow())
    link = await stack.paid_link("150000")
    stack.gateway.faults.update({"notify_duplicates": 2})  # every REFUND notification arrives twice
    done = await stack.refunds.propose(owner(), link_id=link.id, amount=idr("50000"))
    await stack.refunds.confirm(done.refund.id or 0, owner())
    refunded = await settled(stack, done.refund.id or 0)
    stack.gateway.faults.update({"refund_fail_next": 1})
    failing = await stack.refunds.propose(owner(), link_id=link.id, amount=idr("20000"))
    await stack.refunds.confirm(failing.refund.id or 0, owner())
    failed = await settled(stack, failing.refund.id or 0)
    await asyncio.sleep(0.3)  # the repeated notifications arrive and change nothing

    [payment] = await stack.payments_of(link)
    posts = [(m.chat_id, json.loads(m.payload)) for m in await stack.outbox(OutboxKind.FEED)]
    assert sorted(
        (chat, payload["event"], payload.get("amount"), payload["reference"]) for chat, payload in posts
    ) == sorted(
        [
            (feed_group, "refund_failed", "20000", failed.out_refund_no),
            (feed_group, "refunded", "50000", refunded.out_refund_no),
            (feed_group, "paid", None, payment.out_trade_no),
        ]
    )
    # The link's own chat still hears of both, as before.
    assert len(await stack.outbox(OutboxKind.REFUND)) == 2
