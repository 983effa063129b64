"""Reading history for reports and exports: counts grouped in the database, payments and links streamed.

Amounts are exact text (see ``DecimalText``), so they are summed by the caller, never by SQL; rows
are streamed (``yield_per``) so a month of a busy team is never held in memory at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Chat, Link, LinkStatus, Payment

STREAM_BATCH = 1000
# Links that PayerMax never made are not "made": a refused create, or one still being asked for.
NOT_MADE = (LinkStatus.CREATING, LinkStatus.FAILED)


@dataclass(frozen=True)
class Scope:
    """Which links count: one chat's and/or one creator's (None: no narrowing)."""

    chat_id: int | None = None
    creator_user_id: int | None = None

    def narrow(self, statement: Any) -> Any:
        """Add this scope's conditions on ``links`` to a statement."""
        if self.chat_id is not None:
            statement = statement.where(col(Link.chat_id) == self.chat_id)
        if self.creator_user_id is not None:
            statement = statement.where(col(Link.creator_user_id) == self.creator_user_id)
        return statement


@dataclass(frozen=True)
class MadeByCreator:
    """Links one person made in a window, and how many of those are paid now."""

    creator_user_id: int
    creator_name: str
    made: int
    paid: int


@dataclass(frozen=True)
class PaidRow:
    """One payment completed in a window, with who made its link."""

    amount: Decimal
    currency: str
    completed_at: datetime
    payment_method: str | None
    creator_user_id: int
    creator_name: str


async def made_by_creator(session: AsyncSession, scope: Scope, start: datetime, end: datetime) -> list[MadeByCreator]:
    """Per creator: links made in [start, end) and how many of them are PAID."""
    paid = func.sum(case((col(Link.status) == LinkStatus.PAID, 1), else_=0))
    statement = scope.narrow(
        select(col(Link.creator_user_id), func.max(col(Link.creator_name)), func.count(), paid)
        .where(col(Link.created_at) >= start, col(Link.created_at) < end, col(Link.status).not_in(NOT_MADE))
        .group_by(col(Link.creator_user_id))
    )
    rows = (await session.execute(statement)).all()
    return [MadeByCreator(int(user), name or "", int(made), int(paid or 0)) for user, name, made, paid in rows]


async def ended_in(session: AsyncSession, scope: Scope, start: datetime, end: datetime) -> dict[LinkStatus, int]:
    """How many links expired (at their expiry time) and were cancelled in [start, end)."""
    status, updated_at = col(Link.status), col(Link.updated_at)
    expired_at = func.coalesce(col(Link.expires_at), updated_at)
    statement = scope.narrow(
        select(status, func.count())
        .where(
            or_(
                and_(status == LinkStatus.EXPIRED, expired_at >= start, expired_at < end),
                and_(status == LinkStatus.CANCELLED, updated_at >= start, updated_at < end),
            )
        )
        .group_by(status)
    )
    return {LinkStatus(status): int(count) for status, count in (await session.execute(statement)).all()}


async def paid_in(session: AsyncSession, scope: Scope, start: datetime, end: datetime) -> AsyncIterator[PaidRow]:
    """Every payment completed in [start, end) on links in scope, streamed in no particular order."""
    completed_at = col(Payment.completed_at)
    statement = scope.narrow(
        select(
            col(Payment.amount),
            col(Payment.currency),
            completed_at,
            col(Payment.payment_method),
            col(Link.creator_user_id),
            col(Link.creator_name),
        )
        .join(Link, col(Link.id) == col(Payment.link_id))
        .where(completed_at >= start, completed_at < end)
    ).execution_options(yield_per=STREAM_BATCH)
    result = await session.stream(statement)
    async for amount, currency, completed, method, creator, name in result:
        yield PaidRow(amount, currency, completed, method, int(creator), name or "")


async def links_made_page(
    session: AsyncSession,
    scope: Scope,
    start: datetime,
    end: datetime,
    *,
    after: tuple[datetime, int] | None,
    limit: int,
) -> Sequence[Link]:
    """The next ``limit`` links made in [start, end), oldest first, after the (created_at, id) given (keyset paging)."""
    created_at, link_id = col(Link.created_at), col(Link.id)
    statement = scope.narrow(
        select(Link).where(created_at >= start, created_at < end, col(Link.status).not_in(NOT_MADE))
    )
    if after is not None:
        last_created, last_id = after
        statement = statement.where(or_(created_at > last_created, and_(created_at == last_created, link_id > last_id)))
    statement = statement.order_by(created_at, link_id).limit(limit)
    return (await session.execute(statement)).scalars().all()


async def payments_of_links(session: AsyncSession, link_ids: Sequence[int]) -> dict[int, list[Payment]]:
    """The payments of each of these links, oldest first (links without any are left out)."""
    if not link_ids:
        return {}
    statement = (
        select(Payment).where(col(Payment.link_id).in_(list(link_ids))).order_by(col(Payment.link_id), col(Payment.id))
    )
    grouped: dict[int, list[Payment]] = {}
    for payment in (await session.execute(statement)).scalars():
        grouped.setdefault(payment.link_id, []).append(payment)
    return grouped


async def chat_titles(session: AsyncSession, chat_ids: Sequence[int]) -> dict[int, str]:
    """The titles of these chats as last seen (private chats and unknown ones have none)."""
    if not chat_ids:
        return {}
    statement = select(col(Chat.id), col(Chat.title)).where(col(Chat.id).in_(list(chat_ids)))
    return {int(chat_id): title or "" for chat_id, title in (await session.execute(statement)).all()}
