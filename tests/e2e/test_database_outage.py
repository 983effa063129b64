"""The database goes away under a running bot: PayerMax hears 503 (so it retries), never SUCCESS, and nothing is lost.

PostgreSQL is taken away as an operator or a failover would: new connections refused
(``ALLOW_CONNECTIONS false``) and every open one terminated. SQLite is "away" while another
process holds its write lock past the bot's busy timeout (a stuck maintenance job or backup).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from storage.db import SQLITE_BUSY_TIMEOUT_MS
from tests.e2e.harness import link_paid_notification, running_bot

pytestmark = pytest.mark.e2e

NOTIFY = "/payermax/notify"
OUTAGE_DELIVERIES = {"postgresql": 3, "sqlite": 1}  # a SQLite delivery waits out the busy timeout first
UNAVAILABLE_WARNING = re.compile(r" WARNING paylink\.\S+ database unavailable ")
BACK_INFO = re.compile(r" INFO paylink\.\S+ database reachable again")


@asynccontextmanager
async def postgres_outage(database_url: str) -> AsyncIterator[None]:
    """Refuse new connections to the bot's database and end the open ones, until the block exits."""
    url = make_url(database_url)
    name = url.database
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database="postgres"
    )
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        try:
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


@asynccontextmanager
async def sqlite_outage(database_url: str) -> AsyncIterator[None]:
    """Hold the SQLite file's write lock from another connection until the block exits."""
    holder = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
    finally:
        holder.close()


def metric(text: str, name: str) -> float:
    """The value of one sample in Prometheus' text format (0 if absent)."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_notification_during_outage_gets_503_then_success_once_back(database_url: str, tmp_path: Path) -> None:
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    outage: Callable[[str], AbstractAsyncContextManager[None]]
    outage = sqlite_outage if backend == "sqlite" else postgres_outage
    deliveries = OUTAGE_DELIVERIES[backend]
    async with running_bot(database_url, tmp_path, clean_exit=False) as (_fake, bot, db, _people):
        [link] = await db.add_active_links([50_001])
        await db.close()  # the test's own connections would otherwise sit in the way of the outage
        body = link_paid_notification(link)
        sign = bot.platform_sign(body)
        timeout = SQLITE_BUSY_TIMEOUT_MS / 1000 + 10  # a SQLite delivery waits for the lock that long
        headers = {"Content-Type": "application/json", "sign": sign}
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=timeout) as client:
            async with outage(database_url):
                during = [await client.post(NOTIFY, content=body, headers=headers) for _ in range(deliveries)]
                metrics_during = (await client.get("/metrics")).text
            after = [await client.post(NOTIFY, content=body, headers=headers) for _ in range(2)]
            metrics_after = (await client.get("/metrics")).text
        payments = await db.payments()

    for answer in during:
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] != "SUCCESS"
    assert [(answer.status_code, answer.json()["code"]) for answer in after] == [(200, "SUCCESS")] * 2
    assert [(payment.link_id, payment.out_trade_no) for payment in payments] == [(link.id, f"T{link.merchant_link_id}")]
    assert metric(metrics_during, "paylink_database_up") == 0
    assert metric(metrics_during, 'paylink_notifications_total{result="database_unavailable"}') == deliveries
    assert metric(metrics_after, "paylink_database_up") == 1

    lines = bot.log().splitlines()
    assert len([line for line in lines if UNAVAILABLE_WARNING.search(line)]) == 1, "\n".join(lines)
    assert len([line for line in lines if BACK_INFO.search(line)]) == 1, "\n".join(lines)
    web_loggers = (" paylink.notify ", " paylink.web ", " uvicorn.error ")
    web_lines = [line for line in lines if any(name in line for name in web_loggers)]
    assert [line for line in web_lines if "Traceback" in line or " ERROR " in line] == []
