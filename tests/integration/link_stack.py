"""The link-making stack in one process, for integration tests of creation and reconciliation.

A real database (SQLite or PostgreSQL), the real sandbox gateway served over HTTP on loopback,
the real PayerMax client pointed at it with a short timeout, and the real services on top. The
gateway sits behind a slot so a test can swap in a gateway reloaded from the persisted state
(as after a PayerMax-side change) without the URL changing.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.money import Money
from bot.payermax.client import PayerMaxClient
from bot.sandbox.gateway import SandboxGateway
from bot.sandbox.keys import SandboxKeys, load_or_create_sandbox_keys
from bot.services.links import LinkOrder, LinkService
from bot.services.payments import PaymentService
from bot.services.reconcile import Reconciler
from storage.db import create_engine, session_factory
from storage.models import Link, OutboxMessage, Payment
from tests.fakes.loopback import LoopbackServer

APP_ID = "sandbox-app"
MERCHANT_NO = "SANDBOX000001"
CLIENT_TIMEOUT = 0.5  # seconds: short, so a delayed create times out quickly
RETRY_DELAYS = (0.05, 0.1)  # the production shape (three tries with backoff), a hundred times faster
SELLER = 4242
SELLER_CHAT = SELLER  # a private chat has the person's id


class _Slot:
    """An ASGI app that forwards to whichever gateway is plugged in now."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no sandbox gateway is plugged in"
        await self.app(scope, receive, send)


class LostNotifications:
    """A notify endpoint that keeps what PayerMax sent but never acknowledges: the bot never hears of it."""

    PATH = "/payermax/notify"

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str | None]] = []  # (raw body, sign header)

    async def notify(self, request: Request) -> JSONResponse:
        """Keep the body and its signature; answer as a broken merchant server would."""
        self.received.append((await request.body(), request.headers.get("sign")))
        return JSONResponse({"code": "FAIL", "msg": "lost on the way"}, status_code=503)


def closed_port_url() -> str:
    """A loopback URL nobody listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class LinkStack:
    """Database, sandbox gateway, PayerMax client and services, wired as the bot wires them."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        keys: SandboxKeys,
        server: LoopbackServer,
        slot: _Slot,
        state_path: Path,
        mailbox: LostNotifications,
        notify_url: str,
    ) -> None:
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self.keys = keys
        self.server = server
        self.state_path = state_path
        self.mailbox = mailbox
        self.notify_url = notify_url
        self._slot = slot
        self.gateway = self.new_gateway()
        self.client = self.new_client(f"{server.url}/sandbox")
        self.links = self.link_service(self.client)
        self.payments = PaymentService(self.sessions, owner_chat_ids=())

    def new_gateway(self) -> SandboxGateway:
        """A sandbox gateway on this stack's state file (loading whatever it holds)."""
        return SandboxGateway(
            keys=self.keys, public_base_url=self.server.url, state_path=self.state_path, notify_schedule=(0,)
        )

    async def use_gateway(self, gateway: SandboxGateway) -> None:
        """Serve ``gateway`` from now on, at the same URL; the previous one is stopped."""
        if self._slot.app is not None:
            await self.gateway.stop()
        self.gateway = gateway
        self._slot.app = gateway.app
        await gateway.start()

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

    def link_service(self, client: PayerMaxClient) -> LinkService:
        """A LinkService talking through ``client``, with fast retries."""
        return LinkService(
            self.sessions,
            client,
            notify_url=self.notify_url,
            contact_email="shop@example.com",
            logo_url=None,
            sandbox=True,
            retry_delays=RETRY_DELAYS,
        )

    def reconciler(self) -> Reconciler:
        """A reconciler of its own (its own lease holder name), without pacing delays."""
        return Reconciler(self.sessions, self.client, self.links, self.payments, calls_per_second=1000.0)

    # --- what exists, at PayerMax and in our database ---------------------------------------

    def sandbox_links(self) -> list[dict[str, Any]]:
        """Every link the sandbox (PayerMax) holds, from its persisted state."""
        if not self.state_path.exists():
            return []
        return json.loads(self.state_path.read_text(encoding="utf-8"))["links"]

    def create_calls(self) -> int:
        """How many createPaybylink requests reached the gateway now plugged in."""
        return sum(1 for api, _ in self.gateway.requests_seen() if api == "createPaybylink")

    async def our_links(self) -> list[Link]:
        """Our link rows, oldest first."""
        async with self.sessions() as session:
            return list((await session.execute(select(Link).order_by(Link.id))).scalars())

    async def outbox(self, kind: str | None = None) -> list[OutboxMessage]:
        """Queued Telegram messages (of one kind, if given), oldest first."""
        async with self.sessions() as session:
            statement = select(OutboxMessage).order_by(OutboxMessage.id)
            if kind is not None:
                statement = statement.where(OutboxMessage.kind == kind)
            return list((await session.execute(statement)).scalars())

    async def payments_made(self) -> list[Payment]:
        """Recorded payments, oldest first."""
        async with self.sessions() as session:
            return list((await session.execute(select(Payment).order_by(Payment.id))).scalars())

    async def add(self, link: Link) -> Link:
        """Insert a row as some earlier process left it."""
        async with self.sessions() as session, session.begin():
            session.add(link)
        return link

    async def schedule(self, link_id: int, when: datetime | None) -> None:
        """Move a link's next reconciler check (e.g. into the past: "the minutes have gone by")."""
        async with self.sessions() as session, session.begin():
            await session.execute(update(Link).where(Link.id == link_id).values(next_check_at=when))


def order(request_key: str | None = None, *, amount: str = "150000") -> LinkOrder:
    """A seller's order as the chat handlers build it."""
    return LinkOrder(
        chat_id=SELLER_CHAT,
        chat_type="private",
        chat_title=None,
        user_id=SELLER,
        user_name="Ann Seller",
        money=Money(Decimal(amount), "IDR"),
        description="Winter shoes",
        country="ID",
        language="en",
        expires_seconds=3600,
        request_key=request_key,
    )


@asynccontextmanager
async def link_stack(database_url: str, keys: SandboxKeys, tmp_path: Path) -> AsyncIterator[LinkStack]:
    """Start everything on a migrated database of its own; stop it all afterwards."""
    engine = create_engine(database_url)
    mailbox = LostNotifications()
    slot = _Slot()
    # One server plays both PayerMax (under /sandbox) and the merchant's lost notify endpoint.
    app = Starlette(
        routes=[Route(LostNotifications.PATH, mailbox.notify, methods=["POST"]), Mount("/sandbox", app=slot)]
    )
    try:
        async with LoopbackServer(app) as server:
            stack = LinkStack(
                engine=engine,
                keys=keys,
                server=server,
                slot=slot,
                state_path=tmp_path / "sandbox" / "state.json",
                mailbox=mailbox,
                notify_url=server.url + LostNotifications.PATH,
            )
            await stack.use_gateway(stack.gateway)
            try:
                yield stack
            finally:
                await stack.gateway.stop()
                await stack.client.aclose()
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SandboxKeys:
    """Sandbox key pairs; RSA key generation is the slowest step, so one set serves every test of a process."""
    return load_or_create_sandbox_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
async def stack(migrated_database_url: str, keys: SandboxKeys, tmp_path: Path) -> AsyncIterator[LinkStack]:
    """A started link stack on a migrated database of its own."""
    async with link_stack(migrated_database_url, keys, tmp_path) as started:
        yield started
