"""The team knows what happens to it: invites used, removals, who is who, and a log that pages.

The real application runs against the fake Bot API (sandbox PayerMax). An owner invites an agent
and is told when the invite is used; /team names everyone with @usernames, the owner too;
/remove takes a @username the bot has seen, and the removed agent is told once. /audit pages
with Newer/Older buttons, amounts and moments in one format; /status words each timeline entry
in its reader's language (an Indonesian support member reads Indonesian money).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from storage.details import DetailKind, detail
from storage.models import AuditAction, AuditEvent, LinkStatus, utcnow
from tests.e2e.harness import Database, running_bot, wait_until
from tests.e2e.people import pay
from tests.fakes.telegram_api import FakeTelegram, SentMessage

pytestmark = pytest.mark.e2e

OWNER = 1001
ADMIN = 3003
AGENT = 4004
SUPPORT = 5005
NAMES = {OWNER: "Olga", ADMIN: "Ada", AGENT: "Ali", SUPPORT: "Sari"}
USERNAMES = {OWNER: "olga_shop", AGENT: "Ali_Sells"}
NBSP = "\u00a0"
SEEDED = 24  # older audit entries, so the log runs to three pages of ten


def _deep_link_code(fake: FakeTelegram, message: SentMessage) -> str:
    found = re.search(rf"https://t\.me/{fake.bot_username}\?start=([A-Za-z0-9_-]+)", message.text or "")
    assert found, message.text
    return found.group(1)


async def _statuses(db: Database, wanted: set[LinkStatus]) -> bool:
    return {link.status for link in await db.links()} == wanted


async def _describe(db: Database) -> str:
    return f"links are {[(link.description, link.status) for link in await db.links()]}"


def _callback_data(message: SentMessage) -> list[str]:
    return [button["callback_data"] for button in message.buttons if "callback_data" in button]


def _button_texts(message: SentMessage) -> list[str]:
    return [button["text"] for button in message.buttons]


async def _edited(fake: FakeTelegram, message: SentMessage, phrase: str) -> SentMessage:
    return await fake.wait_for_message(
        lambda m: m.chat_id == message.chat_id and m.message_id == message.message_id and phrase in (m.text or ""), 20
    )


async def test_invites_used_and_removals_are_told_and_the_team_is_named(database_url: str, tmp_path) -> None:
    """The inviter hears who joined as what; /team names everyone; /remove @username; the removed hear it once."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES, usernames=USERNAMES) as run:
        fake, _bot, _db, people = run
        await people.ask("/start", OWNER)
        invite = await people.ask("/invite agent", OWNER, contains="Invite for")
        before = len(fake.sent(OWNER))
        await people.ask(f"/start {_deep_link_code(fake, invite)}", AGENT, contains="Welcome")
        news = await people.reply(OWNER, before, contains="used your invite")
        assert news.text == "👋 Ali (@ali_sells, 4004) used your invite and joined the team as agent.", news.text

        team = await people.ask("/team", OWNER, contains="Team")
        assert "• owner · Olga (@olga_shop, 1001)" in team.text, team.text
        assert "• agent · Ali (@ali_sells, 4004)" in team.text, team.text
        await people.settled()
        assert "link" in fake.menu_seen_by(AGENT) and "invite" not in fake.menu_seen_by(AGENT)

        unseen = await people.ask("/remove @ghost_buyer", OWNER)
        assert "I haven't seen @ghost_buyer yet" in unseen.text
        removed = await people.ask("/remove @ali_SELLS", OWNER, contains="no longer")
        assert removed.text == (
            "Ali (@ali_sells, 4004) is no longer agent and can't use the bot from now on. I've told them."
        )
        again = await people.ask("/remove @ali_sells", OWNER)
        assert "4004 is not on the team" in again.text
        await people.settled()

        told = [m for m in fake.sent(AGENT) if "took you off the team" in (m.text or "")]
        assert [m.text for m in told] == [
            "Olga took you off the team: you are no longer agent and can't use the bot from now on. "
            "If that is a mistake, ask an owner or an admin for a new invite."
        ]
        assert fake.menu_seen_by(AGENT) == ["start", "language", "help"]  # back to a stranger's menu
        refused = await people.ask("/link 5 USD Tea", AGENT)
        assert "Ask an owner or an admin to /invite you" in refused.text

        # Someone who blocked the bot cannot be told; the owner, who was told it is done, hears no alarm.
        await people.add_members({SUPPORT: "support"}, OWNER)
        fake.block_chat(SUPPORT)
        await people.ask(f"/remove {SUPPORT}", OWNER, contains="no longer")
        await people.settled()
        assert not [m for m in fake.sent(OWNER) if "couldn't deliver" in (m.text or "")]


