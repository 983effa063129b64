"""A period's figures for /report and the daily summary: links made, paid, expired, cancelled, money per currency.

Telegram-free. "Made" counts links PayerMax made in the period; "paid" counts payments completed
in it (so today's report agrees with /links' "Paid today"); conversion is the share of the links
made in the period that are paid now. Every day is a day of the chat's calendar.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.link_access import LinkScope
from bot.services.periods import Period
from storage import reporting
from storage.db import read_session
from storage.models import LinkStatus
from storage.refund_facts import refund_facts


@dataclass
class Takings:
    """Money per currency and how many payments (or refunds) made it up, in currency code order when read."""

    totals: dict[str, Decimal] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, currency: str, amount: Decimal, count: int = 1) -> None:
        """Count in one payment (or refund), or ``count`` of them adding up to ``amount``."""
        self.totals[currency] = self.totals.get(currency, Decimal(0)) + amount
        self.counts[currency] = self.counts.get(currency, 0) + count

    @property
    def count(self) -> int:
        """How many, in every currency."""
        return sum(self.counts.values())

    def by_currency(self) -> list[tuple[str, Decimal, int]]:
        """(currency, total, count), in currency code order."""
        return [(code, self.totals[code], self.counts[code]) for code in sorted(self.totals)]


@dataclass(frozen=True)
class PersonFigures:
    """One creator's part of the period."""

    user_id: int
    name: str
    made: int
    paid: Takings


@dataclass(frozen=True)
class MethodFigures:
    """What one payment method brought in (None: PayerMax did not say)."""

    method: str | None
    paid: Takings


@dataclass(frozen=True)
class Report:
    """Everything /report shows about a period, in the reader's scope."""

    period: Period
    made: int
    made_paid: int  # of the links made in the period, how many are paid now
    expired: int
    cancelled: int
    paid: Takings
    refunded: Takings
    people: list[PersonFigures]  # most money first (by payments, then links made)
    methods: list[MethodFigures]  # most payments first
    daily: dict[str, dict[date, Decimal]]  # currency -> local day -> paid that day

    @property
    def conversion(self) -> Fraction | None:
        """Paid over made, for the links made in the period (None when none were made)."""
        return Fraction(self.made_paid, self.made) if self.made else None

    @property
    def is_empty(self) -> bool:
        """Nothing happened in the period."""
        return not (self.made or self.expired or self.cancelled or self.paid.count or self.refunded.count)


def storage_scope(scope: LinkScope) -> reporting.Scope:
    """The links a person's view covers, as the storage queries narrow them."""
    return reporting.Scope(chat_id=scope.chat_id, creator_user_id=scope.creator_user_id)


class ReportService:
    """Builds reports from the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def build(self, scope: LinkScope, period: Period, zone: ZoneInfo) -> Report:
        """The period's figures for the links in scope, with days in ``zone``."""
        where = storage_scope(scope)
        start, end = period.window(zone)
        async with read_session(self._sessions) as session:
            made = await reporting.made_by_creator(session, where, start, end)
            ended = await reporting.ended_in(session, where, start, end)
            totals = await reporting.paid_totals(session, where, start, end, zone)
            refunded = await _refunded(session, where, start, end)
        paid = Takings()
        by_person: dict[int, Takings] = defaultdict(Takings)
        for (currency, user_id), part in totals.by_person.items():
            paid.add(currency, part.total, part.count)
            by_person[user_id].add(currency, part.total, part.count)
        by_method: dict[str | None, Takings] = defaultdict(Takings)
        for (currency, method), part in totals.by_method.items():
            by_method[method].add(currency, part.total, part.count)
        daily: dict[str, dict[date, Decimal]] = defaultdict(dict)
        for (currency, day), part in totals.by_day.items():
            daily[currency][day] = part.total
        made_by = {entry.creator_user_id: entry for entry in made}
        people = [
            PersonFigures(
                user_id,
                made_by[user_id].creator_name if user_id in made_by else totals.names.get(user_id, ""),
                made_by[user_id].made if user_id in made_by else 0,
                by_person.get(user_id, Takings()),
            )
            for user_id in made_by.keys() | by_person.keys()
        ]
        people.sort(key=lambda person: (-person.paid.count, -person.made, person.name, person.user_id))
        methods = [MethodFigures(method, takings) for method, takings in by_method.items()]
        methods.sort(key=lambda entry: (-entry.paid.count, entry.method or "~"))
        return Report(
            period=period,
            made=sum(entry.made for entry in made),
            made_paid=sum(entry.paid for entry in made),
            expired=ended.get(LinkStatus.EXPIRED, 0),
            cancelled=ended.get(LinkStatus.CANCELLED, 0),
            paid=paid,
            refunded=refunded,
            people=people,
            methods=methods,
            daily=dict(daily),
        )


async def _refunded(session: AsyncSession, where: reporting.Scope, start: datetime, end: datetime) -> Takings:
    """Refunds that went back to customers in the window (through the refunds seam)."""
    refunded = Takings()
    facts = await refund_facts(
        session,
        chat_id=where.chat_id,
        creator_user_id=where.creator_user_id,
        refunded_from=start,
        refunded_before=end,
    )
    for fact in facts:
        if fact.counts_as_refunded:
            refunded.add(fact.currency, fact.amount)
    return refunded
