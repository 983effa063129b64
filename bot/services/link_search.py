"""What a support person's search text can name: an amount, part of an id, or words of a description.

"Did my 150.000 get paid?", "it says PLWU6F…": the customer quotes what they saw, not our whole id.
The text is read every way at once and the links matching any reading are found; each result says
what it matched. Amounts are read as the chat writes them (bot.money.reading): "150.000", "Rp 150rb",
"12,50 €"; a number the chat's formats leave open ("1.500" in English) looks for both amounts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from bot.money import AmountError, read_amount

MIN_FRAGMENT = 6  # fewer characters of an id match too much to mean anything
# What our link ids, PayerMax's ids and order numbers are made of.
_ID_TEXT = re.compile(r"[A-Za-z0-9_-]+")
# Stored amounts carry their currency's decimals ("12.50", "150000", "1.250"); a typed one has none extra.
_MAX_STORED_DECIMALS = 4


@dataclass(frozen=True)
class AmountSought:
    """An amount read from a search: its possible values, and the currencies it may be in (none named: any)."""

    values: tuple[Decimal, ...]
    currencies: tuple[str, ...] = ()

    def stored_texts(self) -> list[str]:
        """Every way a link of this amount can be stored: 150000, 150000.0, 150000.00 … (amounts are exact text)."""
        texts: list[str] = []
        for value in self.values:
            for places in range(_MAX_STORED_DECIMALS + 1):
                quantum = Decimal(1).scaleb(-places)
                if value == value.quantize(quantum):
                    texts.append(format(value.quantize(quantum), "f"))
        return texts

    def matches(self, amount: Decimal, currency: str) -> bool:
        """Whether a link of this amount and currency is one this search names."""
        return amount in self.values and (not self.currencies or currency in self.currencies)


@dataclass(frozen=True)
class SearchTerms:
    """A search text and what it can mean."""

    text: str  # as typed, stripped
    words: tuple[str, ...]  # every word must be in the description
    amount: AmountSought | None = None  # the text is an amount
    fragment: str | None = None  # the text is at least MIN_FRAGMENT characters of an id, upper case

    @property
    def short_id(self) -> bool:
        """Whether the text looks like the start of an id but is too short to search for as one."""
        return self.fragment is None and _looks_like_id(self.text) and len(self.text) < MIN_FRAGMENT


def search_terms(text: str, *, locale: str = "en", chat_currency: str | None = None) -> SearchTerms:
    """Read a search text: as an amount in the chat's formats, as part of an id, and as description words."""
    text = text.strip()
    return SearchTerms(
        text=text,
        words=tuple(word for word in text.split() if word),
        amount=_amount(text, locale, chat_currency),
        fragment=text.upper() if len(text) >= MIN_FRAGMENT and _ID_TEXT.fullmatch(text) else None,
    )


def _looks_like_id(text: str) -> bool:
    """Letters with digits ("plwu6", "T1234"), or capitals as cards show ids ("PLWRX"): not a word, not a number."""
    if not _ID_TEXT.fullmatch(text) or not any(c.isalpha() for c in text):
        return False
    return any(c.isdigit() for c in text) or (len(text) >= 3 and text.isupper())


def _amount(text: str, locale: str, chat_currency: str | None) -> AmountSought | None:
    """The amount the whole text states, if it is one; a sign the chat's currency settles counts as it."""
    if not text:
        return None
    try:
        # Without the chat's currency: a bare number may be in any currency, and is not cut to its decimals.
        reading = read_amount(text, locale=locale, chat_currency=None)
    except AmountError:
        return None
    if reading.currency is not None:
        return AmountSought(reading.amounts, (reading.currency,))
    if chat_currency and chat_currency in reading.currency_choices:
        return AmountSought(reading.amounts, (chat_currency,))
    return AmountSought(reading.amounts, reading.currency_choices)
