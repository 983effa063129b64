"""Durable delivery: every acknowledged payment is announced exactly once, whatever Telegram or the host does.

The bot runs as a subprocess against the fake Bot API. Links are seeded straight into the
database (ACTIVE, as if PayerMax had made them) so the tests spend their time on notifications
and the outbox, not on conversations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus

import pytest

from storage.models import Link, OutboxStatus
from tests.e2e.harness import (
    PAID_PREFIX,
    BotProcess,
    Database,
    link_paid_notification,
    paid_announcements,
    post_notifications,
    running_bot,
    wait_until,
    wait_until_idle,
)
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.e2e

OWNER = 1001
FIRST_CHAT = 50_001
GROUP_CHAT = -100_500_001
# Short, so messages the killed process had claimed are sent again within the test; still far
# longer than one send to the local fake takes.
TEST_LEASE_SECONDS = "8"
DELIVERY_TIMEOUT = 90.0
# The first notifications go out as a burst of their own; the rest wait until Telegram refuses
# sends and every accepted "Paid" is on record, and the kill lands while they are under way.
REFUSE_SENDS_AFTER_ANSWERS = 50
KILL_AFTER_ANSWERS = 80
SENT_BEFORE_KILL = 1  # "Paid" messages Telegram took before it refuses sends: the restart must not repeat them
# A send the bot had already started when the 429 reached it may still arrive just after.
IN_FLIGHT_GRACE = 0.25


def _wrong_counts(fake: FakeTelegram, links: list[Link]) -> dict[str, int]:
    """Links announced other than exactly once, with how often they were."""
    counts = {link.merchant_link_id: len(paid_announcements(fake, link)) for link in links}
    return {link_id: count for link_id, count in counts.items() if count != 1}


async def _wait_until_drained(
    fake: FakeTelegram, db: Database, links: list[Link], timeout: float = DELIVERY_TIMEOUT
) -> None:
    """Wait until every link is announced and the outbox is empty, so a late repeat would already show."""

    async def drained() -> bool:
        announced = all(paid_announcements(fake, link) for link in links)
        return announced and await db.outbox_count_by(OutboxStatus.PENDING) == 0

    async def describe() -> str:
        missing = [link.merchant_link_id for link in links if not paid_announcements(fake, link)]
        return f"{await db.outbox_count_by(OutboxStatus.PENDING)} outbox messages pending; never announced: {missing}"

    await wait_until(drained, timeout=timeout, describe=describe)


def _accepted_paid(fake: FakeTelegram) -> int:
    """How many "Paid" messages Telegram has accepted so far."""
    return sum(1 for message in fake.sent() if (message.text or "").startswith(PAID_PREFIX))


def _describe_burst(fake: FakeTelegram, db: Database) -> Callable[[], Awaitable[str]]:
    async def describe() -> str:
        on_record = await db.outbox_count_by(OutboxStatus.SENT, "paid")
        return f"{_accepted_paid(fake)} Paid messages accepted, {on_record} marked sent"

    return describe


@pytest.mark.timing
@pytest.mark.xdist_group("bursts")
async def test_sigkill_mid_burst_loses_and_repeats_nothing(database_url: str, tmp_path) -> None:
    """A bot killed with SIGKILL during 200 notifications announces each acknowledged payment once after a restart.

    Telegram has no idempotency key, so a "Paid" that Telegram accepted in the instant before the
    kill, but that the bot had not yet marked sent, is sent again after the restart: the outbox
    is at-least-once by choice (a repeated "Paid" beats a lost one). To test everything else
    exactly, the kill lands while Telegram refuses sends and every accepted one is on record: the
    notifications after the first burst are held until then, and the kill comes as soon as enough
    of them are answered, with more in flight and the rest still to come.
    """
    data_dir = tmp_path / "data"
    async with FakeTelegram() as fake:
        # Telegram's pacing: the kill must land mid-burst, while the outbox is still working through it.
        env = {"OUTBOX_LEASE_SECONDS": TEST_LEASE_SECONDS}
        first = BotProcess(
            fake, database_url=database_url, data_dir=data_dir, admin_ids=str(OWNER), real_pacing=True, **env
        )
        db = Database(database_url)
        await first.start()
        second: BotProcess | None = None
        try:
            links = await db.add_active_links([FIRST_CHAT + index % 40 for index in range(200)])
            first_burst, held = links[:REFUSE_SENDS_AFTER_ANSWERS], links[REFUSE_SENDS_AFTER_ANSWERS:]
            acknowledged = await post_notifications([(first, link_paid_notification(link)) for link in first_burst])
            assert all(acknowledged)

            async def under_way() -> bool:
                return _accepted_paid(fake) >= SENT_BEFORE_KILL

            await wait_until(under_way, timeout=60, describe=_describe_burst(fake, db))
            fake.fail_for(DELIVERY_TIMEOUT, HTTPStatus.BAD_GATEWAY)

            async def accepted_on_record() -> bool:
                return await db.outbox_count_by(OutboxStatus.SENT, "paid") == _accepted_paid(fake)

            await wait_until(accepted_on_record, timeout=20, describe=_describe_burst(fake, db))

            def kill_when_enough(answered: int) -> None:
                if answered == KILL_AFTER_ANSWERS - REFUSE_SENDS_AFTER_ANSWERS:
                    first.kill()

            acknowledged += await post_notifications(
                [(first, link_paid_notification(link)) for link in held], on_acknowledged=kill_when_enough
            )
            assert KILL_AFTER_ANSWERS <= sum(acknowledged) < len(links), (
                "the kill did not land in the middle of the burst"
            )
            assert await first.stop() == -9
            fake.fail_for(0)

            second = BotProcess(
                fake, database_url=database_url, data_dir=data_dir, admin_ids=str(OWNER), real_pacing=True, **env
            )
            await second.start()
            # PayerMax delivers again whatever it did not hear SUCCESS for.
            unanswered = [link for link, ok in zip(links, acknowledged, strict=True) if not ok]
            assert all(await post_notifications([(second, link_paid_notification(link)) for link in unanswered]))

            await _wait_until_drained(fake, db, links)
            assert _wrong_counts(fake, links) == {}
            assert len(await db.payments()) == len(links)
        finally:
            for bot in (first, second):
                if bot is not None:
                    await bot.stop()  # returns at once for the killed one
            await db.close()


@pytest.mark.timing
@pytest.mark.xdist_group("timing")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_outage_then_flood_wait_loses_nothing_and_keeps_limits(database_url: str, tmp_path) -> None:
    """Telegram answering 502 for 20 s, then 429 retry_after: every payment is announced once, within the limits.

    SQLite only: the test waits out a 20-second outage and the backoff after it (40-60 s in all),
    and the storage backend plays no part in what it checks beyond what the other tests cover.
    """
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), real_pacing=True, clean_exit=False) as run:
        fake, bot, db, _people = run
        # Several to each private chat, more than its burst allowance: pacing is what keeps the limits.
        chats = [FIRST_CHAT + index % 4 for index in range(27)] + [GROUP_CHAT] * 3
        links = await db.add_active_links(chats)
        fake.enforce_limits = True
        flood_wait = 2
        fake.fail_for(20, HTTPStatus.BAD_GATEWAY)
        # Injected 429s only start once the outage is over: the 502s are checked first.
        fake.retry_after(flood_wait, n=3)
        assert all(await post_notifications([(bot, link_paid_notification(link)) for link in links]))

        await _wait_until_drained(fake, db, links, timeout=120)
        assert _wrong_counts(fake, links) == {}
        assert fake.limit_violations == 0
        sends = [call for call in fake.calls if call.method == "sendMessage"]
        assert any(call.status == HTTPStatus.BAD_GATEWAY for call in sends)
        flood_waits = [call for call in sends if call.status == HTTPStatus.TOO_MANY_REQUESTS]
        assert len(flood_waits) == 3
        for refused in flood_waits:
            too_soon = [call for call in sends if refused.at + IN_FLIGHT_GRACE < call.at < refused.at + flood_wait]
            assert too_soon == [], f"sent during a {flood_wait}s flood wait"


async def test_blocked_chat_is_given_up_and_owners_told(database_url: str, tmp_path) -> None:
    """A chat that blocked the bot gets no retries; the owner is told which chat; other chats still hear."""
    async with running_bot(database_url, tmp_path, admin_ids=str(OWNER), clean_exit=False) as (fake, bot, db, _people):
        blocked, *others = await db.add_active_links([FIRST_CHAT, FIRST_CHAT + 1, FIRST_CHAT + 2])
        fake.block_chat(blocked.chat_id)
        assert all(await post_notifications([(bot, link_paid_notification(link)) for link in (blocked, *others)]))

        alert = await fake.wait_for_message(lambda m: m.chat_id == OWNER, timeout=20)
        assert str(blocked.chat_id) in alert.text and blocked.merchant_link_id in alert.text
        await _wait_until_drained(fake, db, others)
        assert _wrong_counts(fake, others) == {}
        await wait_until_idle(bot, db)  # a retry waiting out its backoff keeps the bot busy
        attempts = [c for c in fake.calls if c.method == "sendMessage" and c.params.get("chat_id") == blocked.chat_id]
        assert [c.status for c in attempts] == [HTTPStatus.FORBIDDEN]
        assert len(fake.sent(OWNER)) == 1
