"""PayerMax's refund refusals, and a refund's state on a card, in words a seller understands."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.botapi.markup import visible_text
from bot.chat import texts
from bot.payermax.errors import classify_refund_refusal
from bot.services.refund_summary import RefundState, summarize
from storage.models import Refund, RefundStatus

# The refusals issue 10 names, as PayerMax (or the sandbox, for rules PayerMax gives no code) answers them.
NAMED = {
    "REFUND_INSUFFICIENT_BALANCE": "balance is too low",
    "REFUND_EXPIRED": "more than 180 days old",
    "REFUND_PROCESSING": "Another refund of this order",
    "REFUND_NOT_ALLOWED": "only be refunded in full",
    "REFUND_AMOUNT_INVALID": "more than PayerMax says is left",
}


@pytest.mark.parametrize(("code", "words"), NAMED.items())
def test_each_named_refusal_is_explained_in_words(code: str, words: str) -> None:
    sentence = visible_text(texts.refusal_reason(classify_refund_refusal(code), code, "some msg"))
    assert words in sentence
    assert code not in sentence  # the seller reads what happened, not PayerMax's code


def test_an_unknown_refusal_shows_what_payermax_said() -> None:
    sentence = visible_text(texts.refusal_reason(classify_refund_refusal("RISK_REJECT"), "RISK_REJECT", "risk control"))
    assert "RISK_REJECT" in sentence and "risk control" in sentence


def _refund(refund_id: int, amount: str, status: RefundStatus) -> Refund:
    return Refund(
        id=refund_id,
        out_refund_no=f"RF{refund_id}",
        link_id=1,
        payment_id=1,
        out_trade_no="T1",
        amount=Decimal(amount),
        currency="IDR",
        status=status,
        requested_by=1,
        chat_id=1,
    )


@pytest.mark.parametrize(
    ("refunds", "state", "line"),
    [
        ([], RefundState.NONE, None),
        ([_refund(1, "50000", RefundStatus.PENDING)], RefundState.PENDING, "⏳ REFUND PENDING: IDR 50,000"),
        (
            [_refund(1, "50000", RefundStatus.SUCCESS)],
            RefundState.PARTIALLY_REFUNDED,
            "↩️ PARTIALLY REFUNDED: IDR 50,000 of IDR 150,000 · IDR 100,000 left",
        ),
        (
            [_refund(1, "50000", RefundStatus.SUCCESS), _refund(2, "100000", RefundStatus.SUCCESS)],
            RefundState.REFUNDED,
            "↩️ REFUNDED: IDR 150,000",
        ),
        (
            [_refund(1, "50000", RefundStatus.SUCCESS), _refund(2, "20000", RefundStatus.FAILED)],
            RefundState.FAILED,
            "❌ REFUND FAILED: IDR 20,000 (IDR 50,000 refunded before)",
        ),
        # Proposals, refusals and discarded ones take nothing.
        (
            [
                _refund(1, "150000", RefundStatus.PROPOSED),
                _refund(2, "150000", RefundStatus.REFUSED),
                _refund(3, "1", RefundStatus.DISCARDED),
            ],
            RefundState.NONE,
            None,
        ),
    ],
)
def test_the_card_says_where_refunds_stand(refunds: list[Refund], state: RefundState, line: str | None) -> None:
    summary = summarize(Decimal("150000"), "IDR", refunds)
    assert summary.state == state
    shown = texts.card_refund_line(summary)
    assert (visible_text(shown).replace("\xa0", " ") if shown is not None else None) == line
