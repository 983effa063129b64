"""The quick .po compiler gives every catalogue exactly what Babel's read_po and write_mo give it."""

from __future__ import annotations

import io
from gettext import GNUTranslations
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.i18n.catalogues import babel_compiled
from bot.i18n.locales import SUPPORTED
from bot.i18n.po import compile_po

TRANSLATED = [code for code in SUPPORTED if code != "en"]
HEADER = """msgid ""
msgstr ""
"Language: ar\\n"
"Plural-Forms: nplurals=3; plural=(n == 0 ? 0 : n == 1 ? 1 : 2);\\n"
"Content-Type: text/plain; charset=utf-8\\n"
"""


class Compiled(GNUTranslations):
    """A compiled catalogue whose messages can be compared (the header aside: Babel rewrites it)."""

    def messages(self) -> dict[object, str]:
        catalogue: dict[object, str] = self._catalog  # type: ignore[attr-defined]  # gettext keeps it there
        return {key: value for key, value in catalogue.items() if key != ""}


def _read(mo: bytes) -> Compiled:
    return Compiled(io.BytesIO(mo))


def _babel(po: str) -> Compiled:
    catalog = read_po(io.BytesIO(po.encode()), locale="ar")
    mo = io.BytesIO()
    write_mo(mo, catalog, use_fuzzy=False)
    return _read(mo.getvalue())


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_catalogue_compiles_as_babel_compiles_it(code: str) -> None:
    path = Path(__file__).resolve().parents[2] / "bot" / "locales" / code / "LC_MESSAGES" / "messages.po"
    quick = _read(compile_po(path.read_text(encoding="utf-8")))  # no ValueError: pybabel's files are all read
    babel = _read(babel_compiled(code))
    assert quick.messages() == babel.messages()
    assert [quick.plural(n) for n in range(1000)] == [babel.plural(n) for n in range(1000)]
    assert quick.charset() == babel.charset()


def test_fuzzy_empty_context_plural_and_escapes_follow_babel() -> None:
    po = (
        HEADER
        + """
#: bot/x.py:1
msgid "Plain"
msgstr "Simple"

#, fuzzy, python-format
msgid "Guessed"
msgstr "Devine"

msgid "Untranslated"
msgstr ""

msgctxt "payment method"
msgid "Card"
msgstr "Carte"

msgid "{n} link"
msgid_plural "{n} links"
msgstr[0] "zero"
msgstr[1] ""
msgstr[2] "many"
msgstr[7] "no such form"

msgid ""
"Two "
"lines\\n"
msgstr "Deux \\"lignes\\"\\t\\\\ \\d\\v"

#~ msgid "Gone"
#~ msgstr "Parti"
"""
    )
    quick = _read(compile_po(po))
    assert quick.messages() == _babel(po).messages()
    assert quick.gettext("Plain") == "Simple"
    assert quick.gettext("Guessed") == "Guessed"  # fuzzy: left out
    assert quick.pgettext("payment method", "Card") == "Carte"
    assert quick.ngettext("{n} link", "{n} links", 0) == "zero"
    assert quick.ngettext("{n} link", "{n} links", 1) == "{n} links"  # empty form 1: Babel writes the English plural
    assert quick.gettext("Two lines\n") == 'Deux "lignes"\t\\ \\d\v'
    assert quick.gettext("Gone") == "Gone"


@pytest.mark.parametrize(
    "po",
    [
        "#, fuzzy\n" + HEADER.replace("charset=utf-8", "charset=latin-1"),
        HEADER.replace("Plural-Forms", "Plural"),
        HEADER + '\nmsgid "No translation"\n',
        HEADER + '\nmsgid "Odd"\nmsgstr "x"\n#| msgid "Old"\n"stray"\n',
        HEADER + '\nmsgid "Conflict"\n#-#-#-#-# a.po #-#-#-#-#\nmsgstr "x"\n',
        HEADER + '\nmsgid "Odd"\nmsgstr[0] "x"\n',
    ],
)
def test_what_pybabel_never_writes_is_refused_for_babel_to_read(po: str) -> None:
    with pytest.raises(ValueError):
        compile_po(po)
