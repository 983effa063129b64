"""After the link is made: one "still unpaid" reminder, a new link for an expired one, and the payments feed.

The real application runs as a subprocess against the fake Bot API and its embedded sandbox
gateway, on SQLite and on PostgreSQL. Time passing is played by moving the moments the bot
stored (a reminder's due time, the leases of a stopped process) and by the sandbox's operator
control that makes a link run out now.
"""

from __future__ import annotations

import re
import signal
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from bot.chat import texts
from bot.services.access import Action, refusal_of
from storage.models import Lease, Link, LinkStatus, OutboxMessage, OutboxStatus, utcnow
from tests.e2e.harness import Database, running_bot, wait_until, wait_until_idle
from tests.e2e.people import WAIT, pay, payermax_calls
from tests.fakes.telegram_api import FakeTelegram, SentMessage

pytestmark = pytest.mark.e2e

OWNER = 1001
ADMIN = 1002
AGENT = 2001
SUPPORT = 3001
NAMES = {OWNER: "Olga", ADMIN: "Adam", AGENT: "Ann", SUPPORT: "Sue"}
SHOP = -100_200_300_001
FEED = -100_200_300_002
REMINDER_HEADLINE = "Still unpaid"
# A new reconciler round queues its reminders just after taking the lease, out of the test's sight: a
# second reminder, were one coming, would be sent within this.
ROUND_SETTLE_SECONDS = 2.0


def _data(message: SentMessage, prefix: str) -> str:
    """The callback data of the message's button that starts with this prefix."""
    for button in message.buttons:
        if str(button.get("callback_data", "")).startswith(prefix):
            return button["callback_data"]
    raise AssertionError(f"no {prefix!r} button on {message.buttons}")


def _url(card: SentMessage) -> str:
    match = re.search(r"Pay here: (\S+)", card.text or "")
    assert match, card.text
    return match.group(1)


def _reminders(fake: FakeTelegram, chat_id: int) -> list[SentMessage]:
    return [m for m in fake.sent(chat_id) if REMINDER_HEADLINE in (m.text or "")]


def _paid(fake: FakeTelegram, chat_id: int) -> list[SentMessage]:
    return [m for m in fake.sent(chat_id) if (m.text or "").startswith("✅ Paid")]


def needs(action: Action, user_id: int) -> str:
    """A refusal's first line: what the action needs (the next lines name the person's role and whom to ask)."""
    return texts.refusal(refusal_of(action), user_id).split("\n")[0]


async def _outbox(db: Database, kind: str) -> list[OutboxMessage]:
    async with db.sessions() as session:
        statement = select(OutboxMessage).where(col(OutboxMessage.kind) == kind)
        return list((await session.execute(statement)).scalars())


async def _leases_run_out(db: Database) -> None:
    """The stopped process's reconciler lease and outbox claims end, as they would after a minute."""
    a_moment_ago = utcnow() - timedelta(seconds=1)
    async with db.sessions() as session, session.begin():
        await session.execute(update(Lease).values(expires_at=a_moment_ago))
        await session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.status) == OutboxStatus.PENDING)
            .values(next_attempt_at=a_moment_ago)
        )


async def _lease_holder(db: Database) -> str | None:
    async with db.sessions() as session:
        statement = select(col(Lease.holder)).where(col(Lease.name) == "reconciler")
        return (await session.execute(statement)).scalar_one_or_none()


async def _new_reconciler_round(db: Database, before: str | None) -> None:
    """Wait until the restarted process has taken the reconciler's lease (its first round runs at once)."""

    async def taken() -> bool:
        holder = await _lease_holder(db)
        return holder is not None and holder != before

    async def describe() -> str:
        return f"the reconciler lease is still held by {await _lease_holder(db)}"

    await wait_until(taken, timeout=WAIT, describe=describe)


