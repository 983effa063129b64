"""Reading history for reports and exports: counts and sums grouped in the database, links read in pages.

Amounts are exact text (see ``DecimalText``): PostgreSQL sums them cast to NUMERIC; on SQLite,
which would sum them as floats, they are streamed (``yield_per``) and summed in Python. Nothing
here holds a month of a busy team in memory at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Float, Integer, Numeric, Row, and_, case, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Chat, Link, LinkStatus, Payment

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
class PaidGroup:
    """Payments completed in a window with one currency, link creator, method and local day: their sum and count."""

    currency: str
    creator_user_id: int
    creator_name: str
    payment_method: str | None  # upper case, as PayerMax names it (None: not given)
    day: date  # in the zone the window was asked in
    total: Decimal
    count: int


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


async def paid_groups(
    session: AsyncSession, scope: Scope, start: datetime, end: datetime, zone: ZoneInfo
) -> list[PaidGroup]:
    """Payments completed in [start, end) on links in scope, summed per currency, creator, method and local day.

    The database sums and groups them, so a busy month comes back as a few hundred rows. PostgreSQL
    casts the amounts to exact NUMERIC and finds the local days with its own time zone data. SQLite
    has neither: it sums whole thousandths and groups by quarter of an hour (UTC), and the quarters
    are put on local days here (every zone's offset is a whole number of quarter hours).
    """
    if session.get_bind().dialect.name == "postgresql":
        return await _paid_groups_in_sql(session, scope, start, end, zone)
    return await _paid_groups_by_quarter_hour(session, scope, start, end, zone)


# PayerMax amounts have at most 3 decimals and 12 integer digits: in thousandths they are integers
# below 2**53, so each converts exactly (REAL, then rounded) and SQLite sums them as exact integers.
_THOUSANDTHS = 1000
QUARTER = timedelta(minutes=15)


async def _paid_groups_by_quarter_hour(
    session: AsyncSession, scope: Scope, start: datetime, end: datetime, zone: ZoneInfo
) -> list[PaidGroup]:
    completed_at = col(Payment.completed_at)
    method = func.upper(col(Payment.payment_method))
    # SQLite keeps these UTC times as text, "YYYY-MM-DD HH:MM:SS.ffffff".
    hour = func.substr(completed_at, 1, 13)
    quarter = cast(func.substr(completed_at, 15, 2), Integer) // 15
    thousandths = func.sum(cast(func.round(cast(col(Payment.amount), Float) * _THOUSANDTHS), Integer))
    statement = scope.narrow(
        select(
            col(Payment.currency),
            col(Link.creator_user_id),
            func.max(col(Link.creator_name)),
            method,
            hour,
            quarter,
            thousandths,
            func.count(),
        )
        .join(Link, col(Link.id) == col(Payment.link_id))
        .where(completed_at >= start, completed_at < end)
        .group_by(col(Payment.currency), col(Link.creator_user_id), method, hour, quarter)
    )
    groups: dict[tuple[str, int, str | None, date], PaidGroup] = {}
    for currency, creator, name, method_name, hour_text, quarter_index, total, count in (
        await session.execute(statement)
    ).all():
        moment = datetime.strptime(hour_text, "%Y-%m-%d %H").replace(tzinfo=UTC) + quarter_index * QUARTER
        key = (currency, int(creator), method_name, moment.astimezone(zone).date())
        amount = Decimal(int(total)) / _THOUSANDTHS
        known = groups.get(key)
        groups[key] = (
            PaidGroup(currency, key[1], name or "", method_name, key[3], amount, int(count))
            if known is None
            else replace(known, total=known.total + amount, count=known.count + int(count))
        )
    return list(groups.values())


async def _paid_groups_in_sql(
    session: AsyncSession, scope: Scope, start: datetime, end: datetime, zone: ZoneInfo
) -> list[PaidGroup]:
    completed_at = col(Payment.completed_at)
    method = func.upper(col(Payment.payment_method))
    day = cast(func.timezone(zone.key, completed_at), Date)
    statement = scope.narrow(
        select(
            col(Payment.currency),
            col(Link.creator_user_id),
            func.max(col(Link.creator_name)),
            method,
            day,
            func.sum(cast(col(Payment.amount), Numeric)),
            func.count(),
        )
        .join(Link, col(Link.id) == col(Payment.link_id))
        .where(completed_at >= start, completed_at < end)
        .group_by(col(Payment.currency), col(Link.creator_user_id), method, day)
    )
    rows = (await session.execute(statement)).all()
    return [
        PaidGroup(currency, int(creator), name or "", method_name, local_day, Decimal(total), int(count))
        for currency, creator, name, method_name, local_day, total, count in rows
    ]


# What an export row shows of a link and of its payments: plain rows, not ORM objects (a third of the time).
LINK_COLUMNS = (
    "id",
    "merchant_link_id",
    "payermax_link_id",
    "status",
    "amount",
    "currency",
    "description",
    "created_at",
    "expires_at",
    "paid_at",
    "creator_user_id",
    "creator_name",
    "chat_id",
)
PAYMENT_COLUMNS = (
    "link_id",
    "out_trade_no",
    "status",
    "amount",
    "currency",
    "payment_method",
    "card_org",
    "card_number",
    "completed_at",
)


async def links_made_page(
    session: AsyncSession,
    scope: Scope,
    start: datetime,
    end: datetime,
    *,
    after: tuple[datetime, int] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """The next ``limit`` links made in [start, end), oldest first, after the (created_at, id) given (keyset paging).

    Each row has the LINK_COLUMNS, by name.
    """
    table = Link.__table__.c  # type: ignore[attr-defined]
    created_at, link_id = table.created_at, table.id
    statement = scope.narrow(
        select(*(table[name] for name in LINK_COLUMNS)).where(
            created_at >= start, created_at < end, table.status.not_in(NOT_MADE)
        )
    )
    if after is not None:
        last_created, last_id = after
        # ">=" first, so the created_at index starts the scan at the page's first link, not at the period's.
        statement = statement.where(created_at >= last_created, or_(created_at > last_created, link_id > last_id))
    statement = statement.order_by(created_at, link_id).limit(limit)
    return (await session.execute(statement)).all()


async def payments_of_links(session: AsyncSession, link_ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
    """The payments of each of these links (PAYMENT_COLUMNS, by name), oldest first; links without any are left out."""
    if not link_ids:
        return {}
    table = Payment.__table__.c  # type: ignore[attr-defined]
    statement = (
        select(*(table[name] for name in PAYMENT_COLUMNS))
        .where(table.link_id.in_(list(link_ids)))
        .order_by(table.link_id, table.id)
    )
    grouped: dict[int, list[Row[Any]]] = {}
    for payment in (await session.execute(statement)).all():
        grouped.setdefault(payment.link_id, []).append(payment)
    return grouped


async def chat_titles(session: AsyncSession, chat_ids: Sequence[int]) -> dict[int, str]:
    """The titles of these chats as last seen (private chats and unknown ones have none)."""
    if not chat_ids:
        return {}
    statement = select(col(Chat.id), col(Chat.title)).where(col(Chat.id).in_(list(chat_ids)))
    return {int(chat_id): title or "" for chat_id, title in (await session.execute(statement)).all()}
