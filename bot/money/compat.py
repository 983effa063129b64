"""parse_amount and parse_amount_prefix: the readers the chat handlers call until they ask questions themselves.

Thin wrappers over `read_amount` in English: whatever the reading leaves open (two possible
amounts, a sign for several currencies, a code that is also a word) is an AmountError here,
because these callers cannot ask which one was meant.
"""

from __future__ import annotations

from bot.money.errors import AmountError, AmountProblem
from bot.money.reading import AmountReading, read_amount, read_amount_prefix, settle
from bot.money.value import Money

_LOCALE = "en"


def parse_amount(text: str, default_currency: str) -> Money:
    """Read an amount such as "150,000", "12.50 usd", "IDR 150000" or "1.234,56 EUR"."""
    return _certain(read_amount(text, locale=_LOCALE, chat_currency=default_currency))


def parse_amount_prefix(text: str, default_currency: str) -> tuple[Money, str]:
    """Read the amount at the start of `text` ("150000 IDR Winter shoes"); return it and the rest."""
    reading = read_amount_prefix(text, locale=_LOCALE, chat_currency=default_currency)
    return _certain(reading), reading.rest


def _certain(reading: AmountReading) -> Money:
    """The Money of a reading that leaves nothing open, or AmountError saying what is open."""
    if len(reading.amounts) > 1:
        choices = tuple(format(amount, "f") for amount in reading.amounts)
        raise AmountError(AmountProblem.AMBIGUOUS_AMOUNT, reading.text, choices=choices)
    if reading.currency is None:
        raise AmountError(
            AmountProblem.AMBIGUOUS_CURRENCY,
            reading.text,
            currency=reading.currency_token,
            choices=reading.currency_choices,
            example=format(reading.amounts[0], "f"),
        )
    return settle(reading, reading.amounts[0], reading.currency)
