"""Words people put after a number to multiply it: "150k", "150rb", "1,5jt", "10 mil", "5万"."""

from __future__ import annotations

from dataclasses import dataclass

from bot.money.symbols import ends_word

# spelling -> (power of ten, languages whose readers use it; None for everyone)
_SHORTHANDS: dict[str, tuple[int, frozenset[str] | None]] = {
    "k": (3, None),  # thousand, in English and well beyond
    "rb": (3, None),  # Indonesian ribu (thousand)
    "ribu": (3, None),
    "jt": (6, None),  # Indonesian juta (million)
    "juta": (6, None),
    "mil": (3, frozenset({"pt", "es"})),  # thousand; in English "mil" would be read as million
    "bin": (3, frozenset({"tr"})),  # Turkish thousand ("150 bin TL"); an English word elsewhere
    "milyon": (6, frozenset({"tr"})),
    "千": (3, None),  # Chinese thousand
    "万": (4, None),  # Chinese ten thousand ("1.5万" = 15000)
    "萬": (4, None),
    "พัน": (3, None),  # Thai thousand, ten thousand, hundred thousand, million
    "หมื่น": (4, None),
    "แสน": (5, None),
    "ล้าน": (6, None),
    "ألف": (3, None),  # Arabic thousand (also written without the hamza), and its plural
    "الف": (3, None),
    "آلاف": (3, None),
    "الاف": (3, None),
}
_LENGTHS = sorted({len(spelling) for spelling in _SHORTHANDS}, reverse=True)


@dataclass(frozen=True)
class Shorthand:
    """A multiplier found after a number."""

    end: int
    power: int  # the number is multiplied by 10**power


def match_shorthand(text: str, start: int, language: str) -> Shorthand | None:
    """The shorthand at `start` of plain text, if one is there as a whole word for readers of `language`."""
    for length in _LENGTHS:
        candidate = text[start : start + length]
        entry = _SHORTHANDS.get(candidate.lower()) if len(candidate) == length else None
        if entry is None or not ends_word(text, start + length):
            continue
        power, languages = entry
        if languages is None or language in languages:
            return Shorthand(start + length, power)
    return None
