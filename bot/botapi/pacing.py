"""Every Bot API call passes through here: sends and edits wait for a slot of the send budget.

python-telegram-bot hands each request of the application's bot to its rate limiter, so this is
the one place that paces everything the bot sends: the outbox's announcements, replies made
straight from handlers, refusals, edits made when a button is pressed. A caller says how urgent
a message is with ``rate_limit_args=SendArgs(...)``; without it a message is a reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.botapi.budget import Priority, SendBudget

log = logging.getLogger("paylink.pacing")

# Methods that put something in a chat or change it: Telegram counts them against its limits.
_PACED_PREFIXES = ("send", "editMessage", "copyMessage", "forwardMessage")
# Hints ("sending photo…"), not messages: Telegram's message limits do not count them. Booked like a
# message, a hint would hold the chat's next slot, and the link card it announces would wait a second
# in a private chat (three in a group), or up to the courtesy horizon behind a flood of refusals.
_HINT_ENDPOINTS = frozenset({"sendChatAction"})
# A reply refused with a 429 this short is tried once more; longer, the caller hears about it.
_RETRY_REPLY_WITHIN = 5.0
_Request = Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]]


@dataclass(frozen=True)
class SendArgs:
    """How a caller wants one request paced."""

    priority: Priority = Priority.REPLY
    # The caller (the outbox) already booked this message's slot and waited for it.
    booked: bool = False


class CourtesySkipped(Exception):
    """A courtesy message was not sent: no slot was free soon enough (the budget is short)."""


def retry_seconds(error: RetryAfter) -> float:
    """Telegram's retry_after as seconds, whichever type this PTB version gives it as."""
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def _paced_chat(endpoint: str, data: dict[str, Any]) -> int | None:
    """The chat this request sends to or edits in, if Telegram counts it against that chat's limits."""
    if not endpoint.startswith(_PACED_PREFIXES):
        return None
    chat_id = data.get("chat_id")
    if isinstance(chat_id, bool) or not isinstance(chat_id, int):
        return None  # an @channel name or an inline message: not a chat we pace by id
    return chat_id


class BudgetRateLimiter(BaseRateLimiter[SendArgs]):
    """PTB's rate-limiter hook, backed by the bot-wide send budget."""

    def __init__(self, budget: SendBudget) -> None:
        self.budget = budget

    async def initialize(self) -> None:
        """Nothing to set up: the budget lives as long as the application."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: _Request,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: SendArgs | None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Wait for this request's slot (unless already booked), make it, and share any 429 with the budget."""
        chat_id = _paced_chat(endpoint, data)
        if chat_id is None:
            return await callback(*args, **kwargs)
        if endpoint in _HINT_ENDPOINTS:
            return await self._hint(callback, args, kwargs)
        pacing = rate_limit_args or SendArgs()
        priority = pacing.priority
        if not pacing.booked and not await self._wait_for_slot(chat_id, priority):
            raise CourtesySkipped(f"no send slot soon for chat {chat_id}")
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as exc:
            wait = retry_seconds(exc)
            await self.budget.pause_all(wait)
            if pacing.booked or priority == Priority.COURTESY or wait > _RETRY_REPLY_WITHIN:
                raise  # the outbox reschedules; a courtesy is not worth a second try
            log.warning("Telegram asked to wait %.1fs; replying to chat %s after that", wait, chat_id)
            if not await self._wait_for_slot(chat_id, priority):
                raise
            return await callback(*args, **kwargs)

    async def _hint(self, callback: _Request, args: Any, kwargs: dict[str, Any]) -> bool | JSONDict | list[JSONDict]:
        """Send a chat action now or never: it must not wait for, nor take, the slot of the message it announces."""
        if await self.budget.pause_left() > 0:
            return True  # Telegram asked for silence; a "sending photo…" hint nobody will miss
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as exc:
            await self.budget.pause_all(retry_seconds(exc))
            return True

    async def _wait_for_slot(self, chat_id: int, priority: Priority) -> bool:
        """Book a slot and sleep until it; False when a courtesy got none."""
        wait = await self.budget.book(chat_id, priority)
        if wait is None:
            return False
        if wait > 0:
            await asyncio.sleep(wait)
        return True
