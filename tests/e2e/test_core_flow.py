"""The whole product, end to end: a Telegram message makes a link, paying it says "Paid" once.

The real application runs as a subprocess (``python -m bot run``), talking to a fake Telegram
Bot API over HTTP and to its embedded sandbox gateway, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re

import httpx
import pytest
import zxingcpp
from PIL import Image

from bot.payermax import signing
from storage.models import LinkStatus
from tests.e2e.harness import BotProcess, is_setup_offer, paybylink_notification, running_bot, wait_until_idle
from tests.fakes.telegram_api import FakeTelegram, SentMessage

pytestmark = pytest.mark.e2e

SELLER = 1001
STRANGER = 2002


def _link_url(card: SentMessage) -> str:
    match = re.search(r"Pay here: (\S+)", card.text or "")
    assert match, f"the card shows no payment URL: {card.text!r}"
    return match.group(1)


def _qr_payload(png: bytes) -> str:
    import io

    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert results, "the card photo holds no readable QR code"
    return results[0].text


async def _paid_messages(fake: FakeTelegram, chat_id: int) -> list[SentMessage]:
    return [m for m in fake.sent(chat_id) if (m.text or "").startswith("✅ Paid")]


async def test_link_paid_and_announced_once(database_url: str, tmp_path) -> None:
    """/link makes a card with a QR; paying says Paid once; forgeries and strangers change nothing."""
    async with running_bot(database_url, tmp_path, admin_ids=str(SELLER)) as (fake, bot, db, _people):
        # The seller asks for a link in one message and gets the card with a scannable QR.
        fake.send_text("/link 150000 IDR Winter shoes", user_id=SELLER)
        card = await fake.wait_for_message(lambda m: m.chat_id == SELLER and m.kind == "photo", timeout=20)
        assert "IDR" in card.text and "150,000" in card.text and "Winter shoes" in card.text
        assert "SANDBOX" in card.text
        url = _link_url(card)
        assert _qr_payload(card.photo) == url
        [link] = await db.links()
        assert (link.status, link.amount, link.currency) == (LinkStatus.ACTIVE, 150000, "IDR")

        # PayerMax (the sandbox) delivers every notification three times.
        async with httpx.AsyncClient(timeout=10) as client:
            faults = await client.post(f"{bot.base_url}/sandbox/_faults", json={"notify_duplicates": 3})
            assert faults.status_code == 200
            page = await client.get(url)
            assert page.status_code == 200 and "150,000" in page.text
            paid_page = await client.post(url, data={"action": "pay", "method": "CARD"})
            assert paid_page.status_code == 200

        paid = await fake.wait_for_message(lambda m: (m.text or "").startswith("✅ Paid"), timeout=20)
        assert paid.chat_id == SELLER and paid.reply_to_message_id == card.message_id
        assert "Winter shoes" in paid.text and "Paid with card" in paid.text and "******" in paid.text
        await wait_until_idle(bot, db)  # the duplicate deliveries have arrived and been answered
        assert len(await _paid_messages(fake, SELLER)) == 1
        assert len(await db.payments()) == 1
        # The card's edit is paced behind the Paid message: wait for it rather than assume two seconds did.
        card_now = await fake.wait_for_message(
            lambda m: m.chat_id == SELLER and m.message_id == card.message_id and "PAID" in (m.text or ""),
            timeout=20,
        )
        assert "Pay here" not in card_now.text

        # A second link stays unpaid whatever forged or wrong notifications say.
        fake.send_text("/link 10 USD Tea", user_id=SELLER)
        card2 = await fake.wait_for_message(lambda m: m.kind == "photo" and "Tea" in (m.text or ""), timeout=20)
        link2 = (await db.links())[-1]
        forged_key = signing.generate_private_key()
        body = paybylink_notification(link2.merchant_link_id, amount="10.00", currency="USD", trade="FAKE1")
        forged = await bot.post_notification(body, sign=signing.sign(body, forged_key))
        assert forged.status_code == 401 and forged.json()["code"] != "SUCCESS"
        unsigned = await bot.post_notification(body, sign=None)
        assert unsigned.status_code == 401
        wrong_amount = paybylink_notification(
            link2.merchant_link_id,
            amount="1.00",
            currency="USD",
            trade="CHEAP1",
            payermax_link_id=link2.payermax_link_id,
        )
        mismatch = await bot.post_notification(wrong_amount, sign=bot.platform_sign(wrong_amount))
        assert mismatch.status_code == 409 and mismatch.json()["code"] != "SUCCESS"
        await wait_until_idle(bot, db)
        link2_now = (await db.links())[-1]
        assert link2_now.status == LinkStatus.ACTIVE
        assert [p.link_id for p in await db.payments()] == [link.id]
        assert len(await _paid_messages(fake, SELLER)) == 1
        assert "Waiting for payment" in next(m for m in fake.sent(SELLER) if m.message_id == card2.message_id).text

        # A stranger is refused and PayerMax hears nothing about it.
        creates_before = await _create_calls(bot)
        fake.send_text("/link 5 USD Free money", user_id=STRANGER)
        refusal = await fake.wait_for_message(lambda m: m.chat_id == STRANGER, timeout=10)
        assert "needs one of these roles" in refusal.text and str(STRANGER) in refusal.text
        await wait_until_idle(bot, db)
        assert await _create_calls(bot) == creates_before
        assert len(await db.links()) == 2
    assert fake.token not in bot.log()


async def _create_calls(bot: BotProcess) -> int:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{bot.base_url}/sandbox/_requests")
    return sum(1 for entry in answer.json()["requests"] if entry["api"] == "createPaybylink")


async def test_newlink_conversation_with_bad_amounts(database_url: str, tmp_path) -> None:
    """/newlink asks, explains each bad amount, summarises, and creates on the button."""
    async with running_bot(
        database_url, tmp_path, admin_ids=str(SELLER), DEFAULT_CURRENCY="USD", clean_exit=False
    ) as run:
        fake, bot, db, _people = run
        fake.send_text("/newlink", user_id=SELLER)
        await fake.wait_for_message(lambda m: "How much" in (m.text or ""), timeout=10)
        # The owner's first command in a new chat is answered first, then the set-up is offered once.
        offer = await fake.wait_for_message(is_setup_offer, timeout=10)
        assert "Currency: USD" in (offer.text or "")
        assert fake.sent(SELLER).index(offer) > 0
        for bad, reason in (
            ("abc", "150000"),
            ("-5", "more than zero"),
            ("100.5 IDR", "IDR"),
            ("12.345 USD", "2 decimals"),
            ("10 XYZ", "XYZ"),
        ):
            count = len(fake.sent(SELLER))
            fake.send_text(bad, user_id=SELLER)
            answer = await fake.wait_for_message(
                lambda m, c=count: m in fake.sent(SELLER)[c:] and not is_setup_offer(m), timeout=10
            )
            assert reason in answer.text, (bad, answer.text)
        fake.send_text("12.50", user_id=SELLER)
        await fake.wait_for_message(lambda m: "What is it for" in (m.text or ""), timeout=10)
        fake.send_text("Coffee beans", user_id=SELLER)
        summary = await fake.wait_for_message(lambda m: "Create this link" in (m.text or ""), timeout=10)
        assert "$12.50" in summary.text and "Coffee beans" in summary.text
        assert await db.links() == []  # nothing is created before the button
        fake.press_button(summary, summary.button_data("create"), user_id=SELLER)
        fake.press_button(summary, summary.button_data("create"), user_id=SELLER)  # an impatient double tap
        card = await fake.wait_for_message(lambda m: m.kind == "photo", timeout=20)
        assert "$12.50" in card.text and "Coffee beans" in card.text
        await wait_until_idle(bot, db)
        assert len([m for m in fake.sent(SELLER) if m.kind == "photo"]) == 1
        assert len(await db.links()) == 1
