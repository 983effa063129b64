"""Which fonts draw a label's text: the Noto families for Latin, Arabic, Thai and Chinese, found on the system.

Pillow draws a string with one font and has no fallback, and no single font covers every
script a label may carry (the Noto script fonts hold only their own script). So a label has a
chain of typefaces, the reader's script first, and each character is drawn with the first face
that has a glyph for it (see ``bot.label.lines``). The fonts come from Debian's packages
(``fonts-noto-core``, ``fonts-noto-cjk``; the Dockerfile and ``.ci/run`` install them); a face
that is missing is left out of the chain, and with none at all Pillow's own font draws Latin.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont  # type: ignore[import-untyped]  # fontTools ships no types
from PIL import ImageFont, features

log = logging.getLogger("paylink.label")

# Debian's packages that hold what a label needs (the Dockerfile and .ci/run install them).
DEBIAN_PACKAGES = ("libfribidi0", "fonts-noto-core", "fonts-noto-cjk")
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
# Whatever Pillow can draw with when no Noto font is installed (Latin only, unshaped).
BUILTIN = "builtin"
# The cmap subtable fontTools' getBestCmap() takes first: Windows, Unicode full repertoire.
FULL_REPERTOIRE = (3, 10)


@dataclass(frozen=True)
class Family:
    """A typeface family by its files: regular and bold, and the face's name inside a collection (.ttc)."""

    name: str
    regular: str
    bold: str
    face: str | None = None  # the face to pick inside a .ttc collection


LATIN = Family("Noto Sans", "NotoSans-Regular.ttf", "NotoSans-Bold.ttf")
ARABIC = Family("Noto Sans Arabic", "NotoSansArabic-Regular.ttf", "NotoSansArabic-Bold.ttf")
THAI = Family("Noto Sans Thai", "NotoSansThai-Regular.ttf", "NotoSansThai-Bold.ttf")
# Simplified Chinese shapes: the collection's Japanese, Korean and Traditional faces draw some Han differently.
CHINESE = Family("Noto Sans CJK SC", "NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc", face="Noto Sans CJK SC")
FAMILIES = (LATIN, ARABIC, THAI, CHINESE)

# The reader's own script goes first, so digits and punctuation in their text take its style.
FIRST_FOR_LANGUAGE = {"ar": ARABIC, "th": THAI, "zh_Hans": CHINESE}


@dataclass(frozen=True)
class Face:
    """One installed font file (and face in it) with the characters it has glyphs for."""

    family: str
    path: Path
    index: int
    characters: frozenset[int] = field(repr=False)

    def covers(self, character: str) -> bool:
        """Whether this face has a glyph for the character."""
        return ord(character) in self.characters


@dataclass(frozen=True)
class Typeface:
    """The faces to draw with, in the order they are tried, at one weight."""

    faces: tuple[Face, ...]

    def face_for(self, character: str, current: Face | None = None) -> Face | None:
        """The face that draws this character: the current one if it can (runs stay whole), else the first that can."""
        if current is not None and current.covers(character):
            return current
        return next((face for face in self.faces if face.covers(character)), None)

    @property
    def first(self) -> Face | None:
        """The face for characters no face has (they show as its empty box)."""
        return self.faces[0] if self.faces else None


def typeface(language: str, *, bold: bool = False) -> Typeface:
    """The faces for a label in this language, its own script first."""
    first = FIRST_FOR_LANGUAGE.get(language, LATIN)
    order = [first, *(family for family in FAMILIES if family != first)]
    faces = [face for family in order if (face := _installed(family, bold)) is not None]
    return Typeface(tuple(faces))


def sized(face: Face | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The face as a Pillow font of this pixel size (Pillow's own font when nothing is installed)."""
    if face is None:
        return ImageFont.load_default(size)
    return _font(face.path, face.index, size)


def shaping_available() -> bool:
    """Whether Pillow can shape text (libraqm with FriBiDi): Arabic joins and Thai marks sit right only then."""
    return bool(features.check("raqm"))


def missing_families() -> list[str]:
    """The families a label would like but cannot find (for doctor and the start-up warning)."""
    return [family.name for family in FAMILIES if _installed(family, False) is None]


@cache
def _font(path: Path, index: int, size: int) -> ImageFont.FreeTypeFont:
    engine = ImageFont.Layout.RAQM if shaping_available() else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(path), size, index=index, layout_engine=engine)


@cache
def _installed(family: Family, bold: bool) -> Face | None:
    """The family's face at this weight, read once: None when its file is not installed."""
    name = family.bold if bold else family.regular
    path = _find(name)
    if path is None:
        return None
    try:
        index, characters = _characters(path, family.face)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("cannot read the font %s (%s); labels draw without it", path, exc)
        return None
    return Face(family.name, path, index, characters)


def _find(file_name: str) -> Path | None:
    """The first file of this name under the font folders."""
    for folder in FONT_DIRS:
        if folder.is_dir():
            found = next(iter(sorted(folder.rglob(file_name))), None)
            if found is not None:
                return found
    return None


def _characters(path: Path, face_name: str | None) -> tuple[int, frozenset[int]]:
    """The face's index in its file and the code points it maps to glyphs."""
    index = 0
    if path.suffix.lower() in {".ttc", ".otc"}:
        index = _face_index(path, face_name)
    font = TTFont(str(path), fontNumber=index, lazy=True)
    try:
        quick = full_repertoire(font.reader["cmap"]) if "cmap" in font.reader else None
        return index, quick if quick is not None else frozenset(font.getBestCmap() or {})
    finally:
        font.close()


def full_repertoire(cmap: bytes) -> frozenset[int] | None:
    """The code points of a cmap table's full-repertoire subtable when it is format 12; None for any other layout.

    fontTools decodes a subtable into glyph names, which for the CJK face (65,535 CFF glyphs) means
    reading its whole charset: most of a tenth of a second of every start-up. The code points come
    straight from the subtable's groups, read with fontTools' rules: a group is clamped to U+10FFFF,
    one that is inverted or starts before the last one ended is skipped, glyph 0 maps nothing.
    """
    _version, count = struct.unpack_from(">HH", cmap, 0)
    for record in range(count):
        platform, encoding, offset = struct.unpack_from(">HHL", cmap, 4 + 8 * record)
        if (platform, encoding) != FULL_REPERTOIRE:
            continue
        format_, _reserved, _length, _language, groups = struct.unpack_from(">HHLLL", cmap, offset)
        end_of_groups = offset + 16 + 12 * groups
        if format_ != 12 or end_of_groups > len(cmap):
            return None
        code_points: set[int] = set()
        last_end = 0
        for start, end, glyph in struct.iter_unpack(">LLL", cmap[offset + 16 : end_of_groups]):
            end = min(end, 0x10FFFF)
            if start > end or start < last_end:
                continue
            last_end = end
            code_points.update(range(start + 1 if glyph == 0 else start, end + 1))
        return frozenset(code_points)
    return None


def _face_index(path: Path, face_name: str | None) -> int:
    """Which face of a collection has this family name (the first if none is asked for)."""
    collection = TTCollection(str(path), lazy=True)
    try:
        names = [str(font["name"].getDebugName(1)) for font in collection.fonts]
    finally:
        collection.close()
    if face_name is None:
        return 0
    if face_name not in names:
        raise ValueError(f"no face named {face_name!r} in it")
    return names.index(face_name)
