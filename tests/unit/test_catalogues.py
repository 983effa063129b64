"""The translation catalogues: complete, in step with the code, and safe to fill in.

A sentence the code says but a catalogue lacks would reach a reader in English; a placeholder or
tag a translation drops or invents would break the message (``str.format`` raises on an unknown
name, Telegram refuses unbalanced HTML). These tests read the code the way ``pybabel extract``
does, so a catalogue that is stale against the code fails here, not in a chat.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from string import Formatter

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.i18n.catalogues import LOCALES_DIR, po_path
from bot.i18n.locales import SUPPORTED

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [code for code in SUPPORTED if code != "en"]
TAG = re.compile(r"</?([a-z]+)[^>]*>")


@cache
def code_messages() -> dict[tuple[str, str | None], tuple[str, ...]]:
    """Every message the code marks for translation: (msgid, context) -> its forms (singular, plural)."""
    found: dict[tuple[str, str | None], tuple[str, ...]] = {}
    for _file, _line, message, _comments, context in extract_from_dir(
        ROOT / "bot", method_map=[("**.py", "python")], keywords=DEFAULT_KEYWORDS
    ):
        forms = tuple(message) if isinstance(message, tuple) else (message,)
        found[(forms[0], context)] = forms
    return found


@cache
def catalogue(code: str) -> Catalog:
    with po_path(code).open("rb") as handle:
        return read_po(handle, locale=code)


def _key(message: Message) -> tuple[str, str | None]:
    msgid = message.id[0] if isinstance(message.id, tuple) else message.id
    return str(msgid), message.context


def _entries(code: str) -> list[Message]:
    return [message for message in catalogue(code) if message.id]


def _translated(message: Message) -> bool:
    forms = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(forms)


def placeholders(text: str) -> Counter[str]:
    """The ``{name}`` fields of a template (``{{`` is a literal brace)."""
    return Counter(name for _literal, name, _spec, _conv in Formatter().parse(text) if name is not None)


def tags(text: str) -> Counter[str]:
    """The HTML tags a template opens and closes."""
    return Counter(match.group(0).split()[0].rstrip(">") for match in TAG.finditer(text))


class _Balance(HTMLParser):
    """Fails on a closing tag that does not close the innermost open one."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.problems.append(f"</{tag}> closes nothing open")


def balanced(text: str) -> bool:
    parser = _Balance()
    parser.feed(text)
    parser.close()
    return not parser.problems and not parser.open


def test_the_template_holds_every_message_of_the_code() -> None:
    """bot/locales/messages.pot is what ``pybabel extract`` gives today (re-extract after changing a sentence)."""
    with (LOCALES_DIR / "messages.pot").open("rb") as handle:
        template = {_key(message) for message in read_po(handle) if message.id}
    assert set(code_messages()) - template == set(), "run pybabel extract (see README: adding a language)"
    assert template - set(code_messages()) == set(), "the template has sentences the code no longer says"


@pytest.mark.parametrize("code", TRANSLATED)
def test_each_language_translates_every_message(code: str) -> None:
    """No sentence reaches a reader untranslated, none is left fuzzy, none is kept for code that is gone."""
    entries = {_key(message): message for message in _entries(code)}
    missing = sorted(key[0] for key in code_messages() if key not in entries)
    stale = sorted(key[0] for key in entries if key not in code_messages())
    fuzzy = sorted(key[0] for key, message in entries.items() if message.fuzzy)
    empty = sorted(key[0] for key, message in entries.items() if not _translated(message))
    assert (missing, stale, fuzzy, empty) == ([], [], [], []), "run pybabel update, then translate"


@pytest.mark.parametrize("code", TRANSLATED)
def test_plural_forms_are_the_languages_own(code: str) -> None:
    """Each plural message has as many forms as the language has (Arabic six, Thai and Chinese one)."""
    count, _expression = get_plural(code)
    assert catalogue(code).num_plurals == count
    for message in _entries(code):
        if message.pluralizable:
            assert len(message.string) == count, message.id


@pytest.mark.parametrize("code", TRANSLATED)
def test_translations_keep_placeholders_and_tags(code: str) -> None:
    """A translation fills in the same values and keeps the markup: same {names}, same tags, balanced."""
    problems = []
    for message in _entries(code):
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = placeholders(sources[-1])
        for index, text in enumerate(translations):
            found = placeholders(text)
            # A plural form other than the last may leave the number out ("one link" as a word); none may invent one.
            partial = message.pluralizable and index < len(translations) - 1
            if set(found) - set(wanted) or (not partial and set(found) != set(wanted)):
                problems.append(f"{sources[0]!r}: placeholders {sorted(found)} instead of {sorted(wanted)}")
            if tags(text) != tags(sources[-1]) or not balanced(text):
                problems.append(f"{sources[0]!r}: tags {dict(tags(text))} instead of {dict(tags(sources[-1]))}")
    assert problems == []


@pytest.mark.parametrize("code", TRANSLATED)
def test_commands_and_codes_are_left_as_typed(code: str) -> None:
    """What a person must type (/link, /settings currency IDR, /invite agent) stays exactly as in the source."""
    command = re.compile(r"/[a-z]+(?:\s+(?:on|off|agent|support|admin|currency|country|zone|expiry|[A-Z]{3}))*")
    problems = []
    for message in _entries(code):
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        typed = set(command.findall(sources[-1]))
        for text in translations:
            problems += [f"{sources[0]!r}: {word!r} changed" for word in typed if word not in text]
    assert problems == []
