"""The reconciler asks PayerMax about late links: a lost notification never means a lost sale.

Real services, database (SQLite and PostgreSQL) and sandbox gateway over loopback HTTP. The
sandbox's notifications go to a mailbox that never acknowledges them, so the bot hears of a
payment only through the reconciler, until a late notification arrives.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import update

from bot.payermax.webhook import verify_notification
from bot.services.links import CREATING_GRACE, new_merchant_link_id
from bot.services.payments import Outcome
from bot.services.reconcile import AFTER_EXPIRY_GRACE, MAX_RECHECK, MIN_RECHECK, next_check
from storage.models import Lease, Link, LinkStatus, utcnow
from tests.integration.link_stack import SELLER, SELLER_CHAT, LinkStack, order

WAIT_SECONDS = 5.0


async def active_link(stack: LinkStack, request_key: str) -> Link:
    """A link made the ordinary way, then made due for the reconciler ("minutes have passed")."""
    link = (await stack.links.create(order(request_key))).link
    await stack.schedule(link.id, utcnow() - timedelta(seconds=1))
    return link


async def wait_for_lost_notifications(stack: LinkStack, count: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while len(stack.mailbox.received) < count:
        assert loop.time() < deadline, "the sandbox sent no notification"
        await asyncio.sleep(0.01)


async def test_payment_with_a_lost_notification_is_found_and_announced_once(stack: LinkStack) -> None:
    link = await active_link(stack, "msg:1")
    out_trade_no = await stack.gateway.pay(link.payermax_link_id)
    await wait_for_lost_notifications(stack, 1)
    assert (await stack.our_links())[0].status == LinkStatus.ACTIVE  # the bot heard nothing

    assert await stack.reconciler().reconcile_once() == 1
    [paid] = await stack.our_links()
    assert paid.status == LinkStatus.PAID and paid.next_check_at is None
    [payment] = await stack.payments_made()
    assert (payment.link_id, payment.out_trade_no, payment.source) == (link.id, out_trade_no, "RECONCILE")
    assert (payment.amount, payment.currency) == (Decimal("150000"), "IDR")
    [announcement] = await stack.outbox("paid")
    assert announcement.chat_id == SELLER_CHAT and json.loads(announcement.payload)["payment_id"] == payment.id
    assert len(await stack.outbox("card_update")) == 1

    # PayerMax's notification finally gets through: recognised, acknowledged, not announced again.
    body, signature = stack.mailbox.received[0]
    notification = verify_notification(body, signature, stack.keys.platform_public_key)
    assert await stack.payments.apply_notification(notification) == Outcome.DUPLICATE
    assert len(await stack.payments_made()) == 1
    assert len(await stack.outbox("paid")) == 1


async def test_link_past_its_expiry_becomes_expired_and_its_card_says_so(stack: LinkStack) -> None:
    link = await active_link(stack, "msg:2")
    # Time passes at PayerMax: the sandbox reloads its state with the link's expiry in the past.
    state = json.loads(stack.state_path.read_text(encoding="utf-8"))
    [saved] = state["links"]
    saved["expiresAt"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    stack.state_path.write_text(json.dumps(state), encoding="utf-8")
    await stack.use_gateway(stack.new_gateway())

    assert await stack.reconciler().reconcile_once() == 1
    [expired] = await stack.our_links()
    assert expired.status == LinkStatus.EXPIRED and expired.next_check_at is None
    [card_update] = await stack.outbox("card_update")
    assert card_update.link_id == link.id
    assert await stack.outbox("paid") == []


async def test_unpaid_link_is_looked_at_again_later(stack: LinkStack) -> None:
    await active_link(stack, "msg:3")
    assert await stack.reconciler().reconcile_once() == 1
    [still] = await stack.our_links()
    assert still.status == LinkStatus.ACTIVE
    assert still.next_check_at is not None and still.next_check_at > utcnow() + MIN_RECHECK - timedelta(seconds=5)
    assert [row.kind for row in await stack.outbox()] == ["card"]  # nothing to tell the seller
    assert await stack.reconciler().reconcile_once() == 0  # not due again yet


async def test_creating_row_left_by_a_crashed_handler_is_finished(stack: LinkStack) -> None:
    """The process died after storing the intent and before PayerMax was asked."""
    created_at = utcnow() - timedelta(minutes=5)
    orphan = await stack.add(
        Link(
            merchant_link_id=new_merchant_link_id(),
            request_key="msg:4",
            chat_id=SELLER_CHAT,
            creator_user_id=SELLER,
            creator_name="Ann Seller",
            amount=Decimal("150000"),
            currency="IDR",
            country="ID",
            description="Winter shoes",
            expires_seconds=3600,
            status=LinkStatus.CREATING,
            sandbox=True,
            created_at=created_at,
            updated_at=created_at,
            next_check_at=created_at + CREATING_GRACE,
        )
    )
    assert await stack.reconciler().reconcile_once() == 1
    [at_payermax] = stack.sandbox_links()
    [ours] = await stack.our_links()
    assert at_payermax["merchantLinkId"] == orphan.merchant_link_id
    assert (ours.status, ours.payermax_link_id) == (LinkStatus.ACTIVE, at_payermax["linkId"])
    assert len(await stack.outbox("card")) == 1


async def test_only_the_lease_holder_runs_a_round(stack: LinkStack) -> None:
    link = await active_link(stack, "msg:5")
    first, second = stack.reconciler(), stack.reconciler()
    assert await first.reconcile_once() == 1

    await stack.schedule(link.id, utcnow() - timedelta(seconds=1))
    queries_before = len(stack.gateway.requests_seen())
    assert await second.reconcile_once() == 0
    assert len(stack.gateway.requests_seen()) == queries_before  # the other replica asked nothing
    assert await first.reconcile_once() == 1  # the holder renews its own lease

    # The holder dies: once its lease runs out the other replica takes over.
    await stack.schedule(link.id, utcnow() - timedelta(seconds=1))
    async with stack.sessions() as session, session.begin():
        await session.execute(update(Lease).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert await second.reconcile_once() == 1
    assert await first.reconcile_once() == 0


# --- the schedule --------------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _link(age: timedelta, expires_in: timedelta | None = None) -> Link:
    return Link(created_at=NOW - age, expires_at=NOW + expires_in if expires_in is not None else None)


def test_young_link_is_checked_every_five_minutes() -> None:
    assert next_check(_link(timedelta(minutes=1)), NOW) == NOW + MIN_RECHECK
    assert next_check(_link(timedelta(minutes=19)), NOW) == NOW + MIN_RECHECK


def test_older_link_is_checked_less_often_up_to_hourly() -> None:
    assert next_check(_link(timedelta(hours=2)), NOW) == NOW + timedelta(minutes=30)
    assert next_check(_link(timedelta(hours=8)), NOW) == NOW + MAX_RECHECK
    assert next_check(_link(timedelta(days=20)), NOW) == NOW + MAX_RECHECK


def test_last_check_comes_just_after_expiry_and_then_none() -> None:
    closing = _link(timedelta(hours=8), expires_in=timedelta(minutes=1))
    assert next_check(closing, NOW) == NOW + timedelta(minutes=1) + AFTER_EXPIRY_GRACE
    young_closing = _link(timedelta(minutes=1), expires_in=timedelta(hours=1))
    assert next_check(young_closing, NOW) == NOW + MIN_RECHECK  # expiry far off: the usual pace
    assert next_check(_link(timedelta(hours=8), expires_in=-AFTER_EXPIRY_GRACE), NOW) is None
    assert next_check(_link(timedelta(hours=8), expires_in=-timedelta(days=1)), NOW) is None
