"""The first links in groups the bot has never seen, asked for at the same moment, are all made.

A chat is remembered on its first link. Four members typing ``/link`` together in a new group
used to race on that first insert (on PostgreSQL one link was made and three were answered
"Something went wrong ... nothing was created"). The bot runs as a subprocess against the fake
Bot API and its embedded PayerMax sandbox; team members are written straight into its database.
"""

from __future__ import annotations

from http import HTTPStatus

import pytest

from storage.models import LinkStatus, Member
from tests.e2e.harness import running_bot, wait_until

pytestmark = pytest.mark.e2e

OWNER = 1001
AGENTS = {2001: "Ann", 2002: "Bob", 2003: "Cid", 2004: "Dee"}
NEW_GROUPS = (-100_400_500_001, -100_400_500_002, -100_400_500_003)
WAIT = 60.0  # four cards in one group are 3.1 s apart (twenty messages a minute per group)


def _description(agent: int, group: int) -> str:
    return f"Order {agent} in {-group}"


async def test_four_first_links_at_once_in_three_new_groups(database_url: str, tmp_path) -> None:
    """Twelve /link at the same moment in three unseen groups: twelve links, twelve cards, no error reply."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER)) as (fake, _bot, db, _people):
        async with db.sessions() as session, session.begin():
            session.add_all(
                Member(user_id=agent, role="agent", name=name, added_by=OWNER) for agent, name in AGENTS.items()
            )
        await fake.wait_for_call("getUpdates", timeout=WAIT)

        for group in NEW_GROUPS:
            for agent, name in AGENTS.items():
                fake.send_text(
                    f"/link 5 USD {_description(agent, group)}",
                    user_id=agent,
                    chat_id=group,
                    chat_type="group",
                    first_name=name,
                )
        wanted = {(group, _description(agent, group)) for group in NEW_GROUPS for agent in AGENTS}

        def cards() -> set[tuple[int, str]]:
            return {
                (message.chat_id, description)
                for message in fake.sent()
                if message.kind == "photo"
                for group, description in wanted
                if message.chat_id == group and description in (message.text or "")
            }

        def errors() -> list[int]:
            return [message.chat_id for message in fake.sent() if _is_error(message.text)]

        async def all_answered() -> bool:
            return len(cards()) + len(errors()) >= len(wanted)

        async def describe() -> str:
            missing = sorted(wanted - cards())
            return f"{len(cards())} of {len(wanted)} cards, {len(errors())} errors; missing {missing}"

        await wait_until(all_answered, timeout=WAIT, describe=describe)
        assert errors() == [], f"answered 'Something went wrong': {await describe()}"
        assert cards() == wanted
        links = await db.links()
        assert sorted((link.chat_id, link.description) for link in links) == sorted(wanted)
        assert {link.status for link in links} == {LinkStatus.ACTIVE}
        photos = [call for call in fake.calls if call.method == "sendPhoto"]
        assert len(photos) == len(wanted) and {call.status for call in photos} == {HTTPStatus.OK}


def _is_error(text: str | None) -> bool:
    """Whether a message is the bot's "Something went wrong on my side and nothing was created"."""
    return "nothing was created" in (text or "")
