"""Bidirectional levels of a line of text, from FriBiDi: which characters run right to left.

A label line may need several fonts (Arabic words with a Latin currency code), and each font
run is drawn on its own, so the runs must be put in display order first: that takes the
Unicode Bidirectional Algorithm's levels. FriBiDi computes them (isolates and brackets
included); it is the library libraqm itself uses to order text inside Pillow, so the order of
the runs and the order within them come from the same algorithm. It is called through ctypes
because Pillow only loads it for its own use.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Sequence
from functools import cache

log = logging.getLogger("paylink.label")

LIBRARY = "libfribidi.so.0"
_PAR_LTR, _PAR_RTL = 0x110, 0x111  # FRIBIDI_PAR_LTR, FRIBIDI_PAR_RTL


def levels(text: str, *, right_to_left: bool) -> list[int]:
    """Each character's embedding level (odd: drawn right to left) in a paragraph of this base direction."""
    length = len(text)
    base = 1 if right_to_left else 0
    library = _fribidi()
    if library is None or length == 0:
        return [base] * length  # without FriBiDi every run keeps the paragraph's direction
    characters = (ctypes.c_uint32 * length)(*map(ord, text))
    types = (ctypes.c_uint32 * length)()
    brackets = (ctypes.c_uint32 * length)()
    result = (ctypes.c_int8 * length)()
    direction = ctypes.c_uint32(_PAR_RTL if right_to_left else _PAR_LTR)
    library.fribidi_get_bidi_types(characters, length, types)
    library.fribidi_get_bracket_types(characters, length, types, brackets)
    if library.fribidi_get_par_embedding_levels_ex(types, brackets, length, ctypes.byref(direction), result) == 0:
        return [base] * length
    return list(result)


def visual_order(run_levels: Sequence[int]) -> list[int]:
    """The order to draw runs in, left to right, given their levels (rule L2: reverse from the highest level down)."""
    order = list(range(len(run_levels)))
    if not run_levels:
        return order
    lowest_odd = min(level for level in run_levels) | 1
    for level in range(max(run_levels), lowest_odd - 1, -1):
        start = None
        for position in range(len(order) + 1):
            inside = position < len(order) and run_levels[order[position]] >= level
            if inside and start is None:
                start = position
            elif not inside and start is not None:
                order[start:position] = reversed(order[start:position])
                start = None
    return order


def available() -> bool:
    """Whether FriBiDi could be loaded."""
    return _fribidi() is not None


@cache
def _fribidi() -> ctypes.CDLL | None:
    try:
        library = ctypes.CDLL(LIBRARY)
    except OSError:
        log.warning("FriBiDi (%s) is not installed: right-to-left label text keeps its logical order", LIBRARY)
        return None
    library.fribidi_get_par_embedding_levels_ex.restype = ctypes.c_int8
    library.fribidi_get_bidi_types.restype = None
    library.fribidi_get_bracket_types.restype = None
    return library
