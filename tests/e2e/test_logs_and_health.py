"""Operations: structured logs that never hold a secret, /healthz and /metrics, on a whole flow at DEBUG."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy.engine import make_url

from bot.payermax import signing
from bot.sandbox.keys import MERCHANT_KEY_FILE, PLATFORM_KEY_FILE, SANDBOX_DIR_NAME
from tests.e2e.harness import PAID_PREFIX, BotProcess, Database, free_port, paybylink_notification
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.e2e

SELLER = 1001
WEBHOOK_SECRET = "logs-webhook-secret-7f3a9c"
DATABASE_PASSWORD = "logs-db-password-41c9e2"
# Every line the bot writes starts like this: one event per line, never a continuation.
LINE_START = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+ ")
LINK_EVENTS = ("link intent stored", "link active", "payment recorded")


def _pem_body(pem: str) -> str:
    """The base64 inside a PEM file, armour and line breaks removed."""
    return "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))


async def test_debug_logs_hold_no_secret_and_health_and_metrics_report(database_url: str, tmp_path) -> None:
    """A link made through the webhook and paid at the checkout leaves one-line logs without any secret."""
    password = DATABASE_PASSWORD
    if not database_url.startswith("sqlite"):
        # The test PostgreSQL trusts local connections: a password is given anyway, so the log can be searched for it.
        url = make_url(database_url)
        password = str(url.password or DATABASE_PASSWORD)
        database_url = url.set(password=password).render_as_string(hide_password=False)
    async with FakeTelegram() as fake:
        bot = BotProcess(
            fake,
            database_url=database_url,
            data_dir=tmp_path / "data",
            admin_ids=str(SELLER),
            BOT_MODE="webhook",
            TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
            LOG_LEVEL="DEBUG",
        )
        db = Database(database_url)
        await bot.start()
        signs_sent: list[str] = []
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                fake.send_text("/link 25 USD Blue scarf", user_id=SELLER)  # the fake delivers it to the webhook
                card = await fake.wait_for_message(lambda m: m.chat_id == SELLER and m.kind == "photo", timeout=30)
                url = re.search(r"Pay here: (\S+)", card.text).group(1)
                assert (await client.post(url, data={"action": "pay", "method": "CARD"})).status_code == 200
                await fake.wait_for_message(lambda m: (m.text or "").startswith(PAID_PREFIX), timeout=30)
                [link] = await db.links()

                # Notifications the test signs itself: a forgery and a wrong amount, both refused.
                body = paybylink_notification(
                    link.merchant_link_id,
                    amount="25.00",
                    currency="USD",
                    trade="FORGED1",
                    payermax_link_id=link.payermax_link_id,
                )
                forged_sign = signing.sign(body, signing.generate_private_key())
                assert (await bot.post_notification(body, sign=forged_sign)).status_code == 401
                wrong = paybylink_notification(
                    link.merchant_link_id,
                    amount="1.00",
                    currency="USD",
                    trade="CHEAP1",
                    payermax_link_id=link.payermax_link_id,
                )
                wrong_sign = bot.platform_sign(wrong)
                assert (await bot.post_notification(wrong, sign=wrong_sign)).status_code == 409
                signs_sent += [forged_sign, wrong_sign]
                await fake.wait_for_message(
                    lambda m: m.chat_id == SELLER and "mismatch" in (m.text or "").lower(), timeout=20
                )

                health = await client.get(f"{bot.base_url}/healthz")
                assert health.status_code == 200 and health.json()["database"] == "ok"
                metrics = (await client.get(f"{bot.base_url}/metrics")).text
        finally:
            await bot.stop()
            await db.close()

        assert re.search(r'^paylink_links_created_total\{result="created"\} 1\.0$', metrics, re.M)
        assert re.search(r'^paylink_notifications_total\{result="applied"\} [1-9]', metrics, re.M)
        assert re.search(r'^paylink_notifications_total\{result="rejected"\} 1\.0$', metrics, re.M)
        assert re.search(r"^paylink_outbox_backlog \d", metrics, re.M)
        assert re.search(
            r'^paylink_payermax_call_seconds_count\{api="createPaybylink",outcome="ok"\} 1\.0$', metrics, re.M
        )

        log = bot.log()
        key_dir = bot.data_dir / SANDBOX_DIR_NAME
        secrets = {
            "bot token": fake.token,
            "bot token's secret part": fake.token.split(":", 1)[1],
            "webhook secret": WEBHOOK_SECRET,
            "database password": password,
            "merchant private key": _pem_body((key_dir / MERCHANT_KEY_FILE).read_text()),
            "platform private key": _pem_body((key_dir / PLATFORM_KEY_FILE).read_text()),
            **{f"sign header {index}": sign for index, sign in enumerate(signs_sent)},
        }
        # A key logged as PEM would be split over lines: any 64-character line of it counts.
        for name in ("merchant private key", "platform private key"):
            secrets |= {
                f"{name} line {index}": secrets[name][start : start + 64]
                for index, start in enumerate(range(0, len(secrets[name]) - 63, 64))
            }
        leaked = [name for name, value in secrets.items() if value in log]
        assert leaked == []

        lines = log.splitlines()
        # One line at start says where the bot is: name, mode, PayerMax, database (no password), addresses.
        [started] = [line for line in lines if " INFO paylink.app started: " in line]
        assert f"started: bot @{fake.bot_username}, webhook, PayerMax sandbox" in started
        database = "the SQLite file" if database_url.startswith("sqlite") else "PostgreSQL at 127.0.0.1:5432/"
        assert f"database {database}" in started
        assert f"public URL {bot.base_url}, customers pay at {bot.base_url}/sandbox/pay/" in started
        assert any(" DEBUG " in line for line in lines), "the bot did not log at DEBUG"
        assert [line for line in lines if not LINE_START.match(line)] == []
        for event in LINK_EVENTS:
            event_lines = [line for line in lines if f" {event} " in f"{line} "]
            assert event_lines, f"no '{event}' line"
            for line in event_lines:
                assert f"link={link.merchant_link_id}" in line and f"chat={SELLER}" in line, line


async def test_metrics_listener_and_token_keep_metrics_off_the_public_port(database_url: str, tmp_path) -> None:
    """METRICS_PORT serves /metrics to the scraper; the web port wants METRICS_TOKEN, which the logs never show."""
    metrics_port = free_port()
    token = "metrics-bearer-7d1c0e55aa93f2b4"
    async with FakeTelegram() as fake:
        bot = BotProcess(
            fake,
            database_url=database_url,
            data_dir=tmp_path / "data",
            LOG_LEVEL="DEBUG",
            METRICS_PORT=str(metrics_port),
            METRICS_TOKEN=token,
        )
        await bot.start()
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                scraped = await client.get(f"http://127.0.0.1:{metrics_port}/metrics")
                public = await client.get(f"{bot.base_url}/metrics")
                wrong = await client.get(f"{bot.base_url}/metrics", headers={"Authorization": "Bearer not-the-token"})
                bearing = await client.get(f"{bot.base_url}/metrics", headers={"Authorization": f"Bearer {token}"})
                other_paths = await client.get(f"http://127.0.0.1:{metrics_port}/healthz")
        finally:
            await bot.stop()
    assert scraped.status_code == 200 and re.search(r"^paylink_http_connections \d", scraped.text, re.M)
    assert (public.status_code, wrong.status_code) == (401, 401)
    assert bearing.status_code == 200 and "paylink_notifications_total" in bearing.text
    assert other_paths.status_code == 404
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in bot.log()
    assert token not in bot.log()
