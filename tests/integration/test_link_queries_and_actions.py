"""Managing links as a team, at the service level: a real database and the sandbox gateway on loopback.

The sandbox's notifications go to an endpoint that acknowledges and forgets them, so a payment
is only recorded when the bot asks PayerMax (refresh, or a cancel PayerMax refuses because the
link was paid), which is what these tests are about.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.chat import texts
from bot.i18n.clock import today_starts
from bot.money import Money
from bot.payermax.client import PayerMaxClient
from bot.payermax.models import parse_notification
from bot.sandbox.gateway import SandboxGateway
from bot.sandbox.keys import SandboxKeys
from bot.services.access import AccessService, Action, Role
from bot.services.actors import Actor
from bot.services.attempts import FailedAttempts
from bot.services.link_access import LinkAccess, LinkScope
from bot.services.link_actions import CancelOutcome, LinkActions
from bot.services.link_queries import LinkQueries, StatusFilter
from bot.services.link_search import search_terms
from bot.services.links import LinkOrder, LinkService
from bot.services.payments import Outcome, PaymentService
from bot.services.reconcile import Reconciler
from storage.db import create_engine, session_factory
from storage.models import (
    AuditEvent,
    FailedAttempt,
    Link,
    LinkEvent,
    LinkStatus,
    Member,
    OutboxMessage,
    Payment,
    utcnow,
)
from tests.fakes.loopback import LoopbackServer

OWNER = 100
AGENT = 200
OTHER_AGENT = 300
SUPPORT = 400
STRANGER = 500
SHOP_GROUP = -100_200_300
OTHER_GROUP = -100_999_888
NAMES = {OWNER: "Olga Owner", AGENT: "Ann Agent", OTHER_AGENT: "Otto Agent", SUPPORT: "Sue Support", STRANGER: "Stan"}


class _Slot:
    """An ASGI app set after the server starts, so the gateway can be told the server's URL."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)


class _Acknowledger:
    """A notify endpoint that says SUCCESS and applies nothing: payments come only from asking PayerMax.

    It keeps what it was sent, so a test can hand a notification to the services itself.
    """

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def receive(self, request: Request) -> JSONResponse:
        self.bodies.append(await request.body())
        return JSONResponse({"code": "SUCCESS", "msg": "Success"})


@dataclass
class World:
    """The services under test, the sandbox behind them, and the database."""

    sessions: async_sessionmaker[AsyncSession]
    gateway: SandboxGateway
    client: PayerMaxClient
    links: LinkService
    access: LinkAccess
    queries: LinkQueries
    actions: LinkActions
    payments: PaymentService
    reconciler: Reconciler
    notified: _Acknowledger

    async def make_link(self, user_id: int, chat_id: int, amount: str, currency: str, description: str) -> Link:
        """A link made by this person in this chat, ACTIVE at the sandbox."""
        order = LinkOrder(
            chat_id=chat_id,
            chat_type="private" if chat_id > 0 else "supergroup",
            chat_title=None if chat_id > 0 else "Shop team",
            user_id=user_id,
            user_name=NAMES[user_id],
            money=Money(Decimal(amount), currency),
            description=description,
            country="ID",
            language="en",
            expires_seconds=86400,
        )
        link = (await self.links.create(order)).link
        assert link.status == LinkStatus.ACTIVE
        return link

    async def pay(self, link: Link) -> str:
        """Pay the link on the sandbox checkout; return the order's outTradeNo."""
        assert link.payermax_link_id
        return await self.gateway.pay(link.payermax_link_id)

    async def expire_api_calls(self) -> int:
        return sum(1 for api, _ in self.gateway.requests_seen() if api == "expirePaybylink")

    async def link(self, link_id: int) -> Link:
        async with self.sessions() as session:
            found = await session.get(Link, link_id)
            assert found is not None
            return found

    async def rows(self, model: type, **where: object) -> list:
        async with self.sessions() as session:
            statement = select(model).filter_by(**where)
            return list((await session.execute(statement)).scalars())


def actor(user_id: int, chat_id: int | None = None) -> Actor:
    return Actor(user_id, NAMES[user_id], chat_id)


