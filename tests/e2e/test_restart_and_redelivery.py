"""A crash in the middle of making a link, and Telegram delivering an update twice: still one link, one card.

The real application runs as a subprocess against the fake Bot API and its embedded sandbox
gateway, on SQLite and on PostgreSQL. "One link" is checked at PayerMax (the sandbox's state
file and the requests it saw) and in our database; "one card" in the chat.
(A double-tapped Create button is covered in test_core_flow.)
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from storage.models import Lease, Link, LinkStatus, utcnow
from tests.e2e.harness import BotProcess, is_setup_offer, running_bot, wait_until_idle
from tests.fakes.telegram_api import FakeTelegram, SentMessage

pytestmark = pytest.mark.e2e

SELLER = 1001
LINK_COMMAND = "/link 150000 IDR Winter shoes"
BOT_PAYERMAX_TIMEOUT = 1  # seconds; the sandbox is told to take longer than this
SLOW_CREATE_SECONDS = 5.0
CARD_TIMEOUT = 20.0
# A repeated update is dropped without a trace to wait for: a second answer, were one coming, would be sent within this.
REPEAT_SETTLE_SECONDS = 1.0


def _cards(fake: FakeTelegram) -> list[SentMessage]:
    return [m for m in fake.sent(SELLER) if m.kind == "photo"]


def _sandbox_links(data_dir: Path) -> list[dict[str, Any]]:
    """The links PayerMax (the embedded sandbox) holds, from the state it persists."""
    state = data_dir / "sandbox" / "state.json"
    return json.loads(state.read_text(encoding="utf-8"))["links"] if state.exists() else []


async def _sandbox_requests(bot: BotProcess) -> list[str]:
    """The PayerMax API calls the running sandbox received, oldest first."""
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{bot.base_url}/sandbox/_requests")
    return [entry["api"] for entry in answer.json()["requests"]]


async def _webhook_drained(fake: FakeTelegram) -> bool:
    """Whether the bot has accepted every update Telegram had for it."""
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{fake.base_url}{fake.token}/getWebhookInfo")
    return answer.json()["result"]["pending_update_count"] == 0


async def _eventually(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds, failing with ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.05)


async def test_restart_while_payermax_is_answering(database_url: str, tmp_path: Path) -> None:
    """Killed while waiting for createPaybylink; after the restart the reconciler shows the one link."""
    data_dir = tmp_path / "data"
    async with running_bot(
        database_url, tmp_path, admin_ids=str(SELLER), PAYERMAX_TIMEOUT=str(BOT_PAYERMAX_TIMEOUT)
    ) as (fake, bot, db, _people):
        async with httpx.AsyncClient(timeout=10) as client:
            faults = await client.post(f"{bot.base_url}/sandbox/_faults", json={"create_delay": SLOW_CREATE_SECONDS})
            assert faults.status_code == 200
        fake.send_text(LINK_COMMAND, user_id=SELLER)

        # PayerMax has made the link and is slow to say so; the bot dies meanwhile.
        async def made_at_payermax() -> bool:
            return len(_sandbox_links(data_dir)) == 1

        await _eventually(made_at_payermax, "the sandbox made no link")
        await bot.stop(signal.SIGKILL)
        [intent] = await db.links()
        assert intent.status == LinkStatus.CREATING and intent.payermax_link_id is None
        assert _cards(fake) == []

        # Minutes pass while the bot is down: the intent's grace period (the reconciler leaves
        # a young intent to its live handler) and the dead process's reconciler lease run out.
        # Then the bot comes back on the same data.
        async with db.sessions() as session, session.begin():
            a_moment_ago = utcnow() - timedelta(seconds=1)
            await session.execute(update(Link).values(next_check_at=a_moment_ago))
            await session.execute(update(Lease).values(expires_at=a_moment_ago))
        await bot.start()
        card = await fake.wait_for_message(lambda m: m.chat_id == SELLER and m.kind == "photo", timeout=CARD_TIMEOUT)
        assert "150,000" in card.text and "Winter shoes" in card.text
        await wait_until_idle(bot, db)

        assert len(_cards(fake)) == 1
        [at_payermax] = _sandbox_links(data_dir)
        [link] = await db.links()
        assert link.status == LinkStatus.ACTIVE
        assert (link.merchant_link_id, link.payermax_link_id) == (
            at_payermax["merchantLinkId"],
            at_payermax["linkId"],
        )
        assert at_payermax["linkId"] in card.text
        # The restarted bot asked PayerMax about the link; it never created another.
        requests = await _sandbox_requests(bot)
        assert "queryPaybylink" in requests and "createPaybylink" not in requests


async def test_update_delivered_twice_makes_one_link(database_url: str, tmp_path: Path) -> None:
    """Telegram sends the same /link update again (webhook answer late), during and after handling."""
    async with running_bot(
        database_url,
        tmp_path,
        admin_ids=str(SELLER),
        BOT_MODE="webhook",
        TELEGRAM_WEBHOOK_SECRET="e2e-redelivery-secret",
    ) as (fake, bot, db, _people):
        update_id = fake.send_text(LINK_COMMAND, user_id=SELLER)
        fake.redeliver(update_id)
        card = await fake.wait_for_message(lambda m: m.chat_id == SELLER and m.kind == "photo", timeout=CARD_TIMEOUT)
        fake.redeliver(update_id)
        await _eventually(lambda: _webhook_drained(fake), "Telegram still has updates for the bot")

        # One card (then the new chat's set-up offer, once), and no second answer of any kind.
        await fake.wait_for_message(lambda m: m.chat_id == SELLER and is_setup_offer(m), timeout=CARD_TIMEOUT)
        await wait_until_idle(bot, db, quiet=REPEAT_SETTLE_SECONDS)
        answers = [m for m in fake.sent(SELLER) if not is_setup_offer(m)]
        assert [m.message_id for m in answers] == [card.message_id]
        assert len([m for m in fake.sent(SELLER) if is_setup_offer(m)]) == 1
        [link] = await db.links()
        assert link.status == LinkStatus.ACTIVE
        assert (await _sandbox_requests(bot)).count("createPaybylink") == 1
