"""The gettext catalogues, read from the ``.po`` files shipped in the package and compiled in memory.

Compiling at start-up means an install has nothing to build and a catalogue can never be stale
against its ``.po``; ``pybabel compile`` is still how a translator checks a catalogue (see the
README). `bot.i18n.po` compiles the files pybabel writes in a few milliseconds; a file it does
not read is compiled by Babel, as every file once was (about 80 ms of CPU for the seven).
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from bot.i18n.locales import SUPPORTED
from bot.i18n.po import compile_po

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"


def po_path(code: str) -> Path:
    """Where a language's catalogue lives in the source tree."""
    return LOCALES_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(code: str) -> NullTranslations:
    """The compiled catalogue of a language (English, the source language, translates to itself)."""
    path = po_path(code)
    if code not in SUPPORTED or code == "en" or not path.exists():
        return NullTranslations()
    try:
        compiled = compile_po(path.read_text(encoding="utf-8"))
    except ValueError:  # something pybabel does not write: Babel reads it as it reads everything
        compiled = babel_compiled(code)
    return Translations(io.BytesIO(compiled), domain=DOMAIN)


def babel_compiled(code: str) -> bytes:
    """A language's ``.mo`` bytes as Babel makes them (``read_po``, then ``write_mo`` without fuzzy entries)."""
    with po_path(code).open("rb") as handle:
        catalog = read_po(handle, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    return compiled.getvalue()
