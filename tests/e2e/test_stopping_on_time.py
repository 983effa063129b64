"""SIGTERM with PayerMax answering slowly: the process exits within 10 s, starts no new call, and writes nothing half.

Docker waits 10 s between SIGTERM and SIGKILL (Kubernetes 30 s). Before, the bot waited for the
reconciler's whole round: with three links due and PayerMax taking 10 s an answer it started two
more queryPaybylink calls after SIGTERM and exited after 30 s.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from storage.models import Lease, Link, LinkStatus, utcnow
from tests.e2e.harness import BotProcess, Database
from tests.fakes.telegram_api import FakeTelegram

# It checks how long the bot takes: see the "timing" marker.
pytestmark = [pytest.mark.e2e, pytest.mark.timing, pytest.mark.xdist_group("timing")]

SELLER = 424_242
SLOW_PAYERMAX = '{"query_delay": 10}'
CARD_TIMEOUT = 20.0
DOCKER_GRACE = 10.0


async def _query_calls(bot: BotProcess) -> int | None:
    """How many queryPaybylink requests the embedded sandbox has received (None once it no longer answers)."""
    try:
        async with httpx.AsyncClient(timeout=1) as client:
            seen = (await client.get(f"{bot.base_url}/sandbox/_requests")).json()["requests"]
    except (httpx.HTTPError, ValueError):
        return None
    return sum(1 for request in seen if request["api"] == "queryPaybylink")


async def test_sigterm_with_slow_payermax_and_links_due_exits_within_ten_seconds(
    database_url: str, tmp_path: Path
) -> None:
    """The reconciler is mid-call and a Refresh press waits on PayerMax: both are cut short, nothing else starts."""
    data_dir = tmp_path / "data"
    async with FakeTelegram() as fake:
        db = Database(database_url)
        first = BotProcess(fake, database_url=database_url, data_dir=data_dir, admin_ids=str(SELLER))
        await first.start()
        try:
            for item in range(3):
                fake.send_text(f"/link 10 USD Item {item}", user_id=SELLER)
            await fake.wait_for_message(
                lambda m: len([s for s in fake.sent(SELLER) if s.kind == "photo"]) >= 3, timeout=CARD_TIMEOUT
            )
        finally:
            assert await first.stop() == 0

        # Every link is due for a check now, and PayerMax will take 10 s to answer each question.
        async with db.sessions() as session, session.begin():
            a_moment_ago = utcnow() - timedelta(seconds=1)
            await session.execute(update(Link).values(next_check_at=a_moment_ago))
            await session.execute(update(Lease).values(expires_at=a_moment_ago))
        bot = BotProcess(
            fake, database_url=database_url, data_dir=data_dir, admin_ids=str(SELLER), SANDBOX_FAULTS=SLOW_PAYERMAX
        )
        await bot.start()
        try:
            card = next(m for m in fake.sent(SELLER) if m.kind == "photo")
            refresh = next(b["callback_data"] for b in card.buttons if b.get("callback_data", "").startswith("c:r:"))
            fake.press_button(card, refresh, user_id=SELLER)
            for _ in range(50):
                if (await _query_calls(bot) or 0) >= 2:  # the reconciler's call and the press's, both in flight
                    break
                await asyncio.sleep(0.1)
            in_flight = await _query_calls(bot)
            assert in_flight is not None and in_flight >= 1

            assert bot.process is not None
            signalled = time.monotonic()
            bot.process.send_signal(signal.SIGTERM)
            seen_after = in_flight
            while bot.process.poll() is None and time.monotonic() - signalled < DOCKER_GRACE + 5:
                count = await _query_calls(bot)
                if count is not None:
                    seen_after = count
                await asyncio.sleep(0.1)
            took = time.monotonic() - signalled
        finally:
            exit_code = await bot.stop()
        links = await db.links()
        await db.close()

    assert exit_code == 0
    assert took < DOCKER_GRACE, f"exited {took:.1f}s after SIGTERM"
    assert seen_after == in_flight, "a PayerMax call was started after SIGTERM"
    assert [link.status for link in links] == [LinkStatus.ACTIVE] * 3
    assert "Traceback" not in bot.log().split("stopping", 1)[-1]
