"""Create on a /newlink summary counts whenever it is pressed, and only on the current summary.

Telegram shows the summary the moment it has it, but the bot hears the message id only when the
Bot API answers the send: a slow answer, or a fast thumb, puts the press first. The fake Bot API
holds that answer back while the seller presses. A summary that is no longer the current one (the
seller started again, or sent two descriptions at once) must still be refused, so the link made is
always the one the pressed summary shows.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.botapi.markup import visible_text
from bot.chat import texts
from storage.models import Draft
from tests.e2e.harness import running_bot
from tests.e2e.people import People, payermax_calls
from tests.fakes.telegram_api import Call, SentMessage

pytestmark = pytest.mark.e2e

SELLER = 1001
NAMES = {SELLER: "Olga"}
WAIT = 20.0


def _is_summary_send(call: Call) -> bool:
    return call.method == "sendMessage" and "Create this link" in str(call.params.get("text"))


async def _ends_as(people: People, summary: SentMessage, text: str) -> SentMessage:
    """Wait until the summary reads ``text`` and has no buttons left."""
    return await people.fake.wait_for_message(
        lambda m: (
            m.chat_id == summary.chat_id and m.message_id == summary.message_id and m.text == text and not m.buttons
        ),
        timeout=WAIT,
    )


async def _summary(people: People, amount: str, description: str) -> SentMessage:
    await people.ask("/newlink", SELLER, contains="How much")
    await people.ask(amount, SELLER, contains="What is it for")
    return await people.ask(description, SELLER, contains="Create this link")


async def _press(people: People, summary: SentMessage, action: str) -> dict[str, object]:
    return await people.answer(people.press(summary, summary.button_data(action), SELLER))


@pytest.fixture
async def running(database_url: str, tmp_path):
    """A bot with one seller (an owner), and the seller's view of it."""
    async with running_bot(database_url, tmp_path, admin_ids=str(SELLER), names=NAMES, DEFAULT_CURRENCY="USD") as run:
        yield run.bot, run.db, run.people


async def test_create_pressed_before_the_bot_hears_the_summary_was_sent(running) -> None:
    """Create (and Cancel) pressed while the Bot API has not yet answered the summary's send still count."""
    bot, db, people = running
    fake = people.fake
    await people.ask("/newlink", SELLER, contains="How much")
    await people.ask("12.50", SELLER, contains="What is it for")
    with fake.hold_answers(_is_summary_send) as hold:
        people.say("Espresso machine", SELLER)
        await hold.wait_held()
        summary = await fake.wait_for_message(lambda m: "Create this link" in (m.text or ""), timeout=WAIT)
        answer = await _press(people, summary, "create")
        assert answer.get("text") == texts.creating() and not answer.get("show_alert"), answer
    await _ends_as(people, summary, visible_text(texts.summary_created("$12.50", "Espresso machine")))
    await fake.wait_for_message(lambda m: m.kind == "photo" and "Espresso machine" in (m.text or ""), timeout=WAIT)
    await people.settled()
    assert [link.description for link in await db.links()] == ["Espresso machine"]

    await people.ask("/newlink", SELLER, contains="How much")
    await people.ask("3", SELLER, contains="What is it for")
    with fake.hold_answers(_is_summary_send) as hold:
        people.say("Not wanted", SELLER)
        await hold.wait_held()
        summary = await fake.wait_for_message(lambda m: "Not wanted" in (m.text or ""), timeout=WAIT)
        answer = await _press(people, summary, "abort")
        assert not answer.get("show_alert"), answer
    await _ends_as(people, summary, visible_text(texts.summary_cancelled("$3.00", "Not wanted")))
    await people.settled()
    assert len(await db.links()) == 1 and await payermax_calls(bot, "createPaybylink") == 1
    assert not [m.text for m in fake.sent() if m.text == visible_text(texts.internal_error())]


async def test_only_the_current_summary_makes_a_link(running) -> None:
    """An older summary is refused; of two summaries sent at once, one makes the link it shows."""
    bot, db, people = running
    fake = people.fake
    first = await _summary(people, "12.50", "First try")
    second = await _summary(people, "20", "Second try")
    await people.settled()
    answer = await _press(people, first, "create")
    assert answer.get("text") == texts.stale_summary() and answer.get("show_alert"), answer
    # The summary's old button data (before presses named their summary) cannot stand in for the current one.
    answer = await people.answer(people.forge(second, "create", SELLER))
    assert answer.get("text") == texts.stale_summary(), answer
    assert await db.links() == []
    assert (await _press(people, second, "create")).get("text") == texts.creating()
    await _ends_as(people, second, visible_text(texts.summary_created("$20.00", "Second try")))
    await people.settled()
    assert (await _press(people, first, "create")).get("text") == texts.stale_summary()
    assert [link.description for link in await db.links()] == ["Second try"]

    # Two descriptions at once: whichever summaries appear, only the current one makes a link, and its own.
    await people.ask("/newlink", SELLER, contains="How much")
    await people.ask("7", SELLER, contains="What is it for")
    before = len(fake.sent(SELLER))
    people.say("Blue mug", SELLER)
    people.say("Green mug", SELLER)
    await people.settled()
    summaries = [m for m in fake.sent(SELLER)[before:] if "Create this link" in (m.text or "")]
    answers = await asyncio.gather(*(_press(people, summary, "create") for summary in summaries))
    await people.settled()
    made = [
        summary
        for summary, answer in zip(summaries, answers, strict=True)
        if answer.get("text") != texts.stale_summary()
    ]
    assert len(made) == 1, answers
    newest = (await db.links())[-1]
    assert len(await db.links()) == 2 and newest.description in (made[0].text or ""), (newest.description, made[0].text)
    assert await payermax_calls(bot, "createPaybylink") == 2


async def test_a_summary_sent_before_the_upgrade_still_creates(running) -> None:
    """A draft written by the previous version (the summary known by its message id) is confirmed as before."""
    _bot, db, people = running
    summary = await _summary(people, "12.50", "From before")
    await people.settled()
    async with db.sessions() as session, session.begin():
        draft = await session.get(Draft, (SELLER, SELLER))
        assert draft is not None
        draft.request_key, draft.summary_message_id = None, summary.message_id
    answer = await people.answer(people.forge(summary, "create", SELLER))
    assert answer.get("text") == texts.creating(), answer
    await _ends_as(people, summary, visible_text(texts.summary_created("$12.50", "From before")))
    await people.settled()
    assert [link.description for link in await db.links()] == ["From before"]
