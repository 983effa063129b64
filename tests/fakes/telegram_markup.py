"""Telegram's text formatting as the Bot API applies it: parse_mode markup to plain text + entities.

The fake Bot API uses this so that a message the bot sends is stored the way a user sees it,
and so that markup Telegram refuses (an unescaped ``<`` in HTML, an unescaped ``.`` in
MarkdownV2, an unclosed tag) is refused here too, with a "can't parse entities" error.
Entity offsets and lengths are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

Entity = dict[str, Any]


class MarkupError(ValueError):
    """Text Telegram would refuse; the message is the Bot API description after "Bad Request: "."""


def utf16_length(text: str) -> int:
    """Length of text in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """Turn text sent with a parse_mode into (plain text, entities), or raise MarkupError."""
    if not parse_mode:
        return text, []
    parser = _PARSERS.get(parse_mode.lower())
    if parser is None:
        raise MarkupError("unsupported parse_mode")
    plain, entities = parser(text)
    return plain, sorted(entities, key=lambda entity: (entity["offset"], -entity["length"]))


def _byte_offset(text: str, index: int) -> int:
    """UTF-8 byte offset of text[index], the position Telegram quotes in parse errors."""
    return len(text[:index].encode("utf-8"))


def _cant_parse(reason: str) -> MarkupError:
    return MarkupError(f"can't parse entities: {reason}")


@dataclass
class _PlainText:
    """Plain text being built while markup is stripped, with entities closed so far."""

    chars: list[str] = field(default_factory=list)
    position: int = 0  # UTF-16 length of chars
    entities: list[Entity] = field(default_factory=list)

    def append(self, piece: str) -> None:
        self.chars.append(piece)
        self.position += utf16_length(piece)

    def close_entity(self, entity_type: str, start: int, **extra: Any) -> None:
        # Telegram silently drops entities that cover no text.
        if self.position > start:
            self.entities.append({"type": entity_type, "offset": start, "length": self.position - start, **extra})

    def result(self) -> tuple[str, list[Entity]]:
        return "".join(self.chars), self.entities


# --- HTML -------------------------------------------------------------------------------------

