"""End-to-end hooks: a failing test's report carries the tail of each bot's log (tests/e2e/bot_logs.py)."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.e2e.bot_logs import report_sections
from tests.e2e.harness import STARTED_BOTS

# Set once the item's first failing report (setup, call or teardown) has the logs: not twice.
_LOGS_SHOWN = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add the bot log sections to the first failing report; forget the bots once the test is over.

    Sections are plain data on the report, so pytest-xdist carries them from a worker to the controller.
    """
    report = yield
    try:
        if report.failed and not item.stash.get(_LOGS_SHOWN, False):
            item.stash[_LOGS_SHOWN] = True
            report.sections.extend(report_sections())
    finally:
        if call.when == "teardown":
            STARTED_BOTS.clear()
    return report
