"""Each person is told who they are here and offered only what they can do; refusals name whom to ask.

The real application runs against the fake Bot API (sandbox PayerMax), with an owner, an admin,
an agent who works in a group, a support person and a stranger. /start and /help say the role,
the team and that this is a sandbox, and list only the commands that role may use (one example
each); the "/" menu Telegram shows each of them is cut the same way; a refusal tells a team
member what their role is, which role would do and who can give it, by name.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.harness import running_bot
from tests.e2e.people import People
from tests.fakes.telegram_api import FakeTelegram, SentMessage

pytestmark = pytest.mark.e2e

OWNER = 1001
ADMIN = 3003
AGENT = 4004
SUPPORT = 5005
STRANGER = 9009
GROUP = -100_444_555
NAMES = {OWNER: "Olga", ADMIN: "Ada", AGENT: "Ali", SUPPORT: "Sue", STRANGER: "Nia"}
USERNAMES = {OWNER: "olga_shop"}
BOT = FakeTelegram.BOT_FIRST_NAME

# Commands each role finds listed in /start, and must not.
LISTED = {
    OWNER: (
        {"/link", "/newlink", "/links", "/find", "/status", "/team", "/invite", "/remove", "/settings", "/audit"},
        {"/notifyme"},
    ),
    ADMIN: ({"/link", "/team", "/invite", "/remove", "/settings", "/notifyme"}, {"/audit"}),
    AGENT: (
        {"/link", "/newlink", "/links", "/find", "/status", "/notifyme", "/cancel"},
        {"/team", "/invite", "/remove", "/settings", "/audit"},
    ),
    SUPPORT: (
        {"/links", "/find", "/status", "/language"},
        {"/link", "/newlink", "/invite", "/team", "/settings", "/audit", "/cancel"},
    ),
    STRANGER: (
        {"/language", "/help"},
        {"/link", "/links", "/find", "/status", "/team", "/invite", "/audit", "/settings"},
    ),
}
MENUS = {
    OWNER: [
        "link",
        "newlink",
        "links",
        "find",
        "status",
        "refund",
        "report",
        "export",
        "team",
        "invite",
        "remove",
        "settings",
        "language",
        "audit",
        "cancel",
        "help",
    ],
    ADMIN: [
        "link",
        "newlink",
        "links",
        "find",
        "status",
        "refund",
        "report",
        "export",
        "team",
        "invite",
        "remove",
        "settings",
        "language",
        "notifyme",
        "cancel",
        "help",
    ],
    AGENT: ["link", "newlink", "links", "find", "status", "report", "export", "language", "notifyme", "cancel", "help"],
    SUPPORT: ["links", "find", "status", "report", "language", "help"],
    STRANGER: ["start", "language", "help"],
}


def _commands(message: SentMessage) -> set[str]:
    """The commands a message offers (each line that starts with one)."""
    return {match.group(0) for match in re.finditer(r"(?m)^/[a-z]+", message.text or "")}


def _deep_link_code(fake: FakeTelegram, message: SentMessage) -> str:
    found = re.search(rf"https://t\.me/{fake.bot_username}\?start=([A-Za-z0-9_-]+)", message.text or "")
    assert found, message.text
    return found.group(1)


async def _join(people: People, role: str, user_id: int) -> SentMessage:
    """The owner invites someone by deep link; they open it. Returns the owner's news that it was used."""
    invite = await people.ask(f"/invite {role}", OWNER, contains="Invite for")
    news_before = len(people.fake.sent(OWNER))
    await people.ask(f"/start {_deep_link_code(people.fake, invite)}", user_id, contains="Welcome")
    return await people.reply(OWNER, news_before, contains="used your invite")


