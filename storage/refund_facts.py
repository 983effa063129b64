"""SEAM for refunds (issue 10 §1): the one query reports, the daily summary and /export read refunds through.

Until the refunds table exists this returns nothing, and every report shows no refunds and every
export leaves its refund columns empty. Whoever adds refunds fills in :func:`refund_facts` (and
nothing else): ``/report`` then shows "Refunded" totals per currency (from the facts with
``counts_as_refunded``), and ``/export`` fills its refund columns for each link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class RefundFact:
    """One refund of a link's payment, as reports and exports show it."""

    link_id: int
    refund_no: str  # our outRefundNo
    amount: Decimal
    currency: str
    status: str  # as stored, e.g. REFUND_PENDING, REFUND_SUCCESS, REFUND_FAILED
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

    Returns nothing until refunds are stored (see the module docstring).
    """
    del session, chat_id, creator_user_id, refunded_from, refunded_before, link_ids
    return []
