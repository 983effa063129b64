"""Messages stay within Telegram's limits as Telegram counts them: UTF-16 units of the visible text.

An astral character (😀, 𝔘) is one character for Python but two units for Telegram, so a
64-character name or a 256-character description (the longest PayerMax takes) made of them is
twice as long as it looks. The fake Bot API refuses, as Telegram does, a text over 4,096 units
or a caption over 1,024 ("message is too long", "message caption is too long"), so every
message below that arrives at all was fitted; each is also measured here.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.services.links import new_merchant_link_id
from storage.models import AuditEvent, Link, LinkEvent, LinkEventKind, LinkStatus, Member, utcnow
from tests.e2e.harness import Database, running_bot
from tests.e2e.people import pay, visible_units
from tests.fakes.telegram_api import FakeTelegram, SentMessage

pytestmark = pytest.mark.e2e

OWNER = 1001
AGENT = 2001
SUPPORT = 3001
GROUP = -100_777_888
TEAM_SIZE = 70  # more long-named members than one message can list
SEEDED_LINKS = 12  # more long-described links than /find shows
MESSAGE, CAPTION = 4096, 1024


def _astral(pattern: str, length: int) -> str:
    """``length`` characters, all outside the Basic Multilingual Plane (two UTF-16 units each)."""
    text = (pattern * length)[:length]
    assert len(text) == length and all(ord(char) > 0xFFFF for char in text)
    return text


AGENT_NAME = _astral("😀𝔘🦊🎉", 64)  # Telegram's longest first name
SUPPORT_NAME = _astral("𝔖😺𝔲🚀", 64)
NAMES = {OWNER: "Olga", AGENT: AGENT_NAME, SUPPORT: SUPPORT_NAME}


def _description(number: int) -> str:
    """256 astral characters (PayerMax's longest description), all holding 🦄 for /find, each ending differently."""
    return "🦄" + _astral("𝔘😀", 254) + chr(0x1F330 + number)


def _within(message: SentMessage, limit: int) -> SentMessage:
    assert visible_units(message) <= limit, (visible_units(message), message.text)
    return message


async def _next_photo(fake: FakeTelegram, chat_id: int, after: int) -> SentMessage:
    """The first photo the bot sent to this chat after its first ``after`` messages."""
    return await fake.wait_for_message(lambda m: m in fake.sent(chat_id)[after:] and m.kind == "photo", timeout=20)


def _pay_url(card: SentMessage) -> str:
    match = re.search(r"Pay here: (\S+)", card.text or "")
    assert match, card.text
    return match.group(1)


async def _seed(db: Database, first: Link) -> None:
    """Much of everything: long-named members, long-described links with their audit lines, a long timeline."""
    now = utcnow()
    async with db.sessions() as session, session.begin():
        for number in range(TEAM_SIZE):
            name = _astral(chr(0x1F400 + number) + "😀", 64)
            session.add(Member(user_id=5000 + number, role="agent", name=name, added_by=OWNER))
        for number in range(SEEDED_LINKS):
            description = _description(10 + number)
            session.add(
                Link(
                    merchant_link_id=new_merchant_link_id(),
                    chat_id=GROUP,
                    creator_user_id=AGENT,
                    creator_name=AGENT_NAME,
                    amount=Decimal(number + 1),
                    currency="USD",
                    country="US",
                    description=description,
                    expires_seconds=86400,
                    status=LinkStatus.ACTIVE,
                    sandbox=True,
                    link_url=f"http://127.0.0.1:9/pay/{number}",
                    expires_at=now + timedelta(days=1),
                    created_at=now - timedelta(hours=1, minutes=number),
                    next_check_at=None,
                )
            )
            session.add(
                AuditEvent(
                    actor_user_id=AGENT,
                    actor_name=AGENT_NAME,
                    chat_id=GROUP,
                    action="create_link",
                    subject=new_merchant_link_id(),
                    detail=f"${number + 1}.00 {description}",
                    created_at=now - timedelta(hours=1, minutes=number),
                )
            )
        assert first.id is not None
        for number in range(60):
            session.add(
                LinkEvent(
                    link_id=first.id,
                    kind=LinkEventKind.REFRESHED,
                    actor_user_id=AGENT,
                    detail=f"asked by {AGENT_NAME}: {first.description}",
                    created_at=now + timedelta(seconds=number),
                )
            )


async def test_astral_names_and_descriptions_fit_every_message(database_url: str, tmp_path) -> None:
    """/audit, /status, /find, /links, /team, cards (active, paid, cancelled), Share and QR arrive, within limits."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), DEFAULT_CURRENCY="USD", names=NAMES) as run:
        fake, _bot, db, people = run
        await people.add_members({AGENT: "agent", SUPPORT: "support"}, OWNER)
        # The agent makes two links in private (the group's links are seeded: groups get 20 messages a minute).
        cards: list[SentMessage] = []
        for number in (1, 2):
            count = len(fake.sent(AGENT))
            people.say(f"/link 10 USD {_description(number)}", AGENT)
            cards.append(await _next_photo(fake, AGENT, count))
        links = await db.links()
        paid_link, shared_link = links
        await _seed(db, paid_link)

        # The card: a caption of 1,024 units at most, still with its URL and link id.
        for card, link in zip(cards, links, strict=True):
            _within(card, CAPTION)
            assert link.merchant_link_id in (card.text or "") and _pay_url(card) == link.link_url
            assert "🦄" in (card.text or "")

        # Paid: the card adds the method and the masked card number, and still fits.
        await pay(_pay_url(cards[0]))
        paid = await fake.wait_for_message(
            lambda m: m.message_id == cards[0].message_id and m.chat_id == AGENT and "PAID" in (m.text or ""),
            timeout=20,
        )
        _within(paid, CAPTION)
        assert "Paid with card" in (paid.text or "") and "******" in (paid.text or "")
        assert paid_link.merchant_link_id in (paid.text or "")

        # Look-ups by the owner and by support; from /find each opens the card and shares it.
        for who in (OWNER, SUPPORT):
            found = _within(await people.ask("/find 🦄", who, contains="Found"), MESSAGE)
            assert "newest first" in (found.text or "")
            story = await people.ask(f"/status {paid_link.merchant_link_id}", who, contains="Timeline")
            _within(story, MESSAGE)
            assert paid_link.merchant_link_id in (story.text or "") and "more events" in (story.text or "")
            listing = await people.ask("/links", who, GROUP, contains="Links in this chat")
            _within(listing, MESSAGE)

            count = len(fake.sent(who))
            await people.answer(people.press(found, f"c:o:{shared_link.id}", who))
            opened = _within(await people.reply(who, count, "Link ID"), CAPTION)
            assert opened.kind == "photo" and shared_link.merchant_link_id in (opened.text or "")
            assert _pay_url(opened) == shared_link.link_url
            count = len(fake.sent(who))
            await people.answer(people.press(opened, f"c:s:{shared_link.id}", who))
            shared = _within(await people.reply(who, count, "Payment request"), MESSAGE)
            assert shared_link.link_url and shared_link.link_url in (shared.text or "")
            count = len(fake.sent(who))
            await people.answer(people.press(opened, f"c:q:{shared_link.id}", who))
            qr = _within(await people.reply(who, count, "Payment request"), CAPTION)
            assert qr.kind == "photo" and shared_link.link_url in (qr.text or "")
            count = len(fake.sent(who))
            await people.answer(people.press(found, f"c:o:{paid_link.id}", who))
            paid_copy = _within(await people.reply(who, count, "PAID"), CAPTION)
            assert paid_copy.kind == "photo" and "Paid with card" in (paid_copy.text or "")
            assert paid_link.merchant_link_id in (paid_copy.text or "")

        # Owner-only lists: the team and the audit log.
        team = _within(await people.ask("/team", OWNER, contains="Team"), MESSAGE)
        assert "more" in (team.text or "")
        audit = _within(await people.ask("/audit", OWNER, contains="Audit log"), MESSAGE)
        assert "page 1 of 2" in (audit.text or "") and [b["text"] for b in audit.buttons] == ["Older ›"]

        # Cancelled by the agent: the card names them and still fits.
        await people.cancel(cards[1], shared_link.id, AGENT)
        cancelled = await fake.wait_for_message(
            lambda m: m.message_id == cards[1].message_id and m.chat_id == AGENT and "Cancelled" in (m.text or ""),
            timeout=20,
        )
        _within(cancelled, CAPTION)
        assert AGENT_NAME[:8] in (cancelled.text or "") and shared_link.merchant_link_id in (cancelled.text or "")
