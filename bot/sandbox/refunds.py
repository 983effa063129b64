"""Refunds in the sandbox: PayerMax's refund rules (contract §11.1), settling, and REFUND notifications.

A refund is accepted as REFUND_PENDING and settles ``settle_seconds`` later (or at once through
``settle_pending``) to REFUND_SUCCESS, or to REFUND_FAILED when the ``refund_fail_next`` fault
marked it at acceptance. Settling queues a signed REFUND notification to the request's
``refundNotifyUrl``; without one nobody is notified and only refundQuery tells the result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from bot.sandbox.checkout import FULL_REFUND_ONLY_METHODS
from bot.sandbox.errors import GatewayError, ResultCode
from bot.sandbox.faults import Faults
from bot.sandbox.notifier import Notifier, new_delivery
from bot.sandbox.payloads import refund_notification
from bot.sandbox.store import AttemptStatus, Refund, RefundStatus, SandboxStore, new_refund_trade_no
from bot.sandbox.validation import RefundApplication

logger = logging.getLogger(__name__)

REFUND_WINDOW = timedelta(days=180)
DEFAULT_SETTLE_SECONDS = 2.0


class RefundDesk:
    """Accepts refunds by PayerMax's rules, settles them after a delay, and notifies the merchant."""

    def __init__(
        self,
        *,
        store: SandboxStore,
        notifier: Notifier,
        faults: Faults,
        clock: Callable[[], datetime],
        app_id: str,
        merchant_no: str,
        settle_seconds: float | None = DEFAULT_SETTLE_SECONDS,
    ) -> None:
        if settle_seconds is not None and settle_seconds < 0:
            raise ValueError("the refund settle delay must be >= 0 seconds (or None to settle only when told)")
        self._store = store
        self._notifier = notifier
        self._faults = faults
        self._clock = clock
        self._app_id = app_id
        self._merchant_no = merchant_no
        self._settle_seconds = settle_seconds
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._running = False

    def start(self) -> None:
        """Start settling: every refund still pending (also from a previous run) settles after the delay."""
        self._running = True
        for refund in self._store.pending_refunds():
            self._schedule(refund)

    def stop(self) -> None:
        """Stop settling; pending refunds stay saved and settle after the next start."""
        self._running = False
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def apply(self, application: RefundApplication, now: datetime) -> Refund:
        """Accept a refund application as REFUND_PENDING, replay an identical one, or refuse it.

        There is no ``await`` between the checks and the recording: concurrent applications on
        one event loop are decided one after the other, so two can never both pass the checks.
        """
        existing = self._store.refund(application.out_refund_no)
        if existing is not None:
            if not _same_application(existing, application):
                raise GatewayError(
                    ResultCode.ORDER_REPEAT,
                    f"outRefundNo {application.out_refund_no} was already used for a different refund",
                )
            logger.info("SANDBOX refund %s repeated: answering with the same refund", existing.out_refund_no)
            return existing
        self._check_rules(application, now)
        refund = Refund(
            out_refund_no=application.out_refund_no,
            refund_trade_no=new_refund_trade_no(),
            out_trade_no=application.out_trade_no,
            amount=application.amount,
            currency=application.currency,
            comments=application.comments,
            notify_url=application.notify_url,
            created_at=now,
            settles_as=RefundStatus.FAILED if self._faults.take_refund_failure() else RefundStatus.SUCCESS,
        )
        self._store.add_refund(refund)
        logger.info(
            "SANDBOX refund %s of %s %s on %s accepted (settles as %s)",
            refund.out_refund_no,
            refund.amount,
            refund.currency,
            refund.out_trade_no,
            refund.settles_as,
        )
        self._schedule(refund)
        return refund

    def find(self, out_refund_no: str | None, refund_trade_no: str | None) -> Refund:
        """The refund a refundQuery names, by outRefundNo or refundTradeNo (both must agree if both given)."""
        if out_refund_no is not None:
            refund = self._store.refund(out_refund_no)
            wanted = f"outRefundNo {out_refund_no}"
        else:
            assert refund_trade_no is not None, "check_refund_query requires one of the two"
            refund = self._store.refund_by_trade_no(refund_trade_no)
            wanted = f"refundTradeNo {refund_trade_no}"
        if refund is None:
            raise GatewayError(ResultCode.ORDER_NOT_EXIST, f"no refund with {wanted}")
        if refund_trade_no is not None and refund.refund_trade_no != refund_trade_no:
            raise GatewayError(
                ResultCode.PARAMS_INVALID, f"refundTradeNo {refund_trade_no} is not the refund {out_refund_no}"
            )
        return refund

    def settle_pending(self) -> list[Refund]:
        """Settle every pending refund now (for tests and the ``/_refunds/settle`` control)."""
        pending = self._store.pending_refunds()
        for refund in pending:
            self._settle(refund)
        return pending

    def _check_rules(self, application: RefundApplication, now: datetime) -> None:
        """PayerMax's refund conditions (contract §11.1), most fundamental first."""
        found = self._store.attempt_by_out_trade_no(application.out_trade_no)
        if found is None:
            raise GatewayError(ResultCode.ORDER_NOT_EXIST, f"no order with outTradeNo {application.out_trade_no}")
        link, attempt = found
        if attempt.status != AttemptStatus.SUCCESS:
            raise GatewayError(
                ResultCode.ORDER_CLOSED,
                f"order {attempt.out_trade_no} is {attempt.status}; only a SUCCESS order can be refunded",
            )
        if application.currency != link.currency:
            raise GatewayError(
                ResultCode.PARAMS_INVALID,
                f"refundCurrency must be the order's currency {link.currency}, not {application.currency}",
            )
        paid_at = attempt.complete_at or attempt.created_at
        if now - paid_at > REFUND_WINDOW:
            raise GatewayError(
                ResultCode.REFUND_EXPIRED,
                f"order {attempt.out_trade_no} was paid on {paid_at.date().isoformat()}; "
                f"refunds are possible for {REFUND_WINDOW.days} days after payment",
            )
        refunds = self._store.refunds_of(attempt.out_trade_no)
        pending = next((refund for refund in refunds if refund.pending), None)
        if pending is not None:
            raise GatewayError(
                ResultCode.REFUND_PROCESSING,
                f"refund {pending.out_refund_no} of this order is still pending; one refund at a time",
            )
        paid = Decimal(link.total_amount)
        taken = sum((refund.amount for refund in refunds if refund.status != RefundStatus.FAILED), start=Decimal(0))
        refundable = paid - taken
        if application.amount > refundable:
            raise GatewayError(
                ResultCode.REFUND_AMOUNT_INVALID,
                f"refundAmount {format(application.amount, 'f')} is more than the {format(refundable, 'f')} "
                f"{link.currency} "
                f"still refundable on order {attempt.out_trade_no}",
            )
        if attempt.method in FULL_REFUND_ONLY_METHODS and application.amount != paid:
            raise GatewayError(
                ResultCode.REFUND_NOT_ALLOWED,
                f"{attempt.method} payments can only be refunded in full ({link.total_amount} {link.currency})",
            )
        if self._faults.insufficient_balance:
            raise GatewayError(
                ResultCode.REFUND_INSUFFICIENT_BALANCE,
                "SANDBOX fault: the merchant's pending-settlement balance is too low for this refund",
            )

    def _schedule(self, refund: Refund) -> None:
        """Settle the refund after the delay, if the desk is running and a delay is configured."""
        if not self._running or self._settle_seconds is None or refund.out_refund_no in self._timers:
            return
        loop = asyncio.get_running_loop()
        self._timers[refund.out_refund_no] = loop.call_later(
            self._settle_seconds, self._settle_if_pending, refund.out_refund_no
        )

    def _settle_if_pending(self, out_refund_no: str) -> None:
        """Timer callback: settle the refund unless something settled it already."""
        self._timers.pop(out_refund_no, None)
        refund = self._store.refund(out_refund_no)
        if refund is not None and refund.pending:
            self._settle(refund)

    def _settle(self, refund: Refund) -> None:
        """Give the refund its final status and queue its REFUND notification."""
        timer = self._timers.pop(refund.out_refund_no, None)
        if timer is not None:
            timer.cancel()
        now = self._clock()
        self._store.settle_refund(refund, now)
        logger.info("SANDBOX refund %s settled: %s", refund.out_refund_no, refund.status)
        if refund.notify_url is None:
            logger.info("SANDBOX refund %s has no refundNotifyUrl: nobody is notified", refund.out_refund_no)
            return
        found = self._store.attempt_by_out_trade_no(refund.out_trade_no)
        link_id = found[0].link_id if found is not None else ""
        body = refund_notification(refund, app_id=self._app_id, merchant_no=self._merchant_no, now=now)
        self._notifier.submit(
            new_delivery(delivery_id=refund.refund_trade_no, link_id=link_id, notify_url=refund.notify_url, body=body)
        )


def _same_application(refund: Refund, application: RefundApplication) -> bool:
    """Whether a repeated outRefundNo carries the same refund (amounts compared as numbers)."""
    return (
        refund.out_trade_no == application.out_trade_no
        and refund.amount == application.amount
        and refund.currency == application.currency
        and refund.comments == application.comments
        and refund.notify_url == application.notify_url
    )
