"""Paid says who and where, the customer's message turns into a thank-you, and Cancel asks in a message.

In a group several people make links: "Paid" names whose it was, and the maker's private copy
(/notifyme) names the group. A customer message the bot posted (Share) says "paid, thank you" once
the link is paid, and so does Share pressed after payment and the inline result. Cancel asks in a
message with Yes / No under the card instead of a passing pop-up. The real application runs as a
subprocess against the fake Bot API and its embedded sandbox, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re

import pytest

from storage.models import Link, LinkStatus
from tests.e2e.harness import Database, running_bot
from tests.e2e.people import WAIT, pay
from tests.fakes.telegram_api import FakeTelegram, SentMessage

pytestmark = pytest.mark.e2e

OWNER = 1001
AGENT = 2001
GROUP = -100_400_500
NAMES = {OWNER: "Olga", AGENT: "Ann"}


def _url(card: SentMessage) -> str:
    match = re.search(r"Pay here: (\S+)", card.text or "")
    assert match, card.text
    return match.group(1)


def _paid(fake: FakeTelegram, chat_id: int) -> list[SentMessage]:
    """The "Paid" announcements in a chat (not the customer's thank-you)."""
    return [m for m in fake.sent(chat_id) if (m.text or "").startswith("✅ Paid: IDR") and "Thank you" not in m.text]


async def _link(db: Database, description: str) -> Link:
    return next(link for link in await db.links() if link.description == description)


def _current(fake: FakeTelegram, message: SentMessage) -> SentMessage:
    return next(m for m in fake.sent(message.chat_id) if m.message_id == message.message_id)


async def test_paid_names_the_maker_and_the_group_and_thanks_the_customer(database_url: str, tmp_path) -> None:
    """Group Paid: "Link by Ann"; Ann's private copy: the group's name; the shared message becomes a thank-you."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES) as (fake, _bot, db, people):
        await people.add_members({AGENT: "agent"}, OWNER)
        assert "Done" in (await people.ask("/notifyme on", AGENT)).text
        card = await people.ask("/link 150000 IDR Winter shoes", AGENT, GROUP, contains="Link ID")
        link = await _link(db, "Winter shoes")

        # Share before payment: the customer's request, remembered by the bot.
        before = len(fake.sent(GROUP))
        await people.answer(people.press(card, f"c:s:{link.id}", AGENT))
        shared = await people.reply(GROUP, before, "Payment request")
        assert "Pay securely here" in shared.text and shared.reply_to_message_id == card.message_id

        await pay(_url(card))
        await fake.wait_for_message(lambda m: bool(_paid(fake, GROUP)) and bool(_paid(fake, AGENT)), timeout=WAIT)
        [in_group], [private] = _paid(fake, GROUP), _paid(fake, AGENT)
        assert "Link by Ann" in in_group.text and in_group.reply_to_message_id == card.message_id
        assert "Your link in Test group" in private.text and "Link by" not in private.text

        # The request posted before turns into a thank-you: no payment page, no Pay button.
        thanked = await fake.wait_for_message(
            lambda m: m.message_id == shared.message_id and "Thank you" in (m.text or ""), timeout=WAIT
        )
        assert thanked.text.startswith("✅ Paid: IDR\xa0150,000. Thank you!") and "Winter shoes" in thanked.text
        assert "Pay securely" not in thanked.text and "Payment received" in thanked.text
        assert [b["text"] for b in thanked.buttons] == ["📤 Send to a customer"]

        # Share pressed after payment (an old card's button): a thank-you, not "pay here".
        before = len(fake.sent(GROUP))
        await people.answer(people.press(card, f"c:s:{link.id}", AGENT))
        again = await people.reply(GROUP, before, "Thank you")
        assert "Pay securely" not in again.text and "Payment request" not in again.text
        # Inline mode too: the paid link's result is the thank-you.
        asked = fake.inline_query(link.merchant_link_id, user_id=AGENT)
        inline = await fake.wait_for_call(
            "answerInlineQuery", lambda c: c.params["inline_query_id"] == asked, timeout=WAIT
        )
        [article] = inline.params["results"]
        assert "Thank you!" in article["input_message_content"]["message_text"]
        assert "reply_markup" not in article or not article["reply_markup"]
        await people.settled()
        assert len(_paid(fake, GROUP)) == 1 and len(_paid(fake, AGENT)) == 1


async def test_cancel_asks_in_a_message_with_buttons(database_url: str, tmp_path) -> None:
    """Cancel link posts a question under the card; Yes (pressed twice) cancels once and the question says so."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES) as (fake, _bot, db, people):
        await people.add_members({AGENT: "agent"}, OWNER)
        card = await people.ask("/link 150000 IDR Winter shoes", AGENT, GROUP, contains="Link ID")
        link = await _link(db, "Winter shoes")

        before = len(fake.sent(GROUP))
        asked = await people.answer(people.press(card, f"c:x:{link.id}", OWNER))
        assert "text" not in asked  # no passing pop-up: the question is a message
        question = await people.reply(GROUP, before, "Cancel the link")
        assert question.reply_to_message_id == card.message_id
        assert question.text == (
            "Cancel the link for IDR\xa0150,000 · Winter shoes?\n"
            "The customer will no longer be able to pay it. This cannot be undone."
        )
        assert [b["text"] for b in question.buttons] == ["🛑 Yes, cancel it", "↩️ No, keep it"]

        yes = f"c:cy:{link.id}"
        first, second = people.press(question, yes, OWNER), people.press(question, yes, OWNER)
        answers = sorted([(await people.answer(first))["text"], (await people.answer(second))["text"]])
        assert answers[0].startswith("Cancelled.") and "Olga already cancelled this link" in answers[1]
        answered = await fake.wait_for_message(
            lambda m: m.message_id == question.message_id and "Cancelled by Olga" in (m.text or ""), timeout=WAIT
        )
        assert answered.text.startswith("✖️ Cancelled by Olga: IDR\xa0150,000 · Winter shoes.")
        assert answered.buttons == []
        await fake.wait_for_message(
            lambda m: m.message_id == card.message_id and "Cancelled" in (m.text or ""), timeout=WAIT
        )
        assert (await _link(db, "Winter shoes")).status == LinkStatus.CANCELLED
        await people.settled()
        assert _current(fake, question).text == answered.text
