"""Telegram's sending limits as a budget of send slots, shared by every message the bot sends.

Telegram allows about 30 messages a second in all, one a second to a private chat and twenty a
minute to a group; past that it answers 429 with ``retry_after``. Every message (a send or an
edit) books a slot before it goes, so the bot stays under the limits instead of learning them
from 429s.

Time is cut into a grid of ``1/per_second`` slots holding one message each, so no one-second
window can hold more than ``per_second`` messages, whatever order slots are booked in. Slots are
shared out by :class:`Priority`: announcements ("Paid", new link cards) may take any slot;
replies may take most of them; courtesies (refusals) only a few, and only soon, or
they are not sent at all. So a flood of strangers or button presses can never take the slots a
seller's "Paid" needs.

:class:`SlotGrid` is the pure planner; :class:`LocalBudget` keeps it in memory for one process.
``bot.botapi.shared_budget`` keeps the same grid in PostgreSQL for several replicas.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol


class Priority(IntEnum):
    """Who goes first when the budget is short (lower is more urgent)."""

    ANNOUNCE = 0  # "Paid", new link cards, owner alerts: the reason the bot exists
    REPLY = 1  # answers to what a person just did, card edits
    COURTESY = 2  # refusals: only when there is room soon, else dropped


# Telegram's published limits: messages a second in all, a second to one private chat, a minute to one group.
TELEGRAM_LIMITS = (30, 1, 20)
# Margins under Telegram's figures, so that network jitter never turns a legal pace into a 429.
_GLOBAL_MARGIN = 2  # two under Telegram's 30: arrival jitter between replicas must not make 31
_PRIVATE_MARGIN = 0.05  # seconds added to a private chat's interval (1 s -> 1.05 s)
_GROUP_MARGIN = 0.1  # seconds added to a group's interval (3 s for 20 a minute -> 3.1 s)
# Of each second's slots, the share replies and courtesies may take, as at Telegram's 28 a second.
_REPLY_SHARE = (20, 28)
_COURTESY_SHARE = (4, 28)


@dataclass(frozen=True)
class Limits:
    """Telegram's limits, a little under its figures: network jitter must not turn a legal pace into a 429."""

    per_second: int = 28  # two under Telegram's 30: arrival jitter between replicas must not make 31
    private_interval: float = 1.05
    group_interval: float = 3.1  # 20 a minute
    reply_share: int = 20  # of each second's slots, how many replies may take
    courtesy_share: int = 4  # ... and how many courtesies may take
    courtesy_horizon: float = 5.0  # a courtesy that cannot go within this many seconds is dropped (a group waits 3.1 s)

    @classmethod
    def for_telegram(cls, per_second: int, private_per_second: int, group_per_minute: int) -> Limits:
        """The budget for these limits (TELEGRAM_SEND_LIMITS), with today's margins: (30, 1, 20) gives the defaults."""
        if min(per_second, private_per_second, group_per_minute) < 1:
            raise ValueError("every limit must be at least 1")
        slots = max(1, per_second - _GLOBAL_MARGIN)
        return cls(
            per_second=slots,
            private_interval=1 / private_per_second + _PRIVATE_MARGIN,
            group_interval=60 / group_per_minute + _GROUP_MARGIN,
            reply_share=max(1, slots * _REPLY_SHARE[0] // _REPLY_SHARE[1]),
            courtesy_share=max(1, slots * _COURTESY_SHARE[0] // _COURTESY_SHARE[1]),
        )

    def interval_for(self, chat_id: int) -> float:
        """Seconds between two messages to this chat (groups and channels have negative ids)."""
        return self.group_interval if chat_id < 0 else self.private_interval

    def allows(self, slot: int, priority: Priority) -> bool:
        """Whether a message of this priority may take this slot of the grid."""
        if priority == Priority.ANNOUNCE:
            return True
        share = self.reply_share if priority == Priority.REPLY else self.courtesy_share
        # The share's slots are spread evenly over the second, so the free ones in between are
        # never more than a few slots away for an announcement that comes after a flood.
        position = slot % self.per_second
        return (position * share) // self.per_second != ((position + 1) * share) // self.per_second


@dataclass
class SlotGrid:
    """The booking rules over a set of taken slots and each chat's next free moment (pure, no clock)."""

    limits: Limits = field(default_factory=Limits)
    taken: set[int] = field(default_factory=set)
    chat_next: dict[int, float] = field(default_factory=dict)
    paused_until: float = 0.0

    def book(self, chat_id: int, now: float, priority: Priority = Priority.ANNOUNCE) -> float | None:
        """Take the earliest slot this message may have and return its moment; None if a courtesy must wait too long."""
        limits = self.limits
        earliest = max(now, self.paused_until, self.chat_next.get(chat_id, 0.0))
        if priority == Priority.COURTESY and earliest - now > limits.courtesy_horizon:
            return None
        slot = math.ceil(earliest * limits.per_second - 1e-9)
        while slot in self.taken or not limits.allows(slot, priority):
            slot += 1
        moment = slot / limits.per_second
        if priority == Priority.COURTESY and moment - now > limits.courtesy_horizon:
            return None
        self.taken.add(slot)
        self.chat_next[chat_id] = moment + limits.interval_for(chat_id)
        return moment

    def release(self, chat_id: int, moment: float) -> None:
        """Give back a booked slot that will not be used."""
        self.taken.discard(round(moment * self.limits.per_second))
        if math.isclose(self.chat_next.get(chat_id, -1.0), moment + self.limits.interval_for(chat_id)):
            self.chat_next[chat_id] = moment

    def pause_chat(self, chat_id: int, until: float) -> None:
        """Telegram said 429 for this chat: nothing to it before ``until``."""
        self.chat_next[chat_id] = max(self.chat_next.get(chat_id, 0.0), until)

    def pause_all(self, until: float) -> None:
        """Telegram said 429 for the bot: nothing at all before ``until``."""
        self.paused_until = max(self.paused_until, until)

    def forget_before(self, now: float) -> None:
        """Drop slots and chat entries that are in the past (they can no longer matter)."""
        horizon = math.floor((now - 1.0) * self.limits.per_second)
        self.taken = {slot for slot in self.taken if slot >= horizon}
        self.chat_next = {chat: moment for chat, moment in self.chat_next.items() if moment > now}


@dataclass(frozen=True)
class Booking:
    """A message's place in the budget: how long until its slot, and whether the slot is held for it."""

    wait: float
    booked: bool


def book_within(grid: SlotGrid, chat_id: int, priority: Priority, now: float, horizon: float) -> Booking:
    """Book on the grid, but hold the slot only if it is within ``horizon`` seconds."""
    moment = grid.book(chat_id, now, priority)
    if moment is None:
        return Booking(grid.limits.courtesy_horizon, booked=False)
    if moment - now > horizon:
        # Undo at once, while this is the chat's latest booking: releasing later, out of
        # order, would leave the chat's next slot far ahead and every retry pushed further.
        grid.release(chat_id, moment)
        return Booking(moment - now, booked=False)
    return Booking(max(0.0, moment - now), booked=True)


class SendBudget(Protocol):
    """Where a message gets its moment to go: in memory for one process, in PostgreSQL for replicas."""

    async def book(self, chat_id: int, priority: Priority) -> float | None:
        """Book a slot; return how many seconds to wait for it (None: a courtesy that must not be sent)."""

    async def book_many(self, requests: list[tuple[int, Priority]], horizon: float) -> list[Booking]:
        """Book slots for several messages in order; a slot further than ``horizon`` seconds away is not held."""

    async def pause_all(self, seconds: float) -> None:
        """Telegram answered 429 for the bot: hold every message for ``seconds``."""

    async def pause_left(self) -> float:
        """Seconds until a bot-wide 429 pause ends; 0 when there is none."""


class LocalBudget:
    """The send budget of a process that is the bot's only sender (SQLite deployments, tests)."""

    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.grid = SlotGrid(limits or Limits())
        self._clock = clock
        self._bookings = 0

    def _now(self) -> float:
        return self._clock()

    async def book(self, chat_id: int, priority: Priority) -> float | None:
        """Book one slot; return the wait in seconds (None: drop this courtesy)."""
        now = self._now()
        self._tidy(now)
        moment = self.grid.book(chat_id, now, priority)
        return None if moment is None else max(0.0, moment - now)

    async def book_many(self, requests: list[tuple[int, Priority]], horizon: float) -> list[Booking]:
        """Book in order; a slot further away than ``horizon`` is given back at once (not held)."""
        now = self._now()
        self._tidy(now)
        return [book_within(self.grid, chat_id, priority, now, horizon) for chat_id, priority in requests]

    async def pause_all(self, seconds: float) -> None:
        """Hold everything for ``seconds`` (Telegram's retry_after)."""
        self.grid.pause_all(self._now() + seconds)

    async def pause_left(self) -> float:
        """Seconds left of a bot-wide pause."""
        return max(0.0, self.grid.paused_until - self._now())

    def _tidy(self, now: float) -> None:
        self._bookings += 1
        if self._bookings % 256 == 0:
            self.grid.forget_before(now)