@pytest.fixture
async def world(migrated_database_url: str, keys: SandboxKeys, tmp_path) -> AsyncIterator[World]:
    engine = create_engine(migrated_database_url)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        for user_id, role in ((AGENT, "agent"), (OTHER_AGENT, "agent"), (SUPPORT, "support")):
            session.add(Member(user_id=user_id, role=role, name=NAMES[user_id], added_by=OWNER))
    slot = _Slot()
    notified = _Acknowledger()
    app = Starlette(routes=[Route("/payermax/notify", notified.receive, methods=["POST"]), Mount("/sandbox", app=slot)])
    async with LoopbackServer(app) as server:
        gateway = SandboxGateway(
            keys=keys, public_base_url=server.url, state_path=tmp_path / "sandbox.json", notify_schedule=(0,)
        )
        slot.app = gateway.app
        await gateway.start()
        client = PayerMaxClient(
            base_url=f"{server.url}/sandbox",
            app_id="sandbox-app",
            merchant_no="SANDBOX000001",
            merchant_private_key=keys.merchant_private_key,
            platform_public_key=keys.platform_public_key,
            timeout=5,
        )
        links = LinkService(
            sessions,
            client,
            notify_url=f"{server.url}/payermax/notify",
            contact_email="shop@example.com",
            logo_url=None,
            sandbox=True,
            retry_delays=(0.05,),
        )
        attempts = FailedAttempts(sessions)
        payments = PaymentService(sessions, owner_chat_ids=[OWNER], attempts=attempts)
        reconciler = Reconciler(sessions, client, links, payments, calls_per_second=1000, attempts=attempts)
        access = LinkAccess(AccessService(sessions, owner_ids=frozenset({OWNER}), sandbox=True))
        queries = LinkQueries(sessions)
        actions = LinkActions(sessions, client, reconciler, access, queries)
        try:
            yield World(sessions, gateway, client, links, access, queries, actions, payments, reconciler, notified)
        finally:
            await gateway.stop()
            await client.aclose()
            await engine.dispose()


async def test_cancel_expires_the_link_at_payermax_and_records_it_once(world: World) -> None:
    """An agent cancels their link: PayerMax expires it, the card is queued once, a second press changes nothing."""
    link = await world.make_link(AGENT, SHOP_GROUP, "150000", "IDR", "Winter shoes")

    result = await world.actions.cancel(link.id, actor(AGENT, SHOP_GROUP))

    assert result.outcome == CancelOutcome.CANCELLED
    assert (await world.link(link.id)).status == LinkStatus.CANCELLED
    assert (await world.client.query_paybylink(link.merchant_link_id)).link_status == "EXPIRED"
    again = await world.actions.cancel(link.id, actor(AGENT, SHOP_GROUP))
    assert again.outcome == CancelOutcome.ALREADY_CANCELLED and again.cancelled_by == "Ann Agent"
    [event] = await world.rows(LinkEvent, link_id=link.id, kind="cancelled")
    assert event.actor_user_id == AGENT and "Ann Agent" in event.detail
    [entry] = await world.rows(AuditEvent, action="cancel_link")
    assert (entry.actor_user_id, entry.subject, entry.chat_id) == (AGENT, link.merchant_link_id, SHOP_GROUP)
    updates = [row for row in await world.rows(OutboxMessage, link_id=link.id) if row.kind == "card_update"]
    assert len(updates) == 1
    assert await world.expire_api_calls() == 1  # the second press never reached PayerMax


async def test_two_presses_at_once_cancel_once(world: World) -> None:
    """Two concurrent confirmations: one cancels, the other hears it was already cancelled."""
    link = await world.make_link(OWNER, OWNER, "12.50", "USD", "Coffee beans")

    results = await asyncio.gather(*(world.actions.cancel(link.id, actor(OWNER, OWNER)) for _ in range(2)))

    assert sorted(r.outcome for r in results) == sorted([CancelOutcome.CANCELLED, CancelOutcome.ALREADY_CANCELLED])
    assert len(await world.rows(LinkEvent, link_id=link.id, kind="cancelled")) == 1
    assert len(await world.rows(AuditEvent, action="cancel_link")) == 1


async def test_cancelling_a_paid_link_records_the_payment_and_says_so(world: World) -> None:
    """PayerMax refuses to expire a paid link; the bot then records the payment and the link shows PAID."""
    link = await world.make_link(AGENT, SHOP_GROUP, "150000", "IDR", "Winter shoes")
    trade = await world.pay(link)

    result = await world.actions.cancel(link.id, actor(AGENT, SHOP_GROUP))

    assert result.outcome == CancelOutcome.PAID_MEANWHILE
    current = await world.link(link.id)
    assert current.status == LinkStatus.PAID and current.paid_at is not None
    [payment] = await world.rows(Payment, link_id=link.id)
    assert (payment.out_trade_no, payment.amount, payment.payment_method) == (trade, Decimal("150000"), "CARD")
    assert "*" in (payment.card_number or "")  # masked as PayerMax gives it
    assert (await world.queries.card_facts(current)).payment == payment
    refused = await world.actions.cancel(link.id, actor(AGENT, SHOP_GROUP))
    assert refused.outcome == CancelOutcome.ALREADY_PAID
    assert await world.rows(LinkEvent, link_id=link.id, kind="cancelled") == []


