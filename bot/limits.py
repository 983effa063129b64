"""Telegram's sending limits, as a slot planner the outbox dispatcher books before each send.

Telegram allows about 30 messages a second in all, one a second to a private chat and twenty a
minute to a group; past that it answers 429 with ``retry_after``. Booking a slot per message keeps
us under the limits instead of learning them from 429s.

Time is cut into a grid of ``1/per_second`` slots holding one message each, so no one-second
window can ever hold more than ``per_second`` messages, whatever order slots are booked in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class SendLimiter:
    """Books send times that respect the global and per-chat limits."""

    # A little under Telegram's figures: network jitter must not turn a legal pace into a 429.
    per_second: int = 29
    private_interval: float = 1.05
    group_interval: float = 3.1  # 20 a minute
    _taken: set[int] = field(default_factory=set)
    _chat_next: dict[int, float] = field(default_factory=dict)
    _paused_until: float = 0.0

    def interval_for(self, chat_id: int) -> float:
        """Seconds between two messages to this chat (groups have negative ids)."""
        return self.group_interval if chat_id < 0 else self.private_interval

    def book(self, chat_id: int, now: float) -> float:
        """Reserve the earliest moment a message to this chat may go, and return it."""
        self._forget_before(now)
        earliest = max(now, self._paused_until, self._chat_next.get(chat_id, 0.0))
        slot = math.ceil(earliest * self.per_second)
        while slot in self._taken:
            slot += 1
        self._taken.add(slot)
        moment = slot / self.per_second
        self._chat_next[chat_id] = moment + self.interval_for(chat_id)
        return moment

    def release(self, chat_id: int, moment: float) -> None:
        """Give back a booked slot that will not be used."""
        self._taken.discard(round(moment * self.per_second))
        if math.isclose(self._chat_next.get(chat_id, -1.0), moment + self.interval_for(chat_id)):
            self._chat_next[chat_id] = moment

    def pause_chat(self, chat_id: int, until: float) -> None:
        """Telegram said 429 for this chat: nothing to it before ``until``."""
        self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), until)

    def pause_all(self, until: float) -> None:
        """Telegram said 429 for the bot: nothing at all before ``until``."""
        self._paused_until = max(self._paused_until, until)

    def pause_left(self, now: float) -> float:
        """Seconds until a bot-wide 429 pause ends; 0 when there is none."""
        return max(0.0, self._paused_until - now)

    def _forget_before(self, now: float) -> None:
        horizon = math.floor((now - 1.0) * self.per_second)
        if len(self._taken) > 4 * self.per_second:
            self._taken = {slot for slot in self._taken if slot >= horizon}
        if len(self._chat_next) > 10_000:
            self._chat_next = {chat: t for chat, t in self._chat_next.items() if t > now}