async def test_one_reminder_across_restarts(database_url: str, tmp_path: Path) -> None:
    """Due while Telegram is down, queued, the process killed before it could send: one reminder, never two."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES) as (fake, bot, db, people):
        people.say("/link 150000 IDR Winter shoes", OWNER)
        card = await fake.wait_for_message(lambda m: m.chat_id == OWNER and m.kind == "photo", timeout=WAIT)
        [link] = await db.links()
        assert link.expires_at is not None and link.remind_at == link.expires_at - timedelta(hours=2)
        assert await bot.stop() == 0

        # Twenty-two hours pass: the reminder is due. Telegram is down when the bot comes back.
        async with db.sessions() as session, session.begin():
            await session.execute(update(Link).values(remind_at=utcnow() - timedelta(seconds=1)))
        await _leases_run_out(db)
        fake.fail_for(120)
        await bot.start()

        async def queued() -> bool:
            return len(await _outbox(db, "reminder")) == 1

        async def nothing_queued() -> str:
            return "no reminder was queued"

        await wait_until(queued, timeout=WAIT, describe=nothing_queued)
        bot.kill()  # the reminder is queued and marked, not yet sent
        await bot.stop(signal.SIGKILL)
        assert _reminders(fake, OWNER) == []

        # Back up, Telegram too: the queued reminder goes out once, and no second one is made.
        fake.fail_for(0)
        holder = await _lease_holder(db)
        await _leases_run_out(db)
        await bot.start()
        reminder = await fake.wait_for_message(
            lambda m: m.chat_id == OWNER and REMINDER_HEADLINE in (m.text or ""), timeout=WAIT
        )
        assert reminder.reply_to_message_id == card.message_id
        assert (
            "150,000" in (reminder.text or "")
            and "Winter shoes" in (reminder.text or "")
            and link.merchant_link_id in (reminder.text or "")
        )
        await _new_reconciler_round(db, holder)

        # One more restart, and the reminder's buttons work.
        assert await bot.stop() == 0
        holder = await _lease_holder(db)
        await _leases_run_out(db)
        await bot.start()
        await _new_reconciler_round(db, holder)
        await wait_until_idle(bot, db, quiet=ROUND_SETTLE_SECONDS)
        assert len(_reminders(fake, OWNER)) == 1
        assert len(await _outbox(db, "reminder")) == 1

        count = len(fake.sent(OWNER))
        await people.answer(people.press(reminder, _data(reminder, "c:s:"), OWNER))
        shared = await people.reply(OWNER, count, "Payment request")
        assert link.link_url and "150,000" in (shared.text or "") and link.link_url in (shared.text or "")


async def test_expired_card_offers_a_new_link(database_url: str, tmp_path: Path) -> None:
    """EXPIRED on the card with New link: one new link with the same terms, for those who may make it."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES) as (fake, bot, db, people):
        await people.add_members({AGENT: "agent", SUPPORT: "support"}, OWNER)
        people.say("/link 150000 IDR Winter shoes", OWNER, SHOP)
        card = await fake.wait_for_message(lambda m: m.chat_id == SHOP and m.kind == "photo", timeout=WAIT)
        [old] = await db.links()

        # The link's time runs out at PayerMax; Refresh shows it, with New link.
        async with httpx.AsyncClient(timeout=10) as client:
            ran_out = await client.post(
                f"{bot.base_url}/sandbox/_links/expire", json={"merchantLinkId": old.merchant_link_id}
            )
            assert ran_out.status_code == 200
        await people.answer(people.press(card, _data(card, "c:r:"), OWNER))
        card = await fake.wait_for_message(
            lambda m: m.message_id == card.message_id and m.chat_id == SHOP and "c:nl:" in str(m.buttons),
            timeout=WAIT,
        )
        assert "Expired" in (card.text or "") and "Pay here" not in (card.text or "")
        new_link = _data(card, "c:nl:")

        # Support may not make links, an agent may not replace someone else's: nothing is made.
        refused = await people.answer(people.press(card, new_link, SUPPORT))
        assert refused["text"].startswith(needs(Action.CREATE_LINK, SUPPORT)) and "support" in refused["text"]
        refused = await people.answer(people.press(card, new_link, AGENT))
        assert refused["text"].startswith(needs(Action.VIEW_ALL_LINKS, AGENT)) and "agent" in refused["text"]
        assert len(await db.links()) == 1

        people.press(card, new_link, OWNER)
        fresh_card = await fake.wait_for_message(
            lambda m: m.chat_id == SHOP and m.kind == "photo" and m.message_id != card.message_id, timeout=WAIT
        )
        assert "150,000" in (fresh_card.text or "") and "Winter shoes" in (fresh_card.text or "")
        assert "Waiting for payment" in (fresh_card.text or "")
        again = await people.answer(people.press(card, new_link, OWNER))
        assert again["text"] == texts.already_reissued()
        await people.settled()
        old_now, new = await db.links()
        assert old_now.status == LinkStatus.EXPIRED
        assert (new.status, new.amount, new.currency, new.description) == (
            LinkStatus.ACTIVE,
            old.amount,
            old.currency,
            old.description,
        )
        assert new.request_key == f"reissue:{old.id}" and new.merchant_link_id in (fresh_card.text or "")
        assert len([m for m in fake.sent(SHOP) if m.kind == "photo"]) == 2
        assert await payermax_calls(bot, "createPaybylink") == 2


