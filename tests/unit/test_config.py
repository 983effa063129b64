"""Settings: every mistake is one clear line naming the variable; placeholders never go live."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.botapi.budget import Limits
from bot.config import ConfigError, live_problems, load_settings, parse_duration
from bot.keys import write_key_pair

TOKEN = "123456:ABCdefGHIjkl"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test sees only the variables it sets (and no .env from the working directory)."""
    import os

    for name in list(os.environ):
        if name.startswith(
            (
                "TELEGRAM_",
                "PAYERMAX_",
                "DATABASE_",
                "ADMIN_",
                "DEFAULT_",
                "LINK_",
                "BOT_",
                "PUBLIC_",
                "HTTP_",
                "METRICS_",
            )
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_token_alone_gives_a_working_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    settings = load_settings()
    # No currency of its own: the bot asks the first time, then remembers the chat's choice.
    assert settings.is_sandbox and settings.default_currency is None and settings.default_language == "en"
    assert settings.resolved_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.gateway_base_url == "http://127.0.0.1:8080/sandbox"
    assert settings.link_expiry_seconds == 86400
    assert live_problems(settings) == []


@pytest.mark.parametrize(
    ("variable", "value", "phrase"),
    [
        ("TELEGRAM_BOT_TOKEN", None, "is required"),
        ("TELEGRAM_BOT_TOKEN", "not-a-token", "BotFather"),
        ("LINK_EXPIRY", "10m", "between 1h and 30d"),
        ("LINK_EXPIRY", "45d", "between 1h and 30d"),
        ("LINK_EXPIRY", "soon", "duration"),
        ("DEFAULT_CURRENCY", "XYZ", "XYZ"),
        ("DEFAULT_COUNTRY", "USA", "2-letter"),
        ("ADMIN_USER_IDS", "12,bob", "numeric"),
        ("BOT_MODE", "carrier-pigeon", ""),
        ("PUBLIC_BASE_URL", "example.com", "http"),
        ("SANDBOX_REFUND_SETTLE_SECONDS", "-1", "greater than or equal to 0"),
        ("SANDBOX_REFUND_SETTLE_SECONDS", "soon", "number"),
        ("METRICS_TOKEN", "changeme", "at least 16 characters"),
        ("METRICS_PORT", "70000", "65535"),
        ("METRICS_PORT", "8080", "differ from HTTP_PORT"),
        ("TELEGRAM_SEND_LIMITS", "30,1", "three whole numbers"),
        ("TELEGRAM_SEND_LIMITS", "30,0,20", "above 0"),
        ("TELEGRAM_SEND_LIMITS", "30,1,20.5", "per_second,private_per_second,group_per_minute"),
        ("TELEGRAM_SEND_LIMITS", "fast", "Telegram's are 30,1,20"),
    ],
)
def test_each_mistake_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str | None, phrase: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.variable == variable
    assert phrase in caught.value.problem


def test_send_limits_default_to_telegrams_and_set_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    settings = load_settings()
    assert settings.telegram_send_limits == (30, 1, 20) and settings.send_limits == Limits()
    monkeypatch.setenv("TELEGRAM_SEND_LIMITS", " 60, 2 ,40 ")
    assert load_settings().send_limits == Limits.for_telegram(60, 2, 40)


def test_metrics_token_is_a_secret_the_logs_scrub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("METRICS_TOKEN", "  0123456789abcdef0123  ")
    settings = load_settings()
    assert settings.metrics_token is not None and settings.metrics_token.get_secret_value() == "0123456789abcdef0123"
    assert "0123456789abcdef0123" in settings.secret_values()
    assert "0123456789abcdef0123" not in repr(settings)
    assert (settings.metrics_host, settings.metrics_port) == ("127.0.0.1", None)


def test_webhook_mode_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("BOT_MODE", "webhook")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.variable == "TELEGRAM_WEBHOOK_SECRET"


def test_placeholders_are_refused_outside_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("PAYERMAX_ENV", "uat")
    monkeypatch.setenv("PAYERMAX_APP_ID", "changeme")
    monkeypatch.setenv("PAYERMAX_MERCHANT_NO", "P01000000000000")
    monkeypatch.setenv("PAYERMAX_MERCHANT_PRIVATE_KEY", "<your-private-key>")
    problems = {problem.variable for problem in live_problems(load_settings())}
    assert {
        "PAYERMAX_APP_ID",
        "PAYERMAX_MERCHANT_PRIVATE_KEY",
        "PAYERMAX_PLATFORM_PUBLIC_KEY",
        "ADMIN_USER_IDS",
        "PAYERMAX_CONTACT_EMAIL",
        "PUBLIC_BASE_URL",
    } <= problems
    assert "PAYERMAX_MERCHANT_NO" not in problems


def test_real_keys_from_files_pass(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private_path, public_path = write_key_pair(tmp_path / "keys")
    assert private_path.stat().st_mode & 0o777 == 0o600
    for name, value in {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "PAYERMAX_ENV": "production",
        "PAYERMAX_APP_ID": "app-42",
        "PAYERMAX_MERCHANT_NO": "P010",
        "PAYERMAX_MERCHANT_PRIVATE_KEY_FILE": str(private_path),
        "PAYERMAX_PLATFORM_PUBLIC_KEY_FILE": str(public_path),
        "ADMIN_USER_IDS": "42",
        "PAYERMAX_CONTACT_EMAIL": "shop@example.com",
        "PUBLIC_BASE_URL": "https://pay.example.com",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert live_problems(settings) == []
    assert settings.gateway_base_url == "https://pay-gate.payermax.com"
    assert settings.notify_url == "https://pay.example.com/payermax/notify"


def test_unreadable_key_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("PAYERMAX_ENV", "uat")
    monkeypatch.setenv("PAYERMAX_MERCHANT_PRIVATE_KEY_FILE", str(tmp_path / "missing.pem"))
    problems = live_problems(load_settings())
    [problem] = [p for p in problems if p.variable == "PAYERMAX_MERCHANT_PRIVATE_KEY_FILE"]
    assert "missing.pem" in problem.problem


def test_keys_refuse_to_overwrite_a_registered_pair(tmp_path: Path) -> None:
    write_key_pair(tmp_path)
    with pytest.raises(ConfigError):
        write_key_pair(tmp_path)


@pytest.mark.parametrize(
    ("text", "seconds"), [("1h", 3600), ("24h", 86400), ("7d", 604800), ("90m", 5400), ("3600", 3600)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_an_empty_key_file_names_the_file_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The file is set but holds nothing: the _FILE variable is named, not "set it or ..._FILE"."""
    empty = tmp_path / "merchant.pem"
    empty.write_text("  \n")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("PAYERMAX_ENV", "uat")
    monkeypatch.setenv("PAYERMAX_MERCHANT_PRIVATE_KEY_FILE", str(empty))
    problems = [p for p in live_problems(load_settings()) if p.variable.startswith("PAYERMAX_MERCHANT_PRIVATE_KEY")]
    assert [(p.variable, p.problem) for p in problems] == [
        ("PAYERMAX_MERCHANT_PRIVATE_KEY_FILE", f"{empty} is empty; it must hold the key (PEM or base64)")
    ]


def test_keys_force_leaves_the_new_private_key_owner_only(tmp_path: Path) -> None:
    """Replacing a key pair whose private file had become 0644 writes the new key 0600."""
    private_path, _ = write_key_pair(tmp_path)
    private_path.chmod(0o644)
    old = private_path.read_text()
    write_key_pair(tmp_path, force=True)
    assert private_path.stat().st_mode & 0o777 == 0o600
    assert private_path.read_text() != old
    assert sorted(path.name for path in tmp_path.iterdir()) == ["merchant_private_key.pem", "merchant_public_key.txt"]


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://shop:pw@db.example.com:5432/paylink", "postgresql+asyncpg://shop:pw@db.example.com:5432/paylink"),
        ("postgresql://shop@db.example.com/paylink", "postgresql+asyncpg://shop@db.example.com/paylink"),
        ("postgresql+asyncpg://shop@db.example.com/paylink", "postgresql+asyncpg://shop@db.example.com/paylink"),
        (
            "postgres://shop@db.example.com/paylink?sslmode=require",
            "postgresql+asyncpg://shop@db.example.com/paylink?ssl=require",
        ),
        ("sqlite:///data/shop.db", "sqlite+aiosqlite:///data/shop.db"),
    ],
)
def test_database_url_forms_get_the_async_driver(monkeypatch: pytest.MonkeyPatch, given: str, used: str) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", given)
    assert load_settings().resolved_database_url == used


def test_database_url_parameters_asyncpg_cannot_take_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    url = "postgres://shop:hunter2pw@db.example.com/paylink?sslmode=require&channel_binding=require"
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.variable == "DATABASE_URL" and "channel_binding" in caught.value.problem
    assert "hunter2pw" not in str(caught.value)
