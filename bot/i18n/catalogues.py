"""The gettext catalogues, read from the ``.po`` files shipped in the package and compiled in memory.

Compiling at start-up (a few milliseconds) means an install has nothing to build and a
catalogue can never be stale against its ``.po``; ``pybabel compile`` is still how a translator
checks a catalogue (see the README).
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from bot.i18n.locales import SUPPORTED

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
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)