async def test_refresh_finds_an_expired_link_and_cancel_then_refuses(world: World) -> None:
    """A link expired at PayerMax shows EXPIRED after Refresh; cancelling it is refused without asking PayerMax."""
    link = await world.make_link(OWNER, OWNER, "5", "USD", "Soap")
    await world.client.expire_paybylink(link.merchant_link_id)  # e.g. expired from the merchant portal

    refreshed = await world.actions.refresh(link.id, actor(OWNER, OWNER))

    assert refreshed is not None and refreshed.status == LinkStatus.EXPIRED
    kinds = [event.kind for event in await world.rows(LinkEvent, link_id=link.id)]
    assert "expired" in kinds and "refreshed" in kinds
    calls = await world.expire_api_calls()
    refused = await world.actions.cancel(link.id, actor(OWNER, OWNER))
    assert refused.outcome == CancelOutcome.ALREADY_EXPIRED
    assert await world.expire_api_calls() == calls


async def test_who_may_see_and_cancel(world: World) -> None:
    """Agents see and cancel their own links only; support sees all and cancels none; owners do everything."""
    mine = await world.make_link(AGENT, SHOP_GROUP, "150000", "IDR", "Winter shoes")
    theirs = await world.make_link(OTHER_AGENT, OTHER_GROUP, "99000", "IDR", "Rain boots")

    assert await world.access.scope_for(STRANGER) is None
    agent_scope = await world.access.scope_for(AGENT)
    assert agent_scope is not None and agent_scope.covers(mine) and not agent_scope.covers(theirs)
    support_scope = await world.access.scope_for(SUPPORT)
    assert support_scope is not None and support_scope.covers(theirs)
    assert await world.access.view_refusal(theirs, AGENT) is not None
    assert await world.access.resend_refusal(theirs, SUPPORT) is None

    for user_id in (OTHER_AGENT, SUPPORT, STRANGER):
        result = await world.actions.cancel(mine.id, actor(user_id))
        assert result.outcome == CancelOutcome.NOT_ALLOWED
        assert result.refusal is not None
        assert result.refusal.action == Action.CANCEL_ANY_LINK
        assert set(result.refusal.roles) == {Role.OWNER, Role.ADMIN}
        assert str(user_id) in texts.refusal(result.refusal, user_id)
    assert (await world.link(mine.id)).status == LinkStatus.ACTIVE
    assert await world.expire_api_calls() == 0  # refusals never reach PayerMax

    assert (await world.actions.cancel(theirs.id, actor(OWNER))).outcome == CancelOutcome.CANCELLED


async def test_lists_pages_filters_and_todays_totals(world: World) -> None:
    """Newest first, paged, filtered by status; today's paid totals are exact Decimals per currency."""
    made = [await world.make_link(AGENT, SHOP_GROUP, str(1000 * (n + 1)), "IDR", f"Order {n}") for n in range(4)]
    dollars = await world.make_link(OTHER_AGENT, SHOP_GROUP, "12.35", "USD", "Tea")
    elsewhere = await world.make_link(AGENT, OTHER_GROUP, "7", "USD", "Elsewhere")
    for link in (made[0], made[2], dollars):
        await world.pay(link)
        await world.actions.refresh(link.id, actor(OWNER))
    await world.actions.cancel(made[1].id, actor(AGENT))
    # A payment completed yesterday is not today's money.
    async with world.sessions() as session, session.begin():
        session.add(
            Payment(
                link_id=elsewhere.id,
                out_trade_no="TYESTERDAY",
                status="SUCCESS",
                amount=Decimal("7"),
                currency="USD",
                source="PAYMENT",
                completed_at=utcnow() - timedelta(days=1, minutes=1),
            )
        )
    group = LinkScope(OWNER, all_links=True, chat_id=SHOP_GROUP)

    first = await world.queries.list_links(group, StatusFilter.ALL, 0, 3)
    second = await world.queries.list_links(group, StatusFilter.ALL, 1, 3)
    beyond = await world.queries.list_links(group, StatusFilter.ALL, 9, 3)

    assert (first.total, first.pages) == (5, 2)
    assert [link.id for link in first.links + second.links] == [
        dollars.id,
        made[3].id,
        made[2].id,
        made[1].id,
        made[0].id,
    ]
    assert beyond.page == 1  # a page past the end shows the last page
    paid = await world.queries.list_links(group, StatusFilter.PAID, 0, 10)
    assert {link.id for link in paid.links} == {made[0].id, made[2].id, dollars.id}
    cancelled = await world.queries.list_links(group, StatusFilter.CANCELLED, 0, 10)
    assert [link.id for link in cancelled.links] == [made[1].id]
    active = await world.queries.list_links(group, StatusFilter.ACTIVE, 0, 10)
    assert [link.id for link in active.links] == [made[3].id]

    assert await world.queries.paid_totals_since(group, today_starts(utcnow())) == {
        "IDR": Decimal("4000"),
        "USD": Decimal("12.35"),
    }
    agent_everywhere = LinkScope(AGENT, all_links=False)
    assert await world.queries.paid_totals_since(agent_everywhere, today_starts(utcnow())) == {"IDR": Decimal("4000")}
    agent_links = await world.queries.list_links(agent_everywhere, StatusFilter.ALL, 0, 10)
    assert dollars.id not in {link.id for link in agent_links.links} and elsewhere.id in {
        link.id for link in agent_links.links
    }


