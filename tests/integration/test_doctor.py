"""`paylink-bot doctor` reports each check on its own line and fails on any problem."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.keys import write_key_pair
from tests.cli import cli_env
from tests.e2e.harness import free_port
from tests.fakes.telegram_api import FakeTelegram


async def _doctor(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "doctor",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, output.decode()


def _base_env(fake: FakeTelegram, tmp_path: Path) -> dict[str, str]:
    return cli_env(TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_API_BASE_URL=fake.base_url, DATA_DIR=str(tmp_path / "data"))


async def test_doctor_passes_on_a_working_sandbox(tmp_path: Path) -> None:
    async with FakeTelegram(bot_username="shop_paylink_bot") as fake:
        code, output = await _doctor(_base_env(fake, tmp_path), tmp_path)
    assert code == 0, output
    assert "✔ database reachable (sqlite)" in output
    assert "@shop_paylink_bot" in output
    assert "sandbox" in output and "all checks passed" in output
    assert fake.token not in output


def _live_env(fake: FakeTelegram, tmp_path: Path, **variables: str) -> dict[str, str]:
    """A UAT configuration that is complete except for what ``variables`` change."""
    private_path, public_path = write_key_pair(tmp_path / "keys", force=True)
    return {
        **_base_env(fake, tmp_path),
        "PAYERMAX_ENV": "uat",
        "PAYERMAX_APP_ID": "app-42",
        "PAYERMAX_MERCHANT_NO": "P010",
        "PAYERMAX_MERCHANT_PRIVATE_KEY_FILE": str(private_path),
        "PAYERMAX_PLATFORM_PUBLIC_KEY_FILE": str(public_path),
        "ADMIN_USER_IDS": "42",
        "PAYERMAX_CONTACT_EMAIL": "shop@example.com",
        "PUBLIC_BASE_URL": "https://pay.example.com",
        **variables,
    }


async def test_doctor_lists_every_problem_of_a_live_configuration_once_and_skips_the_payermax_probe(
    tmp_path: Path,
) -> None:
    """Seven wrong settings and a refused token: eight ✖ lines, no "settings read", no second key report."""
    async with FakeTelegram() as fake:
        env = {
            **_base_env(fake, tmp_path),
            "PAYERMAX_ENV": "uat",
            "PAYERMAX_APP_ID": "changeme",
            "TELEGRAM_BOT_TOKEN": "999:wrong-token",
        }
        code, output = await _doctor(env, tmp_path)
    assert code == 1
    assert "settings read" not in output
    failures = [line for line in output.splitlines() if line.startswith("✖")]
    variables = [line.split()[1].rstrip(":") for line in failures]
    assert sorted(variables) == sorted(
        {
            "PAYERMAX_APP_ID",
            "PAYERMAX_MERCHANT_NO",
            "PAYERMAX_MERCHANT_PRIVATE_KEY",
            "PAYERMAX_PLATFORM_PUBLIC_KEY",
            "ADMIN_USER_IDS",
            "PAYERMAX_CONTACT_EMAIL",
            "PUBLIC_BASE_URL",
            "TELEGRAM_BOT_TOKEN",
        }
    ), output
    [skipped] = [line for line in output.splitlines() if "skipped" in line]
    assert skipped.startswith("– PayerMax probe skipped") and not skipped.startswith("✖")
    assert output.strip().endswith("8 problem(s) found")
    assert "Traceback" not in output


async def test_doctor_names_telegram_api_base_url_when_telegram_cannot_be_reached(tmp_path: Path) -> None:
    closed = free_port()
    async with FakeTelegram() as fake:
        env = {**_base_env(fake, tmp_path), "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{closed}/bot"}
        code, output = await _doctor(env, tmp_path)
    assert code == 1
    [failure] = [line for line in output.splitlines() if line.startswith("✖")]
    expected = f"✖ TELEGRAM_API_BASE_URL: cannot reach the Telegram Bot API at http://127.0.0.1:{closed}/bot"
    assert failure.startswith(expected), output
    assert "NetworkError" not in output and fake.token not in output


async def test_doctor_names_the_key_file_variable_when_the_file_is_empty_or_unreadable(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("\n")
    async with FakeTelegram() as fake:
        code, output = await _doctor(_live_env(fake, tmp_path, PAYERMAX_MERCHANT_PRIVATE_KEY_FILE=str(empty)), tmp_path)
        assert code == 1
        [failure] = [line for line in output.splitlines() if line.startswith("✖")]
        expected = f"✖ PAYERMAX_MERCHANT_PRIVATE_KEY_FILE: {empty} is empty; it must hold the key (PEM or base64)"
        assert failure == expected, output
        assert "PayerMax probe skipped" in output

        folder = tmp_path / "a-folder"
        folder.mkdir()
        code, output = await _doctor(_live_env(fake, tmp_path, PAYERMAX_PLATFORM_PUBLIC_KEY_FILE=str(folder)), tmp_path)
    assert code == 1
    [failure] = [line for line in output.splitlines() if line.startswith("✖")]
    assert failure == f"✖ PAYERMAX_PLATFORM_PUBLIC_KEY_FILE: cannot read {folder}: Is a directory"
