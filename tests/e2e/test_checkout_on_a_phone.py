"""The sandbox checkout page on a phone, in a real headless browser: what a customer sees and taps.

The real application runs as a subprocess against the fake Bot API; a seller makes a link in
Telegram, and the link the card shows is opened in Debian's chromium at 390×844 (touch, 2× pixels).
The page must lead with the amount, fit the screen without sideways scrolling, offer Pay and
Decline as large buttons in view without scrolling, speak the link's language, and paying there
must make the card's chat hear "Paid". Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import FloatRect, Page
from sqlalchemy import update
from sqlmodel import col

from bot.i18n.reader import Reader, gettext, reading_as
from storage.models import Chat
from tests.e2e.harness import BotProcess, Database, wait_until
from tests.e2e.people import People
from tests.e2e.phone import PHONE_HEIGHT, PHONE_WIDTH, phone, screenshot
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.e2e

OWNER = 1001
NAMES = {OWNER: "Olga"}
LAN_STAND_IN = "127.0.0.2"
MIN_TAP = 44  # CSS pixels: the smallest comfortable touch target (Apple's HIG; Material asks for 48)
# Words from PayerMax's API and the bot's insides that mean nothing to a customer.
JARGON = ("ONETIME", "PAYBYLINK", "merchantLinkId", "linkId", "outTradeNo", "APPLY_SUCCESS", "(test)", "SBX")


async def started_line(bot: BotProcess) -> str:
    """The bot's one start-up line (written once it knows its Telegram name, after /healthz answers)."""

    def lines() -> list[str]:
        return [line for line in bot.log().splitlines() if " INFO paylink.app started: " in line]

    async def written() -> bool:
        return bool(lines())

    async def describe() -> str:
        return "no start-up line in the bot's log (the report shows its tail)"

    await wait_until(written, timeout=20, describe=describe)
    [line] = lines()
    return line


def _url(text: str | None) -> str:
    found = re.search(r"https?://[^\s\u2066-\u2069]+", text or "")
    assert found, f"no link in {text!r}"
    return found.group(0)


async def _box(page: Page, selector: str) -> FloatRect:
    box = await page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not on the page"
    return box


def _in_view(box: FloatRect) -> bool:
    """Wholly on the first screen: no scrolling needed to see or tap it."""
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= PHONE_WIDTH
        and box["y"] + box["height"] <= PHONE_HEIGHT
    )


async def _what_a_person_sees(page: Page) -> dict[str, object]:
    """The page as measured on the screen: lines of text in reading order, widths, sizes, boxes."""
    lines = [line.strip() for line in (await page.inner_text("body")).splitlines() if line.strip()]
    return {
        "lines": lines,
        "page_width": await page.evaluate("document.documentElement.scrollWidth"),
        "screen_width": await page.evaluate("window.innerWidth"),
        "amount_px": await page.evaluate("parseFloat(getComputedStyle(document.querySelector('h1')).fontSize)"),
        "body_px": await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)"),
        "direction": await page.evaluate("getComputedStyle(document.body).direction"),
        "lang": await page.evaluate("document.documentElement.lang"),
    }


async def _text_extent(page: Page, selector: str) -> dict[str, float]:
    """Where the element's text itself is drawn (a heading's box spans the column; its words may not)."""
    return await page.evaluate(
        """selector => {
            const range = document.createRange();
            range.selectNodeContents(document.querySelector(selector));
            const box = range.getBoundingClientRect();
            return {x: box.x, width: box.width};
        }""",
        selector,
    )


