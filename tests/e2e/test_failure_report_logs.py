"""A failing end-to-end test's report shows the tail of its bot's log, with no secret in it.

A pytest of its own (one pytest-xdist worker, so the report crosses from worker to controller as in
``-n 2``) runs a generated test that starts one bot, finds a leak written into its log, and fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.sandbox.keys import MERCHANT_KEY_FILE, SANDBOX_DIR_NAME
from tests.e2e.bot_logs import TAIL_LINES

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "inner-webhook-secret-5b2e91"
SIGNED_BODY = b'{"notifyType":"PAYBYLINK"}'
TOKEN = "424242:inner-token-9c1f7a"
# Every line the bot wrote before it, so that the tail is shorter than the log.
PADDING = 2 * TAIL_LINES

# The secrets reach the inner test through its environment: the report shows its source, not them.
INNER_TEST = f"""
import os
from pathlib import Path

from bot.sandbox.keys import MERCHANT_KEY_FILE, SANDBOX_DIR_NAME
from tests.e2e.harness import BotProcess
from tests.fakes.telegram_api import FakeTelegram

TOKEN, SECRET = os.environ["INNER_TOKEN"], os.environ["INNER_SECRET"]


async def test_fails_with_a_leaky_log(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as fake:
        bot = BotProcess(
            fake,
            database_url=f"sqlite+aiosqlite:///{{tmp_path / 'paylink.db'}}",
            data_dir=tmp_path / "data",
            BOT_MODE="webhook",
            TELEGRAM_WEBHOOK_SECRET=SECRET,
        )
        await bot.start()
        try:
            sign = bot.platform_sign({SIGNED_BODY!r})
            key_line = (bot.data_dir / SANDBOX_DIR_NAME / MERCHANT_KEY_FILE).read_text().splitlines()[1]
            with bot.log_path.open("a") as log:  # a bot that logged what it must not
                log.writelines(f"padding {{index}}\\n" for index in range({PADDING}))
                log.write(f"LEAK url={{fake.base_url}}{{fake.token}}/getMe secret={{SECRET}} sign={{sign}}\\n")
                log.write(f"LEAK key={{key_line}} token={{fake.token}}\\n")
        finally:
            await bot.stop()
        raise AssertionError("failing on purpose")
"""


def test_failing_report_has_the_bot_log_tail_without_secrets(tmp_path: Path) -> None:
    """The report names the bot's log, shows its last lines (the leak among them) and masks every secret."""
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    # The end-to-end tests' own hooks, as tests/e2e/conftest.py gives them to every test there.
    (inner / "conftest.py").write_text("from tests.e2e.conftest import pytest_runtest_makereport  # noqa: F401\n")
    (inner / "test_inner.py").write_text(INNER_TEST)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "PYTHONPATH"))}
    env |= {"PYTHONPATH": str(ROOT), "INNER_TOKEN": TOKEN, "INNER_SECRET": WEBHOOK_SECRET}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "1", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'temp'}"],
        cwd=inner,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 1, report
    assert "failing on purpose" in report

    [log_path] = (tmp_path / "temp").rglob("bot.log")
    log = log_path.read_text().splitlines()
    header = re.search(r"^-+ bot log \(data/bot\.log, port \d+, last 80 lines\) -+$", report, re.M)
    assert header, report
    section = report[header.end() :].lstrip("\n").split("\n=")[0].splitlines()
    # The tail: the leak and what the bot wrote after it (stopping), and nothing from its start.
    assert len(section) == TAIL_LINES and section[-1] == log[-1]
    assert section[0] == log[-TAIL_LINES] and log[0] not in section
    [url_leak, key_leak] = [line for line in section if line.startswith("LEAK ")]
    assert re.fullmatch(r"LEAK url=http://127\.0\.0\.1:\d+/bot\*\*\*/getMe secret=\*\*\* sign=\*\*\*", url_leak)
    assert key_leak == "LEAK key=*** token=***"

    key_lines = (log_path.parent / SANDBOX_DIR_NAME / MERCHANT_KEY_FILE).read_text().splitlines()[1:-1]
    [sign] = re.findall(r"sign=(\S+)", "\n".join(log))
    secrets = {"token": TOKEN, "token's secret part": TOKEN.split(":")[1], "webhook secret": WEBHOOK_SECRET}
    secrets |= {"sign": sign} | {f"key line {index}": line for index, line in enumerate(key_lines)}
    assert [name for name, value in secrets.items() if value in report] == []
