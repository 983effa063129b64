"""Every card button press is checked against who presses it, whatever data a client sends.

Card buttons carry "c:<action>:<link row id>", and row ids are sequential, so a modified client
can press any action on anyone's link from any message the bot ever sent it. Here strangers,
a removed agent, another agent and support press every action on links that are not theirs,
both on the real card in its group and from their own private chat. Each press must be refused
with the role it needs, and must change nothing: no message sent or edited, no PayerMax call,
no database row touched. Support may still look at, refresh, share and resend any link. The
settings and /links buttons, which anyone can press in a group, are checked the same way.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from bot.chat import texts
from bot.services.access import Action, Role, refusal_of
from bot.services.team import TeamMember
from storage.models import Link, LinkStatus
from tests.e2e.harness import Database, running_bot
from tests.e2e.people import WAIT, People, payermax_calls
from tests.fakes.telegram_api import SentMessage

pytestmark = pytest.mark.e2e

OWNER = 1001
AGENT = 2001
OTHER_AGENT = 2002
REMOVED = 2003
SUPPORT = 3001
STRANGER = 9001
GROUP = -100_555_666
NAMES = {OWNER: "Olga", AGENT: "Ann", OTHER_AGENT: "Bob", REMOVED: "Rex", SUPPORT: "Sue", STRANGER: "Eve"}

ACTIONS = ("r", "x", "cy", "cn", "xy", "n", "s", "q", "o", "rf")
SUPPORT_MAY = ("r", "s", "q", "o")
# What each press is refused for: the action the presser's role lacks for this link.
NOT_ON_TEAM = {
    "r": Action.VIEW_ALL_LINKS,
    "o": Action.VIEW_ALL_LINKS,
    "x": Action.CANCEL_ANY_LINK,
    "cy": Action.CANCEL_ANY_LINK,
    "cn": Action.CANCEL_ANY_LINK,
    "xy": Action.CANCEL_ANY_LINK,
    "n": Action.CANCEL_ANY_LINK,
    "s": Action.RESEND_LINK,
    "q": Action.RESEND_LINK,
    "rf": Action.REFUND,
}
ANOTHER_AGENT = {**NOT_ON_TEAM, "s": Action.VIEW_ALL_LINKS, "q": Action.VIEW_ALL_LINKS}
SUPPORT_REFUSED = {
    "x": Action.CANCEL_ANY_LINK,
    "cy": Action.CANCEL_ANY_LINK,
    "cn": Action.CANCEL_ANY_LINK,
    "xy": Action.CANCEL_ANY_LINK,
    "n": Action.CANCEL_ANY_LINK,
    "rf": Action.REFUND,  # support refunds only once an owner grants it
}
REFUSALS: dict[int, dict[str, Action]] = {
    STRANGER: NOT_ON_TEAM,
    REMOVED: NOT_ON_TEAM,
    OTHER_AGENT: ANOTHER_AGENT,
    SUPPORT: SUPPORT_REFUSED,
}
MEMBER_ROLES = {OTHER_AGENT: Role.AGENT, SUPPORT: Role.SUPPORT}
ASKED = [TeamMember(OWNER, Role.OWNER, "Olga", False)]
# Bookkeeping of the bot itself, not of anything a person did: claims of updates, the send budget.
MACHINERY = frozenset({"processed_updates", "leases", "refusal_notices", "send_slots", "send_chat_pace"})


async def _snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that holds what people did (links, payments, team, outbox...)."""
    rows = {}
    async with db.sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in MACHINERY:
                found = (await session.execute(select(table))).all()
                rows[table.name] = sorted((tuple(row) for row in found), key=repr)
    return rows


async def _link(db: Database, description: str) -> Link:
    return next(link for link in await db.links() if link.description == description)


async def _card(people: People, text: str, user_id: int, chat_id: int | None, description: str) -> SentMessage:
    """Make a link with /link and wait for its card."""
    return await people.ask(text, user_id, chat_id, contains=description)


