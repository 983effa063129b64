"""People using the real bot through the fake Bot API: they write, press buttons and read the answers.

Shared by the end-to-end chat tests. Each person has a Telegram user id and a first name; the
team behind them is written straight into the bot's database (members table), as an owner's
/invite would have left it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from sqlalchemy import select

from storage.models import Member, OutboxMessage, OutboxStatus, ProcessedUpdate
from tests.e2e.harness import BotProcess, Database, is_setup_offer, wait_until
from tests.fakes.telegram_api import FakeTelegram, SentMessage
from tests.fakes.telegram_markup import utf16_length

WAIT = 20.0
# Bot API methods that create or change a message a person sees.
WRITES = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
    }
)


class People:
    """Everyone in a test, by user id, talking to one bot."""

    def __init__(
        self,
        fake: FakeTelegram,
        db: Database,
        names: Mapping[int, str],
        *,
        usernames: Mapping[int, str] | None = None,
        languages: Mapping[int, str] | None = None,
    ) -> None:
        self.fake = fake
        self.db = db
        self.names = dict(names)
        self.usernames = dict(usernames or {})  # Telegram @usernames (without the @) of those who have one
        self.languages = dict(languages or {})  # their Telegram app's language, when not English

    def say(self, text: str, user_id: int, chat_id: int | None = None, chat_type: str = "group") -> int:
        """A person writes in their private chat, or in a group when chat_id is given; returns the update id."""
        who = {
            "user_id": user_id,
            "first_name": self.names[user_id],
            "username": self.usernames.get(user_id),
            "language_code": self.languages.get(user_id, "en"),
        }
        if chat_id is None:
            return self.fake.send_text(text, **who)
        return self.fake.send_text(text, chat_id=chat_id, chat_type=chat_type, **who)

    async def reply(self, chat_id: int, after: int, contains: str = "") -> SentMessage:
        """The first message the bot sent to this chat after the first ``after`` ones, containing this text."""
        return await self.fake.wait_for_message(
            lambda m: (
                m.chat_id == chat_id
                and m in self.fake.sent(chat_id)[after:]
                and contains in (m.text or "")
                and not is_setup_offer(m)
            ),
            timeout=WAIT,
        )

    async def ask(
        self, text: str, user_id: int, chat_id: int | None = None, contains: str = "", chat_type: str = "group"
    ) -> SentMessage:
        """Write and wait for the bot's answer in the same chat."""
        where = user_id if chat_id is None else chat_id
        count = len(self.fake.sent(where))
        self.say(text, user_id, chat_id, chat_type)
        return await self.reply(where, count, contains)

    def press(self, message: SentMessage, data: str, user_id: int) -> str:
        """Press a button the message shows (or showed); returns the query id."""
        return self.fake.press_button(
            message,
            data,
            user_id=user_id,
            first_name=self.names[user_id],
            username=self.usernames.get(user_id),
            language_code=self.languages.get(user_id, "en"),
        )

    async def cancel_question(self, card: SentMessage, link_id: int, user_id: int) -> SentMessage:
        """Press Cancel link on a card; the question the bot asks under it (a message with Yes / No)."""
        before = len(self.fake.sent(card.chat_id))
        await self.answer(self.press(card, f"c:x:{link_id}", user_id))
        return await self.fake.wait_for_message(
            lambda m: (
                m.chat_id == card.chat_id
                and m in self.fake.sent(card.chat_id)[before:]
                and m.reply_to_message_id == card.message_id
                and f"c:cy:{link_id}" in str(m.buttons)
            ),
            timeout=WAIT,
        )

    async def cancel(self, card: SentMessage, link_id: int, user_id: int) -> dict[str, Any]:
        """Cancel a link from its card: Cancel link, then Yes under the question; what the bot answered to Yes."""
        question = await self.cancel_question(card, link_id, user_id)
        return await self.answer(self.press(question, f"c:cy:{link_id}", user_id))

    def forge(self, message: SentMessage, data: str, user_id: int) -> str:
        """Press with callback data of one's choosing, as a modified client can; returns the query id."""
        return self.fake.press_forged(message, data, user_id=user_id, first_name=self.names[user_id])

    async def answer(self, query_id: str, timeout: float = WAIT) -> dict[str, Any]:
        """What the bot answered to this button press."""
        call = await self.fake.wait_for_call(
            "answerCallbackQuery", lambda c: c.params.get("callback_query_id") == query_id, timeout=timeout
        )
        return call.params

    async def settled(self) -> None:
        """Wait until the bot has finished every update sent so far and its outbox is empty."""
        last = self.fake.last_update_id

        async def done() -> bool:
            async with self.db.sessions() as session:
                claims = (await session.execute(select(ProcessedUpdate))).scalars().all()
                queued = (await session.execute(select(OutboxMessage))).scalars().all()
            handled = sum(1 for claim in claims if claim.done and claim.update_id <= last)
            return handled == last and all(message.status != OutboxStatus.PENDING for message in queued)

        async def describe() -> str:
            return f"updates up to {last} not all handled, or the outbox is not empty"

        await wait_until(done, timeout=WAIT, describe=describe)

    def writes(self) -> int:
        """How many times so far the bot tried to send or edit a message (accepted or not)."""
        return sum(1 for call in self.fake.calls if call.method in WRITES)

    async def add_members(self, roles: Mapping[int, str], added_by: int) -> None:
        """Put people on the team with these roles."""
        async with self.db.sessions() as session, session.begin():
            for user_id, role in roles.items():
                session.add(Member(user_id=user_id, role=role, name=self.names[user_id], added_by=added_by))


async def payermax_calls(bot: BotProcess, api: str | None = None) -> int:
    """How many API calls (of this API, if given) the bot's sandbox PayerMax has received."""
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{bot.base_url}/sandbox/_requests")
    return sum(1 for request in answer.json()["requests"] if api is None or request["api"] == api)


async def pay(url: str, method: str = "CARD") -> None:
    """The customer pays on the sandbox checkout page."""
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.post(url, data={"action": "pay", "method": method})).status_code == 200


def entity_texts(message: SentMessage, kinds: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(type, covered text) of each entity of the message, optionally only of these types."""
    encoded = (message.text or "").encode("utf-16-le")
    found = []
    for entity in message.entities:
        if kinds is None or entity["type"] in kinds:
            start, end = entity["offset"] * 2, (entity["offset"] + entity["length"]) * 2
            found.append((entity["type"], encoded[start:end].decode("utf-16-le")))
    return found


def visible_units(message: SentMessage) -> int:
    """How long the message is as Telegram counts it (UTF-16 units of the text a person sees)."""
    return utf16_length(message.text or "")
