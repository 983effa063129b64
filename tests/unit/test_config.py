"""Settings: every mistake is one clear line naming the variable; placeholders never go live."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, live_problems, load_settings, parse_duration
from bot.keys import write_key_pair
from tests.cli import cli_env

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


def test_cli_reports_a_config_error_in_one_line_without_traceback(tmp_path: Path) -> None:
    env = {**cli_env(), "TELEGRAM_BOT_TOKEN": TOKEN, "LINK_EXPIRY": "5m"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "configuration error: LINK_EXPIRY: must be between 1h and 30d (PayerMax's limits)"
    assert "Traceback" not in result.stderr


def test_cli_refuses_an_unreadable_private_key_outside_sandbox(tmp_path: Path) -> None:
    env = {
        **cli_env(),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "PAYERMAX_ENV": "uat",
        "PAYERMAX_APP_ID": "app",
        "PAYERMAX_MERCHANT_NO": "P01",
        "PAYERMAX_MERCHANT_PRIVATE_KEY": "bm90IGEga2V5",
        "PAYERMAX_PLATFORM_PUBLIC_KEY": "bm90IGEga2V5",
        "ADMIN_USER_IDS": "1",
        "PAYERMAX_CONTACT_EMAIL": "a@b.co",
        "PUBLIC_BASE_URL": "https://pay.example.com",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("configuration error: PAYERMAX_MERCHANT_PRIVATE_KEY:")
    assert "bm90IGEga2V5" not in result.stderr and "Traceback" not in result.stderr


def test_cli_says_in_one_line_when_telegram_cannot_be_reached(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        http_port = probe.getsockname()[1]
    env = {
        **cli_env(),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{closed}/bot",
        "HTTP_PORT": str(http_port),
        "DATA_DIR": str(tmp_path / "data"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"configuration error: TELEGRAM_API_BASE_URL: cannot reach the Telegram Bot API at http://127.0.0.1:{closed}/bot"
    )
    assert "Traceback" not in result.stderr and TOKEN not in result.stderr


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


def test_cli_says_in_one_line_when_the_metrics_port_is_taken(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken, socket.socket() as probe:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        probe.bind(("127.0.0.1", 0))
        http_port, metrics_port = probe.getsockname()[1], taken.getsockname()[1]
        probe.close()
        env = {
            "PATH": "/usr/bin:/bin",
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "HTTP_PORT": str(http_port),
            "METRICS_PORT": str(metrics_port),
            "DATA_DIR": str(tmp_path / "data"),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),  # this checkout's bot, not an installed one
        }
        command = [sys.executable, "-m", "bot", "run"]
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    expected = f"configuration error: METRICS_PORT: cannot listen on 127.0.0.1:{metrics_port}: Address already in use"
    assert last == expected
    assert "Traceback" not in result.stderr
