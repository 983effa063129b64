"""Payment attempts that did not go through: kept once per order, put on their link, shown in /status.

"My card was declined at 16:20" is what a customer tells support, so the bot keeps what PayerMax says
of such attempts. It hears of them two ways. A PAYMENT notification with status FAILED or CLOSED
(contract §5.2) names the order but not the link: the attempt is kept without a link, and the active
links it may belong to (same amount and currency) are due for the reconciler's next round, which wakes.
queryPaybylink lists every order of a link (``CLOSE`` for these, §4.1): the reconciler puts a kept
attempt on its link, or asks orderQuery (§4.3) about one it never heard of. Either way, one row per
outTradeNo; nothing here changes a link's state or any money.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.payermax.errors import ApiError
from bot.payermax.models import UNSUCCESSFUL_STATUSES, OrderInfo, PaymentAttempt
from bot.services.link_search import AmountSought
from storage import repo
from storage.models import Link, PaymentSource, stored_id, utcnow

log = logging.getLogger("paylink.attempts")

CANDIDATE_LINKS = 20  # links of the same amount asked about for one unplaced attempt, newest first
RESULT_MSG_CHARS = 256

OrderLookup = Callable[[str], Awaitable[OrderInfo]]


def _values(
    order: OrderInfo, link_id: int | None, source: PaymentSource, reported_at: datetime | None
) -> dict[str, Any]:
    """The row an unsuccessful order is kept as."""
    return {
        "out_trade_no": order.out_trade_no,
        "link_id": link_id,
        "status": order.status,
        "amount": order.total_amount,
        "currency": order.currency.upper(),
        "payment_method": order.payment_method,
        "target_org": order.target_org,
        "card_org": order.card_org,
        "card_number": order.card_number,
        "result_code": order.result_code,
        "result_msg": (order.result_msg or "")[:RESULT_MSG_CHARS] or None,
        "source": source,
        "attempted_at": order.complete_time or order.create_time or reported_at or utcnow(),
        "created_at": utcnow(),
    }


class FailedAttempts:
    """Records declined and failed payment attempts and finds the link each was made on."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, on_unplaced: Callable[[], None] = lambda: None
    ) -> None:
        self._sessions = sessions
        self._on_unplaced = on_unplaced  # wakes the reconciler: the links it may belong to are due now

    async def reported(self, order: OrderInfo, *, reported_at: datetime | None = None) -> None:
        """Keep a failed or closed order PayerMax notified; if its link is not known yet, have the candidates asked."""
        if order.status not in UNSUCCESSFUL_STATUSES:
            raise ValueError(f"order {order.out_trade_no} is {order.status}, not a failed attempt")
        async with self._sessions() as session, session.begin():
            link_id = await repo.link_of_order(session, order.out_trade_no)
            await repo.add_failed_attempt(session, _values(order, link_id, PaymentSource.PAYMENT, reported_at))
            if link_id is not None:
                return
            placed = (await repo.failed_attempts_by_order(session, [order.out_trade_no]))[order.out_trade_no].link_id
            if placed is not None:
                return
            amount = AmountSought((order.total_amount,)).stored_texts()
            candidates = await repo.active_links_costing(session, amount, order.currency.upper(), limit=CANDIDATE_LINKS)
            now = utcnow()
            for link in candidates:
                await repo.schedule_check(session, stored_id(link), now)
        log.info(
            "failed attempt kept until PayerMax names its link",
            extra={"trade": order.out_trade_no, "status": order.status},
        )
        if candidates:
            self._on_unplaced()

    async def place(self, link: Link, attempts: Sequence[PaymentAttempt], lookup: OrderLookup) -> int:
        """Record the unsuccessful attempts PayerMax lists on this link; return how many are new to it.

        A kept attempt gets its link; one never heard of is asked about with orderQuery (its method,
        reason and time are only there). An orderQuery PayerMax refuses is tried again next round.
        """
        trades = [a.out_trade_no for a in attempts if a.status in UNSUCCESSFUL_STATUSES and a.out_trade_no]
        if not trades:
            return 0
        link_id = stored_id(link)
        placed = 0
        async with self._sessions() as session, session.begin():
            known = await repo.failed_attempts_by_order(session, trades)
            for trade, attempt in known.items():
                if attempt.link_id is None and await repo.place_failed_attempt(session, trade, link_id):
                    placed += 1
        for trade in trades:
            if trade in known:
                continue
            try:
                order = await lookup(trade)
            except ApiError as exc:
                log.info("orderQuery %s: %s", trade, exc.code, extra={"link": link.merchant_link_id})
                continue
            if order.status not in UNSUCCESSFUL_STATUSES:
                continue  # a success is the payment rules' business; a pending one is asked about again later
            async with self._sessions() as session, session.begin():
                if await repo.add_failed_attempt(session, _values(order, link_id, PaymentSource.RECONCILE, None)):
                    placed += 1
        if placed:
            log.info("failed attempts recorded", extra={"link": link.merchant_link_id, "status": str(placed)})
        return placed
