"""/metrics and the sandbox's controls on the public web port: only this host, or the holder of METRICS_TOKEN.

The real app is called over ASGI with the client address a connection would have: loopback for
a request made on the bot's host, a documentation address (203.0.113.7) for anyone else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bot.payermax.webhook import MerchantIdentity
from bot.sandbox.gateway import SandboxGateway
from bot.sandbox.keys import SandboxKeys
from bot.services.payments import PaymentService
from bot.web.app import build_web_app
from storage.db import create_engine, session_factory
from tests.keys import rsa_key

TOKEN = "metrics-token-0123456789abcdef"
LOOPBACK = ("127.0.0.1", 40000)
LOOPBACK_V6 = ("::1", 40000)
REMOTE = ("203.0.113.7", 5555)
PROXIED = ({"X-Forwarded-For": "203.0.113.7"}, {"Forwarded": "for=203.0.113.7"}, {"X-Real-IP": "203.0.113.7"})

Build = Callable[..., Starlette]  # metrics settings -> the web app


@pytest.fixture
async def build(tmp_path: Path, keys: SandboxKeys) -> AsyncIterator[Build]:
    """Builds the bot's web app (with the sandbox mounted) for the given metrics settings."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'paylink.db'}")
    gateway = SandboxGateway(keys=keys, public_base_url="http://127.0.0.1:1")

    def make(**metrics: Any) -> Starlette:
        return build_web_app(
            merchant=MerchantIdentity("sandbox-app", "SANDBOX000001"),
            engine=engine,
            payments=PaymentService(session_factory(engine), owner_chat_ids=[]),
            platform_public_key=rsa_key("platform").public_key(),
            sandbox_app=gateway.app,
            **metrics,
        )

    try:
        yield make
    finally:
        await engine.dispose()


async def call(app: Starlette, method: str, path: str, client: tuple[str, int], **options: Any) -> httpx.Response:
    """One request to ``app`` as if it came over a connection from ``client``."""
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
        return await http.request(method, path, **options)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_without_token_metrics_answer_this_host_only(build: Build) -> None:
    app = build()

    for client in (LOOPBACK, LOOPBACK_V6):
        local = await call(app, "GET", "/metrics", client)
        assert local.status_code == 200 and "paylink_notifications_total" in local.text
    assert (await call(app, "GET", "/metrics", REMOTE)).status_code == 404
    for headers in PROXIED:  # a reverse proxy on this host forwarding someone else's request
        assert (await call(app, "GET", "/metrics", LOOPBACK, headers=headers)).status_code == 404, headers


async def test_with_token_metrics_need_it_from_everywhere(build: Build) -> None:
    app = build(metrics_token=TOKEN)

    for client in (LOOPBACK, REMOTE):
        refused = await call(app, "GET", "/metrics", client)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert (await call(app, "GET", "/metrics", client, headers=bearer(TOKEN + "x"))).status_code == 401
        assert (await call(app, "GET", "/metrics", client, headers={"Authorization": TOKEN})).status_code == 401
    allowed = await call(app, "GET", "/metrics", REMOTE, headers=bearer(TOKEN))
    assert allowed.status_code == 200 and "paylink_notifications_total" in allowed.text


async def test_metrics_on_their_own_port_leave_the_web_port(build: Build) -> None:
    assert (await call(build(metrics_elsewhere=True), "GET", "/metrics", LOOPBACK)).status_code == 404
    with_token = build(metrics_elsewhere=True, metrics_token=TOKEN)
    assert (await call(with_token, "GET", "/metrics", REMOTE, headers=bearer(TOKEN))).status_code == 200


async def test_sandbox_controls_answer_this_host_only_and_change_nothing_for_others(build: Build) -> None:
    app = build()

    for client, headers in [(REMOTE, {}), *((LOOPBACK, proxied) for proxied in PROXIED)]:
        assert (await call(app, "GET", "/sandbox/_faults", client, headers=headers)).status_code == 404
        assert (await call(app, "GET", "/sandbox/_requests", client, headers=headers)).status_code == 404
        changed = await call(app, "POST", "/sandbox/_faults", client, headers=headers, json={"create_status": 503})
        assert changed.status_code == 404

    faults = await call(app, "GET", "/sandbox/_faults", LOOPBACK)
    assert faults.status_code == 200 and faults.json()["create_status"] is None
    changed = await call(app, "POST", "/sandbox/_faults", LOOPBACK, json={"create_status": 503})
    assert changed.json()["create_status"] == 503
    assert (await call(app, "GET", "/sandbox/_requests", LOOPBACK)).json() == {"requests": []}
