"""A group upgraded to a supergroup keeps its links, settings and news, end to end.

A seller's group makes a link; then an admin upgrades the group (turns on topics, or history for
new members) and Telegram gives it a new chat id, refusing sends to the old one with a 400 that
names the new id. The customer pays: "Paid" arrives in the supergroup once, the card (a message
of the old group, which the Bot API still edits there) turns PAID, /links in the supergroup shows
the link, and the group's currency is still its default. The bot hears of the upgrade either from
Telegram's two service messages or from the refused send itself. The real application runs as a
subprocess against the fake Bot API and its embedded sandbox, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlmodel import col

from storage.models import Link, LinkStatus, OutboxKind, OutboxMessage, OutboxStatus
from tests.e2e.harness import Database, running_bot
from tests.e2e.people import WAIT, People, pay
from tests.fakes.telegram_api import FakeTelegram, SentMessage

pytestmark = pytest.mark.e2e

OWNER = 1001
AGENT = 2001
OLD = -4_500_600  # a basic group's id
NEW = -100_4_500_600  # the supergroup it becomes
NAMES = {OWNER: "Olga", AGENT: "Ann"}
SUPERGROUP = "supergroup"


def _url(card: SentMessage) -> str:
    match = re.search(r"Pay here: (\S+)", card.text or "")
    assert match, card.text
    return match.group(1)


def _paid(fake: FakeTelegram, chat_id: int) -> list[SentMessage]:
    return [m for m in fake.sent(chat_id) if (m.text or "").startswith("✅ Paid: IDR")]


async def _link(db: Database, description: str) -> Link:
    return next(link for link in await db.links() if link.description == description)


async def _paid_outbox(db: Database) -> OutboxMessage:
    async with db.sessions() as session:
        statement = select(OutboxMessage).where(col(OutboxMessage.kind) == OutboxKind.PAID)
        [message] = (await session.execute(statement)).scalars().all()
    return message


async def _a_link_in_the_group(people: People, db: Database) -> tuple[SentMessage, Link]:
    """The owner sets the group's currency; Ann makes a link there."""
    await people.ask("/settings currency IDR", OWNER, OLD, contains="IDR")
    card = await people.ask("/link 150000 Winter shoes", AGENT, OLD, contains="Link ID")
    return card, await _link(db, "Winter shoes")


async def _the_supergroup_carries_on(fake: FakeTelegram, people: People, db: Database, card: SentMessage) -> None:
    """After payment: Paid once in the supergroup, the card PAID where it is, /links and the currency kept."""
    await pay(_url(card))
    paid = await fake.wait_for_message(lambda m: m in _paid(fake, NEW), timeout=WAIT)
    assert "Winter shoes" in (paid.text or "") and "Link by Ann" in (paid.text or "")
    # Not a reply: the card's message id belongs to the old group, and in the supergroup means another message.
    assert paid.reply_to_message_id is None
    edited = await fake.wait_for_message(
        lambda m: m.chat_id == OLD and m.message_id == card.message_id and "PAID" in (m.text or ""), timeout=WAIT
    )
    assert "Pay here" not in (edited.text or "")

    listing = await people.ask("/links", AGENT, NEW, contains="Links in this chat", chat_type=SUPERGROUP)
    assert "150,000" in (listing.text or "")
    # The group's currency is the supergroup's: no question, an IDR link.
    boots = await people.ask("/link 99000 Boots", AGENT, NEW, contains="Link ID", chat_type=SUPERGROUP)
    assert "IDR" in (boots.text or "")
    await people.settled()
    assert len(_paid(fake, NEW)) == 1 and _paid(fake, OLD) == []
    message = await _paid_outbox(db)
    assert (message.status, message.chat_id, message.attempts) == (OutboxStatus.SENT, NEW, 0)
    assert {link.chat_id for link in await db.links()} == {NEW}


