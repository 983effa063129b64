"""Which currencies exist and how many decimals PayerMax takes for each (Babel's ISO data plus PayerMax's rules)."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from babel.core import get_global
from babel.numbers import get_currency_precision

from bot.money.errors import AmountError, AmountProblem

# PayerMax accepts no decimals for these, whatever ISO 4217 says (contract §6).
PAYERMAX_ZERO_DECIMAL = frozenset({"IDR", "TWD", "KRW", "VND", "CLP", "PKR", "COP", "JPY", "ISK", "PYG"})
# PayerMax accepts only 2 decimals for these, although ISO 4217 gives them 3 (contract §6).
PAYERMAX_TWO_DECIMAL = frozenset({"BHD", "KWD", "JOD", "OMR", "TND"})
# Currencies the PayerMax cashier can take orders in ("Global" row, contract §6). The merchant's
# contract decides what really works, so this is used for warnings and for reading lowercase codes.
PAYERMAX_ORDERABLE = frozenset(
    [
        "INR",
        "PHP",
        "MYR",
        "THB",
        "VND",
        "SGD",
        "USD",
        "HKD",
        "TWD",
        "KRW",
        "JPY",
        "AED",
        "BHD",
        "EGP",
        "KWD",
        "SAR",
        "TRY",
        "MAD",
        "JOD",
        "OMR",
        "QAR",
        "AZN",
        "BRL",
        "CLP",
        "COP",
        "MXN",
        "PEN",
        "UYU",
        "PYG",
        "ZAR",
        "CAD",
        "AUD",
        "GBP",
        "EUR",
        "CHF",
        "CZK",
        "DKK",
        "ILS",
        "IDR",
        "ISK",
        "MDL",
        "MMK",
        "NOK",
        "NZD",
        "PKR",
        "RON",
        "BDT",
        "BOB",
        "DZD",
    ]
)

# Nobody sells a link for a trillion of anything; more digits than this is a typo.
MAX_INTEGER_DIGITS = 12
# `totalAmount` is a string of at most 24 characters (contract §3.1).
PAYERMAX_AMOUNT_MAX_CHARS = 24


def _current_iso_currencies() -> frozenset[str]:
    """Codes that some territory uses as legal tender today, per Babel's CLDR data."""
    territory_currencies = get_global("territory_currencies")
    return frozenset(
        code
        for currencies in territory_currencies.values()
        for code, _start, end, tender in currencies
        if end is None and tender
    )


_KNOWN_CURRENCIES = _current_iso_currencies()


def known_currencies() -> frozenset[str]:
    """Every ISO 4217 currency in use today, as Babel knows it."""
    return _KNOWN_CURRENCIES


def is_known_currency(code: str) -> bool:
    """True if `code` (uppercase) is an ISO 4217 currency in use today, as Babel knows it."""
    return code in _KNOWN_CURRENCIES


def is_orderable(code: str) -> bool:
    """True if `code` (uppercase) is on PayerMax's list of orderable currencies."""
    return code in PAYERMAX_ORDERABLE


def normalise_currency(code: str) -> str:
    """Return `code` as an uppercase ISO 4217 code, or raise AmountError(UNKNOWN_CURRENCY)."""
    cleaned = code.strip()
    upper = cleaned.upper()
    if not is_known_currency(upper):
        raise AmountError(AmountProblem.UNKNOWN_CURRENCY, cleaned, currency=cleaned)
    return upper


def currency_decimals(currency: str) -> int:
    """Decimals PayerMax accepts for `currency`: its exceptions first, then Babel's ISO data."""
    code = normalise_currency(currency)
    if code in PAYERMAX_ZERO_DECIMAL:
        return 0
    if code in PAYERMAX_TWO_DECIMAL:
        return 2
    return get_currency_precision(code)


def smallest_unit(currency: str) -> Decimal:
    """The smallest amount PayerMax takes in `currency`: 1 for IDR, 0.01 for USD."""
    return Decimal(1).scaleb(-currency_decimals(currency))


def example_amount(currency: str | None) -> str:
    """A plain example amount that suits `currency`: "150000" without decimals, "12.50" with two."""
    if currency is None or currency_decimals(currency) == 0:
        return "150000"
    return format(Decimal("12.5").quantize(smallest_unit(currency)), "f")


def too_precise_error(amount: Decimal, currency: str, text: str) -> AmountError:
    """TOO_PRECISE for `amount` in `currency`, with the amount cut to what the currency allows as example."""
    smallest = smallest_unit(currency)
    truncated = amount.quantize(smallest, rounding=ROUND_DOWN)
    example = format(truncated if truncated > 0 else smallest, "f")
    return AmountError(
        AmountProblem.TOO_PRECISE, text, currency=currency, decimals=currency_decimals(currency), example=example
    )
