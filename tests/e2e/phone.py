"""A phone-sized headless browser for the end-to-end tests: Debian's chromium driven by Playwright.

Playwright downloads no browser here: it launches the system's chromium (``.ci/run`` installs it),
with a phone's viewport, touch and pixel density. What the page shows is read back as a person
would see it: boxes on the screen, text as rendered, and a screenshot kept under
``tests/artifacts/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Page, async_playwright

from tests.e2e.artifacts import artifact

# An iPhone 12–15 sized screen in CSS pixels, as the issue measured it.
PHONE_WIDTH, PHONE_HEIGHT = 390, 844
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser_path() -> str:
    """The system's Chromium: CHROMIUM_PATH if set, else the first on PATH; a clear failure when there is none."""
    found = os.environ.get("CHROMIUM_PATH") or next(filter(None, map(shutil.which, BROWSERS)), None)
    assert found, "no chromium on PATH: apt-get install chromium (.ci/run installs it)"
    return found


@asynccontextmanager
async def phone(language: str = "en") -> AsyncIterator[Page]:
    """A page on a phone-sized touch screen, the browser set to this language."""
    # Chromium refuses to run as root with its sandbox on; CI runs as root.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=browser_path(), args=args)
        try:
            context = await browser.new_context(
                viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
                locale=language,
            )
            yield await context.new_page()
        finally:
            await browser.close()


async def screenshot(page: Page, name: str) -> Path:
    """Save what the screen shows now under tests/artifacts/ and return the path."""
    path = artifact(name)
    await page.screenshot(path=str(path))
    return path