async def test_find_by_ids_order_and_description_words(world: World) -> None:
    """Support finds by our id (any case), PayerMax's id, outTradeNo, or description words; agents only their own."""
    shoes = await world.make_link(AGENT, SHOP_GROUP, "150000", "IDR", "Winter shoes, size 42 (100% wool)")
    boots = await world.make_link(OTHER_AGENT, OTHER_GROUP, "99000", "IDR", "Rain boots")
    trade = await world.pay(shoes)
    await world.actions.refresh(shoes.id, actor(SUPPORT))
    support = await world.access.scope_for(SUPPORT)
    assert support is not None

    async def found(text: str, scope: LinkScope) -> list[tuple[int, str]]:
        return [(item.link.id, item.matched) for item in await world.queries.find(search_terms(text), scope)]

    assert await found(shoes.merchant_link_id.lower(), support) == [(shoes.id, "link id")]
    assert await found(shoes.payermax_link_id or "", support) == [(shoes.id, "PayerMax link id")]
    assert await found(trade, support) == [(shoes.id, "order")]
    assert await found("WINTER size", support) == [(shoes.id, "description")]
    assert await found("100%", support) == [(shoes.id, "description")]
    assert await found("1000%", support) == []  # % is a character here, not a wildcard
    assert await found("winter boots", support) == []  # every word must match
    assert await found("boots", support) == [(boots.id, "description")]
    [paid] = await world.queries.find(search_terms(trade), support)
    assert paid.payment is not None and paid.payment.out_trade_no == trade

    agent = await world.access.scope_for(AGENT)
    assert agent is not None
    assert await found("boots", agent) == []
    assert await found(boots.merchant_link_id, agent) == []
    assert await world.queries.lookup(trade) == await world.link(shoes.id)


async def test_find_by_amount_in_the_chats_formats_and_by_part_of_an_id(world: World) -> None:
    """/find 150000, 150.000 in Indonesian, Rp 150.000, 12.5: amounts as people write them; 6 characters of an id."""
    shoes = await world.make_link(AGENT, SHOP_GROUP, "150000", "IDR", "Winter shoes")
    gift = await world.make_link(OWNER, OWNER, "150000", "PHP", "Gift box")  # stored with its two decimals
    coffee = await world.make_link(OWNER, OWNER, "12.50", "USD", "Coffee beans")
    trade = await world.pay(shoes)
    await world.actions.refresh(shoes.id, actor(SUPPORT))
    support = await world.access.scope_for(SUPPORT)
    agent = await world.access.scope_for(AGENT)
    assert support is not None and agent is not None

    async def found(text: str, scope: LinkScope, **reading: str) -> list[tuple[int, str]]:
        terms = search_terms(text, **reading)
        return [(item.link.id, item.matched) for item in await world.queries.find(terms, scope)]

    assert await found("150000", support) == [(gift.id, "amount"), (shoes.id, "amount")]
    assert await found("150.000", support, locale="id") == [(gift.id, "amount"), (shoes.id, "amount")]
    assert await found("150000 IDR", support) == [(shoes.id, "amount")]
    assert await found("Rp 150.000", support, locale="id") == [(shoes.id, "amount")]
    assert await found("₱150,000", support, locale="en", chat_currency="PHP") == [(gift.id, "amount")]
    assert await found("12.5", support) == [(coffee.id, "amount")]
    assert await found("12,50 USD", support, locale="de") == [(coffee.id, "amount")]
    assert await found("150000 USD", support) == []
    assert await found("150000", agent) == [(shoes.id, "amount")]  # agents still see only their own

    piece = shoes.merchant_link_id[3:9].lower()
    assert await found(piece, support) == [(shoes.id, "part of link id")]
    assert await found(trade[-7:], support) == [(shoes.id, "part of order")]
    short = search_terms(shoes.merchant_link_id[:5])
    assert short.short_id and await world.queries.find(short, support) == []
    assert await found("%%%%%%", support) == []  # LIKE's wildcards are characters here


