"""Start-up says where the bot is, in one line without secrets, and why a phone could not open its links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.startup_report import pace_warning, phone_hint, started_line, unreachable_warning
from storage.db import create_engine

TOKEN = "123456:ABCdefGHIjkl"
PASSWORD = "pg-Secret-93f1"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test sees only the settings it passes (no variables from the shell, no .env)."""
    for name in list(os.environ):
        if name.startswith(("TELEGRAM_", "PAYERMAX_", "DATABASE_", "BOT_", "PUBLIC_", "HTTP_", "ADMIN_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _settings(**values: object) -> Settings:
    return load_settings(telegram_bot_token=TOKEN, **values)


async def test_the_line_names_bot_mode_payermax_database_and_addresses_but_never_the_password() -> None:
    settings = _settings(
        bot_mode="webhook",
        telegram_webhook_secret="hook-secret-value-1234",
        payermax_env="uat",
        database_url=f"postgresql://shop:{PASSWORD}@db.internal:5433/paylink",
        public_base_url="https://pay.example.com",
    )
    engine = create_engine(settings.resolved_database_url)
    try:
        line = started_line(settings, "shop_bot", engine)
    finally:
        await engine.dispose()
    assert line == (
        "started: bot @shop_bot, webhook, PayerMax uat, database PostgreSQL at db.internal:5433/paylink as shop, "
        "public URL https://pay.example.com, customers pay at PayerMax's payment pages (uat)"
    )
    assert PASSWORD not in line and "hook-secret" not in line


async def test_the_sandbox_line_says_where_its_checkout_pages_are(tmp_path: Path) -> None:
    settings = _settings(public_base_url="http://192.168.1.20:8080", http_host="0.0.0.0", data_dir=str(tmp_path))
    engine = create_engine(settings.resolved_database_url)
    try:
        line = started_line(settings, "paylink_bot", engine)
    finally:
        await engine.dispose()
    assert "bot @paylink_bot, polling, PayerMax sandbox" in line
    assert "database the SQLite file" in line and "paylink.db" in line
    assert line.endswith("public URL http://192.168.1.20:8080, customers pay at http://192.168.1.20:8080/sandbox/pay/")


def test_a_sandbox_on_loopback_says_how_to_pay_from_a_phone() -> None:
    hint = phone_hint(_settings())
    assert hint is not None and "only this computer can open them" in hint
    assert "HTTP_HOST=0.0.0.0" in hint and "PUBLIC_BASE_URL=http://<this computer's LAN address>:8080" in hint
    assert phone_hint(_settings(public_base_url="http://192.168.1.20:8080", http_host="0.0.0.0")) is None


def test_links_at_a_lan_address_the_server_does_not_listen_on_are_a_warning() -> None:
    warning = unreachable_warning(_settings(public_base_url="http://192.168.1.20:8080"))
    assert warning is not None and "listens on 127.0.0.1 only" in warning and "HTTP_HOST=0.0.0.0" in warning
    assert unreachable_warning(_settings(public_base_url="http://192.168.1.20:8080", http_host="0.0.0.0")) is None
    # Behind a reverse proxy on this machine: a name in PUBLIC_BASE_URL, loopback is right.
    assert unreachable_warning(_settings(public_base_url="https://pay.example.com")) is None


def test_send_limits_above_telegrams_are_a_warning() -> None:
    assert pace_warning(_settings()) is None
    assert pace_warning(_settings(telegram_send_limits="25,1,15")) is None  # slower than Telegram asks is safe
    warning = pace_warning(_settings(telegram_send_limits="1000,100,6000"))
    assert warning is not None and warning.startswith("TELEGRAM_SEND_LIMITS=1000,100,6000 is above")
    assert "(30,1,20)" in warning and "429" in warning