async def test_audit_pages_and_entries_read_in_the_readers_words(database_url: str, tmp_path) -> None:
    """/audit pages with Newer/Older; made and cancelled links read alike; /status in the reader's language."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES, languages={SUPPORT: "id"}) as run:
        fake, _bot, db, people = run
        await people.add_members({ADMIN: "admin", SUPPORT: "support"}, OWNER)
        tea_card = await people.ask("/link 150000 IDR Tea", OWNER, contains="Tea")
        cake_card = await people.ask("/link 20000 IDR Cake", OWNER, contains="Cake")
        tea, cake = await db.links()
        people.press(cake_card, f"c:x:{cake.id}", OWNER)
        confirm = f"c:cy:{cake.id}"  # Yes on the question posted under the card
        asking = await fake.wait_for_message(lambda m: m.chat_id == OWNER and confirm in _callback_data(m), 20)
        people.press(asking, confirm, OWNER)
        await pay(re.search(r"Pay here: (\S+)", tea_card.text or "").group(1))
        await wait_until(
            lambda: _statuses(db, {LinkStatus.PAID, LinkStatus.CANCELLED}),
            timeout=20,
            describe=lambda: _describe(db),
        )

        async with db.sessions() as session, session.begin():
            for age in range(SEEDED):
                session.add(
                    AuditEvent(
                        actor_user_id=ADMIN,
                        actor_name="Ada",
                        chat_id=ADMIN,
                        action=AuditAction.SETTINGS,
                        subject="expiry",
                        detail=detail(DetailKind.SETTING, old=86400, new=3600 * (age + 2)),
                        created_at=utcnow() - timedelta(days=1, minutes=age),
                    )
                )
            # Written before details were structured: shown as it was written.
            session.add(
                AuditEvent(
                    actor_user_id=ADMIN,
                    actor_name="Ada",
                    action=AuditAction.CANCEL_LINK,
                    subject="PLOLDROW",
                    detail="20000.00 IDR Old cake",
                    created_at=utcnow() - timedelta(days=3),
                )
            )

        first = await people.ask("/audit", OWNER, contains="Audit log")
        assert "page 1 of 3 · times in UTC" in first.text, first.text
        assert f"made link {tea.merchant_link_id}: IDR{NBSP}150,000 · Tea" in first.text, first.text
        assert f"cancelled link {cake.merchant_link_id}: IDR{NBSP}20,000 · Cake" in first.text, first.text
        assert _button_texts(first) == ["Older ›"] and _callback_data(first) == ["au:1"]

        people.press(first, "au:1", OWNER)
        second = await _edited(fake, first, "page 2 of 3")
        assert "changed validity: 1 day → " in second.text and "made link" not in second.text
        assert _button_texts(second) == ["‹ Newer", "Older ›"]
        people.press(second, "au:2", OWNER)
        third = await _edited(fake, first, "page 3 of 3")
        assert "cancelled link PLOLDROW: 20000.00 IDR Old cake" in third.text, third.text
        assert _button_texts(third) == ["‹ Newer"]
        people.press(third, "au:1", OWNER)
        await _edited(fake, first, "page 2 of 3")

        # An admin pressing the page buttons of a log (a forwarded one, say) is refused like /audit.
        desk = await people.ask("/help", ADMIN)
        refused = await people.answer(people.forge(desk, "au:0", ADMIN))
        assert refused.get("show_alert") and "only the bot's owners can read the audit log" in refused["text"]

        # One timeline, two readers: each reads the payment in their own money format.
        english = await people.ask(f"/status {tea.merchant_link_id}", OWNER, contains="Timeline")
        assert f"asked for: IDR{NBSP}150,000 by Olga in a private chat" in english.text, english.text
        assert re.search(rf"paid: IDR{NBSP}150,000 by card, order \S+, first told by", english.text), english.text
        indonesian = await people.ask(f"/status {tea.merchant_link_id}", SUPPORT, contains=tea.merchant_link_id)
        # The amount, the payment, "asked for" and "paid": four times, each as Indonesians write it.
        assert indonesian.text.count(f"Rp{NBSP}150.000") == 4, indonesian.text
        assert f"IDR{NBSP}150,000" not in indonesian.text
        cancelled = await people.ask(f"/status {cake.merchant_link_id}", OWNER, contains="Timeline")
        assert "cancelled: by Olga" in cancelled.text