async def test_a_declined_attempt_is_kept_and_put_on_its_link(world: World) -> None:
    """A PAYMENT notification names only the order: kept, its link found by asking PayerMax, shown in /status."""
    link = await world.make_link(AGENT, SHOP_GROUP, "150000", "IDR", "Winter shoes")
    other = await world.make_link(AGENT, SHOP_GROUP, "99000", "IDR", "Rain boots")
    assert link.payermax_link_id
    trade = await world.gateway.decline(link.payermax_link_id)
    for _ in range(100):
        if world.notified.bodies:
            break
        await asyncio.sleep(0.02)
    [body] = world.notified.bodies
    notification = parse_notification(body)
    assert notification.notify_type == "PAYMENT" and notification.order is not None
    assert notification.order.status == "FAILED"

    assert await world.payments.apply_notification(notification) == Outcome.NOT_PAID
    assert await world.payments.apply_notification(notification) == Outcome.NOT_PAID  # delivered twice: kept once
    [kept] = await world.rows(FailedAttempt)
    assert (kept.out_trade_no, kept.link_id, kept.payment_method) == (trade, None, "CARD")
    now = utcnow()
    candidate, bystander = await world.link(link.id), await world.link(other.id)
    assert candidate.next_check_at is not None and candidate.next_check_at <= now  # asked about next round
    assert bystander.next_check_at is None or bystander.next_check_at > now  # another amount: not a candidate

    order_queries = sum(1 for api, _ in world.gateway.requests_seen() if api == "orderQuery")
    await world.reconciler.check(candidate)
    [placed] = await world.rows(FailedAttempt)
    assert placed.link_id == link.id
    assert sum(1 for api, _ in world.gateway.requests_seen() if api == "orderQuery") == order_queries

    # A decline whose notification never came: queryPaybylink lists it, orderQuery tells the rest.
    lost = await world.gateway.decline(link.payermax_link_id, method="WALLET")
    await world.reconciler.check(await world.link(link.id))
    attempts = {attempt.out_trade_no: attempt for attempt in await world.rows(FailedAttempt)}
    assert attempts[lost].link_id == link.id and attempts[lost].source == "RECONCILE"
    assert attempts[lost].result_msg == "SANDBOX: the e-wallet declined the payment"

    timeline = await world.queries.timeline(link.id)
    assert timeline is not None and [a.out_trade_no for a in timeline.failed_attempts] == [trade, lost]
    story = texts.timeline(timeline)
    assert "Last attempt: payment declined at" in story  # orderQuery names no method for a failure
    assert f"card declined: SANDBOX: the card was declined · order <code>{trade}</code>" in story
    support = await world.access.scope_for(SUPPORT)
    assert support is not None
    [(found, matched)] = [(i.link.id, i.matched) for i in await world.queries.find(search_terms(lost), support)]
    assert (found, matched) == (link.id, "order")
    assert await world.queries.lookup(trade) == await world.link(link.id)
    assert (await world.link(link.id)).status == LinkStatus.ACTIVE  # a decline changes nothing else


async def test_timeline_tells_the_whole_story(world: World) -> None:
    """Who made the link, where and when, each payment and status change, and who cancelled."""
    link = await world.make_link(AGENT, SHOP_GROUP, "150000", "IDR", "Winter shoes")
    await world.actions.cancel(link.id, actor(OWNER, SHOP_GROUP))

    timeline = await world.queries.timeline(link.id)

    assert timeline is not None
    assert timeline.link.creator_name == "Ann Agent" and timeline.link.creator_user_id == AGENT
    assert timeline.chat is not None and timeline.chat.title == "Shop team"
    assert [event.kind for event in timeline.events] == ["requested", "created", "cancelled"]
    assert timeline.events[-1].actor_user_id == OWNER and "Olga Owner" in timeline.events[-1].detail
    assert timeline.payments == []
    assert await world.queries.timeline(10_000_000) is None
