"""The one query reports, the daily summary and /export read refunds through.

``/report`` shows "Refunded" totals per currency from the facts with ``counts_as_refunded``;
``/export`` fills each link's refund columns. Proposals nobody confirmed (PROPOSED, DISCARDED)
never reached PayerMax and are not refunds: they are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Link, Refund, RefundStatus

# Refunds that were sent to PayerMax (or settled): what an export lists.
SENT = (RefundStatus.REQUESTING, RefundStatus.PENDING, RefundStatus.SUCCESS, RefundStatus.FAILED, RefundStatus.REFUSED)


@dataclass(frozen=True)
class RefundFact:
    """One refund of a link's payment, as reports and exports show it."""

    link_id: int
    refund_no: str  # our outRefundNo
    amount: Decimal
    currency: str
    status: str  # as stored: REQUESTING, PENDING, SUCCESS, FAILED or REFUSED
    counts_as_refunded: bool  # the money went back to the customer: counted in "Refunded" totals
    refunded_at: datetime | None  # when it succeeded (None while pending, or if it failed)
    created_at: datetime


async def refund_facts(
    session: AsyncSession,
    *,
    chat_id: int | None = None,
    creator_user_id: int | None = None,
    refunded_from: datetime | None = None,
    refunded_before: datetime | None = None,
    link_ids: Sequence[int] | None = None,
) -> list[RefundFact]:
    """Refunds of links in scope (one chat's and/or one creator's; None: no narrowing), in one of two shapes:

    - with ``refunded_from``/``refunded_before``: refunds that succeeded in [from, before), for a report's totals;
    - with ``link_ids``: every refund (any status, any time) of these links, oldest first, for an export page.
    """
    statement = select(Refund).join(Link, col(Link.id) == col(Refund.link_id))
    if chat_id is not None:
        statement = statement.where(col(Link.chat_id) == chat_id)
    if creator_user_id is not None:
        statement = statement.where(col(Link.creator_user_id) == creator_user_id)
    if link_ids is not None:
        statement = statement.where(col(Refund.link_id).in_(list(link_ids)), col(Refund.status).in_(SENT))
    else:
        statement = statement.where(col(Refund.status) == RefundStatus.SUCCESS)
    if refunded_from is not None:
        statement = statement.where(col(Refund.finished_at) >= refunded_from)
    if refunded_before is not None:
        statement = statement.where(col(Refund.finished_at) < refunded_before)
    rows = (await session.execute(statement.order_by(col(Refund.created_at), col(Refund.id)))).scalars().all()
    return [
        RefundFact(
            link_id=row.link_id,
            refund_no=row.out_refund_no,
            amount=row.amount,
            currency=row.currency,
            status=str(row.status),
            counts_as_refunded=row.status == RefundStatus.SUCCESS,
            refunded_at=row.finished_at if row.status == RefundStatus.SUCCESS else None,
            created_at=row.created_at,
        )
        for row in rows
    ]