async def test_the_service_messages_move_the_group_before_the_customer_pays(database_url: str, tmp_path) -> None:
    """Telegram's migrate_from / migrate_to messages (the supergroup's first): everything follows the new id."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES) as (fake, _bot, db, people):
        await people.add_members({AGENT: "agent"}, OWNER)
        card, _ = await _a_link_in_the_group(people, db)

        fake.upgrade_group(OLD, NEW)
        fake.announce_upgrade(OLD, NEW, user_id=OWNER, first_name="Olga", order=("from", "to"))
        await people.settled()
        assert (await _link(db, "Winter shoes")).chat_id == NEW

        await _the_supergroup_carries_on(fake, people, db, card)
        refused = [c for c in fake.calls if c.params.get("chat_id") == OLD and c.status == 400]
        assert refused == []  # the bot knew before it had anything to say


async def test_a_refused_paid_moves_the_group_and_goes_to_the_new_id_once(database_url: str, tmp_path) -> None:
    """No service message reached the bot: the refused "Paid" names the new id; it moves and sends it there."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES) as (fake, _bot, db, people):
        await people.add_members({AGENT: "agent"}, OWNER)
        card, _ = await _a_link_in_the_group(people, db)
        await people.settled()

        fake.upgrade_group(OLD, NEW)
        await _the_supergroup_carries_on(fake, people, db, card)

        refused = [c for c in fake.calls if c.params.get("chat_id") == OLD and c.status == 400]
        assert [c.method for c in refused] == ["sendMessage"]  # the one "Paid", sent again to the new id


def _refused_in_old(fake: FakeTelegram) -> list[str]:
    """Calls the Bot API refused because they wrote to the old group's id (sends; its messages still edit)."""
    return [
        c.method
        for c in fake.calls
        if c.params.get("chat_id") == OLD and c.status == 400 and not c.method.startswith("edit")
    ]


async def test_buttons_on_the_old_groups_messages_work_after_the_upgrade(database_url: str, tmp_path) -> None:
    """Refresh, Cancel and /links pressed on the old group's messages: edits there, new messages in the supergroup."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES) as (fake, _bot, db, people):
        await people.add_members({AGENT: "agent"}, OWNER)
        card, link = await _a_link_in_the_group(people, db)
        listing = await people.ask("/links", AGENT, OLD, contains="Links in this chat")
        await people.ask("/newlink", AGENT, OLD, contains="How much")
        await people.ask("70000", AGENT, OLD, contains="What is it for")
        summary = await people.ask("Gloves", AGENT, OLD, contains="Create this link")
        fake.upgrade_group(OLD, NEW)
        fake.announce_upgrade(OLD, NEW, user_id=OWNER, first_name="Olga", order=("to", "from"))
        await people.settled()

        await people.answer(people.press(card, f"c:r:{link.id}", AGENT))
        # The card is shown as it is, where it is (unchanged, so Telegram says "not modified").
        await fake.wait_for_call(
            "editMessageCaption",
            lambda c: c.params.get("chat_id") == OLD and c.params.get("message_id") == card.message_id,
            timeout=WAIT,
        )
        await people.settled()
        assert _refused_in_old(fake) == []

        # The list, edited where it is, still shows the group's links (now kept under the new id).
        await people.answer(people.press(listing, f"l:active:0:{AGENT}", AGENT))
        waiting = await fake.wait_for_message(
            lambda m: m.chat_id == OLD and m.message_id == listing.message_id and "Waiting ·" in (m.text or ""),
            timeout=WAIT,
        )
        assert "150,000" in (waiting.text or "")

        # Create on the summary in the old group: the link is the supergroup's, its card posted there.
        await people.answer(people.press(summary, summary.button_data("create"), AGENT))
        gloves = await fake.wait_for_message(
            lambda m: m.chat_id == NEW and "Gloves" in (m.text or "") and "Link ID" in (m.text or ""), timeout=WAIT
        )
        assert "IDR" in (gloves.text or "")
        await fake.wait_for_message(
            lambda m: m.chat_id == OLD and m.message_id == summary.message_id and "Link created" in (m.text or ""),
            timeout=WAIT,
        )
        assert (await _link(db, "Gloves")).chat_id == NEW

        await people.answer(people.press(card, f"c:x:{link.id}", AGENT))
        question = await fake.wait_for_message(
            lambda m: m.chat_id == NEW and f"c:cy:{link.id}" in str(m.buttons), timeout=WAIT
        )
        await people.answer(people.press(question, f"c:cy:{link.id}", AGENT))
        # The question, now "Cancelled by Ann", is in the supergroup; the card in the old group shows it too.
        await fake.wait_for_message(
            lambda m: m.chat_id == NEW and m.message_id == question.message_id and "Cancelled by Ann" in (m.text or ""),
            timeout=WAIT,
        )
        shown = await fake.wait_for_message(
            lambda m: m.chat_id == OLD and m.message_id == card.message_id and "Cancelled" in (m.text or ""),
            timeout=WAIT,
        )
        assert "Pay here" not in (shown.text or "")
        await people.settled()
        assert (await _link(db, "Winter shoes")).status == LinkStatus.CANCELLED
        assert _refused_in_old(fake) == []
