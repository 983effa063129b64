"""Managing links as a team, end to end: live cards, /links, /find and /status, and who may do what.

The real application runs as a subprocess against the fake Bot API and its embedded sandbox;
people press card buttons (callback queries) and use inline mode as they would in Telegram.
Team members are written straight into the database once the bot has created its tables.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from bot.chat import texts
from bot.payermax.client import PayerMaxClient
from bot.services.access import Action, Role, refusal_of
from bot.services.links import new_merchant_link_id
from bot.services.team import TeamMember
from storage.models import AuditEvent, Link, LinkEvent, LinkStatus, Member, utcnow
from tests.e2e.harness import BotProcess, Database, running_bot
from tests.fakes.telegram_api import FakeTelegram, SentMessage

pytestmark = pytest.mark.e2e

OWNER = 1001
AGENT_A = 2001
AGENT_B = 2002
SUPPORT = 3001
GROUP_A = -100_111_222
GROUP_B = -100_333_444
NAMES = {OWNER: "Olga", AGENT_A: "Ann", AGENT_B: "Bob", SUPPORT: "Sue"}
WAIT = 20.0


# --- helpers -----------------------------------------------------------------------------------


def _button(message: SentMessage, action: str) -> str:
    """The callback data of the card button for this action ("r", "x", "xy", "s", "q", "o")."""
    prefix = f"c:{action}:"
    for button in message.buttons:
        if button.get("callback_data", "").startswith(prefix):
            return button["callback_data"]
    raise AssertionError(f"no {action!r} button on {message.buttons}")


def _callback_data(message: SentMessage) -> list[str]:
    return [button["callback_data"] for button in message.buttons if "callback_data" in button]


def _refusal(action: Action, user_id: int, role: Role) -> str:
    """The refusal this team member should read: the role the action needs, theirs, and who can give it.

    The owner has not written to the bot yet, so it names her by her Telegram id.
    """
    return texts.refusal(refusal_of(action), user_id, role=role, asked=[TeamMember(OWNER, Role.OWNER, "", False)])


def _qr_payload(png: bytes) -> str:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert results, "the photo holds no readable QR code"
    return results[0].text


def _url(card: SentMessage) -> str:
    match = re.search(r"Pay here: (\S+)", card.text or "")
    assert match, card.text
    return match.group(1)


def _say(fake: FakeTelegram, text: str, user_id: int, chat_id: int | None = None) -> None:
    """A person writes in their private chat, or in a group when chat_id is given."""
    if chat_id is None:
        fake.send_text(text, user_id=user_id, first_name=NAMES[user_id])
    else:
        fake.send_text(text, user_id=user_id, chat_id=chat_id, chat_type="group", first_name=NAMES[user_id])


def _press(fake: FakeTelegram, message: SentMessage, data: str, user_id: int) -> str:
    return fake.press_button(message, data, user_id=user_id, first_name=NAMES[user_id])


async def _answer(fake: FakeTelegram, query_id: str) -> dict:
    """What the bot answered to this button press."""
    call = await fake.wait_for_call(
        "answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query_id, timeout=WAIT
    )
    return call.params


async def _reply(fake: FakeTelegram, chat_id: int, after: int, contains: str) -> SentMessage:
    """The first message the bot sends to this chat after the first `after` ones that contains this text."""
    return await fake.wait_for_message(
        lambda m: m.chat_id == chat_id and m in fake.sent(chat_id)[after:] and contains in (m.text or ""), timeout=WAIT
    )


async def _card(fake: FakeTelegram, chat_id: int, description: str) -> SentMessage:
    return await fake.wait_for_message(
        lambda m: m.chat_id == chat_id and m.kind == "photo" and description in (m.text or ""), timeout=WAIT
    )


async def _card_shows(fake: FakeTelegram, card: SentMessage, text: str) -> SentMessage:
    """Wait until the card (edited in place) shows this text."""
    return await fake.wait_for_message(
        lambda m: m.chat_id == card.chat_id and m.message_id == card.message_id and text in (m.text or ""), timeout=WAIT
    )


async def _asking(fake: FakeTelegram, card: SentMessage, user_id: int) -> SentMessage:
    """Press Cancel link and wait for the question the bot asks under the card, with Yes / No."""
    count = len(fake.sent(card.chat_id))
    await _answer(fake, _press(fake, card, _button(card, "x"), user_id))
    return await fake.wait_for_message(
        lambda m: (
            m in fake.sent(card.chat_id)[count:]
            and m.reply_to_message_id == card.message_id
            and "c:cy:" in str(m.buttons)
        ),
        timeout=WAIT,
    )


async def _sandbox_calls(bot: BotProcess, api: str) -> int:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{bot.base_url}/sandbox/_requests")
    return sum(1 for entry in answer.json()["requests"] if entry["api"] == api)


async def _pay(url: str) -> None:
    """The customer pays by card on the sandbox checkout page."""
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.post(url, data={"action": "pay", "method": "CARD"})).status_code == 200


async def _link(db: Database, description: str) -> Link:
    return next(link for link in await db.links() if link.description == description)


async def _rows(db: Database, model: type, **where: object) -> list:
    async with db.sessions() as session:
        return list((await session.execute(select(model).filter_by(**where))).scalars())


async def _seed_links(db: Database, user_id: int, descriptions: list[str]) -> None:
    """ACTIVE links made a few minutes ago, oldest first, as if PayerMax had made them (quicker than paced cards)."""
    now = utcnow()
    async with db.sessions() as session, session.begin():
        for age, description in zip(range(len(descriptions), 0, -1), descriptions, strict=True):
            session.add(
                Link(
                    merchant_link_id=new_merchant_link_id(),
                    chat_id=user_id,
                    creator_user_id=user_id,
                    creator_name=NAMES[user_id],
                    amount=Decimal(1),
                    currency="USD",
                    country="US",
                    description=description,
                    expires_seconds=86400,
                    status=LinkStatus.ACTIVE,
                    sandbox=True,
                    link_url=f"http://127.0.0.1:9/pay/{age}",
                    expires_at=now + timedelta(days=1),
                    created_at=now - timedelta(minutes=age),
                    next_check_at=None,
                )
            )


async def _add_members(db: Database, roles: dict[int, str]) -> None:
    async with db.sessions() as session, session.begin():
        for user_id, role in roles.items():
            session.add(Member(user_id=user_id, role=role, name=NAMES[user_id], added_by=OWNER))


# --- tests -------------------------------------------------------------------------------------


async def test_the_card_follows_the_link(database_url: str, tmp_path) -> None:
    """Share, QR, inline mode; the card turns PAID (with the method), CANCELLED (once) and EXPIRED by itself."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER)) as (fake, bot, db, _people):
        _say(fake, "/link 150000 IDR Winter shoes", OWNER)
        shoes = await _card(fake, OWNER, "Winter shoes")
        link = await _link(db, "Winter shoes")
        assert {data.rsplit(":", 1)[0] for data in _callback_data(shoes)} == {"c:r", "c:x", "c:s", "c:q"}
        url = _url(shoes)

        # Share: a clean customer message with a button that goes on through inline mode.
        count = len(fake.sent(OWNER))
        await _answer(fake, _press(fake, shoes, _button(shoes, "s"), OWNER))
        shared = await _reply(fake, OWNER, count, "Payment request")
        assert (
            "IDR\xa0150,000" in shared.text
            and "Winter shoes" in shared.text
            and url in shared.text
            and "Valid until" in shared.text
        )
        assert {"text": "📤 Send to a customer", "switch_inline_query": link.merchant_link_id} in shared.buttons
        asked = fake.inline_query(link.merchant_link_id, user_id=OWNER)
        inline = await fake.wait_for_call(
            "answerInlineQuery", lambda c: c.params["inline_query_id"] == asked, timeout=WAIT
        )
        [article] = inline.params["results"]
        assert article["type"] == "article" and url in article["input_message_content"]["message_text"]
        stranger = fake.inline_query(link.merchant_link_id, user_id=9999)
        hidden = await fake.wait_for_call(
            "answerInlineQuery", lambda c: c.params["inline_query_id"] == stranger, timeout=WAIT
        )
        assert hidden.params["results"] == []

        # QR: the code again, for a customer standing at the counter.
        count = len(fake.sent(OWNER))
        await _answer(fake, _press(fake, shoes, _button(shoes, "q"), OWNER))
        qr = await fake.wait_for_message(lambda m: m in fake.sent(OWNER)[count:] and m.kind == "photo", timeout=WAIT)
        assert _qr_payload(qr.photo) == url and "Payment request" in qr.text

        # Paid: the card edits itself to PAID with the method and the masked card; Cancel is gone, Refund is there.
        cancel_data = _button(shoes, "x")
        await _pay(url)
        paid = await _card_shows(fake, shoes, "PAID")
        assert "Paid with card" in paid.text and "******" in paid.text and "Pay here" not in paid.text
        assert [data.rsplit(":", 1)[0] for data in _callback_data(paid)] == ["c:r", "c:rf"]
        # Cancel pressed on the old card: refused with the reason, nothing asked of PayerMax.
        answer = await _answer(fake, _press(fake, shoes, cancel_data, OWNER))
        assert answer["show_alert"] and "Too late to cancel" in answer["text"] and "paid" in answer["text"]
        assert await _sandbox_calls(bot, "expirePaybylink") == 0
        assert (await _link(db, "Winter shoes")).status == LinkStatus.PAID

        # Cancel asks first, then cancels once however often Yes is pressed.
        _say(fake, "/link 10 USD Tea", OWNER)
        tea = await _card(fake, OWNER, "Tea")
        asking = await _asking(fake, tea, OWNER)
        yes = _button(asking, "cy")
        first, second = _press(fake, asking, yes, OWNER), _press(fake, asking, yes, OWNER)
        answers = sorted([(await _answer(fake, first))["text"], (await _answer(fake, second))["text"]])
        assert answers[0].startswith("Cancelled.") and "Olga already cancelled this link" in answers[1]
        cancelled = await _card_shows(fake, tea, "Cancelled")
        assert "by Olga" in cancelled.text and "Pay here" not in cancelled.text
        tea_link = await _link(db, "Tea")
        assert tea_link.status == LinkStatus.CANCELLED
        assert len(await _rows(db, LinkEvent, link_id=tea_link.id, kind="cancelled")) == 1
        assert len(await _rows(db, AuditEvent, action="cancel_link")) == 1

        # Expired at PayerMax (say, from the merchant portal): Refresh shows it.
        _say(fake, "/link 5 USD Soap", OWNER)
        soap = await _card(fake, OWNER, "Soap")
        soap_link = await _link(db, "Soap")
        keys = bot.sandbox_keys()
        async with PayerMaxClient(
            base_url=f"{bot.base_url}/sandbox",
            app_id="sandbox-app",
            merchant_no="SANDBOX000001",
            merchant_private_key=keys.merchant_private_key,
            platform_public_key=keys.platform_public_key,
        ) as payermax:
            await payermax.expire_paybylink(soap_link.merchant_link_id)
        answer = await _answer(fake, _press(fake, soap, _button(soap, "r"), OWNER))
        assert answer["text"] == "Checked with PayerMax: expired."
        expired = await _card_shows(fake, soap, "Expired")
        assert "Pay here" not in expired.text


