"""Reading history for reports and exports: counts and sums grouped in the database, links read in pages.

Amounts are exact text (see ``DecimalText``): PostgreSQL sums them cast to NUMERIC; SQLite, which
would sum them as floats, sums them as whole thousandths (exact integers). Nothing here
holds a month of a busy team in memory at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Float, Integer, Numeric, Row, and_, case, cast, func, or_, select, tuple_
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
class PaidSum:
    """Payments completed in a window that share something: their exact sum and how many."""

    total: Decimal
    count: int


@dataclass(frozen=True)
class PaidTotals:
    """Payments completed in a window, summed per currency and creator, and method, and local day."""

    by_person: dict[tuple[str, int], PaidSum]  # (currency, creator user id)
    names: dict[int, str]  # creator user id -> a name the links carry
    by_method: dict[tuple[str, str | None], PaidSum]  # method upper case, as PayerMax names it (None: not given)
    by_day: dict[tuple[str, date], PaidSum]  # day in the zone the window was asked in


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


async def paid_totals(
    session: AsyncSession, scope: Scope, start: datetime, end: datetime, zone: ZoneInfo
) -> PaidTotals:
    """Payments completed in [start, end) on links in scope, summed per person, per method and per local day.

    The database sums and groups them, so a busy month comes back as a few hundred rows. PostgreSQL
    casts the amounts to exact NUMERIC, finds the local days with its own time zone data and makes
    the three groupings in one pass (GROUPING SETS). SQLite has neither: it sums whole thousandths,
    in three queries, and groups days by quarter of an hour (UTC), which are put on local days here
    (every zone's offset is a whole number of quarter hours).
    """
    if session.get_bind().dialect.name == "postgresql":
        return await _paid_totals_in_sql(session, scope, start, end, zone)
    return await _paid_totals_by_quarter_hour(session, scope, start, end, zone)


def _paid_in(scope: Scope, start: datetime, end: datetime, *columns: Any) -> Any:
    """A select of ``columns`` over the payments completed in [start, end) on links in scope."""
    completed_at = col(Payment.completed_at)
    return scope.narrow(
        select(*columns)
        .select_from(Payment)
        .join(Link, col(Link.id) == col(Payment.link_id))
        .where(completed_at >= start, completed_at < end)
    )


# PayerMax amounts have at most 3 decimals and 12 integer digits: in thousandths they are integers
# below 2**53, so each converts exactly (REAL, then rounded) and SQLite sums them as exact integers.
_THOUSANDTHS = 1000
QUARTER = timedelta(minutes=15)


def _sum(thousandths: Any, count: Any) -> PaidSum:
    return PaidSum(Decimal(int(thousandths)) / _THOUSANDTHS, int(count))


async def _paid_totals_by_quarter_hour(
    session: AsyncSession, scope: Scope, start: datetime, end: datetime, zone: ZoneInfo
) -> PaidTotals:
    currency, creator = col(Payment.currency), col(Link.creator_user_id)
    method = func.upper(col(Payment.payment_method))
    thousandths = func.sum(cast(func.round(cast(col(Payment.amount), Float) * _THOUSANDTHS), Integer))
    # SQLite keeps these UTC times as text, "YYYY-MM-DD HH:MM:SS.ffffff".
    completed_at = col(Payment.completed_at)
    hour = func.substr(completed_at, 1, 13)
    quarter = cast(func.substr(completed_at, 15, 2), Integer) // 15

    people = _paid_in(scope, start, end, currency, creator, func.max(col(Link.creator_name)), thousandths, func.count())
    by_person: dict[tuple[str, int], PaidSum] = {}
    names: dict[int, str] = {}
    for code, user_id, name, total, count in (await session.execute(people.group_by(currency, creator))).all():
        by_person[(code, int(user_id))] = _sum(total, count)
        names[int(user_id)] = name or ""

    methods = _paid_in(scope, start, end, currency, method, thousandths, func.count()).group_by(currency, method)
    by_method = {
        (code, name): _sum(total, count) for code, name, total, count in (await session.execute(methods)).all()
    }

    quarters = _paid_in(scope, start, end, currency, hour, quarter, thousandths, func.count())
    by_day: dict[tuple[str, date], PaidSum] = {}
    for code, hour_text, quarter_index, total, count in (
        await session.execute(quarters.group_by(currency, hour, quarter))
    ).all():
        moment = datetime.strptime(hour_text, "%Y-%m-%d %H").replace(tzinfo=UTC) + quarter_index * QUARTER
        key = (code, moment.astimezone(zone).date())
        part, known = _sum(total, count), by_day.get(key)
        by_day[key] = part if known is None else PaidSum(known.total + part.total, known.count + part.count)
    return PaidTotals(by_person, names, by_method, by_day)


async def _paid_totals_in_sql(
    session: AsyncSession, scope: Scope, start: datetime, end: datetime, zone: ZoneInfo
) -> PaidTotals:
    currency, creator = col(Payment.currency), col(Link.creator_user_id)
    method = func.upper(col(Payment.payment_method))
    day = cast(func.timezone(zone.key, col(Payment.completed_at)), Date)
    # GROUPING() tells which set a row sums: a NULL method is a real group, not a missing column.
    creator_grouped = func.grouping(creator)
    method_grouped = func.grouping(method)
    statement = _paid_in(
        scope,
        start,
        end,
        currency,
        creator,
        func.max(col(Link.creator_name)),
        method,
        day,
        func.sum(cast(col(Payment.amount), Numeric)),
        func.count(),
        creator_grouped,
        method_grouped,
    ).group_by(func.grouping_sets(tuple_(currency, creator), tuple_(currency, method), tuple_(currency, day)))
    by_person: dict[tuple[str, int], PaidSum] = {}
    names: dict[int, str] = {}
    by_method: dict[tuple[str, str | None], PaidSum] = {}
    by_day: dict[tuple[str, date], PaidSum] = {}
    for code, user_id, name, method_name, local_day, total, count, no_creator, no_method in (
        await session.execute(statement)
    ).all():
        paid = PaidSum(Decimal(total), int(count))
        if not no_creator:
            by_person[(code, int(user_id))] = paid
            names[int(user_id)] = name or ""
        elif not no_method:
            by_method[(code, method_name)] = paid
        else:
            by_day[(code, local_day)] = paid
    return PaidTotals(by_person, names, by_method, by_day)


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