async def test_crafted_presses_on_other_peoples_links_are_refused(database_url: str, tmp_path) -> None:
    """Stranger, removed agent, other agent and support press every action on others' links: refused, no change."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES) as (fake, bot, db, people):
        roles = {AGENT: "agent", OTHER_AGENT: "agent", REMOVED: "agent", SUPPORT: "support"}
        await people.add_members(roles, OWNER)
        # Everyone gets a message from the bot in their private chat: a place to press "buttons" on.
        desks = {who: await people.ask("/help", who) for who in REFUSALS}
        # The links pressed at: the agent's, in a group everyone is in, and the owner's, in private.
        agent_card = await _card(people, "/link 25 USD Ann's order", AGENT, GROUP, "Ann's order")
        await _card(people, "/link 40 USD Olga's order", OWNER, None, "Olga's order")
        agent_link, owner_link = await _link(db, "Ann's order"), await _link(db, "Olga's order")
        await people.ask(f"/remove {REMOVED}", OWNER, contains="no longer")
        await people.settled()
        rows, writes, payermax = await _snapshot(db), people.writes(), await payermax_calls(bot)

        # query id -> (presser, callback data, where, the action they are refused for)
        pressed: dict[str, tuple[int, str, str, Action]] = {}
        for who, refused in REFUSALS.items():
            for action, needed in refused.items():
                for link in (agent_link, owner_link):
                    data = f"c:{action}:{link.id}"
                    pressed[people.forge(desks[who], data, who)] = (who, data, "private chat", needed)
                data = f"c:{action}:{agent_link.id}"
                pressed[people.forge(agent_card, data, who)] = (who, data, "the card", needed)
            # The other buttons are checked too: settings anywhere, /links pages for those with no links to see.
            others = {"set:currency:EUR": Action.CHANGE_SETTINGS, "set:expiry": Action.CHANGE_SETTINGS}
            if who in (STRANGER, REMOVED):
                others["l:all:0"] = Action.MANAGE_OWN_LINKS  # a list from before lists named their person
                others[f"l:all:0:{OWNER}"] = Action.MANAGE_OWN_LINKS  # someone else's list
            for data, needed in others.items():
                pressed[people.forge(desks[who], data, who)] = (who, data, "private chat", needed)
                pressed[people.forge(agent_card, data, who)] = (who, data, "the card", needed)
        for query_id, (who, data, where, needed) in pressed.items():
            # Well over a hundred presses arrive at once and are answered in any order: the first one
            # awaited may be among the last answered on a loaded machine.
            answer = await people.answer(query_id, timeout=3 * WAIT)
            # A member hears their own role and whom to ask (here only the owner can give any role that
            # would do); a stranger and the removed agent hear how to be invited.
            expected = texts.refusal(refusal_of(needed), who, role=MEMBER_ROLES.get(who), asked=ASKED)
            as_expected = answer.get("show_alert") is True and answer.get("text") == expected
            assert as_expected, (NAMES[who], data, where, answer)
        await people.settled()
        made = [(c.method, c.params.get("chat_id")) for c in fake.calls if c.method.startswith(("send", "edit"))]
        assert people.writes() == writes, f"refused presses wrote to Telegram: {made[-10:]}"
        assert await payermax_calls(bot) == payermax, "a refused press reached PayerMax"
        assert await _snapshot(db) == rows, "a refused press changed the database"
        assert (await _link(db, "Ann's order")).status == LinkStatus.ACTIVE
        assert "Ann's order" not in str([m.text for m in fake.sent() if m.chat_id not in (GROUP, AGENT)])

        # Support may look at anyone's link from anywhere: refresh, open, share, QR.
        desk = desks[SUPPORT]
        answer = await people.answer(people.forge(desk, f"c:r:{agent_link.id}", SUPPORT))
        assert answer.get("text") == "Checked with PayerMax: waiting for payment.", answer
        await fake.wait_for_message(
            lambda m: m.message_id == desk.message_id and m.chat_id == SUPPORT and "Ann's order" in (m.text or "")
        )
        for action, shows in (("o", "Link ID"), ("s", "Payment request"), ("q", "Payment request")):
            count = len(fake.sent(SUPPORT))
            answer = await people.answer(people.forge(desk, f"c:{action}:{owner_link.id}", SUPPORT))
            assert not answer.get("show_alert"), (action, answer)
            sent = await people.reply(SUPPORT, count, "Olga's order")
            assert shows in (sent.text or ""), (action, sent.text)

        # The agent may handle their own link: Cancel asks in a message, "No, keep it" answers it.
        question = await people.cancel_question(agent_card, agent_link.id, AGENT)
        assert "Cancel the link for $25.00 · Ann's order?" in (question.text or "")
        await people.answer(people.press(question, f"c:cn:{agent_link.id}", AGENT))
        kept = await fake.wait_for_message(
            lambda m: m.message_id == question.message_id and m.chat_id == GROUP and "Kept" in (m.text or "")
        )
        assert kept.buttons == [] and "can still be paid" in (kept.text or "")
        card_now = next(m for m in fake.sent(GROUP) if m.message_id == agent_card.message_id)
        assert "c:s:" in str(card_now.buttons)  # the card as it was
        assert (await _link(db, "Ann's order")).status == LinkStatus.ACTIVE
