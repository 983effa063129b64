"""Numbers as people type them: digits of any script, the locale's separators, and the readings they allow."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel.numbers import get_decimal_symbol, get_group_symbol

from bot.money.locales import babel_locale

# Direction marks and invisible characters that copy-pasted amounts (ours included) carry around.
_INVISIBLE = frozenset("\u200b\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
# Typographic apostrophes and primes people use to group thousands ("1’500").
_APOSTROPHES = frozenset("\u2019\u02bc\u2032")
ARABIC_DECIMAL = "\u066b"  # ٫ only ever separates decimals
ARABIC_GROUP = "\u066c"  # ٬ only ever groups thousands

# The digits of an amount: groups joined by one separator each ("1.234,56", "1'500", "١٬٥٠٠").
_RUN = re.compile(rf"[0-9]+(?:[.,'{ARABIC_DECIMAL}{ARABIC_GROUP}][0-9]+)*")
# A further space-separated group of exactly three digits, possibly with the decimal part ("1 500 000,50").
_SPACE_GROUP = re.compile(rf" [0-9]{{3}}(?![0-9])(?P<fraction>[.,{ARABIC_DECIMAL}][0-9]+)?")


@dataclass(frozen=True)
class Typed:
    """Typed text made plain for reading (ASCII digits, plain spaces, no direction marks), mapped to the original."""

    original: str
    text: str
    origin: tuple[int, ...]  # for each character of `text`, its index in `original`

    def source(self, start: int, end: int) -> str:
        """The original characters behind text[start:end], as the person typed them."""
        if start >= end:
            return ""
        return self.original[self.origin[start] : self.origin[end - 1] + 1]

    def after(self, position: int) -> str:
        """The original text from `position` on, without surrounding spaces and direction marks."""
        if position >= len(self.text):
            return ""
        return strip_invisible(self.original[self.origin[position] :])


def strip_invisible(text: str) -> str:
    """`text` without leading and trailing spaces and direction marks."""
    return text.strip("".join(_INVISIBLE) + " \t\n\r\u00a0\u202f\u2009\u3000")


def read_typed(original: str) -> Typed:
    """Make `original` plain for reading, one character for one, so positions map back."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(original):
        plain = _plain(char)
        if plain is not None:
            chars.append(plain)
            origin.append(index)
    return Typed(original, "".join(chars), tuple(origin))


def _plain(char: str) -> str | None:
    """One typed character as the reader sees it, or None if it is invisible."""
    if char in _INVISIBLE:
        return None
    if char.isspace():
        return " "  # no-break, thin and ideographic spaces group thousands like a space
    digit = unicodedata.decimal(char, None)
    if digit is not None:
        return str(digit)  # Arabic-Indic, Persian, Thai, Devanagari, fullwidth ...
    if char in _APOSTROPHES:
        return "'"
    if char == "\u2212":
        return "-"  # the minus sign some keyboards produce
    # Fullwidth forms from Chinese and Japanese keyboards ("￥", "，") become their plain forms.
    folded = unicodedata.normalize("NFKC", char)
    return folded if len(folded) == 1 else char


def number_end(text: str, start: int) -> int:
    """End of the number that starts with a digit at `start`, space-separated groups included."""
    run = _RUN.match(text, start)
    assert run is not None, "callers start at a digit"
    end = run.end()
    # Only a short first group can start a space-grouped number: "50000 250 g" is two numbers.
    if re.fullmatch(r"[0-9]{1,3}", run.group()):
        while group := _SPACE_GROUP.match(text, end):
            end = group.end()
            if group["fraction"]:
                break
    return end


@dataclass(frozen=True)
class Marks:
    """How a locale uses "." and "," in numbers."""

    decimal: frozenset[str]  # marks the locale writes decimals with
    group: frozenset[str]  # marks the locale settles as thousands separators


@lru_cache(maxsize=64)
def locale_marks(locale: str) -> Marks:
    """The decimal and group marks of `locale`, from CLDR."""
    babel = babel_locale(locale)
    if babel.territory == "419":
        # Latin America writes both: "1,500.50" in Mexico, "1.500,50" in Argentina or Colombia, so
        # neither mark settles anything; a lone "1.500" stays ambiguous.
        return Marks(decimal=frozenset(".,"), group=frozenset())
    return Marks(decimal=frozenset({get_decimal_symbol(babel)}), group=frozenset({get_group_symbol(babel)}))


def readings(number: str, marks: Marks, *, shorthand: bool) -> list[Decimal]:
    """The values `number` can mean, most likely first: one if certain, [grouped, decimal] if not.

    Every separator may group thousands, or the last one may mark decimals. A decimal mark is
    one the locale writes decimals with, the Arabic "٫", or another mark with one or two digits
    after it ("12,50" in en); with a shorthand ("1,5jt") only the locale's own decimal mark counts.
    A lone mark the locale groups thousands with settles it: "1,500" in en and "1.500" in id.
    Empty when no reading fits: the separators are misplaced.
    """
    parts = re.split(r"[^0-9]", number)
    separators = [char for char in number if not char.isdigit()]
    if not separators:
        return [Decimal(number)]
    found: list[Decimal] = []
    if _one_kind(separators) and separators[0] != ARABIC_DECIMAL and _grouped(parts):
        found.append(Decimal("".join(parts)))
    last, head, fraction = separators[-1], separators[:-1], parts[-1]
    decimal_mark = last == ARABIC_DECIMAL or last in marks.decimal or (last in ".," and len(fraction) <= 2)
    if shorthand:
        decimal_mark = last == ARABIC_DECIMAL or last in marks.decimal
    head_groups = not head or (_one_kind(head) and head[0] not in (last, ARABIC_DECIMAL) and _grouped(parts[:-1]))
    if decimal_mark and head_groups:
        found.append(Decimal(f"{''.join(parts[:-1])}.{fraction}"))
    if len(found) == 2 and last in marks.group:
        found = found[:1]
    return found


def _one_kind(separators: list[str]) -> bool:
    """True if all separators are the same character."""
    return len(set(separators)) == 1


def _grouped(parts: list[str]) -> bool:
    """Groups of thousands: a first group of 1-3 digits not starting with 0, then groups of exactly 3."""
    first, rest = parts[0], parts[1:]
    return 1 <= len(first) <= 3 and not first.startswith("0") and all(len(part) == 3 for part in rest)