async def test_start_says_who_you_are_and_lists_only_what_you_can_do(database_url: str, tmp_path) -> None:
    """/start for each role: role, team, sandbox, the commands of that role (one example each); menus match."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES, usernames=USERNAMES) as run:
        fake, _bot, _db, people = run
        owner = await people.ask("/start", OWNER)
        assert owner.text.startswith(f"👋 Hi Olga! You are an owner of {BOT}"), owner.text
        assert "Sandbox: links are for trying things out; no real money moves." in owner.text
        assert "/invite agent: a one-time join link for a new agent" in owner.text

        news = await _join(people, "admin", ADMIN)
        assert "Ada (3003) used your invite and joined the team as admin." in news.text, news.text
        await _join(people, "agent", AGENT)
        await _join(people, "support", SUPPORT)

        for user_id, role_words in (
            (ADMIN, "You are an admin on the"),
            (AGENT, "You are an agent on the"),
            (SUPPORT, "You are on support for the"),
        ):
            welcome = await people.ask("/start", user_id)
            assert f"👋 Hi {NAMES[user_id]}! {role_words} {BOT} team" in welcome.text, welcome.text
            assert "Sandbox" in welcome.text
            # Members are told who runs the team (owners and admins), by name and @username.
            assert "The team is run by Olga (@olga_shop)" in welcome.text, welcome.text
        stranger = await people.ask("/start", STRANGER)
        assert "You are not on the team." in stranger.text and "Sandbox" in stranger.text
        assert "Ask the seller to make a link for you" in stranger.text
        assert f"Ask its owner or an admin for an invite link and open it. Your Telegram user id is {STRANGER}." in (
            stranger.text
        )
        assert "Olga" not in stranger.text and "olga_shop" not in stranger.text  # the team is not named to strangers

        for user_id, (offered, withheld) in LISTED.items():
            listed = _commands(await people.ask("/help", user_id))
            assert offered <= listed and not withheld & listed, (NAMES[user_id], sorted(listed))
            await people.settled()
            assert fake.menu_seen_by(user_id) == MENUS[user_id], (NAMES[user_id], fake.menu_seen_by(user_id))
        # One example per command line: "/link 150000 IDR Winter shoes: …", "/invite agent: …".
        owner_help = await people.ask("/help", OWNER)
        assert "/link 150000 IDR Winter shoes: a payment link in one message" in owner_help.text
        assert "/remove @username: take someone off the team" in owner_help.text

        # A member who picks another language gets their menu in it.
        chooser = await people.ask("/language", AGENT)
        people.press(chooser, "lang:id", AGENT)
        menu = await fake.wait_for_call(
            "setMyCommands",
            lambda c: (
                c.params.get("scope", {}).get("chat_id") == AGENT
                and "Buat link pembayaran" in str(c.params.get("commands"))
            ),
            timeout=20,
        )
        assert [command["command"] for command in menu.params["commands"]] == MENUS[AGENT]

        # In the group, /help lists what works there for that person; the group's menu has no team commands.
        in_group = await people.ask("/help", AGENT, GROUP)
        assert "/link" in _commands(in_group) and "/language" not in _commands(in_group)
        assert not {"/link", "/newlink", "/settings"} & _commands(await people.ask("/help", SUPPORT, GROUP))
        assert not {"invite", "team", "audit", "remove"} & set(fake.menu_seen_by(AGENT, chat_id=GROUP))


async def test_refusals_say_your_role_which_role_would_do_and_whom_to_ask(database_url: str, tmp_path) -> None:
    """An agent, support and an admin are told their role and who can change it by name; a stranger how to join.

    Refusals are paced (one a minute per person), so each person here is refused once.
    """
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES, usernames=USERNAMES) as run:
        _fake, _bot, db, people = run
        await people.ask("/start", OWNER)  # the bot has met the owner: it can name her
        await _join(people, "admin", ADMIN)
        await _join(people, "agent", AGENT)
        await _join(people, "support", SUPPORT)
        await people.ask("/link 10 USD Cake", OWNER, contains="Cake")
        [link] = await db.links()
        link_id = link.merchant_link_id

        # The case: an agent just invited tries /status on a link that is not theirs.
        refused = await people.ask(f"/status {link_id}", AGENT, GROUP)
        assert refused.text.splitlines() == [
            "Sorry, seeing all links needs one of these roles: support, admin, or owner.",
            "You are an agent here.",
            "An owner or an admin can give you that role: Olga (@olga_shop) or Ada.",
        ], refused.text
        assert "/invite you" not in refused.text

        refused = await people.ask("/link 5 USD Tea", SUPPORT, GROUP)
        assert "making payment links needs one of these roles: agent, admin, or owner" in refused.text
        assert "You are on support here" in refused.text and "Olga (@olga_shop) or Ada" in refused.text

        refused = await people.ask("/audit", ADMIN)
        assert refused.text.splitlines() == [
            "Sorry, only the bot's owners can read the audit log.",
            "You are an admin here.",
            "This bot's owners: Olga (@olga_shop).",
        ], refused.text

        # /invite offers an admin only the roles an admin may give.
        usage = await people.ask("/invite", ADMIN, contains="Which role?")
        assert "/invite agent or /invite support." in usage.text and "/invite admin" not in usage.text
        assert "/invite admin" in (await people.ask("/invite", OWNER, contains="Which role?")).text

        # A stranger learns how to get in, and is not told who runs the team.
        refused = await people.ask("/link 5 USD Tea", STRANGER)
        assert refused.text.splitlines() == [
            "Sorry, making payment links needs one of these roles: agent, admin, or owner.",
            f"Ask an owner or an admin to /invite you (your Telegram user id is {STRANGER}).",
        ]