async def test_feed_gets_each_payment_once(database_url: str, tmp_path: Path) -> None:
    """An owner names the feed group; every payment is posted there once (PayerMax notifies twice)."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), names=NAMES) as (fake, bot, db, people):
        await people.add_members({ADMIN: "admin", AGENT: "agent"}, OWNER)
        settings = await people.ask("/settings", OWNER, FEED, contains="Payments feed: off")
        use_feed = _data(settings, "set:feed:on")
        refused = await people.answer(people.press(settings, use_feed, ADMIN))
        assert refused["text"].startswith(needs(Action.CHOOSE_FEED, ADMIN)) and "owners" in refused["text"]
        answered = await people.answer(people.press(settings, use_feed, OWNER))
        assert answered["text"] == texts.feed_started()
        settings = await fake.wait_for_message(
            lambda m: m.message_id == settings.message_id and "Payments feed: this group" in (m.text or ""),
            timeout=WAIT,
        )
        # The group's reminders, typed: a time out of range is explained and changes nothing.
        await people.ask("/settings reminder 5m", OWNER, FEED, contains="15 minutes to 7 days")
        changed = await people.ask("/settings reminder 6h", OWNER, FEED, contains="Reminders: 6 hours before expiry")
        assert "Payments feed: this group" in (changed.text or "")
        async with httpx.AsyncClient(timeout=10) as client:
            duplicates = await client.post(f"{bot.base_url}/sandbox/_faults", json={"notify_duplicates": 2})
            assert duplicates.status_code == 200

        # An agent's link in the shop's group, and the owner's own in private, are each paid.
        people.say("/link 10 USD Tea", AGENT, SHOP)
        tea = await fake.wait_for_message(lambda m: m.chat_id == SHOP and m.kind == "photo", timeout=WAIT)
        people.say("/link 25 USD Cake", OWNER)
        cake = await fake.wait_for_message(lambda m: m.chat_id == OWNER and m.kind == "photo", timeout=WAIT)
        await pay(_url(tea))
        await pay(_url(cake))
        await fake.wait_for_message(lambda m: m.chat_id == SHOP and m in _paid(fake, SHOP), timeout=WAIT)
        await fake.wait_for_message(lambda m: m.chat_id == OWNER and m in _paid(fake, OWNER), timeout=WAIT)

        async def both_posted() -> bool:
            return len(_paid(fake, FEED)) >= 2

        async def describe() -> str:
            return f"the feed shows {[m.text for m in fake.sent(FEED)]}"

        await wait_until(both_posted, timeout=WAIT, describe=describe)
        await wait_until_idle(bot, db)  # the second deliveries have arrived and been answered
        posts = _paid(fake, FEED)
        assert len(posts) == 2, [m.text for m in posts]
        tea_post = next(m for m in posts if "Tea" in (m.text or ""))
        cake_post = next(m for m in posts if "Cake" in (m.text or ""))
        assert "$10.00" in (tea_post.text or "") and "Link by Ann in Test group" in (tea_post.text or "")
        assert "$25.00" in (cake_post.text or "") and "Link by Olga in their private chat" in (cake_post.text or "")
        assert len(_paid(fake, SHOP)) == 1 and len(_paid(fake, OWNER)) == 1  # the creators still get theirs
        async with db.sessions() as session:
            feed_rows = (
                await session.execute(
                    select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.kind) == "feed")
                )
            ).scalar_one()
        assert feed_rows == 2

        # The owner stops the feed here: the next payment is not posted.
        settings = await people.ask("/settings", OWNER, FEED, contains="Payments feed: this group")
        answered = await people.answer(people.press(settings, _data(settings, "set:feed:off"), OWNER))
        assert answered["text"] == texts.feed_stopped()
        people.say("/link 5 USD Scone", AGENT, SHOP)
        scone = await fake.wait_for_message(
            lambda m: m.chat_id == SHOP and m.kind == "photo" and "Scone" in (m.text or ""), timeout=WAIT
        )
        await pay(_url(scone))
        await fake.wait_for_message(lambda m: m in _paid(fake, SHOP) and "Scone" in (m.text or ""), timeout=WAIT)
        await wait_until_idle(bot, db)
        assert len(_paid(fake, FEED)) == 2
