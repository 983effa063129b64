"""The refund stack in one process: a real database, the sandbox gateway and the bot's own web endpoints on loopback.

One server plays both sides: PayerMax (the sandbox under ``/sandbox``) and the bot's web app
(``/payermax/notify`` and ``/payermax/refund-notify``, as ``bot.web.app`` builds them). So a payment
made at the sandbox's checkout reaches the payment service through its real notification, and a
refund the sandbox settles reaches the refund service through its real, signed REFUND notification.
Refunds settle only when a test says so (``settle``), so every step can be looked at.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.money import Money
from bot.payermax.client import PayerMaxClient
from bot.payermax.signing import sign
from bot.payermax.webhook import MerchantIdentity
from bot.sandbox.gateway import SandboxGateway
from bot.sandbox.keys import SandboxKeys
from bot.services.access import AccessService
from bot.services.actors import Actor
from bot.services.link_access import LinkAccess
from bot.services.links import LinkOrder, LinkService
from bot.services.payments import PaymentService
from bot.services.reconcile import Reconciler
from bot.services.refunds import RefundService
from bot.services.team import TeamService
from bot.tls import client_tls
from bot.web.app import build_web_app
from storage.db import create_engine, session_factory
from storage.models import AuditEvent, Link, LinkEvent, OutboxMessage, Payment, Refund
from tests.fakes.loopback import LoopbackServer

APP_ID = "sandbox-app"
MERCHANT_NO = "SANDBOX000001"
OWNER = 4242
CLIENT_TIMEOUT = 0.5  # seconds: short, so a slow refund times out quickly
RETRY_DELAYS = (0.05, 0.1)
NOTIFY_SCHEDULE = (0, 0.05, 0.1, 0.2, 0.4, 0.8)
WAIT_SECONDS = 10.0


class _Late:
    """An ASGI app set once the server's URL is known (the services need it, the app needs the services)."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the web app is not built yet"
        await self.app(scope, receive, send)


