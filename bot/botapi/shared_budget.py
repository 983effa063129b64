"""The send budget kept in PostgreSQL, so that replicas together stay within the bot's Telegram limits.

Telegram's limits are per bot, not per process: two replicas pacing themselves separately could
send 58 messages a second between them. Here the slot grid of :mod:`bot.botapi.budget` lives in
two tables (booked slots, and each chat's next free moment; chat 0 holds a bot-wide 429 pause).
A booking takes a transaction-scoped advisory lock, reads the grid around now on the database's
clock, books with the same rules as :class:`~bot.botapi.budget.SlotGrid`, and writes what changed.
Waits are measured on the database's clock too, so replicas whose clocks differ still agree.
Every replica must be given the same limits (TELEGRAM_SEND_LIMITS): a slot is stored as its
number on the grid, which means a moment only at one ``per_second``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import delete, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.botapi.budget import Booking, Limits, Priority, SlotGrid, book_within
from storage.db import read_session
from storage.models import SendChatPace, SendSlot, table_of

BOT_WIDE = 0  # the send_chat_pace row that holds a pause for the whole bot (no chat has id 0)
LOCK_KEY = 0x7061796C696E6B  # pg_advisory_xact_lock key of the send budget ("paylink")
PRUNE_EVERY = 200  # bookings between two clean-ups of slots and chats in the past
FOREVER = float("inf")


class SharedBudget:
    """The bot-wide send budget for replicas sharing one PostgreSQL database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], limits: Limits | None = None) -> None:
        self._sessions = sessions
        self.limits = limits or Limits()
        self._bookings = 0

    async def book(self, chat_id: int, priority: Priority) -> float | None:
        """Book one slot; return the wait in seconds (None: a courtesy that must not be sent)."""
        [booking] = await self._book([(chat_id, priority)], horizon=FOREVER)
        if not booking.booked:
            return None  # only a courtesy with no slot soon comes back unbooked without a horizon
        return booking.wait

    async def book_many(self, requests: list[tuple[int, Priority]], horizon: float) -> list[Booking]:
        """Book in order; a slot further away than ``horizon`` is not held."""
        if not requests:
            return []
        return await self._book(requests, horizon)

    async def pause_all(self, seconds: float) -> None:
        """Hold every replica's messages for ``seconds`` (Telegram's retry_after)."""
        async with self._sessions() as session, session.begin():
            await self._lock(session)
            now = await _database_now(session)
            await _save_paces(session, {BOT_WIDE: now + seconds}, keep_later=True)

    async def pause_left(self) -> float:
        """Seconds left of a bot-wide pause (0 when there is none)."""
        async with read_session(self._sessions) as session:
            now = await _database_now(session)
            until = await session.scalar(select(col(SendChatPace.next_at)).where(col(SendChatPace.chat_id) == BOT_WIDE))
        return max(0.0, (until or 0.0) - now)

    async def _book(self, requests: Sequence[tuple[int, Priority]], horizon: float) -> list[Booking]:
        async with self._sessions() as session, session.begin():
            await self._lock(session)
            now = await _database_now(session)
            grid = await self._load_grid(session, now, {chat_id for chat_id, _ in requests})
            paces_before = dict(grid.chat_next)
            bookings = [book_within(grid, chat_id, priority, now, horizon) for chat_id, priority in requests]
            held = [
                {"slot": round((now + booking.wait) * self.limits.per_second), "chat_id": chat_id}
                for (chat_id, _priority), booking in zip(requests, bookings, strict=True)
                if booking.booked
            ]
            if held:
                await session.execute(postgresql.insert(table_of(SendSlot)).on_conflict_do_nothing(), held)
            changed = {chat: moment for chat, moment in grid.chat_next.items() if paces_before.get(chat) != moment}
            await _save_paces(session, changed, keep_later=False)
            self._bookings += 1
            if self._bookings % PRUNE_EVERY == 0:
                await self._prune(session, now)
        return bookings

    async def _load_grid(self, session: AsyncSession, now: float, chats: set[int]) -> SlotGrid:
        """The part of the grid that can matter from now on: future slots, these chats' paces, the pause."""
        first = math.floor(now * self.limits.per_second)
        slots = (await session.scalars(select(col(SendSlot.slot)).where(col(SendSlot.slot) >= first))).all()
        paces = (
            await session.execute(
                select(col(SendChatPace.chat_id), col(SendChatPace.next_at)).where(
                    col(SendChatPace.chat_id).in_([*chats, BOT_WIDE])
                )
            )
        ).all()
        chat_next = {row.chat_id: row.next_at for row in paces if row.chat_id != BOT_WIDE}
        paused_until = next((row.next_at for row in paces if row.chat_id == BOT_WIDE), 0.0)
        return SlotGrid(self.limits, taken=set(slots), chat_next=chat_next, paused_until=paused_until)

    async def _prune(self, session: AsyncSession, now: float) -> None:
        """Forget slots and chat paces that are in the past (the pause row stays)."""
        horizon = math.floor((now - 5.0) * self.limits.per_second)
        await session.execute(delete(SendSlot).where(col(SendSlot.slot) < horizon))
        await session.execute(
            delete(SendChatPace).where(col(SendChatPace.next_at) < now - 60.0, col(SendChatPace.chat_id) != BOT_WIDE)
        )

    @staticmethod
    async def _lock(session: AsyncSession) -> None:
        """Serialise bookings across replicas until this transaction ends."""
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


async def _database_now(session: AsyncSession) -> float:
    """Now on the database's clock, in epoch seconds (every replica reads the same clock)."""
    return float(await session.scalar(text("SELECT extract(epoch from clock_timestamp())")) or 0.0)


async def _save_paces(session: AsyncSession, paces: dict[int, float], *, keep_later: bool) -> None:
    """Store chats' next free moments; with ``keep_later`` a later moment already stored stays."""
    if not paces:
        return
    table = table_of(SendChatPace)
    insert = postgresql.insert(table)
    next_at = text("GREATEST(send_chat_pace.next_at, excluded.next_at)") if keep_later else insert.excluded.next_at
    await session.execute(
        insert.on_conflict_do_update(index_elements=[table.c.chat_id], set_={"next_at": next_at}),
        [{"chat_id": chat, "next_at": moment} for chat, moment in paces.items()],
    )
