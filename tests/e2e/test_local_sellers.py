"""Sellers outside the US, as they would first try the bot: their language, their money, their clock.

Each seller writes the way people write amounts where they sell (``150rb``, Arabic-Indic digits
and ``ر.س``, ``TL``); PayerMax must receive exactly the amount and currency meant, and the seller
must read the card and "Paid" in their language, money written their way, times in their zone.
What the bot sends is compared with what the texts render for that reader, and with English, so
a missing translation fails here as well as in the catalogue tests.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.botapi.markup import visible_text
from bot.chat import texts
from bot.chat.card_view import card_caption
from bot.i18n.reader import Reader, gettext, reading_as
from storage.models import Link, LinkStatus, Member
from tests.e2e.harness import BotProcess, Database, RunningBot, is_setup_offer, running_bot
from tests.e2e.people import WAIT, pay
from tests.fakes.telegram_api import FakeTelegram, SentMessage

pytestmark = pytest.mark.e2e

SITI, AMIRA, EMRE, NEWBIE, JOAO = 1101, 1102, 1103, 1104, 1105
AGENT = 2201
GROUP = -100_777_888_999
FSI, PDI = "\u2068", "\u2069"
LINK_ID = "Link ID <code>{link_id}</code>"  # a line of every card


def running(database_url: str, tmp_path: Path) -> AbstractAsyncContextManager[RunningBot]:
    """The bot with five owners and no DEFAULT_CURRENCY (a fresh deployment), and a look into its database."""
    return running_bot(database_url, tmp_path, admin_ids=",".join(map(str, (SITI, AMIRA, EMRE, NEWBIE, JOAO))))


async def creates(bot: BotProcess) -> list[dict[str, Any]]:
    """The createPaybylink requests PayerMax received, oldest first."""
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{bot.base_url}/sandbox/_requests")
    return [entry["data"] for entry in answer.json()["requests"] if entry["api"] == "createPaybylink"]


def data_of(message: SentMessage) -> list[str]:
    """The callback data of the buttons a message shows now."""
    return [str(button.get("callback_data", "")) for button in message.buttons]


async def link_of(db: Database, description: str) -> Link:
    return next(link for link in await db.links() if link.description == description)


async def card_in(fake: FakeTelegram, chat_id: int, description: str) -> SentMessage:
    return await fake.wait_for_message(
        lambda m: m.chat_id == chat_id and m.kind == "photo" and description in (m.text or ""), timeout=WAIT
    )


async def rendered_card(db: Database, link: Link, reader: Reader) -> str:
    """The card the bot would write for this reader, as Telegram shows it."""
    with reading_as(reader):
        return visible_text(await card_caption(db.sessions, link))


async def is_card_for(db: Database, card: SentMessage, link: Link, reader: Reader) -> None:
    """The card sent is the one written for this reader, and not the English one."""
    assert card.text == await rendered_card(db, link, reader)
    with reading_as(reader):
        label = gettext(LINK_ID)
    assert label != LINK_ID, f"the card is not translated into {reader.locale}"


async def paid_in(fake: FakeTelegram, db: Database, link: Link, reader: Reader) -> SentMessage:
    """The "Paid" message after the customer pays, as written for this reader."""
    await pay(link.link_url or "")
    link = next(row for row in await db.links() if row.id == link.id)  # with its card's message id
    paid = await fake.wait_for_message(
        lambda m: m.chat_id == link.chat_id and m.kind == "text" and m.reply_to_message_id == link.card_message_id,
        timeout=WAIT,
    )
    [payment] = [p for p in await db.payments() if p.link_id == link.id]
    with reading_as(reader):
        expected = visible_text(texts.paid_message(link, payment, made_by=link.chat_id < 0))  # a group names its maker
    assert paid.text == expected
    return paid


async def test_indonesian_seller_first_link_and_paid(database_url: str, tmp_path: Path) -> None:
    """Siti (Telegram in Indonesian) keeps the offered IDR and Jakarta time, then /link 150rb Kue lapis."""
    jakarta = Reader(locale="id", timezone="Asia/Jakarta")
    async with running(database_url, tmp_path) as (fake, bot, db, _people):
        fake.send_text("/start", user_id=SITI, first_name="Siti", language_code="id")
        offer = await fake.wait_for_message(lambda m: m.chat_id == SITI and is_setup_offer(m), timeout=WAIT)
        assert "IDR" in (offer.text or "") and "WIB" in (offer.text or "")
        [done] = [data for data in data_of(offer) if data.startswith("setup:done")]
        fake.press_button(offer, done, user_id=SITI, language_code="id")
        await fake.wait_for_message(lambda m: m.message_id == offer.message_id and not m.buttons, timeout=WAIT)

        fake.send_text("/link 150rb Kue lapis", user_id=SITI, first_name="Siti", language_code="id")
        card = await card_in(fake, SITI, "Kue lapis")
        [request] = await creates(bot)
        assert (request["totalAmount"], request["currency"], request["country"]) == ("150000", "IDR", "ID")
        assert request["language"] == "in"  # PayerMax's code for Indonesian
        link = await link_of(db, "Kue lapis")
        assert (link.amount, link.currency, link.status) == (Decimal("150000"), "IDR", LinkStatus.ACTIVE)
        assert "Rp\xa0150.000" in (card.text or "") and "WIB" in (card.text or "")
        await is_card_for(db, card, link, jakarta)

        paid = await paid_in(fake, db, link, jakarta)
        assert (paid.text or "").find("Rp\xa0150.000") < (paid.text or "").find("Kue lapis")  # the amount leads
        assert "WIB" in (paid.text or "")


async def test_arabic_turkish_and_unsure_sellers(database_url: str, tmp_path: Path) -> None:
    """Arabic digits and ر.س make SAR 300; "150 TL" makes TRY 150; no currency at all is asked, then remembered.

    Nat skipped the set-up, and this deployment has no DEFAULT_CURRENCY: where a bot with USD built
    in would have made a $75,000.00 link, Nat is asked (IDR first, from Telegram's language) instead.
    """
    riyadh = Reader(locale="ar", timezone="UTC")
    async with running(database_url, tmp_path) as (fake, bot, db, _people):
        fake.send_text("/link ٣٠٠ ر.س عباية", user_id=AMIRA, first_name="Amira", language_code="ar")
        fake.send_text("/link 150 TL Ayakkabı", user_id=EMRE, first_name="Emre", language_code="tr")
        fake.send_text("/link 75000 Batik", user_id=NEWBIE, first_name="Nat", language_code="id")

        abaya = await card_in(fake, AMIRA, "عباية")
        link = await link_of(db, "عباية")
        assert (link.amount, link.currency, link.country) == (Decimal("300"), "SAR", "SA")
        assert f"{FSI}\u200f300.00\xa0ر.س.\u200f{PDI}" in (abaya.text or "")  # the amount kept in one piece
        assert f"{FSI}{link.merchant_link_id}{PDI}" in (abaya.text or "")
        await is_card_for(db, abaya, link, riyadh)

        shoes = await card_in(fake, EMRE, "Ayakkabı")
        link = await link_of(db, "Ayakkabı")
        assert (link.amount, link.currency) == (Decimal("150"), "TRY") and "₺150,00" in (shoes.text or "")
        await is_card_for(db, shoes, link, Reader(locale="tr"))

        # Nat's chat has no currency and the deployment none: asked, with buttons; nothing made yet.
        question = await fake.wait_for_message(lambda m: m.chat_id == NEWBIE and bool(m.buttons), timeout=WAIT)
        assert "75.000" in (question.text or "") and data_of(question)[0] == "q:c:IDR"  # the likely one first
        assert "Batik" not in [link.description for link in await db.links()]
        assert len(await creates(bot)) == 2
        [idr] = [data for data in data_of(question) if data.endswith(":IDR")]
        fake.press_button(question, idr, user_id=NEWBIE, language_code="id")
        await card_in(fake, NEWBIE, "Batik")
        assert ((await link_of(db, "Batik")).amount, (await link_of(db, "Batik")).currency) == (Decimal("75000"), "IDR")
        # ... and the chat's answer is remembered: the next amount without a currency is IDR at once.
        fake.send_text("/link 5000 Teh", user_id=NEWBIE, first_name="Nat", language_code="id")
        await card_in(fake, NEWBIE, "Teh")
        assert (await link_of(db, "Teh")).currency == "IDR"


async def test_group_set_to_portuguese_writes_cards_in_portuguese(database_url: str, tmp_path: Path) -> None:
    """An English-speaking agent makes a link in a group whose language is pt-BR: the card is in Portuguese."""
    async with running(database_url, tmp_path) as (fake, _bot, db, _people):
        async with db.sessions() as session, session.begin():
            session.add(Member(user_id=AGENT, role="agent", name="Ann", added_by=JOAO))
        for setting, shown in (("language pt_BR", "Português"), ("currency BRL", "BRL")):
            count = len(fake.sent(GROUP))
            fake.send_text(
                f"/settings {setting}", user_id=JOAO, chat_id=GROUP, chat_type="supergroup", language_code="pt-br"
            )
            await fake.wait_for_message(
                lambda m, c=count, w=shown: m in fake.sent(GROUP)[c:] and w in (m.text or ""), timeout=WAIT
            )

        fake.send_text("/link 89,90 Tênis", user_id=AGENT, chat_id=GROUP, chat_type="supergroup", language_code="en")
        card = await card_in(fake, GROUP, "Tênis")
        link = await link_of(db, "Tênis")
        assert (link.amount, link.currency) == (Decimal("89.90"), "BRL") and "R$\xa089,90" in (card.text or "")
        await is_card_for(db, card, link, Reader(locale="pt_BR"))
        await paid_in(fake, db, link, Reader(locale="pt_BR"))


async def test_command_menus_in_every_language(database_url: str, tmp_path: Path) -> None:
    """Telegram gets the command menu once per language (language_code), described in that language.

    The groups' menu is checked: it offers /link (private chats offer a stranger only how to start).
    """
    async with running(database_url, tmp_path) as (fake, _bot, _db, _people):
        calls = {}
        for code in ("", "id", "ar", "pt", "es", "tr", "th", "zh"):
            call = await fake.wait_for_call(
                "setMyCommands",
                lambda c, code=code: (
                    (c.params.get("language_code") or "") == code
                    and c.params.get("scope", {}).get("type") == "all_group_chats"
                ),
                timeout=WAIT,
            )
            calls[code] = {command["command"]: command["description"] for command in call.params["commands"]}
        assert len({tuple(commands) for commands in calls.values()}) == 1  # the same commands everywhere
        descriptions = {code: commands["link"] for code, commands in calls.items()}
        assert len(set(descriptions.values())) == len(descriptions), descriptions  # each in its own words
