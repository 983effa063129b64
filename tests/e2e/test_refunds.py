"""Refunds end to end: the real process, a fake Telegram Bot API and the embedded sandbox, on SQLite and PostgreSQL.

Pay, refund part (confirmed twice), PayerMax's REFUND notification delivered twice: one "Refunded"
message and a PARTIALLY REFUNDED card; a second refund for more than is left is refused before
PayerMax hears of it; people without the refund permission are told who can give it.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.harness import BotProcess, running_bot, wait_until_idle
from tests.e2e.people import pay
from tests.fakes.telegram_api import FakeTelegram, SentMessage

pytestmark = pytest.mark.e2e

SELLER = 1001
STRANGER = 2002
REFUNDED = "↩️ Refunded"


def _link_url(card: SentMessage) -> str:
    match = re.search(r"Pay here: (\S+)", card.text or "")
    assert match, f"the card shows no payment URL: {card.text!r}"
    return match.group(1)


def _button(message: SentMessage, starts: str) -> str:
    """The callback data of the message's button whose label starts so."""
    found = [
        b["callback_data"]
        for b in message.buttons
        if b.get("text", "").replace("\xa0", " ").startswith(starts) and "callback_data" in b
    ]
    assert found, f"no {starts!r} button on {message.text!r}: {message.buttons}"
    return found[0]


async def _refund_calls(bot: BotProcess) -> list[dict]:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{bot.base_url}/sandbox/_requests")
    return [entry for entry in answer.json()["requests"] if entry["api"] == "refund"]


def _current(fake: FakeTelegram, message: SentMessage) -> SentMessage:
    return next(m for m in fake.sent(message.chat_id) if m.message_id == message.message_id)


def _text(message: SentMessage) -> str:
    """What the message says, with the no-break spaces Babel puts in amounts read as spaces."""
    return (message.text or "").replace("\xa0", " ")


async def test_partial_refund_told_once_and_more_than_is_left_refused(database_url: str, tmp_path) -> None:
    async with running_bot(database_url, tmp_path, admin_ids=str(SELLER), SANDBOX_REFUND_SETTLE_SECONDS="0.5") as run:
        fake, bot, db, _people = run
        fake.send_text("/link 150000 IDR Winter shoes", user_id=SELLER)
        card = await fake.wait_for_message(lambda m: m.chat_id == SELLER and m.kind == "photo", timeout=20)
        async with httpx.AsyncClient(timeout=10) as client:
            paid_page = await client.post(_link_url(card), data={"action": "pay", "method": "CARD"})
            assert paid_page.status_code == 200
            # PayerMax delivers every notification (the REFUND one too) twice.
            faults = await client.post(f"{bot.base_url}/sandbox/_faults", json={"notify_duplicates": 2})
            assert faults.status_code == 200
        await fake.wait_for_message(lambda m: (m.text or "").startswith("✅ Paid"), timeout=20)
        await fake.wait_for_message(
            lambda m: m.message_id == card.message_id and any("Refund" in b.get("text", "") for b in m.buttons),
            timeout=10,
        )
        [link] = await db.links()

        # Someone without the refund permission presses Refund: told who has it and who can give it.
        pressed = fake.press_forged(card, _button(_current(fake, card), "↩️ Refund"), user_id=STRANGER)
        answered = await fake.wait_for_call(
            "answerCallbackQuery", lambda c: c.params.get("callback_query_id") == pressed, timeout=10
        )
        refusal = answered.params
        assert "refund permission" in refusal["text"] and "owner" in refusal["text"], refusal
        assert str(STRANGER) in refusal["text"]

        # The card's Refund offers everything; the seller says no, and nothing happens.
        fake.press_button(_current(fake, card), _button(_current(fake, card), "↩️ Refund"), user_id=SELLER)
        offer = await fake.wait_for_message(lambda m: "cannot be undone" in (m.text or ""), timeout=10)
        assert _text(offer).startswith("Refund IDR 150,000 of order"), _text(offer)
        assert "card ····1111" in _text(offer) and "Nothing stays refundable" in _text(offer)
        assert offer.reply_to_message_id == card.message_id
        fake.press_button(offer, _button(offer, "✖️ No"), user_id=SELLER)
        await fake.wait_for_message(
            lambda m: m.message_id == offer.message_id and "Not refunded" in (m.text or ""), timeout=10
        )

        # /refund of part, with a reason; confirmed with a double press.
        fake.send_text(f"/refund {link.merchant_link_id} 50000 Box arrived damaged", user_id=SELLER)
        ask = await fake.wait_for_message(lambda m: "cannot be undone" in _text(m) and "50,000" in _text(m), timeout=10)
        assert _text(ask).startswith("Refund IDR 50,000 of order"), _text(ask)
        assert "IDR 100,000 stays refundable" in _text(ask) and "Box arrived damaged" in _text(ask)
        yes = _button(ask, "↩️ Yes, refund IDR 50,000")
        fake.press_button(ask, yes, user_id=SELLER)
        fake.press_button(ask, yes, user_id=SELLER)
        refunded = await fake.wait_for_message(lambda m: _text(m).startswith(REFUNDED), timeout=20)
        assert refunded.chat_id == SELLER and refunded.reply_to_message_id == card.message_id
        assert "IDR 50,000" in _text(refunded) and "IDR 100,000 can still be refunded" in _text(refunded)
        await wait_until_idle(bot, db)  # the second REFUND notification has arrived and been answered
        assert len([m for m in fake.sent(SELLER) if _text(m).startswith(REFUNDED)]) == 1
        assert len(await _refund_calls(bot)) == 1
        await fake.wait_for_message(
            lambda m: m.message_id == card.message_id and "PARTIALLY REFUNDED" in _text(m), timeout=10
        )
        card_now = _current(fake, card)
        assert "IDR 50,000 of IDR 150,000" in _text(card_now) and "IDR 100,000 left" in _text(card_now)
        assert "sent to PayerMax" in _text(_current(fake, ask))

        # More than what is left: refused with what is left; PayerMax hears nothing.
        fake.send_text(f"/refund {link.merchant_link_id} 120000", user_id=SELLER)
        too_much = await fake.wait_for_message(lambda m: "more than is left" in _text(m), timeout=10)
        assert "IDR 100,000" in _text(too_much)
        await wait_until_idle(bot, db)
        assert len(await _refund_calls(bot)) == 1

        # /status and /audit say who refunded what.
        fake.send_text(f"/status {link.merchant_link_id}", user_id=SELLER)
        status = await fake.wait_for_message(lambda m: "Refunds" in (m.text or ""), timeout=10)
        assert "IDR 50,000 · refunded" in _text(status) and "Box arrived damaged" in _text(status)
        asked = r"refund asked for: IDR 50,000 by .+, order \S+, refund RF\w+ · Box arrived damaged"
        assert re.search(asked, _text(status)), _text(status)
        assert re.search(r"refunded: IDR 50,000, refund RF\w+, first told by ", _text(status)), _text(status)
        fake.send_text("/audit", user_id=SELLER)
        audit = await fake.wait_for_message(lambda m: "refunded on link" in (m.text or ""), timeout=10)
        audited = rf"refunded on link {link.merchant_link_id}: IDR 50,000, order \S+, refund RF\w+ · Box arrived"
        assert re.search(audited, _text(audit)), _text(audit)


