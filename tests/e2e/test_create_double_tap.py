"""An impatient double tap on "✅ Create link" makes one link, one card and a summary that says so.

Two presses of the same summary's button arrive in one batch of updates, and the bot handles
updates concurrently, so both handlers run at once against the same draft. Neither may end in
"Something went wrong", and the summary must end up without buttons, saying what happened.
Several sellers do it at the same moment, so the database sees the races side by side.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.botapi.markup import visible_text
from bot.chat import texts
from tests.e2e.harness import running_bot
from tests.e2e.people import People, payermax_calls
from tests.fakes.telegram_api import SentMessage

pytestmark = pytest.mark.e2e

SELLERS = (1001, 1002, 1003)
NAMES = {1001: "Olga", 1002: "Omar", 1003: "Oona"}


async def _summary(people: People, seller: int, description: str) -> SentMessage:
    """Go through /newlink up to the summary with its Create / Cancel buttons."""
    await people.ask("/newlink", seller, contains="How much")
    await people.ask("12.50", seller, contains="What is it for")
    # Pressed as soon as it shows: the buttons name the summary, so the bot need not have heard its id yet.
    return await people.ask(description, seller, contains="Create this link")


async def _ends_as(people: People, summary: SentMessage, text: str) -> SentMessage:
    """Wait until the summary reads ``text`` and has no buttons left."""
    return await people.fake.wait_for_message(
        lambda m: (
            m.chat_id == summary.chat_id and m.message_id == summary.message_id and m.text == text and not m.buttons
        ),
        timeout=20,
    )


async def _double_tap_create(people: People, seller: int) -> None:
    description = f"Order of {NAMES[seller]}"
    summary = await _summary(people, seller, description)
    create = summary.button_data("create")
    first, second = people.press(summary, create, seller), people.press(summary, create, seller)
    answers = [await people.answer(first), await people.answer(second)]
    created = texts.summary_created("$12.50", description)
    await _ends_as(people, summary, visible_text(created))
    assert {answer.get("text") for answer in answers} <= {texts.creating(), texts.already_requested()}, answers


async def _double_tap_cancel(people: People, seller: int) -> None:
    description = f"Not wanted by {NAMES[seller]}"
    summary = await _summary(people, seller, description)
    people.press(summary, summary.button_data("abort"), seller)
    people.press(summary, summary.button_data("abort"), seller)
    cancelled = texts.summary_cancelled("$12.50", description)
    await _ends_as(people, summary, visible_text(cancelled))


async def test_double_tap_on_create_makes_one_link(database_url: str, tmp_path) -> None:
    """Three sellers double-tap Create at once: three links, three cards, three summaries saying "created"."""
    async with running_bot(
        database_url, tmp_path, admin_ids=",".join(map(str, SELLERS)), DEFAULT_CURRENCY="USD", names=NAMES
    ) as (fake, bot, db, people):
        await asyncio.gather(*(_double_tap_create(people, seller) for seller in SELLERS))
        await people.settled()
        for seller in SELLERS:
            mine = [link for link in await db.links() if link.chat_id == seller]
            assert [link.description for link in mine] == [f"Order of {NAMES[seller]}"]
            cards = [m for m in fake.sent(seller) if m.kind == "photo"]
            assert len(cards) == 1 and mine[0].merchant_link_id in (cards[0].text or "")
        assert not [m.text for m in fake.sent() if m.text == visible_text(texts.internal_error())]
        assert await payermax_calls(bot, "createPaybylink") == len(SELLERS)

        # Cancel instead (tapped twice as well): nothing made, and the summary says so.
        await asyncio.gather(*(_double_tap_cancel(people, seller) for seller in SELLERS))
        await people.settled()
        assert len(await db.links()) == len(SELLERS)
        assert await payermax_calls(bot, "createPaybylink") == len(SELLERS)
        assert not [m.text for m in fake.sent() if m.text == visible_text(texts.internal_error())]
