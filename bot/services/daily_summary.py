"""The daily summary: once a day, at the local time a chat chose in /settings, its report goes out.

Run by the reconciler on the replica holding its lease, each round. A chat's summary is due once
its chosen moment has passed today (in the chat's zone), if the time was chosen before that
moment; it is queued in the outbox under ``summary:<chat>:<local date>``, so a second replica, a
restart or the next round finds it there and queues nothing. A bot that was down at the chosen
time sends it when it is back, the same day; a day it was down throughout gets none.

What a summary covers: chosen before noon, yesterday (the whole day is over); from noon on, the
day so far. A group's summary counts that group's links; a private chat's counts what its person
may see (an owner or admin: the whole team's). It is written when it is sent (see
``bot.announcements``), under the chat's reader.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.i18n.clock import zone
from bot.services.access import PERMISSIONS, AccessService, Action
from bot.services.chat_defaults import ChatDefaultsService
from bot.services.link_access import LinkAccess, LinkScope
from bot.services.periods import Period, PeriodKind, relative
from storage import repo
from storage.db import read_session
from storage.models import Chat, OutboxKind, OutboxMessage

log = logging.getLogger("paylink.summary")

NOON = 12 * 60  # a summary chosen before this covers yesterday; from it on, the day so far


class SummaryPayload(TypedDict):
    """A queued summary: its period and whose links it counts (decided when it was queued)."""

    kind: str  # PeriodKind: today or yesterday
    first: str  # ISO dates, the chat's calendar
    last: str
    user_id: int
    all_links: bool
    chat_id: int | None


def dedupe_key(chat_id: int, day: date) -> str:
    """The outbox key that makes a chat's summary once a day."""
    return f"summary:{chat_id}:{day.isoformat()}"


def summary_period(minute: int, day: date) -> Period:
    """What a summary sent at ``minute`` on ``day`` covers: yesterday before noon, the day so far after."""
    return relative(PeriodKind.YESTERDAY if minute < NOON else PeriodKind.TODAY, day)


def due_day(now: datetime, zone_name: str, minute: int, chosen_at: datetime | None) -> date | None:
    """The chat's today if its summary is due now (its moment passed today, after it was chosen); else None."""
    local = now.astimezone(zone(zone_name))
    moment = datetime.combine(local.date(), time(minute // 60, minute % 60), tzinfo=local.tzinfo).astimezone(UTC)
    if now < moment or (chosen_at is not None and chosen_at > moment):
        return None
    return local.date()


def scope_of(payload: SummaryPayload) -> LinkScope:
    """The links a queued summary counts."""
    return LinkScope(payload["user_id"], payload["all_links"], payload["chat_id"])


def period_of(payload: SummaryPayload) -> Period:
    """The period a queued summary covers."""
    return Period(
        PeriodKind(payload["kind"]), date.fromisoformat(payload["first"]), date.fromisoformat(payload["last"])
    )


class DailySummaries:
    """Queues each chat's summary when it is due."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        chat_defaults: ChatDefaultsService,
        access: AccessService,
        *,
        on_enqueued: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._chats = chat_defaults
        self._access = access
        self._link_access = LinkAccess(access)
        self._on_enqueued = on_enqueued

    async def queue_due(self, now: datetime) -> int:
        """Queue every summary due now and not queued yet today; return how many were queued."""
        async with read_session(self._sessions) as session:
            statement = select(Chat).where(col(Chat.daily_summary_minute).is_not(None))
            chats = list((await session.execute(statement)).scalars())
        queued = 0
        for chat in chats:
            minute = chat.daily_summary_minute
            assert minute is not None
            day = due_day(now, self._chats.merge(chat).timezone, minute, chat.daily_summary_set_at)
            if day is None or await self._queued(chat.id, day):
                continue
            scope = await self._scope(chat.id)
            if scope is None:
                log.info("daily summary skipped: the person may no longer see reports", extra={"chat": chat.id})
                continue
            if await self._queue(chat.id, day, summary_period(minute, day), scope):
                queued += 1
        if queued:
            self._on_enqueued()
        return queued

    async def _queued(self, chat_id: int, day: date) -> bool:
        async with read_session(self._sessions) as session:
            statement = select(col(OutboxMessage.id)).where(col(OutboxMessage.dedupe_key) == dedupe_key(chat_id, day))
            return (await session.execute(statement)).first() is not None

    async def _scope(self, chat_id: int) -> LinkScope | None:
        """A group's summary counts the group's links; a private chat's, what its person may see (None: nothing)."""
        if chat_id < 0:
            return LinkScope(0, all_links=True, chat_id=chat_id)
        role = await self._access.role_of(chat_id)
        if role is None or Action.VIEW_REPORTS not in PERMISSIONS[role]:
            return None
        return await self._link_access.scope_for(chat_id)

    async def _queue(self, chat_id: int, day: date, period: Period, scope: LinkScope) -> bool:
        payload: SummaryPayload = {
            "kind": period.kind.value,
            "first": period.first.isoformat(),
            "last": period.last.isoformat(),
            "user_id": scope.user_id,
            "all_links": scope.all_links,
            "chat_id": scope.chat_id,
        }
        async with self._sessions() as session, session.begin():
            added = await repo.enqueue(
                session,
                dedupe_key=dedupe_key(chat_id, day),
                kind=OutboxKind.DAILY_SUMMARY,
                chat_id=chat_id,
                payload=dict(payload),
            )
        if added:
            log.info("daily summary queued for %s", day, extra={"chat": chat_id})
        return added
