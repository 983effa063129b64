"""Expiry reminders, a new link in an old one's place, and the payments feed (SQLite and PostgreSQL).

Real services and database, with the sandbox gateway over loopback HTTP (see link_stack). The
sandbox's notifications land in a mailbox the test hands to the payment service itself, so the
same notification can be applied as often, and by whichever path, a test likes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from bot.botapi.markup import visible_text
from bot.chat import texts
from bot.i18n.reader import Reader, reading_as
from bot.payermax.models import Notification
from bot.payermax.webhook import verify_notification
from bot.services.actors import Actor
from bot.services.chat_defaults import ChatDefaults, ChatDefaultsService, ChatRef
from bot.services.feed import FeedChat, FeedEvent, PaymentsFeed, post_to_feed
from bot.services.payments import Outcome
from bot.services.reminders import Reminders
from storage.db import BatchTransactions, create_engine
from storage.models import AuditAction, AuditEvent, Link, LinkStatus, utcnow
from tests.integration.link_stack import SELLER, SELLER_CHAT, LinkStack, order

OWNER = Actor(1, "Olga")
FEED = ChatRef(-100_777_000_001, "supergroup", "Sales feed")
SHOP = ChatRef(-100_777_000_002, "group", "Shop floor")
WAIT_SECONDS = 5.0


def chat_defaults(stack: LinkStack) -> ChatDefaultsService:
    deployment = ChatDefaults(
        currency="IDR", country="ID", language="en", customer_language="en", timezone="UTC", expires_seconds=86400
    )
    return ChatDefaultsService(stack.sessions, deployment)


def worded(event: AuditEvent) -> str:
    """An audit entry's detail as an English reader of /audit sees it."""
    with reading_as(Reader(locale="en")):
        return visible_text(texts.audit_detail(event))


async def fresh(stack: LinkStack, link: Link) -> Link:
    [current] = [row for row in await stack.our_links() if row.id == link.id]
    return current


async def pay_and_collect(stack: LinkStack, link: Link, count: int) -> Notification:
    """The customer pays; return the verified notification PayerMax sent about it."""
    await stack.gateway.pay(link.payermax_link_id or "")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while len(stack.mailbox.received) < count:
        assert loop.time() < deadline, "the sandbox sent no notification"
        await asyncio.sleep(0.01)
    body, signature = stack.mailbox.received[count - 1]
    return verify_notification(body, signature, stack.keys.platform_public_key)


# --- reminders --------------------------------------------------------------------------------


async def test_an_unpaid_link_is_reminded_once_whoever_looks(stack: LinkStack) -> None:
    link = (await stack.links.create(order("msg:1"))).link  # valid 1 hour: reminded halfway
    assert link.expires_at is not None and link.remind_at == link.expires_at - timedelta(minutes=30)
    replicas = [Reminders(stack.sessions), Reminders(stack.sessions)]

    assert await replicas[0].queue_due(link.remind_at - timedelta(seconds=1)) == 0  # not yet
    moment = link.remind_at + timedelta(seconds=1)
    queued = await asyncio.gather(*(replica.queue_due(moment) for replica in replicas))
    assert sorted(queued) == [0, 1]
    [reminder] = await stack.outbox("reminder")
    assert (reminder.chat_id, reminder.link_id) == (SELLER, link.id)
    assert await replicas[1].queue_due(moment + timedelta(minutes=5)) == 0
    marked = await fresh(stack, link)
    assert marked.remind_at is None and marked.reminded_at is not None


async def test_paid_links_and_chats_that_said_no_get_no_reminder(stack: LinkStack) -> None:
    chats = chat_defaults(stack)
    paid = (await stack.links.create(order("msg:2"))).link
    notification = await pay_and_collect(stack, paid, 1)
    assert await stack.payments.apply_notification(notification) == Outcome.APPLIED
    unpaid = (await stack.links.create(order("msg:3"))).link

    await chats.set_reminder(OWNER, ChatRef(SELLER_CHAT, "private"), 0)
    assert (await fresh(stack, unpaid)).remind_at is None
    later = utcnow() + timedelta(minutes=59)
    assert await Reminders(stack.sessions).queue_due(later) == 0
    assert await stack.outbox("reminder") == []

    # Turned back on with 6 hours, a link valid for one is still reminded no sooner than halfway.
    await chats.set_reminder(OWNER, ChatRef(SELLER_CHAT, "private"), 6 * 3600)
    assert unpaid.expires_at is not None
    assert (await fresh(stack, unpaid)).remind_at == unpaid.expires_at - timedelta(minutes=30)
    assert await Reminders(stack.sessions).queue_due(later) == 1
    [reminder] = await stack.outbox("reminder")
    assert reminder.link_id == unpaid.id
    async with stack.sessions() as session:
        audited = (await session.execute(select(AuditEvent).order_by(col(AuditEvent.id)))).scalars().all()
    assert [(row.action, row.subject, worded(row)) for row in audited if row.subject == "reminders"] == [
        (AuditAction.SETTINGS, "reminders", "auto → off"),
        (AuditAction.SETTINGS, "reminders", "off → 6 hours"),
    ]


