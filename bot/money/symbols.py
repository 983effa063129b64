"""Currency signs and words people type next to an amount ("Rp", "R$", "TL", "ر.س", "$"), and what they may mean.

CLDR gives the symbols: those of the bot's locales and, for every PayerMax-orderable currency, the
symbol its own country writes (read from Babel ahead of time into `cldr_signs`, see
`cldr_signs_source`). The local table below adds what CLDR does not have in this form: everyday
words and spellings, and the currencies an ambiguous sign most likely means here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.money.cldr_signs import OWN_SIGNS, SIGNS
from bot.money.numerals import read_typed

# The bot's languages; their CLDR symbols are all understood ("CN¥" in en, "US$" in id, "₺" in tr).
BOT_LOCALES = ("en", "id", "ar", "pt_BR", "es", "tr", "th", "zh_Hans")

# Signs that stand for several currencies: the ones the bot's sellers most likely mean, most likely
# first. The chat's currency wins when the sign is also its own (see `is_own_sign`).
_AMBIGUOUS = {
    "$": ("USD", "MXN"),  # CLDR: USD's symbol, and each country's own for MXN, COP, CLP, CAD, SGD, TWD ...
    "¥": ("CNY", "JPY"),  # CLDR: CNY's in zh, JPY's in en and ja; "￥" (fullwidth) is read as "¥"
    "元": ("CNY", "TWD", "HKD"),  # local usage: yuan, the unit word of the renminbi, NT dollar and HK dollar
    "kr": ("DKK", "NOK", "ISK"),  # CLDR: the crowns of Denmark, Norway, Iceland (and Sweden, not orderable)
    "kr.": ("DKK", "NOK", "ISK"),
    "Rs": ("INR", "PKR", "LKR"),  # CLDR: PKR's symbol, "Rs." LKR's; local usage: the older sign for INR
    "Rs.": ("INR", "PKR", "LKR"),
    "₨": ("INR", "PKR", "LKR"),  # the rupee sign before ₹ (2010), still used in Pakistan and Sri Lanka
    "ريال": ("SAR", "QAR", "OMR"),  # local usage: riyal / rial, the Saudi and Qatari riyal and the Omani rial
    "ريالات": ("SAR", "QAR", "OMR"),  # its plural
    "درهم": ("AED", "MAD"),  # local usage: dirham, of the UAE and of Morocco
    "دراهم": ("AED", "MAD"),
    "pesos": ("MXN", "COP", "CLP", "UYU", "PHP"),  # local usage: the pesos PayerMax takes orders in
}
# More likely dollars for readers of one language: Latin America prices in local pesos.
_AMBIGUOUS_BY_LANGUAGE = {"es": {"$": ("USD", "MXN", "COP", "CLP")}}
# Unambiguous spellings CLDR does not list in this form.
_LOCAL = {
    "Rp": "IDR",  # CLDR: IDR's symbol in id (CLDR symbols of Latin letters alone are only taken from here)
    "Rp.": "IDR",  # local usage
    "rupiah": "IDR",  # local usage: the currency's name, as in "150 ribu rupiah"
    "TL": "TRY",  # local usage: Türk lirası, the sign before ₺ (2012) and still everywhere
    "lira": "TRY",  # local usage
    "reais": "BRL",  # local usage: the plural of real, as in "150 reais"
    "ر.س": "SAR",  # local usage: CLDR writes "ر.س." (with the final dot, which is also accepted)
    "บาท": "THB",  # local usage: baht in Thai
    "RM": "MYR",  # CLDR: MYR's symbol in ms
    "S/.": "PEN",  # local usage: the sol's sign before 2015; CLDR has "S/"
    "円": "JPY",  # local usage: yen in kanji
    "RMB": "CNY",  # local usage: renminbi
    "\u20c1": "SAR",  # the Saudi riyal sign (2025), newer than the CLDR data
}
# Case matters for these: "SR" is the Saudi riyal, "sr" and "Sr" are not.
_CASE_SENSITIVE = {"SR": "SAR"}  # local usage in Saudi Arabia

# Lowercase orderable codes that are also everyday words in a reader's language: "150 try shoes"
# may be a description, so the reader asks instead of taking TRY. Readers of Arabic, Thai and Chinese
# write Latin-script words in English, so the English list serves them.
_EVERYDAY_WORDS = {
    "en": frozenset({"try", "pen", "mad", "cop", "bob", "cad"}),
    "id": frozenset(),  # none of the orderable codes is an everyday Indonesian word
    "pt": frozenset({"pen"}),  # "pen drive"
    "es": frozenset({"pen", "ron"}),  # "pen drive"; ron is rum
    "tr": frozenset({"sar", "cad"}),  # sar: wrap; Cad.: avenue
}

# Letters of scripts written without spaces between words: a sign there needs no word boundary ("99元T恤").
_SPACELESS = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class SignMatch:
    """A currency sign or word found in typed text."""

    end: int  # where it ends in the plain text
    codes: tuple[str, ...]  # what it may mean, most likely first


def everyday_words(language: str) -> frozenset[str]:
    """Lowercase codes that are ordinary words for readers of `language`."""
    return _EVERYDAY_WORDS.get(language, _EVERYDAY_WORDS["en"])


def match_sign(text: str, start: int, language: str) -> SignMatch | None:
    """The longest currency sign or word at `start` of plain text, if one is there as a whole word."""
    table, case_sensitive, lengths = _sign_table()
    for length in lengths:
        candidate = text[start : start + length]
        if len(candidate) < length:
            continue
        codes = case_sensitive.get(candidate) or table.get(candidate.casefold())
        if codes is None or not ends_word(text, start + length):
            continue
        return SignMatch(start + length, _AMBIGUOUS_BY_LANGUAGE.get(language, {}).get(candidate, codes))
    return None


def is_spaceless(char: str) -> bool:
    """True for a letter of a script written without spaces between words (Thai, Chinese, Japanese)."""
    return _SPACELESS.match(char) is not None


def ends_word(text: str, end: int) -> bool:
    """True if a sign or word ending at `end` ends there: no letter follows a letter of a spaced script."""
    if end >= len(text) or end == 0:
        return True
    last, following = text[end - 1], text[end]
    if not last.isalpha() or is_spaceless(last):
        return True
    return not following.isalpha()


def is_own_sign(token: str, currency: str) -> bool:
    """True if `currency`'s own country, or one of the bot's locales, writes it as `token` ("$" for MXN)."""
    return plain_sign(token).casefold() in _own_signs(currency)


@lru_cache(maxsize=256)
def _own_signs(currency: str) -> frozenset[str]:
    """Every spelling CLDR gives `currency` in its own countries and in the bot's locales, made plain."""
    ambiguous = (sign.casefold() for sign, codes in _AMBIGUOUS.items() if currency in codes)
    return frozenset((*OWN_SIGNS.get(currency, ()), *ambiguous))


_SignTable = tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]], tuple[int, ...]]


@lru_cache(maxsize=1)
def _sign_table() -> _SignTable:
    """(casefolded sign -> codes, case-sensitive sign -> codes, sign lengths longest first), built once."""
    table = dict(SIGNS)
    table.update({sign.casefold(): (code,) for sign, code in _LOCAL.items()})
    table.update({plain_sign(sign).casefold(): codes for sign, codes in _AMBIGUOUS.items()})
    case_sensitive: dict[str, tuple[str, ...]] = {sign: (code,) for sign, code in _CASE_SENSITIVE.items()}
    lengths = sorted({len(sign) for sign in [*table, *case_sensitive]}, reverse=True)
    return table, case_sensitive, tuple(lengths)


def plain_sign(sign: str) -> str:
    """A sign as the reader sees typed text: direction marks gone, fullwidth forms folded."""
    return read_typed(sign).text.strip()
