"""A ``.po`` catalogue compiled to ``.mo`` bytes, for the files pybabel writes, in a fraction of Babel's time.

Babel's ``read_po`` and ``write_mo`` build a full Catalog (locations, comments, sorted messages):
about 80 ms of CPU for the seven catalogues, which every start-up spent before the first menu was
published. This reads only what a compiled catalogue holds, with Babel's rules: fuzzy and empty
translations left out, a plural form left empty falls back to the English one, a context is
joined to its msgid with EOT. Anything else in a file (obsolete entries aside) is refused with
ValueError, and the caller compiles that file with Babel instead.
"""

from __future__ import annotations

import array
import re
import struct

_ESCAPE = re.compile(r'\\([\\abfnrtv"])')  # the escapes Babel's unescape() knows; any other backslash stays
_ESCAPED = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_PLURAL_COUNT = re.compile(r"\bnplurals\s*=\s*(\d+)")
_CHARSET = re.compile(r"\bcharset\s*=\s*([\w-]+)", re.IGNORECASE)
_MO_MAGIC = 0x950412DE


class _Entry:
    """One message as read: keyword -> its string pieces (msgstr[N] under "msgstr[N]")."""

    def __init__(self, fuzzy: bool) -> None:
        self.fuzzy = fuzzy
        self.parts: dict[str, list[str]] = {}
        self.last = ""
        self.translated = False  # a msgstr has been read: a comment may end the message

    def add(self, keyword: str, quoted: str) -> None:
        if keyword in self.parts:
            raise ValueError(f"{keyword} twice in one message")
        self.parts[keyword] = [_unquote(quoted)]
        self.last = keyword
        self.translated = self.translated or keyword.startswith("msgstr")

    def text(self, keyword: str) -> str:
        return "".join(self.parts[keyword])


def compile_po(text: str) -> bytes:
    """The ``.mo`` file Babel's ``write_mo(read_po(...), use_fuzzy=False)`` makes of ``text``, in another order."""
    entries = _entries(text)
    if not entries or "msgctxt" in entries[0].parts or entries[0].text("msgid") != "":
        raise ValueError("the catalogue does not start with its header")
    header = entries[0].text("msgstr")
    fields = dict(_field(line) for line in header.split("\n") if ":" in line)
    plural_count = _PLURAL_COUNT.search(fields.get("plural-forms", ""))
    charset = _CHARSET.search(fields.get("content-type", ""))
    if plural_count is None or charset is None or charset.group(1).lower().replace("_", "-") != "utf-8":
        raise ValueError("the header names no plural count or no UTF-8 charset")
    compiled = {"": header}
    for entry in entries[1:]:
        message = _message(entry, int(plural_count.group(1)))
        if message is not None:
            key, translation = message
            compiled[key] = translation
    return _mo_bytes(compiled)


def _entries(text: str) -> list[_Entry]:
    """The messages in file order; obsolete (#~) ones left out."""
    entries: list[_Entry] = []
    current: _Entry | None = None
    fuzzy = False  # the flags comment of the message about to start
    for raw in text.split("\n"):  # as Babel reads a file: by "\n" only, not every break str.splitlines() knows
        line = raw.strip()
        if not line:
            continue
        first = line[0]
        if first == "#":
            if current is not None and not current.translated:
                raise ValueError("a comment inside a message")
            current = None  # a comment ends a message, as in Babel
            kind = line[1:2]
            if kind == "~":
                fuzzy = False  # those flags were the obsolete message's
            elif kind == ",":
                fuzzy = fuzzy or "fuzzy" in (flag.strip() for flag in line[2:].split(","))
            continue
        if first == '"':
            if current is None:
                raise ValueError("a string outside a message")
            current.parts[current.last].append(_unquote(line))
            continue
        keyword, _, quoted = line.partition(" ")
        starts = keyword == "msgctxt" or (keyword == "msgid" and (current is None or "msgid" in current.parts))
        if starts:
            current = _Entry(fuzzy)
            entries.append(current)
            fuzzy = False
        if current is None or not (keyword in ("msgctxt", "msgid", "msgid_plural", "msgstr") or _is_form(keyword)):
            raise ValueError(f"unexpected line {line[:40]!r}")
        current.add(keyword, quoted.strip())
    return entries


def _message(entry: _Entry, plural_count: int) -> tuple[str, str] | None:
    """The compiled key and translation of one message, or None when it is left out (fuzzy, untranslated)."""
    parts = entry.parts
    if "msgid" not in parts:
        raise ValueError("a message without msgid")
    msgid = entry.text("msgid")
    forms = sorted((int(key[7:-1]), entry.text(key)) for key in parts if _is_form(key))
    if "msgid_plural" in parts:
        if "msgstr" in parts or not forms:
            raise ValueError(f"plural message {msgid!r} without msgstr[N]")
        plural = entry.text("msgid_plural")
        strings = [""] * plural_count
        for index, form in forms:
            if index < plural_count:  # Babel drops forms the catalogue has no place for
                strings[index] = form
        key = f"{msgid}\0{plural}"
        # Babel writes an empty form as the English singular (form 0) or plural (every other).
        translation = "\0".join(form or (msgid if index == 0 else plural) for index, form in enumerate(strings))
    else:
        if forms or "msgstr" not in parts:
            raise ValueError(f"message {msgid!r} without one msgstr")
        key, translation = msgid, entry.text("msgstr")
        if not translation:
            return None
    if entry.fuzzy:
        return None
    if "msgctxt" in parts:
        key = f"{entry.text('msgctxt')}\x04{key}"
    return key, translation


def _field(line: str) -> tuple[str, str]:
    """A header line's name (lowercase, as gettext reads it) and value."""
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


def _is_form(keyword: str) -> bool:
    return keyword.startswith("msgstr[") and keyword.endswith("]") and keyword[7:-1].isdigit()


def _unquote(quoted: str) -> str:
    if len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
        raise ValueError(f"not a quoted string: {quoted[:40]!r}")
    return _ESCAPE.sub(lambda match: _ESCAPED.get(match.group(1), match.group(1)), quoted[1:-1])


def _mo_bytes(messages: dict[str, str]) -> bytes:
    """GNU ``.mo`` bytes (this machine's byte order, no hash table, as Babel writes them), the header first."""
    keys = [key.encode() for key in messages]
    values = [value.encode() for value in messages.values()]
    key_start = 7 * 4 + 16 * len(keys)
    value_start = key_start + sum(len(key) + 1 for key in keys)
    index: list[int] = []
    offset = key_start
    for key in keys:
        index += [len(key), offset]
        offset += len(key) + 1
    offset = value_start
    for value in values:
        index += [len(value), offset]
        offset += len(value) + 1
    header = struct.pack("Iiiiiii", _MO_MAGIC, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, 0)
    strings = b"".join(key + b"\0" for key in keys) + b"".join(value + b"\0" for value in values)
    return header + array.array("i", index).tobytes() + strings
