"""`Money`: an exact amount in one currency, and its PayerMax wire form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from bot.money.currencies import (
    MAX_INTEGER_DIGITS,
    PAYERMAX_AMOUNT_MAX_CHARS,
    smallest_unit,
    too_precise_error,
)
from bot.money.errors import AmountError, AmountProblem
from bot.money.formatting import format_money


@dataclass(frozen=True)
class Money:
    """An amount in one currency, in major units (150000 IDR, 12.50 USD)."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        # Catch programming errors early: a float or NaN here would corrupt every later check.
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money.amount must be a Decimal, not {type(self.amount).__name__}")
        if not self.amount.is_finite():
            raise ValueError(f"Money.amount must be finite, not {self.amount}")
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise ValueError(f"Money.currency must be an uppercase ISO code, not {self.currency!r}")

    def for_payermax(self) -> str:
        """Render as PayerMax `totalAmount`: "150000", "12.50"; no exponent, no separators."""
        quantized = self.amount.quantize(smallest_unit(self.currency))
        if quantized != self.amount:
            raise too_precise_error(self.amount, self.currency, format(self.amount, "f"))
        text = format(quantized, "f")
        if len(text) > PAYERMAX_AMOUNT_MAX_CHARS:
            raise AmountError(AmountProblem.TOO_LARGE, text, max_digits=MAX_INTEGER_DIGITS)
        return text

    def __str__(self) -> str:
        """Human text in English, e.g. "IDR 150,000" or "$12.50"."""
        return format_money(self, "en")
