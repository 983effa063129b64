"""Slow and idle clients: a flood of connections that never finish a request cannot starve PayerMax's notifications."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import BotProcess, Database, link_paid_notification
from tests.fakes.telegram_api import FakeTelegram

# It checks how long the bot takes: see the "timing" marker.
pytestmark = [pytest.mark.e2e, pytest.mark.timing, pytest.mark.xdist_group("timing")]

FILE_LIMIT = 256  # the bot's RLIMIT_NOFILE: far fewer descriptors than the flood has connections
IDLE_CONNECTIONS = 1100
HALF_A_HEADER = b"POST /payermax/notify HTTP/1.1\r\nHost: bot\r\nContent-Ty"
ANSWER_WITHIN = 3.0  # seconds; PayerMax gives up on a delivery that takes much longer


async def _open_idle_connections(port: int, count: int) -> list[asyncio.StreamWriter]:
    """Connect ``count`` times, send half a request head on each, and leave them hanging."""
    writers = []
    for _ in range(count):
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HALF_A_HEADER)
        writers.append(writer)
    return writers


async def test_idle_flood_does_not_starve_notifications_or_health(database_url: str, tmp_path: Path) -> None:
    """1,100 half-sent requests against a bot allowed 256 open files: a signed notification is still acknowledged."""
    async with FakeTelegram() as fake:
        bot = BotProcess(fake, database_url=database_url, data_dir=tmp_path / "data", file_limit=FILE_LIMIT)
        db = Database(database_url)
        await bot.start()
        idle: list[asyncio.StreamWriter] = []
        try:
            [link] = await db.add_active_links([50_001])
            body = link_paid_notification(link)
            sign = bot.platform_sign(body)
            idle = await _open_idle_connections(bot.port, IDLE_CONNECTIONS)

            loop = asyncio.get_running_loop()
            started = loop.time()
            answer = await asyncio.wait_for(bot.post_notification(body, sign=sign), ANSWER_WITHIN)
            assert (answer.status_code, answer.json()["code"]) == (200, "SUCCESS")
            async with httpx.AsyncClient(timeout=ANSWER_WITHIN) as client:
                health = await client.get(f"{bot.base_url}/healthz")
            assert health.status_code == 200, health.text
            assert loop.time() - started < ANSWER_WITHIN
            assert [payment.link_id for payment in await db.payments()] == [link.id]
        finally:
            for writer in idle:
                writer.close()
            await bot.stop()
            await db.close()
        assert "Traceback" not in bot.log()