_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>")
_HTML_ATTRIBUTE = re.compile(r"""([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_HTML_ENTITY_REFERENCE = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")
_HTML_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


@dataclass
class _OpenTag:
    name: str
    entity_type: str
    start: int
    extra: dict[str, Any]


def _html_attributes(raw: str) -> dict[str, str]:
    attributes = {}
    for match in _HTML_ATTRIBUTE.finditer(raw):
        value = next((group for group in match.groups()[1:] if group is not None), "")
        attributes[match.group(1).lower()] = html.unescape(value)
    return attributes


def _html_open_tag(name: str, raw_attributes: str, start: int, byte_offset: int) -> _OpenTag:
    attributes = _html_attributes(raw_attributes)
    if name == "span" and attributes.get("class") == "tg-spoiler":
        return _OpenTag(name, "spoiler", start, {})
    entity_type = _HTML_TAG_TYPES.get(name)
    if entity_type is None:
        raise _cant_parse(f'Unsupported start tag "{name}" at byte offset {byte_offset}')
    extra: dict[str, Any] = {}
    if name == "a":
        extra["url"] = attributes.get("href", "")
    elif name == "tg-emoji":
        extra["custom_emoji_id"] = attributes.get("emoji-id", "")
    elif name == "blockquote" and "expandable" in attributes:
        entity_type = "expandable_blockquote"
    elif name == "code" and attributes.get("class", "").startswith("language-"):
        extra["language"] = attributes["class"].removeprefix("language-")
    return _OpenTag(name, entity_type, start, extra)


def _parse_html(text: str) -> tuple[str, list[Entity]]:
    plain = _PlainText()
    open_tags: list[_OpenTag] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "<":
            tag = _HTML_TAG.match(text, index)
            if tag is None:
                raise _cant_parse(f"Unexpected end of name token at byte offset {_byte_offset(text, index)}")
            closing, name = tag.group(1) == "/", tag.group(2).lower()
            if closing:
                _close_html_tag(open_tags, name, plain, _byte_offset(text, index))
            else:
                open_tags.append(_html_open_tag(name, tag.group(3), plain.position, _byte_offset(text, index)))
            index = tag.end()
        elif char == "&" and (reference := _HTML_ENTITY_REFERENCE.match(text, index)):
            plain.append(html.unescape(reference.group(0)))
            index = reference.end()
        else:
            plain.append(char)
            index += 1
    if open_tags:
        raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{open_tags[-1].name}"')
    return plain.result()


def _close_html_tag(open_tags: list[_OpenTag], name: str, plain: _PlainText, byte_offset: int) -> None:
    if not open_tags or open_tags[-1].name != name:
        expected = f'"</{open_tags[-1].name}>"' if open_tags else "no end tag"
        raise _cant_parse(f'Unmatched end tag at byte offset {byte_offset}, expected {expected}, found "</{name}>"')
    tag = open_tags.pop()
    parent = open_tags[-1] if open_tags else None
    # <pre><code class="language-x"> is one pre entity with a language, not two entities.
    if tag.entity_type == "code" and parent is not None and parent.entity_type == "pre":
        parent.extra.update(tag.extra)
        return
    plain.close_entity(tag.entity_type, tag.start, **tag.extra)


# --- MarkdownV2 -------------------------------------------------------------------------------

_MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
# Longest first: "__" is underline, "_" italic.
_MARKDOWN_V2_TOGGLES = {
    "||": "spoiler",
    "__": "underline",
    "*": "bold",
    "_": "italic",
    "~": "strikethrough",
}


@dataclass
class _OpenMarker:
    marker: str
    entity_type: str
    start: int
    byte_offset: int
    language: str | None = None


class _MarkdownV2Parser:
    """One pass over MarkdownV2 text; each step consumes one construct and moves `index`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0
        self.plain = _PlainText()
        self.open_markers: list[_OpenMarker] = []
        self.quote_start: int | None = None

    def parse(self) -> tuple[str, list[Entity]]:
        while self.index < len(self.text):
            self._step()
        if self.open_markers:
            raise _unclosed(self.open_markers[-1])
        if self.quote_start is not None:
            self.plain.close_entity("blockquote", self.quote_start)
        return self.plain.result()

    def _step(self) -> None:
        text, index = self.text, self.index
        char = text[index]
        top = self.open_markers[-1] if self.open_markers else None
        toggle = next((m for m in _MARKDOWN_V2_TOGGLES if text.startswith(m, index)), None)
        if char == "\\":
            self._escaped()
        elif top is not None and top.entity_type in ("code", "pre"):
            self._inside_code(top)
        elif text.startswith("```", index):
            self._open_pre()
        elif char == "`":
            self._open("`", "code")
        elif char == ">" and (index == 0 or text[index - 1] == "\n"):
            if self.quote_start is None:
                self.quote_start = self.plain.position
            self.index += 1
        elif char == "\n" and self.quote_start is not None and not text.startswith(">", index + 1):
            self.plain.close_entity("blockquote", self.quote_start)
            self.quote_start = None
            self._literal(char)
        elif toggle is not None:
            self._toggle(toggle, top)
        elif char == "[":
            self._open("[", "text_link")
        elif char == "]" and top is not None and top.marker == "[":
            url, self.index = _markdown_url(text, index + 1, top)
            self.open_markers.pop()
            self.plain.close_entity("text_link", top.start, url=url)
        elif char in _MARKDOWN_V2_RESERVED:
            raise _reserved(char)
        else:
            self._literal(char)

    def _literal(self, piece: str) -> None:
        self.plain.append(piece)
        self.index += len(piece)

    def _escaped(self) -> None:
        # Any character with code 1..126 may be escaped; a lone backslash may not.
        following = self.text[self.index + 1 : self.index + 2]
        if not following or ord(following) > 126:
            raise _reserved("\\")
        self.plain.append(following)
        self.index += 2

    def _inside_code(self, top: _OpenMarker) -> None:
        if not self.text.startswith(top.marker, self.index):
            self._literal(self.text[self.index])
            return
        self.open_markers.pop()
        extra = {"language": top.language} if top.language else {}
        self.plain.close_entity(top.entity_type, top.start, **extra)
        self.index += len(top.marker)

    def _open(self, marker: str, entity_type: str) -> _OpenMarker:
        opened = _OpenMarker(marker, entity_type, self.plain.position, _byte_offset(self.text, self.index))
        self.open_markers.append(opened)
        self.index += len(marker)
        return opened

    def _open_pre(self) -> None:
        line_end = self.text.find("\n", self.index + 3)
        language = self.text[self.index + 3 : line_end] if line_end != -1 else ""
        opened = self._open("```", "pre")
        # "```python\n" names the block's language; that line is markup, not text.
        if language and " " not in language and "`" not in language:
            opened.language = language
            self.index = line_end + 1

    def _toggle(self, toggle: str, top: _OpenMarker | None) -> None:
        if top is not None and top.marker == toggle:
            self.open_markers.pop()
            self.plain.close_entity(top.entity_type, top.start)
            self.index += len(toggle)
        elif any(opened.marker == toggle for opened in self.open_markers):
            raise _unclosed(self.open_markers[-1])  # entities must nest, not overlap
        else:
            self._open(toggle, _MARKDOWN_V2_TOGGLES[toggle])


def _parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    return _MarkdownV2Parser(text).parse()


def _markdown_url(text: str, index: int, marker: _OpenMarker) -> tuple[str, int]:
    """Read "(url)" right after a link's "]"; return the url and the index after ")"."""
    if not text.startswith("(", index):
        raise _unclosed(marker)
    url: list[str] = []
    index += 1
    while index < len(text) and text[index] != ")":
        if text[index] == "\\" and index + 1 < len(text):
            index += 1
        url.append(text[index])
        index += 1
    if index >= len(text):
        raise _cant_parse(f"Can't find end of a URL at byte offset {marker.byte_offset}")
    return "".join(url), index + 1


def _reserved(char: str) -> MarkupError:
    return _cant_parse(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")


def _unclosed(marker: _OpenMarker) -> MarkupError:
    entity_name = marker.entity_type.replace("_", " ").title().replace(" ", "")
    return _cant_parse(f"Can't find end of {entity_name} entity at byte offset {marker.byte_offset}")


# --- legacy Markdown --------------------------------------------------------------------------

_LEGACY_MARKERS = {"```": "pre", "`": "code", "*": "bold", "_": "italic"}
_LEGACY_LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")


def _parse_legacy_markdown(text: str) -> tuple[str, list[Entity]]:
    plain = _PlainText()
    index = 0
    while index < len(text):
        char = text[index]
        marker = next((m for m in _LEGACY_MARKERS if text.startswith(m, index)), None)
        if char == "\\" and index + 1 < len(text) and text[index + 1] in "_*`[":
            plain.append(text[index + 1])
            index += 2
        elif marker is not None:
            end = text.find(marker, index + len(marker))
            if end == -1:
                offset = _byte_offset(text, index)
                raise _cant_parse(f"Can't find end of the entity starting at byte offset {offset}")
            start = plain.position
            plain.append(text[index + len(marker) : end])
            plain.close_entity(_LEGACY_MARKERS[marker], start)
            index = end + len(marker)
        elif char == "[" and (link := _LEGACY_LINK.match(text, index)):
            start = plain.position
            plain.append(link.group(1))
            plain.close_entity("text_link", start, url=link.group(2))
            index = link.end()
        else:
            plain.append(char)
            index += 1
    return plain.result()


_PARSERS = {
    "html": _parse_html,
    "markdownv2": _parse_markdown_v2,
    "markdown": _parse_legacy_markdown,
}
