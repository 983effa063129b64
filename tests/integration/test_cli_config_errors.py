"""``paylink-bot run`` says a configuration mistake in one line naming the variable, with no traceback or secret.

Each case runs the real command line in a subprocess (moved here from the unit tests: starting
Python and the bot's imports takes about a second each).
"""

from __future__ import annotations

import socket
from pathlib import Path

from tests.cli import cli_env, run_cli
from tests.e2e.harness import free_port

TOKEN = "123456:ABCdefGHIjkl"


def test_cli_reports_a_config_error_in_one_line_without_traceback(tmp_path: Path) -> None:
    env = cli_env(TELEGRAM_BOT_TOKEN=TOKEN, LINK_EXPIRY="5m")
    result = run_cli("run", env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "configuration error: LINK_EXPIRY: must be between 1h and 30d (PayerMax's limits)"
    assert "Traceback" not in result.stderr


def test_cli_names_send_limits_it_cannot_read(tmp_path: Path) -> None:
    env = cli_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_SEND_LIMITS="30/1/20")
    result = run_cli("run", env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: TELEGRAM_SEND_LIMITS: '30/1/20' is not three whole numbers above 0: "
        "per_second,private_per_second,group_per_minute (Telegram's are 30,1,20)"
    )


def test_cli_refuses_an_unreadable_private_key_outside_sandbox(tmp_path: Path) -> None:
    env = cli_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        PAYERMAX_ENV="uat",
        PAYERMAX_APP_ID="app",
        PAYERMAX_MERCHANT_NO="P01",
        PAYERMAX_MERCHANT_PRIVATE_KEY="bm90IGEga2V5",
        PAYERMAX_PLATFORM_PUBLIC_KEY="bm90IGEga2V5",
        ADMIN_USER_IDS="1",
        PAYERMAX_CONTACT_EMAIL="a@b.co",
        PUBLIC_BASE_URL="https://pay.example.com",
    )
    result = run_cli("run", env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("configuration error: PAYERMAX_MERCHANT_PRIVATE_KEY:")
    assert "bm90IGEga2V5" not in result.stderr and "Traceback" not in result.stderr


def test_cli_says_in_one_line_when_telegram_cannot_be_reached(tmp_path: Path) -> None:
    closed = free_port()  # a port nobody listens on
    env = cli_env(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{closed}/bot",
        HTTP_PORT=str(free_port()),
        DATA_DIR=str(tmp_path / "data"),
    )
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"configuration error: TELEGRAM_API_BASE_URL: cannot reach the Telegram Bot API at http://127.0.0.1:{closed}/bot"
    )
    assert "Traceback" not in result.stderr and TOKEN not in result.stderr


def test_cli_says_in_one_line_when_the_metrics_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        metrics_port = taken.getsockname()[1]
        env = cli_env(
            TELEGRAM_BOT_TOKEN=TOKEN,
            HTTP_PORT=str(free_port()),
            METRICS_PORT=str(metrics_port),
            DATA_DIR=str(tmp_path / "data"),
        )
        result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    expected = f"configuration error: METRICS_PORT: cannot listen on 127.0.0.1:{metrics_port}: Address already in use"
    assert last == expected
    assert "Traceback" not in result.stderr
