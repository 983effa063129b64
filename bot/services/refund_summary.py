"""What a payment's (or a link's) refunds add up to: refunded, pending, what is left, and the state a card shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from storage.models import Refund, RefundStatus


class RefundState(StrEnum):
    """What a paid card says about refunds."""

    NONE = "none"  # nothing refunded, nothing under way
    PENDING = "pending"  # a refund is with PayerMax
    REFUNDED = "refunded"  # the whole amount went back
    PARTIALLY_REFUNDED = "partially_refunded"
    FAILED = "failed"  # the latest refund PayerMax took on could not be completed


@dataclass(frozen=True)
class RefundSummary:
    """The refunds of what was paid, in the paid currency."""

    paid: Decimal
    currency: str
    refunded: Decimal  # settled successfully
    pending: Decimal  # with PayerMax now (or being sent)
    state: RefundState
    latest: Refund | None  # the newest refund PayerMax was asked for

    @property
    def remaining(self) -> Decimal:
        """What can still be refunded: the paid amount less every refund that went or may go through."""
        return max(Decimal(0), self.paid - self.refunded - self.pending)


def summarize(paid: Decimal, currency: str, refunds: Sequence[Refund]) -> RefundSummary:
    """Add up ``refunds`` (proposals and refusals count for nothing) against what was ``paid``."""
    sent = [refund for refund in refunds if RefundStatus(refund.status).counted or refund.status == RefundStatus.FAILED]
    refunded = sum((r.amount for r in sent if r.status == RefundStatus.SUCCESS), start=Decimal(0))
    pending = sum((r.amount for r in sent if RefundStatus(r.status).open), start=Decimal(0))
    latest = max(sent, key=lambda refund: refund.id or 0, default=None)
    if pending:
        state = RefundState.PENDING
    elif latest is not None and latest.status == RefundStatus.FAILED:
        state = RefundState.FAILED
    elif refunded and refunded >= paid:
        state = RefundState.REFUNDED
    elif refunded:
        state = RefundState.PARTIALLY_REFUNDED
    else:
        state = RefundState.NONE
    return RefundSummary(paid, currency, refunded, pending, state, latest)
