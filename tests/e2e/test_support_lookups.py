"""Support answers "did it get paid?" from what the customer says, end to end.

The customer quotes an amount as they wrote it, a piece of an id, or says their card was declined:
support finds the link with /find, sees the declined attempt in /status, and in their private
chat /links shows the whole team's links with the team's takings. The real application runs as a
subprocess against the fake Bot API and its embedded sandbox, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from storage.models import FailedAttempt, Link
from tests.e2e.harness import Database, running_bot, wait_until
from tests.e2e.people import WAIT, pay
from tests.fakes.telegram_api import SentMessage

pytestmark = pytest.mark.e2e

OWNER = 1001
AGENT_A = 2001
AGENT_B = 2002
SUPPORT = 3001
STRANGER = 9001
GROUP = -100_700_800
NAMES = {OWNER: "Olga", AGENT_A: "Ann", AGENT_B: "Bob", SUPPORT: "Sue", STRANGER: "Eve"}


def _url(card: SentMessage) -> str:
    match = re.search(r"Pay here: (\S+)", card.text or "")
    assert match, card.text
    return match.group(1)


async def _decline(url: str, method: str = "CARD") -> None:
    """The customer's card is declined on the sandbox checkout page."""
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(url, data={"action": "decline", "method": method})
        assert answer.status_code == 200 and "declined" in answer.text


async def _link(db: Database, description: str) -> Link:
    return next(link for link in await db.links() if link.description == description)


async def _attempts(db: Database) -> list[FailedAttempt]:
    async with db.sessions() as session:
        return list((await session.execute(select(FailedAttempt))).scalars())


async def test_support_finds_the_link_from_what_the_customer_says(database_url: str, tmp_path) -> None:
    """/find 150000 (and as it is written), 6 characters of an id or order; a decline in /status; the team's /links."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES) as (_fake, _bot, db, people):
        await people.add_members({AGENT_A: "agent", AGENT_B: "agent", SUPPORT: "support"}, OWNER)
        shoes_card = await people.ask("/link 150000 IDR Winter shoes", AGENT_A, GROUP, contains="Link ID")
        await people.ask("/link 99000 IDR Rain boots", AGENT_B, GROUP, contains="Link ID")
        await people.ask("/link 12.50 USD Coffee beans", OWNER, contains="Link ID")
        shoes = await _link(db, "Winter shoes")

        # "My card was declined": PayerMax's PAYMENT notification names only the order; the bot
        # finds its link by asking PayerMax, and /status says what the customer saw.
        await _decline(_url(shoes_card))

        async def placed() -> bool:
            return any(attempt.link_id == shoes.id for attempt in await _attempts(db))

        async def describe() -> str:
            return f"failed attempts: {[(a.out_trade_no, a.link_id) for a in await _attempts(db)]}"

        await wait_until(placed, timeout=WAIT, describe=describe)
        [declined] = await _attempts(db)
        story = await people.ask(f"/status {shoes.merchant_link_id}", SUPPORT, contains="Timeline")
        assert "⚠️ Last attempt: card declined at" in (story.text or ""), story.text
        assert f"card declined: SANDBOX: the card was declined · order {declined.out_trade_no}" in (story.text or "")

        # The amount as the customer says it, with or without the currency, in the chat's formats.
        for said in ("150000", "150,000", "IDR 150.000", "Rp150.000", "150.000"):
            found = await people.ask(f"/find {said}", SUPPORT, contains="Found")
            assert "Found 1 link" in (found.text or ""), (said, found.text)
            assert "Winter shoes" in found.text and "found by amount" in found.text, (said, found.text)
        assert "Nothing found" in (await people.ask("/find 150000 USD", SUPPORT, contains="Nothing")).text

        # Part of an id: six characters of the link id (any case), or of the order number they were shown.
        piece = shoes.merchant_link_id[2:8].lower()
        found = await people.ask(f"/find {piece}", SUPPORT, contains="Found")
        assert "Winter shoes" in found.text and "found by part of the link id" in found.text
        found = await people.ask(f"/find {declined.out_trade_no[-8:]}", SUPPORT, contains="Found")
        assert "Winter shoes" in found.text and "found by part of an order number" in found.text
        short = await people.ask(f"/find {shoes.merchant_link_id[:5]}", SUPPORT, contains="Nothing")
        assert "at least 6 characters" in short.text

        # Agents still find only their own links, by amount too.
        assert "Nothing found" in (await people.ask("/find 150000", AGENT_B, contains="Nothing")).text

        # The customer pays after all: /status says paid; the declined attempt stays in the story.
        await pay(_url(shoes_card))
        await people.reply(GROUP, 0, "✅ Paid")
        story = await people.ask(f"/status {shoes.merchant_link_id}", SUPPORT, contains="Timeline")
        assert "Status: ✅ paid" in (story.text or "")
        assert "Last attempt" not in story.text and "card declined: SANDBOX" in story.text

        # Support's private /links: the team's links, with who made each, and the team's takings today.
        listing = await people.ask("/links", SUPPORT, contains="links")
        text = listing.text or ""
        assert text.startswith("The team's links"), text
        for expected in ("Winter shoes · Ann", "Rain boots · Bob", "Coffee beans · Olga", "3 links"):
            assert expected in text, (expected, text)
        assert "Paid today (UTC): IDR\xa0150,000" in text
        # An agent's private /links stays their own.
        own = await people.ask("/links", AGENT_A, contains="Your links")
        assert "Winter shoes" in own.text and "Rain boots" not in own.text and "Coffee" not in own.text
