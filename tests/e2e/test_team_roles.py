"""Roles, invites, per-chat settings, the private "Paid" copy and the audit log, end to end.

The real application runs as a subprocess against the fake Bot API and its embedded sandbox
gateway, on SQLite and on PostgreSQL; people talk to it in private and in a group.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from bot.services.team import code_hash
from storage.models import Invite, utcnow
from tests.e2e.harness import is_setup_offer, running_bot
from tests.fakes.telegram_api import FakeTelegram, SentMessage

pytestmark = pytest.mark.e2e

OWNER = 1001
ADMIN = 3003
AGENT = 4004
SUPPORT = 5005
NEWCOMER = 7007
GROUP = -100_222_333_444
NAMES = {OWNER: "Olga", ADMIN: "Ada", AGENT: "Ali", SUPPORT: "Sue", NEWCOMER: "Nia"}
WAIT = 20.0


async def say(
    fake: FakeTelegram,
    text: str,
    *,
    user_id: int,
    in_group: bool = False,
    match: Callable[[SentMessage], bool] = lambda m: True,
) -> SentMessage:
    """A person writes to the bot (privately or in the group); return the bot's next matching message there."""
    chat = GROUP if in_group else user_id
    before = len(fake.sent(chat))
    fake.send_text(
        text,
        user_id=user_id,
        first_name=NAMES[user_id],
        chat_id=chat if in_group else None,
        chat_type="supergroup" if in_group else "private",
    )
    return await fake.wait_for_message(
        lambda m: m.chat_id == chat and fake.sent(chat).index(m) >= before and match(m) and not is_setup_offer(m), WAIT
    )


async def join(fake: FakeTelegram, role: str, user_id: int) -> SentMessage:
    """The owner invites someone, who opens the deep link; return the welcome."""
    invite = await say(fake, f"/invite {role}", user_id=OWNER, match=lambda m: "Invite for" in (m.text or ""))
    return await say(fake, f"/start {_invite_code(fake, invite)}", user_id=user_id)


def _invite_code(fake: FakeTelegram, message: SentMessage) -> str:
    found = re.search(rf"https://t\.me/{fake.bot_username}\?start=([A-Za-z0-9_-]+)", message.text or "")
    assert found, f"no deep link in {message.text!r}"
    return found.group(1)


def _is_card(message: SentMessage) -> bool:
    return message.kind == "photo"


def _is_paid(message: SentMessage) -> bool:
    return (message.text or "").startswith("✅ Paid")


async def _edited_to(fake: FakeTelegram, message: SentMessage, phrase: str) -> SentMessage:
    return await fake.wait_for_message(
        lambda m: m.chat_id == message.chat_id and m.message_id == message.message_id and phrase in (m.text or ""), WAIT
    )