async def wait_for(condition: Callable[[], Any], *, timeout: float = WAIT_SECONDS, what: str = "condition") -> None:
    """Poll an async or plain condition until it holds; fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        await asyncio.sleep(0.02)


class RefundStack:
    """Database, sandbox, PayerMax client, the services, and the bot's notify endpoints, wired as the bot wires them."""

    def __init__(self, engine: AsyncEngine, keys: SandboxKeys, server: LoopbackServer, state_path: Path) -> None:
        self.engine = engine
        self.keys = keys
        self.server = server
        self.sessions = session_factory(engine)
        self.state_path = state_path
        self.gateway = SandboxGateway(
            keys=keys,
            public_base_url=server.url,
            state_path=state_path,
            notify_schedule=NOTIFY_SCHEDULE,
            refund_settle_seconds=None,
        )
        self.client = self.new_client(f"{server.url}/sandbox")
        self.access = AccessService(self.sessions, owner_ids=frozenset({OWNER}), sandbox=True)
        self.team = TeamService(self.sessions, self.access)
        self.payments = PaymentService(self.sessions, owner_chat_ids=(OWNER,))
        self.links = LinkService(
            self.sessions,
            self.client,
            notify_url=f"{server.url}/payermax/notify",
            contact_email="shop@example.com",
            logo_url=None,
            sandbox=True,
            retry_delays=RETRY_DELAYS,
        )
        self.refund_notify_url = f"{server.url}/payermax/refund-notify"
        self.refunds = self.refund_service(self.client)
        self.web = build_web_app(
            engine=engine,
            payments=self.payments,
            platform_public_key=keys.platform_public_key,
            merchant=MerchantIdentity(APP_ID, MERCHANT_NO),
            refunds=self.refunds,
            sandbox_app=self.gateway.app,
            metrics_elsewhere=True,
        )
        self.http = httpx.AsyncClient(trust_env=False, timeout=10.0, verify=client_tls(trust_env=False))

    def new_client(self, base_url: str) -> PayerMaxClient:
        """The real PayerMax client with the sandbox's keys and a short timeout."""
        return PayerMaxClient(
            base_url=base_url,
            app_id=APP_ID,
            merchant_no=MERCHANT_NO,
            merchant_private_key=self.keys.merchant_private_key,
            platform_public_key=self.keys.platform_public_key,
            timeout=CLIENT_TIMEOUT,
        )

    def refund_service(self, client: PayerMaxClient, *, notify_url: str | None = None) -> RefundService:
        """A refund service talking through ``client``, with fast retries."""
        return RefundService(
            self.sessions,
            client,
            LinkAccess(self.access),
            notify_url=notify_url or self.refund_notify_url,
            owner_chat_ids=(OWNER,),
            retry_delays=RETRY_DELAYS,
        )

    def reconciler(self, refunds: RefundService | None = None) -> Reconciler:
        """A reconciler of its own, without pacing delays, settling refunds through ``refunds``."""
        return Reconciler(
            self.sessions,
            self.client,
            self.links,
            self.payments,
            calls_per_second=1000.0,
            refunds=refunds or self.refunds,
        )

    # --- making things happen -----------------------------------------------------------------

    async def paid_link(self, amount: str = "150000", *, method: str = "CARD", creator: int = OWNER) -> Link:
        """A link made by ``creator`` and paid at the sandbox's checkout; returns once the payment is recorded."""
        created = await self.links.create(
            LinkOrder(
                chat_id=creator,
                chat_type="private",
                chat_title=None,
                user_id=creator,
                user_name="Ann Seller",
                money=Money(Decimal(amount), "IDR"),
                description="Winter shoes",
                country="ID",
                language="en",
                expires_seconds=3600,
            )
        )
        link = created.link
        assert link.payermax_link_id is not None
        await self.gateway.pay(link.payermax_link_id, method=method)
        await wait_for(lambda: self.payments_of(link), what="payment recorded")
        return link

    async def settle(self) -> None:
        """Have the sandbox settle every pending refund now (its REFUND notification follows)."""
        self.gateway.settle_refunds()

    async def post_refund_notification(self, data: dict[str, Any], **envelope: Any) -> httpx.Response:
        """POST a REFUND notification signed with the platform key (or ``key``), as PayerMax would."""
        key = envelope.pop("key", self.keys.platform_private_key)
        body = json.dumps(
            {
                "code": "APPLY_SUCCESS",
                "msg": "Success.",
                "keyVersion": "1",
                "appId": APP_ID,
                "merchantNo": MERCHANT_NO,
                "notifyTime": "2026-11-28T10:00:00.000Z",
                "notifyType": "REFUND",
                "data": data,
                **envelope,
            }
        ).encode()
        return await self.http.post(
            self.refund_notify_url, content=body, headers={"Content-Type": "application/json", "sign": sign(body, key)}
        )

    def refund_calls(self) -> list[dict[str, Any]]:
        """The ``data`` of every refund request that reached the sandbox."""
        return [envelope["data"] for api, envelope in self.gateway.requests_seen() if api == "refund"]

    def sandbox_refunds(self) -> list[dict[str, Any]]:
        """Every refund the sandbox (PayerMax) holds, from its persisted state."""
        if not self.state_path.exists():
            return []
        return list(json.loads(self.state_path.read_text(encoding="utf-8")).get("refunds", []))

    # --- what is in our database ------------------------------------------------------------

    async def payments_of(self, link: Link) -> list[Payment]:
        async with self.sessions() as session:
            return list((await session.execute(select(Payment).where(col(Payment.link_id) == link.id))).scalars())

    async def refunds_in_db(self) -> list[Refund]:
        async with self.sessions() as session:
            return list((await session.execute(select(Refund).order_by(col(Refund.id)))).scalars())

    async def refund(self, refund_id: int) -> Refund:
        async with self.sessions() as session:
            refund = await session.get(Refund, refund_id, populate_existing=True)
        assert refund is not None
        return refund

    async def outbox(self, kind: str | None = None) -> list[OutboxMessage]:
        async with self.sessions() as session:
            statement = select(OutboxMessage).order_by(col(OutboxMessage.id))
            if kind is not None:
                statement = statement.where(col(OutboxMessage.kind) == kind)
            return list((await session.execute(statement)).scalars())

    async def events(self, link: Link) -> list[LinkEvent]:
        async with self.sessions() as session:
            statement = select(LinkEvent).where(col(LinkEvent.link_id) == link.id).order_by(col(LinkEvent.id))
            return list((await session.execute(statement)).scalars())

    async def audit(self) -> list[AuditEvent]:
        async with self.sessions() as session:
            return list((await session.execute(select(AuditEvent).order_by(col(AuditEvent.id)))).scalars())


def owner(chat_id: int = OWNER) -> Actor:
    """The owner, acting in their private chat (or another chat)."""
    return Actor(OWNER, "Ann Owner", chat_id)


@asynccontextmanager
async def refund_stack(database_url: str, keys: SandboxKeys, tmp_path: Path) -> AsyncIterator[RefundStack]:
    """Start everything on a migrated database of its own; stop it all afterwards."""
    engine = create_engine(database_url)
    late = _Late()
    try:
        async with LoopbackServer(late) as server:
            stack = RefundStack(engine, keys, server, tmp_path / "sandbox" / "state.json")
            late.app = stack.web
            await stack.gateway.start()
            try:
                yield stack
            finally:
                await stack.gateway.stop()
                await stack.client.aclose()
                await stack.http.aclose()
    finally:
        await engine.dispose()
