"""The QR button sends a label worth printing: the code, and under it the amount, what for, the shop and the expiry.

The real application runs as a subprocess against the fake Bot API. The label a person gets is
compared pixel for pixel with one drawn here from what the same message's caption says, so
the label says exactly what the customer is told, in the customers' language.
"""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image, ImageChops
from sqlalchemy import update
from sqlmodel import col

from bot.i18n.reader import Reader, gettext, reading_as
from bot.label.render import LabelText, label_png
from storage.models import Chat
from tests.e2e.artifacts import artifact
from tests.e2e.harness import running_bot
from tests.e2e.people import People, entity_texts
from tests.fakes.telegram_api import FakeTelegram, SentMessage
from tests.fakes.telegram_messages import MessageStore

pytestmark = pytest.mark.e2e

OWNER, AGENT, SUPPORT, STRANGER = 1001, 4004, 5005, 9009
GROUP = -100_555_666
NAMES = {OWNER: "Olga", AGENT: "Ali", SUPPORT: "Sue", STRANGER: "Stan"}
TEST_NOTE = "TEST LINK: no real money moves"
EXPIRY_LINE = 3  # the customer message: request, description, link, "Valid until …", test note


def _scan(png: bytes) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def _image(png: bytes | None) -> Image.Image:
    assert png is not None, "the message has no photo"
    return Image.open(io.BytesIO(png)).convert("RGB")


def _expected_label(qr: SentMessage, language: str, shop: str) -> Image.Image:
    """The label drawn from what the QR message's caption tells the customer."""
    [(_, amount)] = entity_texts(qr, ["bold"])
    caption = (qr.text or "").split("\n")
    description = caption[1]
    with reading_as(Reader(locale=language)):
        note = gettext(TEST_NOTE)  # the sandbox strip, in the customers' language
    return _image(label_png(qr_url(qr), LabelText(language, amount, description, shop, caption[EXPIRY_LINE], note)))


def qr_url(message: SentMessage) -> str:
    """The payment link a card or customer message shows (without the marks that keep it whole in Arabic)."""
    found = re.search(r"https?://[^\s\u2066-\u2069]+", message.text or "")
    assert found, f"no link in {message.text!r}"
    return found.group(0)


def _same(left: Image.Image, right: Image.Image) -> bool:
    return left.size == right.size and ImageChops.difference(left, right).getbbox() is None


async def _press_qr(people: People, card: SentMessage, user_id: int, chat_id: int) -> SentMessage | dict:
    """Press the card's QR button; the photo that follows, or the refusal when none does."""
    [data] = [
        button["callback_data"]
        for row in (card.reply_markup or {}).get("inline_keyboard", [])
        for button in row
        if str(button.get("callback_data", "")).startswith("c:q:")
    ]
    before = len(people.fake.sent(chat_id))
    answer = await people.answer(people.press(card, data, user_id))
    if not answer.get("text", "").startswith("QR code sent"):
        return answer
    return await people.fake.wait_for_message(
        lambda m: m in people.fake.sent(chat_id)[before:] and m.kind == "photo", timeout=20
    )


async def test_qr_button_sends_a_printable_label_in_the_customers_language(database_url: str, tmp_path) -> None:
    """Agent, support, owner get the label; it scans to the link; a stranger gets none; Arabic customers read Arabic."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES, clean_exit=False) as run:
        fake, _bot, db, people = run
        await people.add_members({AGENT: "agent", SUPPORT: "support"}, added_by=OWNER)
        card = await people.ask("/link 150000 IDR Winter shoes", AGENT, GROUP, contains="Winter shoes")
        assert card.kind == "photo"
        url = qr_url(card)
        card_image = _image(card.photo)
        assert _scan(card.photo or b"") == [url] and card_image.width == card_image.height  # the card: plain code

        # The agent who made it, at the counter: the label, scanning to the same link, says what the caption says.
        label = await _press_qr(people, card, AGENT, GROUP)
        assert isinstance(label, SentMessage), label
        assert _scan(label.photo or b"") == [url]
        drawn = _image(label.photo)
        assert drawn.height > drawn.width  # the words sit under the square code
        assert "Payment request" in (label.text or "") and "IDR\xa0150,000" in (label.text or "")
        assert _same(drawn, _expected_label(label, "en", MessageStore.GROUP_TITLE))
        artifact("qr-label-en.png").write_bytes(label.photo or b"")
        assert not _same(drawn, _expected_label(label, "en", "Another shop"))  # the comparison sees the words

        # Support may send a link on too; the owner as well. A stranger is refused and gets no label.
        for person in (SUPPORT, OWNER):
            again = await _press_qr(people, card, person, GROUP)
            assert isinstance(again, SentMessage) and _same(_image(again.photo), drawn)
        photos = sum(1 for m in fake.sent(GROUP) if m.kind == "photo")
        refused = await _press_qr(people, card, STRANGER, GROUP)
        assert isinstance(refused, dict) and refused.get("text")
        await people.settled()
        assert sum(1 for m in fake.sent(GROUP) if m.kind == "photo") == photos

        # The group's customers read Arabic: the label is written for them.
        async with db.sessions() as session, session.begin():
            await session.execute(update(Chat).where(col(Chat.id) == GROUP).values(customer_language="ar"))
        arabic = await _press_qr(people, card, AGENT, GROUP)
        assert isinstance(arabic, SentMessage) and _scan(arabic.photo or b"") == [url]
        assert "IDR" in (arabic.text or "") and "Payment request" not in (arabic.text or "")
        assert _same(_image(arabic.photo), _expected_label(arabic, "ar", MessageStore.GROUP_TITLE))
        assert not _same(_image(arabic.photo), drawn)
        artifact("qr-label-ar.png").write_bytes(arabic.photo or b"")

        # In a private chat the label carries the bot's name.
        private = await people.ask("/link 25 USD Tea", OWNER, contains="Tea")
        mine = await _press_qr(people, private, OWNER, OWNER)
        assert isinstance(mine, SentMessage)
        assert _same(_image(mine.photo), _expected_label(mine, "en", FakeTelegram.BOT_FIRST_NAME))