async def test_invites_grant_roles_once_and_removal_is_immediate(database_url: str, tmp_path) -> None:
    """An invite works once and not after expiry; support cannot create; a removed agent is refused at once."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER)) as (fake, _bot, db, _people):
        # Telegram shows each kind of chat its own command menu, and the owner's private chat the owner's.
        await fake.wait_for_call("setMyCommands", lambda c: c.params.get("scope", {}).get("type") == "all_group_chats")
        await fake.wait_for_call("setMyCommands", lambda c: c.params.get("scope", {}).get("chat_id") == OWNER)
        private_names = set(fake.menu_seen_by(OWNER))
        group_names = set(fake.menu_seen_by(OWNER, chat_id=GROUP))
        assert {"link", "newlink", "team", "invite", "remove", "settings", "audit", "help"} <= private_names
        assert {"link", "newlink", "links", "find", "status", "help"} <= group_names and not {
            "invite",
            "audit",
        } & group_names
        assert fake.menu_seen_by(NEWCOMER) == ["start", "language", "help"]  # not on the team: how to start

        invite = await say(fake, "/invite agent", user_id=OWNER)
        code = _invite_code(fake, invite)
        welcome = await say(fake, f"/start {code}", user_id=AGENT)
        assert "You are an agent here now" in welcome.text and "make payment links" in welcome.text
        reused = await say(fake, f"/start {code}", user_id=NEWCOMER)
        assert "already been used" in reused.text

        card = await say(fake, "/link 10 USD Tea", user_id=AGENT, in_group=True, match=_is_card)
        assert "Tea" in card.text

        assert "You are on support here now" in (await join(fake, "support", SUPPORT)).text
        refusal = await say(fake, "/link 5 USD Cake", user_id=SUPPORT, in_group=True)
        assert "making payment links needs one of these roles" in refusal.text
        # Already on the team: told their own role and who can give them one that would do, not to get invited.
        assert "agent, admin, or owner" in refusal.text and "You are on support here." in refusal.text
        assert "An owner or an admin can give you that role: Olga." in refusal.text and "/invite" not in refusal.text

        team = await say(fake, "/team", user_id=OWNER, match=lambda m: "Team" in (m.text or ""))
        for line in ("owner · Olga (1001)", "agent · Ali (4004)", "support · Sue (5005)"):
            assert line in team.text, team.text

        removed = await say(fake, f"/remove {AGENT}", user_id=OWNER, match=lambda m: "no longer" in (m.text or ""))
        assert "Ali" in removed.text and "no longer agent" in removed.text
        refusal = await say(fake, "/link 10 USD Tea", user_id=AGENT, in_group=True)
        assert (
            "making payment links needs one of these roles" in refusal.text
            and "agent, admin, or owner" in refusal.text
            and "Ask an owner or an admin" in refusal.text
        )
        assert len(await db.links()) == 1

        # An invite nobody opened within its 24 hours does nothing.
        async with db.sessions() as session, session.begin():
            stale = Invite(
                code_hash=code_hash("stale-code"),
                role="agent",
                created_by=OWNER,
                expires_at=utcnow() - timedelta(minutes=1),
            )
            session.add(stale)
        expired = await say(fake, "/start stale-code", user_id=NEWCOMER)
        assert "expired" in expired.text
        still_out = await say(fake, "/link 1 USD Gum", user_id=NEWCOMER)
        assert "needs one of these roles" in still_out.text


async def test_settings_shape_the_next_link_and_audit_is_for_owners(database_url: str, tmp_path) -> None:
    """/settings buttons change the group's currency and expiry for the next link; /audit shows it to owners only."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER)) as (fake, _bot, db, _people):
        assert "You are an admin here now" in (await join(fake, "admin", ADMIN)).text

        panel = await say(fake, "/settings", user_id=OWNER, in_group=True)
        assert "Currency: not chosen" in panel.text and "Links stay payable for 1 day" in panel.text
        fake.press_button(panel, "set:currency", user_id=OWNER)
        await _edited_to(fake, panel, "Which currency")
        fake.press_button(panel, "set:currency:EUR", user_id=OWNER)
        await _edited_to(fake, panel, "Currency: EUR · Euro")
        fake.press_button(panel, "set:expiry", user_id=OWNER)
        await _edited_to(fake, panel, "How long")
        fake.press_button(panel, "set:expiry:259200", user_id=OWNER)
        await _edited_to(fake, panel, "Links stay payable for 3 days")

        # A group member without the role cannot press the buttons either.
        answers = len(fake.callback_answers)
        fake.press_button(panel, "set:currency:GBP", user_id=NEWCOMER)
        await fake.wait_for_call("answerCallbackQuery", lambda c: len(fake.callback_answers) > answers)
        refused = fake.callback_answers[-1]
        assert refused.get("show_alert") and "changing the chat's settings needs" in refused["text"]

        card = await say(fake, "/link 10 Test", user_id=ADMIN, in_group=True, match=_is_card)
        assert "€10.00" in card.text
        [link] = await db.links()
        assert (link.currency, link.expires_seconds) == ("EUR", 3 * 86400)

        refusal = await say(fake, "/audit", user_id=ADMIN)
        assert "only the bot's owners can read the audit log" in refusal.text
        audit = await say(fake, "/audit", user_id=OWNER, match=lambda m: "Audit log" in (m.text or ""))
        for entry in (
            f"Ada ({ADMIN}) in chat {GROUP}: made link {link.merchant_link_id}",
            "changed validity: 1 day → 3 days",
            "changed currency: — → EUR",
            "Ada (3003): joined as admin: invited by Olga",
            "Olga (1001): invited admin: works once, until",
        ):
            assert entry in audit.text, audit.text
        assert audit.text.index("made link") < audit.text.index("joined as admin")  # newest first


async def test_paid_also_reaches_the_agent_privately_when_asked(database_url: str, tmp_path) -> None:
    """With /notifyme on, paying a link made in a group says Paid in the group and in the agent's private chat."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER)) as (fake, _bot, _db, _people):
        await join(fake, "agent", AGENT)
        assert "Done" in (await say(fake, "/notifyme on", user_id=AGENT)).text
        assert "I also tell you here in private" in (await say(fake, "/notifyme", user_id=AGENT)).text

        card = await say(fake, "/link 10 USD Tea", user_id=AGENT, in_group=True, match=_is_card)
        url = re.search(r"Pay here: (\S+)", card.text).group(1)
        async with httpx.AsyncClient(timeout=10) as client:
            assert (await client.get(url)).status_code == 200
            assert (await client.post(url, data={"action": "pay", "method": "CARD"})).status_code == 200

        in_group = await fake.wait_for_message(lambda m: m.chat_id == GROUP and _is_paid(m), WAIT)
        assert in_group.reply_to_message_id == card.message_id
        private = await fake.wait_for_message(lambda m: m.chat_id == AGENT and _is_paid(m), WAIT)
        assert "Tea" in private.text and private.reply_to_message_id is None
        assert not [m for m in fake.sent(OWNER) if _is_paid(m)]
