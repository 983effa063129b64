"""A line of label text laid out: split into runs that one font can draw, put in display order, measured, drawn.

Each run has one face and one direction, so Pillow (with libraqm) shapes it whole: Arabic
letters join, Thai marks sit on their consonants. Runs are cut where the bidirectional level or
the face changes, and drawn in the order the Unicode Bidirectional Algorithm displays them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from PIL import ImageDraw, ImageFont

from bot.label import bidi
from bot.label.fonts import BUILTIN, Face, Typeface, sized

ELLIPSIS = "…"
# LRM, RLM, ALM, the embeddings and overrides, and the isolates.
BIDI_CONTROLS = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class Run:
    """Text one face draws in one direction, at its place on the line."""

    text: str
    face: Face | None
    right_to_left: bool
    x: float
    width: float


@dataclass(frozen=True)
class Line:
    """A laid-out line: its runs left to right, its width, and the size it was laid out at."""

    text: str
    runs: tuple[Run, ...]
    width: float
    size: int

    @property
    def families(self) -> list[str]:
        """The font families drawing the line, left to right (what a test or a person checks)."""
        return [run.face.family if run.face else BUILTIN for run in self.runs]


def lay_out(text: str, typeface: Typeface, size: int, *, right_to_left: bool) -> Line:
    """Lay out one line (no wrapping): runs of one face and direction, in display order."""
    levels = bidi.levels(text, right_to_left=right_to_left)
    pieces: list[tuple[str, Face | None, int]] = []  # logical order: text, face, level
    face: Face | None = None
    for character, level in zip(text, levels, strict=True):
        if _invisible(character):
            continue  # direction marks and isolates have done their work in the levels
        face = typeface.face_for(character, face) or face or typeface.first
        if pieces and pieces[-1][1] == face and pieces[-1][2] == level:
            pieces[-1] = (pieces[-1][0] + character, face, level)
        else:
            pieces.append((character, face, level))
    runs: list[Run] = []
    x = 0.0
    for index in bidi.visual_order([level for _, _, level in pieces]):
        piece, face, level = pieces[index]
        width = _length(piece, face, size, level % 2 == 1)
        runs.append(Run(piece, face, level % 2 == 1, x, width))
        x += width
    return Line(text, tuple(runs), x, size)


def fit(text: str, typeface: Typeface, size: int, max_width: float, *, right_to_left: bool, min_size: int) -> Line:
    """The line at the largest size from ``size`` down to ``min_size`` that fits; if none does, cut with an ellipsis."""
    line = lay_out(text, typeface, size, right_to_left=right_to_left)
    while line.width > max_width and line.size > min_size:
        line = lay_out(text, typeface, max(min_size, int(line.size * 0.9)), right_to_left=right_to_left)
    if line.width <= max_width:
        return line
    return shorten(text, typeface, line.size, max_width, right_to_left=right_to_left)


def wrap(
    text: str, typeface: Typeface, size: int, max_width: float, *, right_to_left: bool, max_lines: int
) -> list[Line]:
    """Break text into at most ``max_lines`` lines that fit (between words; inside a long word if it must)."""
    lines: list[Line] = []
    rest = " ".join(text.split())
    while rest and len(lines) < max_lines:
        if len(lines) == max_lines - 1:
            lines.append(shorten(rest, typeface, size, max_width, right_to_left=right_to_left))
            break
        cut = _longest_fitting(rest, typeface, size, max_width, right_to_left)
        lines.append(lay_out(rest[:cut].rstrip(), typeface, size, right_to_left=right_to_left))
        rest = rest[cut:].lstrip()
    return lines


def shorten(text: str, typeface: Typeface, size: int, max_width: float, *, right_to_left: bool) -> Line:
    """The text as it is if it fits, else cut at a character and ended with an ellipsis."""
    line = lay_out(text, typeface, size, right_to_left=right_to_left)
    if line.width <= max_width:
        return line
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis after it
        middle = (low + high + 1) // 2
        candidate = _clean_cut(text, middle)
        if lay_out(candidate + ELLIPSIS, typeface, size, right_to_left=right_to_left).width <= max_width:
            low = middle
        else:
            high = middle - 1
    return lay_out(_clean_cut(text, low) + ELLIPSIS, typeface, size, right_to_left=right_to_left)


def draw(canvas: ImageDraw.ImageDraw, line: Line, left: float, top: float, fill: str) -> None:
    """Draw the line with its left edge at ``left`` and its top (the font's ascender) at ``top``."""
    for run in line.runs:
        font = sized(run.face, line.size)
        direction = _direction(font, run.right_to_left)
        canvas.text(
            (left + run.x, top + _ascent(font)), run.text, font=font, fill=fill, anchor="ls", direction=direction
        )


def height(size: int) -> int:
    """The height a line of this size takes, ascender to descender, the same for every script."""
    return round(size * 1.45)


def _ascent(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> float:
    # A common baseline for every face: Arabic and Thai faces have taller ascenders than Latin.
    return getattr(font, "size", 10) * 1.05


def _length(text: str, face: Face | None, size: int, right_to_left: bool) -> float:
    font = sized(face, size)
    return float(font.getlength(text, direction=_direction(font, right_to_left)))


def _direction(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, right_to_left: bool) -> str | None:
    """The run's direction for a font that shapes (libraqm); a font laid out glyph by glyph takes none."""
    if getattr(font, "layout_engine", None) != ImageFont.Layout.RAQM:
        return None
    return "rtl" if right_to_left else "ltr"


def _longest_fitting(text: str, typeface: Typeface, size: int, max_width: float, right_to_left: bool) -> int:
    """How much of the text's start fits on a line: up to a space if one can be found, else up to a character."""
    fits = len(text)
    while fits > 1 and lay_out(text[:fits], typeface, size, right_to_left=right_to_left).width > max_width:
        space = text.rfind(" ", 0, fits)
        fits = space if space > 0 else len(_clean_cut(text, fits - 1))
    return max(fits, 1)


def _clean_cut(text: str, end: int) -> str:
    """The text up to ``end``, moved back so no combining mark is left without its letter."""
    while 0 < end < len(text) and unicodedata.category(text[end]) in {"Mn", "Mc", "Me"}:
        end -= 1
    return text[:end].rstrip()


def _invisible(character: str) -> bool:
    """Bidirectional controls (marks, embeddings, isolates): they steer the order and are never drawn."""
    return character in BIDI_CONTROLS
