"""A served sandbox gateway for integration tests: loopback HTTP, a merchant notify endpoint, signed calls.

The gateway sits behind a slot so a test can swap in another gateway (a restarted one, one with a
test clock) without the URL changing. ``serve_harness`` starts it all; test modules wrap it in fixtures.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.payermax.client import PayerMaxClient
from bot.payermax.jsontext import dumps
from bot.payermax.signing import sign, verify
from bot.sandbox.gateway import SandboxGateway
from bot.sandbox.keys import SandboxKeys
from bot.tls import client_tls
from tests.fakes.loopback import LoopbackServer

APP_ID = "sandbox-app"
MERCHANT_NO = "SANDBOX000001"
# Real PayerMax waits 30 s to 12 h between attempts; the tests keep the shape, not the wait.
FAST_SCHEDULE = (0, 0.05, 0.1, 0.15, 0.2, 0.25)
WAIT_SECONDS = 5.0


class _Slot:
    """An ASGI app that forwards to one set later, so the gateway can learn the server's URL first."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the test set no gateway"
        await self.app(scope, receive, send)


class NotificationReceiver:
    """The merchant's notify endpoint: records every delivery, answers with scripted codes."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[Headers, bytes]] = []
        self.answers: list[str] = []  # codes to answer with, in order; SUCCESS once used up
        self.app = Starlette(routes=[Route("/payermax/notify", self._notify, methods=["POST"])])

    async def _notify(self, request: Request) -> JSONResponse:
        self.deliveries.append((request.headers, await request.body()))
        code = self.answers.pop(0) if self.answers else "SUCCESS"
        return JSONResponse({"code": code, "msg": "Success" if code == "SUCCESS" else "try again"})


class Harness:
    """A served sandbox gateway, a notification receiver, and a client that signs like the bot."""

    def __init__(self, keys: SandboxKeys, server: LoopbackServer, slot: _Slot, notify_url: str) -> None:
        self.keys = keys
        self.server = server
        self.slot = slot
        self.notify_url = notify_url
        self.gateway: SandboxGateway
        self.http = httpx.AsyncClient(trust_env=False, timeout=5.0, verify=client_tls(trust_env=False))

    async def use_gateway(self, gateway: SandboxGateway, *, start: bool = True) -> None:
        """Serve this gateway instead of the earlier one (stopped), starting its notifier if asked."""
        if self.slot.app is not None:
            await self.gateway.stop()
        self.slot.app = gateway.app
        self.gateway = gateway
        if start:
            await gateway.start()

    def new_gateway(self, **options: Any) -> SandboxGateway:
        """A gateway whose links point at this harness's server."""
        options.setdefault("notify_schedule", FAST_SCHEDULE)
        return SandboxGateway(keys=self.keys, public_base_url=self.server.url, **options)

    def api_url(self, api: str) -> str:
        return f"{self.server.url}/sandbox/aggregate-pay/api/gateway/{api}"

    async def post_signed(
        self,
        api: str,
        data: dict[str, Any],
        *,
        version: str = "1.1",
        request_time: str | None = None,
        key: Any = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """POST a signed envelope exactly as the bot would."""
        envelope = {
            "version": version,
            "keyVersion": "1",
            "requestTime": request_time or datetime.now(UTC).isoformat(timespec="milliseconds"),
            "appId": APP_ID,
            "merchantNo": MERCHANT_NO,
            "data": data,
        }
        body = dumps(envelope)  # Decimals in ``data`` become exact JSON numbers
        signature = sign(body, key or self.keys.merchant_private_key)
        headers = {"Content-Type": "application/json", "sign": signature}
        return await self.http.post(self.api_url(api), content=body, headers=headers, timeout=timeout or 5.0)

    async def call(self, api: str, data: dict[str, Any], **options: Any) -> dict[str, Any]:
        """A signed API call; checks the answer is HTTP 200 and signed by the platform key."""
        response = await self.post_signed(api, data, **options)
        assert response.status_code == 200
        assert verify(response.content, response.headers.get("sign"), self.keys.platform_public_key)
        return json.loads(response.content)

    async def create(self, merchant_link_id: str, **overrides: Any) -> dict[str, Any]:
        return await self.call("createPaybylink", link_data(merchant_link_id, self.notify_url, **overrides))

    async def query(self, merchant_link_id: str) -> dict[str, Any]:
        return await self.call("queryPaybylink", {"merchantLinkId": merchant_link_id})

    def client(self, *, timeout: float = 5.0) -> PayerMaxClient:
        """The bot's real PayerMax client, pointed at this sandbox with its keys."""
        return PayerMaxClient(
            base_url=f"{self.server.url}/sandbox",
            app_id=APP_ID,
            merchant_no=MERCHANT_NO,
            merchant_private_key=self.keys.merchant_private_key,
            platform_public_key=self.keys.platform_public_key,
            timeout=timeout,
        )


def link_data(merchant_link_id: str, notify_url: str, **overrides: Any) -> dict[str, Any]:
    """A complete createPaybylink ``data`` like the bot sends, with fields overridden."""
    data: dict[str, Any] = {
        "merchantLinkId": merchant_link_id,
        "linkType": "ONETIME",
        "expiresTime": "86400",
        "country": "ID",
        "currency": "IDR",
        "totalAmount": "150000",
        "language": "en",
        "description": "Winter shoes <size 42>",
        "linkDescription": "tg chat 42",
        "userInfo": {"userId": "tg-7", "username": "seller"},
        "goodsDetails": [
            {
                "goodsName": "Winter shoes",
                "goodsDescription": "Winter shoes",
                "quantity": "1",
                "price": "150000",
                "goodsCurrency": "IDR",
                "showUrl": "https://shop.example/shoes",
            }
        ],
        "merchantInfo": {"contactEmail": "shop@example.com"},
        "notifyUrl": notify_url,
    }
    data.update(overrides)
    return data


def parse_expires_at(text: str) -> datetime:
    """Read PayerMax's ``expiresAt`` (UTC, no fraction, Z suffix)."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


async def wait_until(condition: Callable[[], bool], timeout: float = WAIT_SECONDS) -> None:
    """Poll until ``condition()`` holds, failing the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def serve_receiver() -> AsyncIterator[tuple[NotificationReceiver, str]]:
    """A merchant notify endpoint on loopback, and its URL."""
    recorder = NotificationReceiver()
    async with LoopbackServer(recorder.app) as server:
        yield recorder, f"{server.url}/payermax/notify"


@asynccontextmanager
async def serve_harness(keys: SandboxKeys, notify_url: str, state_path: Path, **options: Any) -> AsyncIterator[Harness]:
    """A started sandbox gateway (with ``options``) served on loopback under ``/sandbox``."""
    slot = _Slot()
    async with LoopbackServer(Starlette(routes=[Mount("/sandbox", app=slot)])) as server:
        harness = Harness(keys, server, slot, notify_url)
        await harness.use_gateway(harness.new_gateway(state_path=state_path, **options))
        try:
            yield harness
        finally:
            await harness.gateway.stop()
            await harness.http.aclose()