async def test_a_reminder_the_bot_was_down_for_is_not_sent_after_expiry(stack: LinkStack) -> None:
    link = (await stack.links.create(order("msg:4"))).link
    assert link.expires_at is not None
    assert await Reminders(stack.sessions).queue_due(link.expires_at + timedelta(minutes=1)) == 0
    assert await stack.outbox("reminder") == []
    assert (await fresh(stack, link)).remind_at is None  # marked: it will not come up again


# --- a new link in an old one's place -----------------------------------------------------------


async def test_new_link_is_made_once_with_the_same_terms(stack: LinkStack) -> None:
    old = (await stack.links.create(order("msg:5"))).link
    creates = stack.create_calls()
    presses = await asyncio.gather(*(stack.links.reissue(old, Actor(SELLER, "Ann Seller")) for _ in range(3)))
    assert sorted(result.created for result in presses) == [False, False, True]
    assert len({result.link.id for result in presses}) == 1
    new = presses[0].link
    assert new.id != old.id and new.merchant_link_id != old.merchant_link_id
    assert (new.amount, new.currency, new.description, new.chat_id) == (
        old.amount,
        old.currency,
        old.description,
        old.chat_id,
    )
    assert (await fresh(stack, new)).status == LinkStatus.ACTIVE
    assert stack.create_calls() == creates + 1
    assert len([card for card in await stack.outbox("card") if card.link_id == new.id]) == 1


# --- the payments feed ------------------------------------------------------------------------


async def test_feed_gets_each_payment_once_by_every_path(stack: LinkStack, migrated_database_url: str) -> None:
    feed = PaymentsFeed(stack.sessions)
    await feed.use(OWNER, FEED)
    assert await feed.current() == FeedChat(FEED.id, "Sales feed")
    link = (await stack.links.create(order("msg:6"))).link
    notification = await pay_and_collect(stack, link, 1)
    engine = create_engine(migrated_database_url)
    try:
        # The group commit, with the notification twice in one batch, then again on its own.
        outcomes = await stack.payments.apply_link_notifications(
            [notification, notification],
            BatchTransactions(engine),
        )
        assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
        assert await stack.payments.apply_notification(notification) == Outcome.DUPLICATE
    finally:
        await engine.dispose()
    [posted] = await stack.outbox("feed")
    payload = json.loads(posted.payload)
    assert (posted.chat_id, posted.link_id, payload["event"]) == (FEED.id, link.id, "paid")
    assert [paid.chat_id for paid in await stack.outbox("paid")] == [SELLER_CHAT]  # the creator still gets theirs

    # A link made in the feed group is already announced there: no second post. Without a feed, none.
    in_feed = (await stack.links.create(replace(order("msg:7"), chat_id=FEED.id, chat_type=FEED.type))).link
    assert await stack.payments.apply_notification(await pay_and_collect(stack, in_feed, 2)) == Outcome.APPLIED
    assert await feed.stop(OWNER, SHOP) is False  # not the feed: nothing changes
    assert await feed.stop(OWNER, FEED) is True
    after = (await stack.links.create(order("msg:8"))).link
    assert await stack.payments.apply_notification(await pay_and_collect(stack, after, 3)) == Outcome.APPLIED
    assert len(await stack.outbox("feed")) == 1


async def test_other_events_reach_the_feed_with_one_call_once(stack: LinkStack) -> None:
    """The seam refunds use: one call in the event's own transaction, deduplicated by its reference."""
    await PaymentsFeed(stack.sessions).use(OWNER, FEED)
    link = (await stack.links.create(order("msg:9"))).link
    for _ in range(2):
        async with stack.sessions() as session, session.begin():
            await post_to_feed(session, link, FeedEvent.REFUNDED, reference="R1", amount=link.amount / 2)
    async with stack.sessions() as session, session.begin():
        assert await post_to_feed(session, link, FeedEvent.REFUND_FAILED, reference="R2") is True
    posts = [json.loads(row.payload) for row in await stack.outbox("feed")]
    assert [(post["event"], post["reference"]) for post in posts] == [("refunded", "R1"), ("refund_failed", "R2")]
    assert posts[0]["amount"] == "75000"


async def test_naming_the_feed_is_audited_and_moves_it(stack: LinkStack) -> None:
    feed = PaymentsFeed(stack.sessions)
    await feed.use(OWNER, SHOP)
    await feed.use(OWNER, FEED)
    assert await feed.current() == FeedChat(FEED.id, "Sales feed")
    async with stack.sessions() as session:
        events = (await session.execute(select(AuditEvent).order_by(col(AuditEvent.id)))).scalars().all()
    assert [worded(row) for row in events if row.subject == "payments feed"] == [
        f"off → {SHOP.id}",
        f"{SHOP.id} → {FEED.id}",
    ]