OWNER, AGENT, GROUP = 1001, 2001, -100_777_888
NAMES = {OWNER: "Olga", AGENT: "Ann"}


async def test_an_owner_lets_an_agent_refund_and_the_group_hears_it(database_url: str, tmp_path) -> None:
    """An agent is refused until the owner allows it in /team; then their refund is told in the link's group once."""
    async with running_bot(
        database_url, tmp_path, admin_ids=str(OWNER), SANDBOX_REFUND_SETTLE_SECONDS="0.3", names=NAMES
    ) as (fake, _bot, db, people):
        await people.add_members({AGENT: "agent"}, OWNER)
        card = await people.ask("/link 20 USD Ann's order", AGENT, GROUP, contains="Ann's order")
        await pay(_link_url(card))
        await fake.wait_for_message(lambda m: m.chat_id == GROUP and _text(m).startswith("✅ Paid"), timeout=20)
        card = await fake.wait_for_message(
            lambda m: m.message_id == card.message_id and m.chat_id == GROUP and "c:rf:" in str(m.buttons)
        )
        refund_data = _button(card, "↩️ Refund")

        refused = await people.answer(people.press(card, refund_data, AGENT))
        assert refused.get("show_alert") and "an owner can give it" in refused["text"], refused

        team = await people.ask("/team", OWNER, contains="Team")
        allowed = await people.answer(people.press(team, _button(team, "↩️ Let Ann refund"), OWNER))
        assert "can refund paid links now" in allowed["text"], allowed
        await fake.wait_for_message(
            lambda m: m.message_id == team.message_id and m.chat_id == OWNER and "may refund" in _text(m)
        )

        [link] = await db.links()
        ask = await people.ask(f"/refund {link.merchant_link_id} 5 wrong size", AGENT, contains="cannot be undone")
        assert _text(ask).startswith("Refund $5.00 of order"), _text(ask)
        await people.answer(people.press(ask, _button(ask, "↩️ Yes"), AGENT))
        told = await fake.wait_for_message(lambda m: m.chat_id == GROUP and _text(m).startswith(REFUNDED), timeout=20)
        assert told.reply_to_message_id == card.message_id and "$15.00 can still be refunded" in _text(told)
        # Asked for in private: the agent hears it there too.
        await fake.wait_for_message(lambda m: m.chat_id == AGENT and _text(m).startswith(REFUNDED), timeout=10)
        await people.settled()
        assert len([m for m in fake.sent(GROUP) if _text(m).startswith(REFUNDED)]) == 1

        audit = await people.ask("/audit", OWNER, contains="refund permission")
        assert "Ann" in _text(audit) and "refunded on link" in _text(audit)
