"""Amounts and counts for people to read, in their locale, with PayerMax's decimals.

Digits are Latin in every locale. CLDR's default numbering system for the bot's "ar" is ``latn``
in the CLDR data Babel ships (only regional locales such as ar_SA or ar_EG default to ``arab``), and
Babel never writes native digits anyway: asking it for ``arab`` swaps in "٫" and "٬" but keeps
Latin digits, a mix nobody writes. In right-to-left locales every returned number is wrapped in
FSI ... PDI so it keeps its place and order inside a sentence.
"""

from __future__ import annotations

import copy
import unicodedata
from decimal import Decimal
from typing import TYPE_CHECKING

from babel.numbers import format_decimal, get_currency_symbol

from bot.money.currencies import currency_decimals
from bot.money.locales import babel_locale

if TYPE_CHECKING:
    from bot.money.value import Money

FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"
_NO_BREAK_SPACE = "\u00a0"


def is_rtl(locale: str) -> bool:
    """True if `locale` is written right to left (ar)."""
    return babel_locale(locale).character_order == "right-to-left"


def isolate(text: str) -> str:
    """Wrap `text` in FSI ... PDI so its direction never leaks into, or takes from, the sentence around it."""
    return f"{FIRST_STRONG_ISOLATE}{text}{POP_DIRECTIONAL_ISOLATE}"


def format_money(money: Money, locale: str = "en") -> str:
    """The amount with its currency as CLDR writes it in `locale` ("Rp 150.000", "R$ 89,90", "$12.50")."""
    babel = babel_locale(locale)
    pattern = copy.copy(babel.currency_formats["standard"])
    decimals = currency_decimals(money.currency)
    # Force the currency's PayerMax decimals so IDR never shows ",00" and KWD shows two places.
    pattern.frac_prec = (decimals, decimals)
    text = pattern.apply(money.amount, babel, currency=money.currency, currency_digits=False)
    return _for_locale(_space_currency(text, get_currency_symbol(money.currency, babel)), locale)


def format_amount_plain(money: Money, locale: str = "en") -> str:
    """The amount without a currency sign, with PayerMax's decimals ("150.000" in id), e.g. for buttons."""
    babel = babel_locale(locale)
    pattern = copy.copy(babel.decimal_formats[None])
    decimals = currency_decimals(money.currency)
    pattern.frac_prec = (decimals, decimals)
    return _for_locale(pattern.apply(money.amount, babel), locale)


def format_number(value: int | Decimal, locale: str = "en") -> str:
    """A plain count or number with the locale's grouping ("1.250" in id, "1,250" in en)."""
    return _for_locale(format_decimal(value, locale=babel_locale(locale)), locale)


def _for_locale(text: str, locale: str) -> str:
    """Isolate `text` in right-to-left locales, leave it as it is elsewhere."""
    return isolate(text) if is_rtl(locale) else text


def _space_currency(text: str, symbol: str) -> str:
    """Apply CLDR's currency spacing rule, which Babel leaves out.

    A no-break space goes between the symbol and a digit when the symbol's character next to the
    number is not itself a symbol or a space: "Rp 150.000" and "IDR 150,000", but "$12.50" and "₺150,00".
    """
    start = text.find(symbol)
    if not symbol or start < 0:
        return text
    end = start + len(symbol)
    if end < len(text) and _is_digit(text[end]) and _wants_space(symbol[-1]):
        text = f"{text[:end]}{_NO_BREAK_SPACE}{text[end:]}"
    if start > 0 and _is_digit(text[start - 1]) and _wants_space(symbol[0]):
        text = f"{text[:start]}{_NO_BREAK_SPACE}{text[start:]}"
    return text


def _is_digit(char: str) -> bool:
    """A decimal digit of any script (CLDR's [:digit:])."""
    return unicodedata.category(char) == "Nd"


def _wants_space(char: str) -> bool:
    """CLDR's currencyMatch [[:^S:]&[:^Z:]]: neither a symbol nor a separator."""
    return unicodedata.category(char)[0] not in "SZ"