async def test_team_roles_and_support_lookups(database_url: str, tmp_path) -> None:
    """Agents manage only their own links, support finds and explains any link but creates and cancels none."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER)) as (fake, _bot, db, _people):
        await _add_members(db, {AGENT_A: "agent", AGENT_B: "agent", SUPPORT: "support"})
        _say(fake, "/link 150000 IDR Winter shoes", AGENT_A, GROUP_A)
        shoes = await _card(fake, GROUP_A, "Winter shoes")
        _say(fake, "/link 99000 IDR Rain boots", AGENT_B, GROUP_B)
        boots = await _card(fake, GROUP_B, "Rain boots")
        shoes_link, boots_link = await _link(db, "Winter shoes"), await _link(db, "Rain boots")

        # Agent B can neither cancel nor look at agent A's link.
        refused = await _answer(fake, _press(fake, shoes, _button(shoes, "x"), AGENT_B))
        assert refused["show_alert"] and refused["text"] == _refusal(Action.CANCEL_ANY_LINK, AGENT_B, Role.AGENT)
        hidden = await _answer(fake, _press(fake, shoes, _button(shoes, "r"), AGENT_B))
        assert hidden["text"] == _refusal(Action.VIEW_ALL_LINKS, AGENT_B, Role.AGENT)
        count = len(fake.sent(AGENT_B))
        _say(fake, f"/status {shoes_link.merchant_link_id}", AGENT_B)
        assert (await _reply(fake, AGENT_B, count, "needs one of these roles")).text == _refusal(
            Action.VIEW_ALL_LINKS, AGENT_B, Role.AGENT
        )
        count = len(fake.sent(AGENT_B))
        _say(fake, "/find winter", AGENT_B)
        assert "only the links you made" in (await _reply(fake, AGENT_B, count, "Nothing found")).text
        assert (await _link(db, "Winter shoes")).status == LinkStatus.ACTIVE

        # Support may not create links, and is told who can change that.
        count = len(fake.sent(SUPPORT))
        _say(fake, "/link 5 USD Free money", SUPPORT)
        no_create = await _reply(fake, SUPPORT, count, "needs one of these roles")
        assert no_create.text == _refusal(Action.CREATE_LINK, SUPPORT, Role.SUPPORT)

        # The customer pays agent A's link; support answers "did order X get paid?".
        await _pay(_url(shoes))
        await _card_shows(fake, shoes, "PAID")
        [payment] = await db.payments()
        for question in ("winter SHOES", payment.out_trade_no):
            count = len(fake.sent(SUPPORT))
            _say(fake, f"/find {question}", SUPPORT)
            found = await _reply(fake, SUPPORT, count, "Found 1 link")
            assert "✅ paid" in found.text and "card · VISA" in found.text and payment.out_trade_no in found.text
            assert shoes_link.merchant_link_id in found.text and "made by Ann" in found.text
        assert "found by order number" in found.text

        count = len(fake.sent(SUPPORT))
        _say(fake, f"/status {shoes_link.merchant_link_id}", SUPPORT)
        timeline = await _reply(fake, SUPPORT, count, "Timeline")
        for expected in (
            "Made by Ann",
            str(AGENT_A),
            "Test group",
            "asked for",
            "made by PayerMax",
            "paid",
            payment.out_trade_no,
        ):
            assert expected in timeline.text, expected

        # Support opens agent B's card from /find: may resend it, may not cancel it.
        count = len(fake.sent(SUPPORT))
        _say(fake, "/find boots", SUPPORT)
        found = await _reply(fake, SUPPORT, count, "Found 1 link")
        count = len(fake.sent(SUPPORT))
        await _answer(fake, _press(fake, found, _button(found, "o"), SUPPORT))
        opened = await fake.wait_for_message(
            lambda m: m in fake.sent(SUPPORT)[count:] and m.kind == "photo", timeout=WAIT
        )
        assert "Rain boots" in opened.text and "Waiting for payment" in opened.text
        no_cancel = await _answer(fake, _press(fake, opened, _button(opened, "x"), SUPPORT))
        assert no_cancel["text"] == _refusal(Action.CANCEL_ANY_LINK, SUPPORT, Role.SUPPORT)
        count = len(fake.sent(SUPPORT))
        await _answer(fake, _press(fake, opened, _button(opened, "s"), SUPPORT))
        await _reply(fake, SUPPORT, count, "Payment request")

        # The owner cancels agent B's link from B's group; the timeline names who did it.
        asking = await _asking(fake, boots, OWNER)
        assert (await _answer(fake, _press(fake, asking, _button(asking, "cy"), OWNER)))["text"].startswith(
            "Cancelled."
        )
        await _card_shows(fake, boots, "Cancelled")
        count = len(fake.sent(SUPPORT))
        _say(fake, f"/status {boots_link.merchant_link_id}", SUPPORT)
        story = await _reply(fake, SUPPORT, count, "Timeline")
        assert "cancelled: by Olga" in story.text and "Made by Bob" in story.text

        # In a group, an agent's /links shows only their own links there.
        _say(fake, "/link 20000 IDR Socks", AGENT_B, GROUP_A)
        await _card(fake, GROUP_A, "Socks")
        count = len(fake.sent(GROUP_A))
        _say(fake, "/links", AGENT_B, GROUP_A)
        listing = await _reply(fake, GROUP_A, count, "Links in this chat")
        assert "(only yours)" in listing.text and "Socks" in listing.text and "Winter shoes" not in listing.text
        count = len(fake.sent(GROUP_A))
        _say(fake, "/links", OWNER, GROUP_A)
        listing = await _reply(fake, GROUP_A, count, "Links in this chat")
        assert "Socks" in listing.text and "Winter shoes" in listing.text and "Rain boots" not in listing.text
        assert "Paid today (UTC): IDR\xa0150,000" in listing.text


async def test_links_pages_and_filters(database_url: str, tmp_path) -> None:
    """/links: newest first, five a page, filters by status, each link opens its card."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER)) as (fake, _bot, db, _people):
        await _seed_links(db, OWNER, [f"Item {number}" for number in range(1, 6)])
        _say(fake, "/link 6 USD Item 6", OWNER)
        paid_card = await _card(fake, OWNER, "Item 6")
        await _pay(_url(paid_card))
        await _card_shows(fake, paid_card, "PAID")
        _say(fake, "/link 7 USD Item 7", OWNER)
        cancelled_card = await _card(fake, OWNER, "Item 7")
        asking = await _asking(fake, cancelled_card, OWNER)
        await _answer(fake, _press(fake, asking, _button(asking, "cy"), OWNER))
        await _card_shows(fake, cancelled_card, "Cancelled")

        count = len(fake.sent(OWNER))
        _say(fake, "/links", OWNER)
        listing = await _reply(fake, OWNER, count, "Your links")
        assert "Paid today (UTC): $6.00" in listing.text and "page 1 of 2 · 7 links" in listing.text
        shown = re.findall(r"Item (\d)", listing.text)
        assert shown == ["7", "6", "5", "4", "3"]
        labels = [button["text"] for button in listing.buttons]
        assert "Older ›" in labels and "‹ Newer" not in labels and "• All" in labels

        await _answer(fake, _press(fake, listing, f"l:all:1:{OWNER}", OWNER))
        page_two = await fake.wait_for_message(
            lambda m: m.message_id == listing.message_id and "page 2 of 2" in (m.text or ""), timeout=WAIT
        )
        assert re.findall(r"Item (\d)", page_two.text) == ["2", "1"]
        assert any(b.get("text") == "‹ Newer" for b in page_two.buttons)

        await _answer(fake, _press(fake, page_two, f"l:paid:0:{OWNER}", OWNER))
        paid = await fake.wait_for_message(
            lambda m: m.message_id == listing.message_id and "Paid · page 1 of 1" in (m.text or ""), timeout=WAIT
        )
        assert re.findall(r"Item (\d)", paid.text) == ["6"]
        await _answer(fake, _press(fake, paid, f"l:cancelled:0:{OWNER}", OWNER))
        cancelled = await fake.wait_for_message(
            lambda m: m.message_id == listing.message_id and "Cancelled · page" in (m.text or ""), timeout=WAIT
        )
        assert re.findall(r"Item (\d)", cancelled.text) == ["7"]
        await _answer(fake, _press(fake, cancelled, f"l:active:0:{OWNER}", OWNER))
        active = await fake.wait_for_message(
            lambda m: m.message_id == listing.message_id and "Waiting · page" in (m.text or ""), timeout=WAIT
        )
        assert re.findall(r"Item (\d)", active.text) == ["5", "4", "3", "2", "1"] and "5 links" in active.text

        # A link's button opens its card as a new QR photo.
        count = len(fake.sent(OWNER))
        item3 = await _link(db, "Item 3")
        await _answer(fake, _press(fake, active, f"c:o:{item3.id}", OWNER))
        opened = await fake.wait_for_message(
            lambda m: m in fake.sent(OWNER)[count:] and m.kind == "photo", timeout=WAIT
        )
        assert "Item 3" in opened.text and _qr_payload(opened.photo) == item3.link_url
