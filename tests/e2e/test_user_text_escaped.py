"""Whatever people type comes back as the characters they typed, never as Telegram markup.

The bot sends Telegram HTML. Amounts it could not read, descriptions, names, search words,
setting values and command arguments all end up in its messages; if any of them went in
unescaped, "<b>" would turn bold, "<a href=...>" would become a link the customer trusts, and a
lone "<" would make Telegram refuse the whole message ("can't parse entities"). The fake Bot
API parses HTML as Telegram does, so each check reads the text a person would see.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.botapi.markup import clip, visible_text
from bot.chat import texts
from bot.chat.texts.lists import PHONE_DESCRIPTION_UNITS
from storage.models import Link
from tests.e2e.harness import Database, running_bot
from tests.e2e.people import WAIT, People, entity_texts
from tests.fakes.telegram_api import SentMessage
from tests.fakes.telegram_markup import parse_text, utf16_length

pytestmark = pytest.mark.e2e

OWNER = 1001
TESTER = 1002  # a second owner, so two private chats (each paced at one message a second) run side by side
BOSS = 2001
BOSS_NAME = "<b>Boss</b>"
NAMES = {OWNER: "Olga", TESTER: "Tess", BOSS: BOSS_NAME}
DESCRIPTION = '<i>Gift</i> for <a href="https://evil.example">tap</a> & co'
BOSS_DESCRIPTION = "<b>Boss</b> order"
EVIL_AMOUNT = '1 <a href="https://evil.example">Payment received - tap</a>'

Entity = dict[str, Any]


def _literal(text: str | None, entities: list[Entity], typed: str, where: str) -> None:
    """The typed text shows as typed, and no entity begins or ends inside it (none came from it)."""
    shown = text or ""
    assert typed in shown, f"{where}: {typed!r} not shown literally in {shown!r}"
    start = utf16_length(shown[: shown.index(typed)])
    end = start + utf16_length(typed)
    for entity in entities:
        first, last = entity["offset"], entity["offset"] + entity["length"]
        assert not (start < first < end or start < last < end), f"{where}: {entity} comes from {typed!r}"
        assert "evil" not in str(entity.get("url", "")), f"{where}: {entity}"


def _shows(message: SentMessage, typed: str, where: str) -> SentMessage:
    _literal(message.text, message.entities, typed, where)
    return message


async def _typed_back(people: People) -> None:
    """Commands whose answer repeats (or could repeat) what was typed, in the tester's private chat."""
    for text, typed in (("/link 5<b>x</b>", "5<b>x</b>"), ("/link 5<b", "5<b")):
        reply = _shows(await people.ask(text, TESTER), typed, text)
        assert "as an amount" in (reply.text or "")
        assert not entity_texts(reply, ["bold"]), reply.entities
    await people.ask("/newlink", TESTER, contains="How much")
    # A long bad amount is repeated only in part, and that part exactly as typed.
    reply = _shows(await people.ask(EVIL_AMOUNT, TESTER), clip(EVIL_AMOUNT, texts.TYPED_UNITS), "/newlink amount")
    assert "as an amount" in (reply.text or "") and not entity_texts(reply, ["text_link"])
    await people.ask("/cancel", TESTER, contains="Cancelled")

    _shows(await people.ask("/find <i>x</i>", TESTER, contains="Nothing found"), "<i>x</i>", "/find")
    _shows(await people.ask("/settings currency <b>X</b>", TESTER), "<b>X</b>", "/settings currency")
    _shows(await people.ask("/settings country <i>", TESTER), "<i>", "/settings country")
    # These answer with their usage, exactly as for any other wrong argument: nothing typed made markup.
    for hostile, harmless in (("/invite <b>admin</b>", "/invite nobody"), ("/remove <script>", "/remove nobody")):
        refused, usual = await people.ask(hostile, TESTER), await people.ask(harmless, TESTER)
        assert (refused.text, refused.entities) == (usual.text, usual.entities), hostile