async def _check_phone_page(page: Page, digits: str) -> dict[str, object]:
    """The checks every language shares; returns what was seen for the language-specific ones."""
    seen = await _what_a_person_sees(page)
    lines = seen["lines"]
    assert isinstance(lines, list)
    # Under the sandbox banner, the first thing is the amount, in the page's largest type.
    assert digits in lines[1] and lines[1] == (await page.inner_text("h1")).strip(), lines[:3]
    assert float(seen["amount_px"]) >= 1.8 * float(seen["body_px"])  # type: ignore[arg-type]
    assert seen["page_width"] <= seen["screen_width"] == PHONE_WIDTH, "the page scrolls sideways"  # type: ignore[operator]
    for selector in ("button.pay", "button.decline", "label.method"):
        for index in range(await page.locator(selector).count()):
            box = await page.locator(selector).nth(index).bounding_box()
            assert box is not None and _in_view(box), f"{selector} #{index} is off the first screen: {box}"
            assert box["height"] >= MIN_TAP and box["width"] >= MIN_TAP, f"{selector} is too small to tap: {box}"
    pay, decline = await _box(page, "button.pay"), await _box(page, "button.decline")
    assert pay["width"] >= PHONE_WIDTH * 0.8 and decline["width"] >= PHONE_WIDTH * 0.8  # full-width buttons
    assert pay["y"] < decline["y"]  # Pay comes first
    text = "\n".join(lines)
    assert not [word for word in JARGON if word in text], text
    return seen


async def test_checkout_page_on_a_phone_leads_with_the_amount_and_pays_with_a_tap(database_url: str, tmp_path) -> None:
    """Set up as the README's "trying it from a phone" says, the link opens at the public address and pays."""
    async with FakeTelegram() as fake:
        # Listening on every interface, links at another address of this machine: 127.0.0.2 stands in for the
        # computer's LAN address (the phone's traffic stays on this machine; nothing leaves it).
        bot = BotProcess(
            fake, database_url=database_url, data_dir=tmp_path / "data", admin_ids=str(OWNER), HTTP_HOST="0.0.0.0"
        )
        public = f"http://{LAN_STAND_IN}:{bot.port}"
        bot.env["PUBLIC_BASE_URL"] = public
        db = Database(database_url)
        await bot.start()
        try:
            # Start-up said where the bot is and where customers pay.
            started = await started_line(bot)
            assert f"bot @{fake.bot_username}, polling, PayerMax sandbox" in started
            assert f"public URL {public}, customers pay at {public}/sandbox/pay/" in started

            people = People(fake, db, NAMES)
            card = await people.ask("/link 150000 IDR Winter shoes, size 42", OWNER, contains="Winter shoes")
            url = _url(card.text)
            assert url.startswith(f"{public}/sandbox/pay/")

            async with phone("en") as page:
                await page.goto(url)
                seen = await _check_phone_page(page, "150,000")
                assert seen["lang"] == "en" and seen["direction"] == "ltr"
                assert (await _text_extent(page, "h1"))["x"] < 24  # left to right: the amount starts at the left
                lines = seen["lines"]
                assert isinstance(lines, list) and "Winter shoes, size 42" in " ".join(lines)
                assert (await page.inner_text("button.pay")).strip() == "Pay IDR\xa0150,000"
                await screenshot(page, "checkout-390x844.png")

                # A tap on Pay: the page says so, and the seller hears "Paid" in Telegram.
                count = len(fake.sent(OWNER))
                async with page.expect_navigation():
                    await page.locator("button.pay").tap()
                assert "Payment successful" in await page.inner_text("h1")
                await screenshot(page, "checkout-390x844-paid.png")
                await people.reply(OWNER, count, "✅ Paid")

            # Customers of this chat read Arabic: the page is in Arabic, right to left.
            async with db.sessions() as session, session.begin():
                await session.execute(update(Chat).where(col(Chat.id) == OWNER).values(customer_language="ar"))
            card = await people.ask("/link 300 SAR Tea", OWNER, contains="Tea")
            async with phone("ar") as page:
                await page.goto(_url(card.text))
                seen = await _check_phone_page(page, "300")
                assert seen["lang"] == "ar" and seen["direction"] == "rtl"
                with reading_as(Reader(locale="ar")):
                    pay_before, card_method = gettext("Pay before"), gettext("Card")
                assert pay_before != "Pay before" and pay_before in await page.inner_text("body")
                assert card_method in await page.inner_text("label.method")
                # Right to left: the amount starts at the right edge, where an Arabic reader's eye starts.
                amount = await _text_extent(page, "h1")
                assert PHONE_WIDTH - (amount["x"] + amount["width"]) < 24 and amount["x"] > PHONE_WIDTH / 3
                await screenshot(page, "checkout-390x844-ar.png")
        finally:
            await bot.stop()
            await db.close()
