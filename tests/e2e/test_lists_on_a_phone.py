"""/links on a phone, end to end: rows of buttons that show in full at 390 px, each link once, a list per person.

A phone 390 points wide shows about 34 Latin characters on a button alone in its row; Telegram
gives the buttons of a row equal widths, with a small gap between them. The real application runs
as a subprocess against the fake Bot API, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.services.links import new_merchant_link_id
from storage.models import Link, LinkStatus, utcnow
from tests.e2e.harness import Database, running_bot
from tests.e2e.people import WAIT
from tests.fakes.telegram_api import SentMessage

pytestmark = pytest.mark.e2e

OWNER = 1001
AGENT = 2001
GROUP = -100_900_100
NAMES = {OWNER: "Olga", AGENT: "Ann"}
PHONE_BUTTON_CHARACTERS = 34  # a full-width button at 390 px, in Latin characters
GAP_CHARACTERS = 2
PHONE_LINE_CHARACTERS = 40  # a text line at 390 px before it wraps, roughly (an emoji as two)


def _rows(message: SentMessage) -> list[list[str]]:
    """The button labels row by row, as the phone shows them."""
    return [[button["text"] for button in row] for row in (message.reply_markup or {}).get("inline_keyboard", [])]


def phone_view(message: SentMessage) -> str:
    """The message as a phone shows it: the text, then each row of buttons as [ label ] [ label ]."""
    rows = ["  ".join(f"[ {label} ]" for label in row) for row in _rows(message)]
    return "\n".join([message.text or "", "", *rows])


def _fits(row: list[str]) -> bool:
    """Whether every label of this row shows in full (ASCII labels: one character each)."""
    share = (PHONE_BUTTON_CHARACTERS - GAP_CHARACTERS * (len(row) - 1)) / len(row)
    return all(len(label) <= share for label in row)


async def _seed(db: Database, made: list[tuple[int, str]]) -> list[Link]:
    """ACTIVE links (maker, description) made in the group a minute apart, oldest first (quicker than paced cards)."""
    now = utcnow()
    links = [
        Link(
            merchant_link_id=new_merchant_link_id(),
            chat_id=GROUP,
            creator_user_id=user_id,
            creator_name=NAMES[user_id],
            amount=Decimal("150000"),
            currency="IDR",
            country="ID",
            description=description,
            expires_seconds=86400,
            status=LinkStatus.ACTIVE,
            sandbox=True,
            link_url=f"http://127.0.0.1:9/pay/{index}",
            expires_at=now + timedelta(days=1),
            created_at=now - timedelta(minutes=len(made) - index),
            next_check_at=None,
        )
        for index, (user_id, description) in enumerate(made)
    ]
    async with db.sessions() as session, session.begin():
        session.add_all(links)
    return links


async def test_links_fit_a_phone_and_each_person_keeps_their_list(database_url: str, tmp_path) -> None:
    """Filters in rows that fit, one numbered line per link, numbers that open cards; a press on another's list."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES) as (fake, _bot, db, people):
        await people.add_members({AGENT: "agent"}, OWNER)
        made = [(AGENT, "Ann's socks"), *((OWNER, f"Order {n} for the corner shop") for n in range(1, 7))]
        links = await _seed(db, [*made, (AGENT, "Ann's scarf")])  # newest first: scarf, Order 6 … 1, socks

        listing = await people.ask("/links", OWNER, GROUP, contains="Links in this chat")
        print(f"\n--- /links in a group, as a 390 px phone shows it ---\n{phone_view(listing)}\n")
        text = listing.text or ""
        assert text.startswith("Links in this chat, for Olga")
        lines = [line for line in text.split("\n") if re.match(r"\d+\. ", line)]
        assert [line.split(".")[0] for line in lines] == ["1", "2", "3", "4", "5"]
        assert all(len(line) + 1 <= PHONE_LINE_CHARACTERS for line in lines), lines  # ⏳ is drawn wide
        # Each link once: in its line, and on no button.
        rows = _rows(listing)
        labels = [label for row in rows for label in row]
        assert not any("Order" in label or "socks" in label for label in labels), labels
        assert text.count("Ann's scarf") == 1 and "Ann's scarf · Ann" in text  # newest first, with its maker
        # Every row shows its labels in full: filters (three at most to a row), numbers, the pager.
        assert all(_fits(row) for row in rows), rows
        filters = [row for row in rows if any(label.endswith(("All", "Waiting", "Cancelled")) for label in row)]
        assert sum(len(row) for row in filters) == 5 and all(len(row) <= 3 for row in filters), filters
        assert ["1", "2", "3", "4", "5"] in rows and ["Older ›"] in rows

        # A number opens that link's card.
        numbers = {button["text"]: button["callback_data"] for button in listing.buttons}
        before = len(fake.sent(GROUP))
        await people.answer(people.press(listing, numbers["3"], OWNER))
        card = await people.reply(GROUP, before, "Link ID")
        assert card.kind == "photo" and links[5].description in (card.text or "")  # 3rd newest: Order 5

        # The agent presses a filter on the owner's list: the owner's list stays as it was; the agent
        # gets a list of their own (their links only), as a reply to the list they pressed.
        waiting = next(data for label, data in numbers.items() if label == "Waiting")
        before = len(fake.sent(GROUP))
        answer = await people.answer(people.press(listing, waiting, AGENT))
        assert "your own list" in answer.get("text", "")
        theirs = await people.reply(GROUP, before, "for Ann")
        assert theirs.reply_to_message_id == listing.message_id
        assert "(only yours)" in theirs.text and "Ann's socks" in theirs.text and "Order" not in theirs.text
        now_owner = next(m for m in fake.sent(GROUP) if m.message_id == listing.message_id)
        assert now_owner.text == listing.text and now_owner.edits == []

        # The agent pages their own list: in place. The owner pages theirs: in place too.
        agent_filters = {button["text"]: button["callback_data"] for button in theirs.buttons}
        await people.answer(people.press(theirs, agent_filters["• Waiting"], AGENT))
        await people.answer(people.press(listing, numbers["Older ›"], OWNER))
        await fake.wait_for_message(
            lambda m: m.message_id == listing.message_id and "page 2 of 2" in (m.text or ""), timeout=WAIT
        )
        paged = next(m for m in fake.sent(GROUP) if m.message_id == listing.message_id)
        assert re.findall(r"^(\d+)\. ", paged.text or "", re.MULTILINE) == ["6", "7", "8"]  # numbering goes on
        assert "Ann's socks" in (paged.text or "") and ["6", "7", "8"] in _rows(paged)
        await people.settled()
        assert len([m for m in fake.sent(GROUP) if "for Ann" in (m.text or "")]) == 1  # paged in place
