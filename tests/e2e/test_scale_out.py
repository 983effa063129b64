"""Scale-out: two bot processes in webhook mode share one PostgreSQL database and act as one bot.

Each payment is announced once whichever process heard of it, a /newlink conversation moves
between processes mid-way, a Telegram update delivered to both is handled once, and the
webhook refuses anyone without the secret token.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import httpx
import pytest

from storage.models import OutboxStatus
from tests.e2e.harness import (
    BotProcess,
    Database,
    is_setup_offer,
    link_paid_notification,
    paid_announcements,
    post_notifications,
    wait_until,
    wait_until_idle,
)
from tests.fakes.telegram_api import FakeTelegram

# It pushes hundreds of messages through the bot and checks how long they take: see the "timing" marker.
pytestmark = [pytest.mark.e2e, pytest.mark.timing, pytest.mark.xdist_group("bursts")]

SELLER = 1001
FIRST_CHAT = 70_001
WEBHOOK_SECRET = "scale-out-webhook-secret-42"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
REPEAT_SETTLE_SECONDS = 1.5  # a second handling of a repeated update would reply within this
MESSAGE_CALLS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageCaption"})


class UserSide:
    """Writes the updates Telegram would send when a person talks to the bot, and POSTs them to a process."""

    def __init__(self, user_id: int) -> None:
        self.user = {"id": user_id, "is_bot": False, "first_name": "Ann", "language_code": "en"}
        self.chat = {"id": user_id, "type": "private", "first_name": "Ann"}
        # Far above the fake's own update ids, which start at 1.
        self._update_ids = itertools.count(900_001)
        self._message_ids = itertools.count(500_001)

    def text(self, text: str) -> dict[str, Any]:
        """An update for a message the person writes; a leading /word is a command."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": self.user,
            "chat": self.chat,
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"update_id": next(self._update_ids), "message": message}

    @staticmethod
    async def post(bot: BotProcess, update: dict[str, Any], secret: str | None = WEBHOOK_SECRET) -> httpx.Response:
        """Deliver an update to the process's webhook, as Telegram does."""
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(f"{bot.base_url}/telegram", json=update, headers=headers)


# PostgreSQL only (the fixture skips without TEST_DATABASE_URL): SQLite is for one process.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_processes_share_one_database(database_url: str, tmp_path) -> None:
    """300 payments over two processes are each announced once; a conversation and a repeated update cross processes."""
    async with FakeTelegram() as fake:
        env = {"BOT_MODE": "webhook", "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET, "DEFAULT_CURRENCY": "USD"}

        def replica(folder: str) -> BotProcess:
            """A process at Telegram's pace: the two together must keep to one bot's limits."""
            return BotProcess(
                fake,
                database_url=database_url,
                data_dir=tmp_path / folder,
                admin_ids=str(SELLER),
                real_pacing=True,
                **env,
            )

        first, second = replica("a"), replica("b")
        db = Database(database_url)
        try:
            for bot in (first, second):
                await bot.start()
                # Both register a webhook; the fake delivers its own updates (button presses) to the last.
                await fake.wait_for_call(
                    "setWebhook", lambda call, bot=bot: call.params.get("url", "").startswith(bot.base_url), timeout=20
                )

            # The webhook refuses updates without the secret, and does nothing with them.
            seller = UserSide(SELLER)
            assert (await seller.post(first, seller.text("/help"), secret=None)).status_code == 403
            assert (await seller.post(second, seller.text("/help"), secret="wrong-secret")).status_code == 403

            # Telegram delivers an update again when it missed the answer: to whichever process the
            # load balancer picks. Once one process handled it, neither handles it again.
            repeated = seller.text("/help")
            assert (await seller.post(first, repeated)).status_code == 200
            await fake.wait_for_message(lambda m: m.chat_id == SELLER, timeout=20)

            async def recorded() -> bool:
                return await db.update_handled(repeated["update_id"])

            async def not_recorded() -> str:
                return f"update {repeated['update_id']} was answered but never recorded as handled"

            await wait_until(recorded, timeout=10, describe=not_recorded)
            assert (await seller.post(second, repeated)).status_code == 200
            assert (await seller.post(first, repeated)).status_code == 200
            await fake.wait_for_message(lambda m: m.chat_id == SELLER and is_setup_offer(m), timeout=20)
            await wait_until_idle(first, db, quiet=REPEAT_SETTLE_SECONDS)
            # One welcome (and the new chat's set-up offer once), however often the update came.
            assert len([m for m in fake.sent(SELLER) if not is_setup_offer(m)]) == 1
            assert len([m for m in fake.sent(SELLER) if is_setup_offer(m)]) == 1

            # A /newlink conversation hops between processes at every step and makes one link.
            await seller.post(first, seller.text("/newlink"))
            await fake.wait_for_message(lambda m: "How much" in (m.text or ""), timeout=20)
            await seller.post(second, seller.text("12.50"))
            await fake.wait_for_message(lambda m: "What is it for" in (m.text or ""), timeout=20)
            await seller.post(first, seller.text("Coffee beans"))
            summary = await fake.wait_for_message(lambda m: "Create this link" in (m.text or ""), timeout=20)
            fake.press_button(summary, summary.button_data("create"), user_id=SELLER)
            card = await fake.wait_for_message(lambda m: m.kind == "photo", timeout=30)
            assert "$12.50" in card.text and "Coffee beans" in card.text
            assert [link.description for link in await db.links()] == ["Coffee beans"]

            # 300 payments, half told to each process, are each announced exactly once, and the two
            # processes together keep to one bot's limits (the fake answers 429 past them).
            links = await db.add_active_links([FIRST_CHAT + index % 100 for index in range(300)])
            deliveries = [
                (first if index % 2 else second, link_paid_notification(link)) for index, link in enumerate(links)
            ]
            fake.enforce_limits = True
            fake.limit_edits = True
            calls_before = len(fake.calls)
            assert all(await post_notifications(deliveries))

            async def drained() -> bool:
                announced = all(paid_announcements(fake, link) for link in links)
                return announced and await db.outbox_count_by(OutboxStatus.PENDING) == 0

            async def describe() -> str:
                missing = sum(1 for link in links if not paid_announcements(fake, link))
                pending = await db.outbox_count_by(OutboxStatus.PENDING)
                return f"{missing} links never announced, {pending} messages pending"

            await wait_until(drained, timeout=90, describe=describe)
            repeated_announcements = {
                link.merchant_link_id: n for link in links if (n := len(paid_announcements(fake, link))) != 1
            }
            assert repeated_announcements == {}
            # The fake answers 429 like Telegram past 30 a second (a burst of 30) and one a second per chat.
            assert fake.limit_violations == 0
            sends = [call for call in fake.calls[calls_before:] if call.method in MESSAGE_CALLS and call.status == 200]
            span = max(call.at for call in sends) - min(call.at for call in sends)
            assert len(sends) / span <= 30, f"{len(sends)} messages in {span:.1f}s"
            assert len([m for m in fake.sent(SELLER) if m.kind == "photo"]) == 1
        finally:
            for bot in (first, second):
                if bot.process is not None:
                    await bot.stop()
            await db.close()
