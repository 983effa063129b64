"""`paylink-bot doctor` reports each check on its own line and fails on any problem."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.fakes.telegram_api import FakeTelegram


async def _doctor(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "doctor", cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, output.decode()


def _base_env(fake: FakeTelegram, tmp_path: Path) -> dict[str, str]:
    keep = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}}
    return {**keep, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": fake.base_url, "DATA_DIR": str(tmp_path / "data")}


async def test_doctor_passes_on_a_working_sandbox(tmp_path: Path) -> None:
    async with FakeTelegram(bot_username="shop_paylink_bot") as fake:
        code, output = await _doctor(_base_env(fake, tmp_path), tmp_path)
    assert code == 0, output
    assert "✔ database reachable (sqlite)" in output
    assert "@shop_paylink_bot" in output
    assert "sandbox" in output and "all checks passed" in output
    assert fake.token not in output


async def test_doctor_lists_every_problem_of_a_live_configuration(tmp_path: Path) -> None:
    async with FakeTelegram() as fake:
        env = {**_base_env(fake, tmp_path), "PAYERMAX_ENV": "uat", "PAYERMAX_APP_ID": "changeme", "TELEGRAM_BOT_TOKEN": "999:wrong-token"}
        code, output = await _doctor(env, tmp_path)
    assert code == 1
    failures = [line for line in output.splitlines() if line.startswith("✖")]
    named = " ".join(failures)
    for variable in ("PAYERMAX_APP_ID", "PAYERMAX_MERCHANT_NO", "PAYERMAX_MERCHANT_PRIVATE_KEY", "ADMIN_USER_IDS", "TELEGRAM_BOT_TOKEN"):
        assert variable in named, output
    assert "Traceback" not in output