async def _description_everywhere(people: People, db: Database) -> Link:
    """The owner makes a link step by step; its description is shown wherever the link is."""
    fake = people.fake
    await people.ask("/newlink", OWNER, contains="How much")
    await people.ask("5", OWNER, contains="What is it for")
    summary = _shows(await people.ask(DESCRIPTION, OWNER, contains="Create this link"), DESCRIPTION, "summary")
    count = len(fake.sent(OWNER))
    await people.answer(people.press(summary, summary.button_data("create"), OWNER))
    card = _shows(await people.reply(OWNER, count, "Link ID"), DESCRIPTION, "card")
    created = await fake.wait_for_message(
        lambda m: m.message_id == summary.message_id and m.chat_id == OWNER and "Link created" in (m.text or "")
    )
    _shows(created, DESCRIPTION, "summary, created")
    link = next(link for link in await db.links() if link.description == DESCRIPTION)

    count = len(fake.sent(OWNER))
    await people.answer(people.press(card, f"c:s:{link.id}", OWNER))
    _shows(await people.reply(OWNER, count, "Payment request"), DESCRIPTION, "Share")
    count = len(fake.sent(OWNER))
    await people.answer(people.press(card, f"c:q:{link.id}", OWNER))
    _shows(await people.reply(OWNER, count, "Payment request"), DESCRIPTION, "QR")

    asked = fake.inline_query(link.merchant_link_id, user_id=OWNER)
    inline = await fake.wait_for_call("answerInlineQuery", lambda c: c.params["inline_query_id"] == asked, timeout=WAIT)
    [article] = inline.params["results"]
    content = article["input_message_content"]
    _literal(*parse_text(content["message_text"], content.get("parse_mode")), DESCRIPTION, "inline result")
    assert DESCRIPTION in article["title"]

    listed = DESCRIPTION[: PHONE_DESCRIPTION_UNITS - 1]  # a list line on a phone shows the start of it
    _shows(await people.ask("/links", OWNER, contains="Your links"), listed, "/links")
    _shows(await people.ask("/find Gift", OWNER, contains="Found"), DESCRIPTION, "/find")
    _shows(await people.ask(f"/status {link.merchant_link_id}", OWNER, contains="Timeline"), DESCRIPTION, "/status")
    return link


async def _named_boss(people: People) -> SentMessage:
    """An agent whose name is markup makes a link and cancels it: the card names who cancelled."""
    fake = people.fake
    card = await people.ask(f"/link 7 USD {BOSS_DESCRIPTION}", BOSS, contains="Link ID")
    _shows(card, BOSS_DESCRIPTION, "Boss's card")
    row_id = next(link.id for link in await people.db.links() if link.description == BOSS_DESCRIPTION)
    await people.cancel(card, row_id, BOSS)
    cancelled = await fake.wait_for_message(
        lambda m: m.message_id == card.message_id and m.chat_id == BOSS and "Cancelled" in (m.text or ""),
        timeout=WAIT,
    )
    return _shows(cancelled, f"by {BOSS_NAME}", "cancelled card")


async def test_typed_text_is_shown_as_typed_everywhere(database_url: str, tmp_path) -> None:
    """Amount errors, descriptions, names, search words, setting values and arguments never become markup."""
    async with running_bot(
        database_url, tmp_path, admin_ids=f"{OWNER},{TESTER}", DEFAULT_CURRENCY="USD", names=NAMES
    ) as (fake, _bot, db, people):
        await people.add_members({BOSS: "agent"}, OWNER)
        await asyncio.gather(_typed_back(people), _description_everywhere(people, db), _named_boss(people))

        boss_link = next(link for link in await db.links() if link.description == BOSS_DESCRIPTION)
        story = await people.ask(f"/status {boss_link.merchant_link_id}", OWNER, contains="Timeline")
        _shows(story, f"Made by {BOSS_NAME}", "/status, made by")
        _shows(story, f"cancelled: by {BOSS_NAME}", "/status, cancelled by")
        _shows(await people.ask("/team", OWNER, contains="Team"), BOSS_NAME, "/team")
        audit = await people.ask("/audit", OWNER, contains="Audit log")
        _shows(audit, f"{BOSS_NAME} (", "/audit, who")
        _shows(audit, DESCRIPTION, "/audit, what")
        assert not [m for m in fake.sent() if m.text == visible_text(texts.internal_error())]
