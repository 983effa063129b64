"""Which characters a label font has: read straight from its cmap, the same set fontTools' getBestCmap gives."""

from __future__ import annotations

import struct

import pytest
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]  # fontTools ships no types
from fontTools.ttLib.tables._c_m_a_p import table__c_m_a_p  # type: ignore[import-untyped]

from bot.label import fonts

FACES = [(family, bold) for family in fonts.FAMILIES for bold in (False, True)]


def _cmap(groups: list[tuple[int, int, int]], *, platform: int = 3, encoding: int = 10) -> bytes:
    """A cmap table with one format 12 subtable of these (first, last, glyph) groups."""
    subtable = struct.pack(">HHLLL", 12, 0, 16 + 12 * len(groups), 0, len(groups))
    subtable += b"".join(struct.pack(">LLL", *group) for group in groups)
    return struct.pack(">HHHHL", 0, 1, platform, encoding, 12) + subtable


def _fonttools_code_points(cmap: bytes) -> frozenset[int]:
    font = TTFont()
    font.setGlyphOrder([".notdef", *(f"g{index}" for index in range(1, 400))])
    table = table__c_m_a_p()
    table.decompile(cmap, font)
    font["cmap"] = table
    return frozenset(font.getBestCmap() or {})


@pytest.mark.parametrize(("family", "bold"), FACES, ids=[f"{f.name}{' bold' if b else ''}" for f, b in FACES])
def test_installed_faces_cover_what_fonttools_says(family: fonts.Family, bold: bool) -> None:
    path = fonts._find(family.bold if bold else family.regular)
    if path is None:
        pytest.skip(f"{family.name} is not installed (.ci/run installs it)")
    index, characters = fonts._characters(path, family.face)
    font = TTFont(str(path), fontNumber=index, lazy=True)
    try:
        assert characters == frozenset(font.getBestCmap() or {})
        if family == fonts.CHINESE:  # the face this reading is for: 45,000 characters without naming their glyphs
            assert fonts.full_repertoire(font.reader["cmap"]) is not None
    finally:
        font.close()


def test_groups_are_read_with_fonttools_rules() -> None:
    groups = [
        (0x41, 0x5A, 1),  # A-Z
        (0x61, 0x63, 0),  # glyph 0: "a" maps nothing, "b" and "c" the glyphs after it
        (0x300, 0x2FF, 40),  # inverted: skipped
        (0x100, 0x110, 50),  # starts before the last group ended (0x2FF is skipped, so 0x63): kept
        (0x105, 0x120, 70),  # starts inside the last one: skipped
        (0x10FFF0, 0x1100FF, 90),  # clamped to U+10FFFF
    ]
    cmap = _cmap(groups)
    assert fonts.full_repertoire(cmap) == _fonttools_code_points(cmap)
    assert fonts.full_repertoire(cmap) == frozenset(
        [*range(0x41, 0x5B), 0x62, 0x63, *range(0x100, 0x111), *range(0x10FFF0, 0x110000)]
    )


def test_other_subtables_are_left_to_fonttools() -> None:
    assert fonts.full_repertoire(_cmap([(0x41, 0x5A, 1)], platform=3, encoding=1)) is None
    assert fonts.full_repertoire(_cmap([(0x41, 0x5A, 1)])[:-4]) is None  # cut short: fontTools says what is wrong
