"""Inline keyboard rows that fit a phone: Telegram gives every button of a row the same width.

A label longer than its share of the row is cut with "…". On a phone 390 points wide (an iPhone
12 to 15), a button alone in its row shows about 34 Latin characters of its label; buttons side by
side share that width, less a gap between them. Characters are counted as they are drawn: wide
ones (CJK, most emoji) as two, combining marks as none.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from typing import TypeVar

from telegram import InlineKeyboardButton

PHONE_ROW_UNITS = 34  # Latin characters a full-width button shows on a 390-point screen
BUTTON_GAP_UNITS = 2  # the gap between buttons side by side, and their padding
MOST_PER_ROW = 3  # more than three choices side by side are hard to hit with a thumb
_EMOJI_PRESENTATION = "\ufe0f"

Item = TypeVar("Item")


def display_units(text: str) -> int:
    """How wide a label is drawn, in Latin characters."""
    units = 0
    for index, char in enumerate(text):
        if char == _EMOJI_PRESENTATION:
            if index and unicodedata.east_asian_width(text[index - 1]) not in ("W", "F"):
                units += 1  # "✖️": a narrow symbol drawn as a (wide) emoji
            continue
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        units += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return units


def share_of_row(buttons: int, row_units: int = PHONE_ROW_UNITS) -> float:
    """How many characters each of ``buttons`` buttons side by side can show."""
    return (row_units - BUTTON_GAP_UNITS * (buttons - 1)) / buttons


def fits(labels: Sequence[str], row_units: int = PHONE_ROW_UNITS) -> bool:
    """Whether these labels side by side in one row all show in full."""
    return bool(labels) and all(display_units(label) <= share_of_row(len(labels), row_units) for label in labels)


def rows_that_fit(
    items: Sequence[Item],
    label: Callable[[Item], str],
    *,
    most: int = MOST_PER_ROW,
    row_units: int = PHONE_ROW_UNITS,
) -> list[list[Item]]:
    """Items in order, as few to a row as needed for every label to show in full (at most ``most`` a row)."""
    rows: list[list[Item]] = []
    for item in items:
        if rows and len(rows[-1]) < most and fits([label(i) for i in [*rows[-1], item]], row_units):
            rows[-1].append(item)
        else:
            rows.append([item])
    return rows


def button_rows(
    buttons: Sequence[InlineKeyboardButton], *, most: int = MOST_PER_ROW
) -> list[list[InlineKeyboardButton]]:
    """Buttons in rows that fit a phone."""
    return rows_that_fit(buttons, lambda button: button.text, most=most)
