"""The Telegram webhook endpoint of the real web app: only well-formed updates carrying the secret reach the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.payermax.webhook import MerchantIdentity
from bot.services.payments import PaymentService
from bot.web.app import TELEGRAM_SECRET_HEADER, build_web_app
from storage.db import create_engine, session_factory
from tests.keys import rsa_key

SECRET = "webhook-secret-for-tests-0123"
Webhook = tuple[httpx.AsyncClient, list[dict[str, Any]]]  # a client of the app, and the updates it handed on


@pytest.fixture
async def webhook(tmp_path: Path) -> AsyncIterator[Webhook]:
    """The app as the bot builds it in webhook mode; the list collects what it hands to the bot."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'paylink.db'}")
    submitted: list[dict[str, Any]] = []

    async def submit(update: dict[str, Any]) -> None:
        submitted.append(update)

    app = build_web_app(
        merchant=MerchantIdentity("sandbox-app", "SANDBOX000001"),
        engine=engine,
        payments=PaymentService(session_factory(engine), owner_chat_ids=[]),
        platform_public_key=rsa_key("platform").public_key(),
        telegram_secret=SECRET,
        submit_update=submit,
    )
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield client, submitted
    finally:
        await engine.dispose()


async def test_update_with_the_secret_is_handed_to_the_bot(webhook: Webhook) -> None:
    client, submitted = webhook
    answer = await client.post("/telegram", content=b'{"update_id":7}', headers={TELEGRAM_SECRET_HEADER: SECRET})
    assert answer.status_code == 200
    assert submitted == [{"update_id": 7}]


@pytest.mark.parametrize(
    "body",
    [b'{"update_id":' + b"9" * 5000 + b"}", b'{"update_id":1,"x":' + b"[" * 20_000 + b"]" * 20_000 + b"}", b"not json"],
    ids=["5000-digit-integer", "20000-levels-deep", "not-json"],
)
async def test_hostile_json_with_the_secret_is_refused_and_not_handed_on(webhook: Webhook, body: bytes) -> None:
    client, submitted = webhook
    answer = await client.post("/telegram", content=body, headers={TELEGRAM_SECRET_HEADER: SECRET})
    assert answer.status_code == 400
    assert submitted == []
