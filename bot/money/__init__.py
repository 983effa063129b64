"""Money values: read what people type, check it against PayerMax's decimal rules, format it.

Pure functions only (no I/O). Amounts are `Decimal`, never float. Currency data (which codes
exist, how many decimals they have, symbols and names) comes from Babel's CLDR tables; PayerMax's
own exceptions to ISO 4217 (contract §6) and the local signs and words in `symbols` are the only
hand-written currency lists here.
"""

from bot.money.compat import parse_amount, parse_amount_prefix
from bot.money.currencies import (
    MAX_INTEGER_DIGITS,
    PAYERMAX_AMOUNT_MAX_CHARS,
    PAYERMAX_ORDERABLE,
    PAYERMAX_TWO_DECIMAL,
    PAYERMAX_ZERO_DECIMAL,
    currency_decimals,
    is_known_currency,
    is_orderable,
    normalise_currency,
)
from bot.money.errors import AmountError, AmountProblem
from bot.money.formatting import format_amount_plain, format_money, format_number, is_rtl, isolate
from bot.money.reading import AmountReading, read_amount, read_amount_prefix, settle
from bot.money.value import Money

__all__ = [
    "MAX_INTEGER_DIGITS",
    "PAYERMAX_AMOUNT_MAX_CHARS",
    "PAYERMAX_ORDERABLE",
    "PAYERMAX_TWO_DECIMAL",
    "PAYERMAX_ZERO_DECIMAL",
    "AmountError",
    "AmountProblem",
    "AmountReading",
    "Money",
    "currency_decimals",
    "format_amount_plain",
    "format_money",
    "format_number",
    "is_known_currency",
    "is_orderable",
    "is_rtl",
    "isolate",
    "normalise_currency",
    "parse_amount",
    "parse_amount_prefix",
    "read_amount",
    "read_amount_prefix",
    "settle",
]
