"""Amounts for people to read, in their locale, with PayerMax's decimals."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING

from babel import Locale, UnknownLocaleError

from bot.money.currencies import currency_decimals

if TYPE_CHECKING:
    from bot.money.value import Money


def format_money(money: Money, locale: str = "en") -> str:
    """Format for people in `locale` ("IDR 150,000", "$12.50") with PayerMax's decimals."""
    babel_locale = _babel_locale(locale)
    pattern = copy.copy(babel_locale.currency_formats["standard"])
    decimals = currency_decimals(money.currency)
    # Force the currency's PayerMax decimals so IDR never shows ".00" and KWD shows two places.
    pattern.frac_prec = (decimals, decimals)
    text = pattern.apply(money.amount, babel_locale, currency=money.currency, currency_digits=False)
    # CLDR's currency spacing rule, which Babel does not apply: a letter code next to a digit
    # gets a no-break space ("IDR 150,000", not "IDR150,000"); symbols like "$" stay attached.
    return re.sub(r"(?<=[^\W\d_])(?=[0-9])|(?<=[0-9])(?=[^\W\d_])", "\u00a0", text)


def _babel_locale(locale: str) -> Locale:
    """Babel locale for a Telegram-style language code ("pt-br"), falling back to English."""
    candidates = (locale.replace("-", "_"), locale.split("-")[0].split("_")[0], "en")
    for candidate in candidates:
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    raise AssertionError("Babel always knows English")
