"""The payments feed: one group that hears of every payment (and refund) of the team, once each.

An owner names the group in its /settings. An event's feed message is written in the same
transaction as the event's other messages, under a dedupe key per event, so a payment reported
twice is posted once; the link's own chat and its creator still get their messages as before.
A link made in the feed group itself is already announced there, so it gets no second post.

:func:`post_to_feed` is the one call for an event written through a session (refunds, failed
refunds); the group commit of notifications builds the same message with :func:`feed_entry`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.actors import Actor
from bot.services.chat_defaults import ChatRef
from storage import bulk, repo
from storage.db import read_session
from storage.details import DetailKind, detail
from storage.models import AuditAction, Link, OutboxKind, utcnow

log = logging.getLogger("paylink.feed")

AUDIT_SUBJECT = "payments feed"


class FeedEvent(StrEnum):
    """What a feed message reports."""

    PAID = "paid"
    REFUNDED = "refunded"
    REFUND_FAILED = "refund_failed"


def feed_entry(
    feed_chat_id: int | None,
    *,
    link_id: int,
    link_chat_id: int,
    event: FeedEvent,
    reference: str,
    details: dict[str, Any] | None = None,
) -> bulk.OutboxEntry | None:
    """The feed's outbox message for an event on a link; None without a feed, or when the link's own chat is the feed.

    ``reference`` names the event among the link's others (the payment's outTradeNo, the refund's
    outRefundNo): it makes the dedupe key, so the same event is posted once however often it is written.
    """
    if feed_chat_id is None or feed_chat_id == link_chat_id:
        return None
    return {
        "dedupe_key": f"feed:{event.value}:{link_id}:{reference}"[:128],
        "kind": OutboxKind.FEED,
        "chat_id": feed_chat_id,
        "link_id": link_id,
        "payload": {"event": event.value, "reference": reference, **(details or {})},
    }


async def post_to_feed(
    session: AsyncSession,
    link: Link,
    event: FeedEvent,
    *,
    reference: str,
    amount: Decimal | None = None,
    currency: str | None = None,
    payment_id: int | None = None,
) -> bool:
    """Queue the payments feed's message for this event, in the caller's transaction; tell whether one was queued.

    For a refund or a failed refund give its ``amount`` and ``currency`` (the link's are assumed
    otherwise) and its outRefundNo as ``reference``; for a payment, the payment's id and outTradeNo.
    Nothing is queued without a feed, for a link made in the feed group, or twice for one event.
    """
    assert link.id is not None
    details: dict[str, Any] = {}
    if amount is not None:
        details["amount"] = format(amount, "f")
    if currency is not None:
        details["currency"] = currency
    if payment_id is not None:
        details["payment_id"] = payment_id
    entry = feed_entry(
        await repo.feed_chat_id(session),
        link_id=link.id,
        link_chat_id=link.chat_id,
        event=event,
        reference=reference,
        details=details,
    )
    return entry is not None and await repo.enqueue(session, **entry)


@dataclass(frozen=True)
class FeedChat:
    """The group named as the payments feed."""

    chat_id: int
    title: str | None


class PaymentsFeed:
    """Which group is the payments feed, and naming or stopping it (audited)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def current(self) -> FeedChat | None:
        """The feed group, if one is named."""
        async with read_session(self._sessions) as session:
            chat_id = await repo.feed_chat_id(session)
            chat = await repo.get_chat(session, chat_id) if chat_id is not None else None
        if chat_id is None:
            return None
        return FeedChat(chat_id, chat.title if chat is not None else None)

    async def use(self, actor: Actor, chat: ChatRef) -> None:
        """Make this group the payments feed (in place of any other)."""
        async with self._sessions() as session, session.begin():
            await repo.upsert_chat(session, chat.id, chat.type, chat.title)
            before = await repo.set_feed_chat(session, chat.id, now=utcnow())
            if before != chat.id:
                await self._audit(session, actor, chat, before, chat.id)
        log.info("payments feed named", extra={"chat": chat.id, "user": actor.user_id})

    async def stop(self, actor: Actor, chat: ChatRef) -> bool:
        """Stop the payments feed if this group is it; False (nothing changed) if it is not."""
        async with self._sessions() as session, session.begin():
            if await repo.feed_chat_id(session, for_update=True) != chat.id:
                return False
            await repo.set_feed_chat(session, None, now=utcnow())
            await self._audit(session, actor, chat, chat.id, None)
        log.info("payments feed stopped", extra={"chat": chat.id, "user": actor.user_id})
        return True

    async def _audit(
        self, session: AsyncSession, actor: Actor, chat: ChatRef, before: int | None, after: int | None
    ) -> None:
        await repo.audit(
            session,
            actor_user_id=actor.user_id,
            actor_name=actor.name,
            chat_id=chat.id,
            action=AuditAction.SETTINGS,
            subject=AUDIT_SUBJECT,
            detail=detail(DetailKind.SETTING, old=before, new=after),
        )
