"""Telegram HTML for people: user text escaped by default, measured and fitted as Telegram counts.

Every message the bot sends is a :class:`Markup` (markupsafe's ``str`` subclass): a template
written by us, whose ``format`` escapes each value that is not itself ``Markup``. Text a person
typed can therefore never become markup, whatever path it takes into a message.

Telegram limits a message to 4,096 and a caption to 1,024 UTF-16 code units *after* entity
parsing: tags do not count, an emoji counts 2. :func:`visible_length` measures that way;
:func:`clip`, :func:`fit_lines` and :func:`truncate` keep messages within a limit by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html.parser import HTMLParser

from markupsafe import Markup, escape

__all__ = [
    "CALLBACK_ANSWER_LIMIT",
    "CAPTION_LIMIT",
    "MESSAGE_LIMIT",
    "Markup",
    "clip",
    "escape",
    "fit_lines",
    "join",
    "paginate",
    "truncate",
    "utf16_length",
    "visible_length",
]

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_ANSWER_LIMIT = 200  # plain text, characters
INLINE_TITLE_LIMIT = 120
ELLIPSIS = "…"


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts in (an astral character is 2)."""
    return len(text.encode("utf-16-le")) // 2


class _Tokens(HTMLParser):
    """Splits Telegram HTML into tags and visible text (entities decoded), in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[tuple[str, str]] = []  # ("text", decoded text) or ("start"/"end", raw tag)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tokens.append(("start", self.get_starttag_text() or f"<{tag}>"))

    def handle_endtag(self, tag: str) -> None:
        self.tokens.append(("end", f"</{tag}>"))

    def handle_data(self, data: str) -> None:
        self.tokens.append(("text", data))


def _tokens(markup: str) -> list[tuple[str, str]]:
    parser = _Tokens()
    parser.feed(markup)
    parser.close()
    return parser.tokens


def visible_text(markup: str) -> str:
    """The text Telegram shows for this HTML: tags removed, entities decoded."""
    return "".join(value for kind, value in _tokens(markup) if kind == "text")


def visible_length(markup: str) -> int:
    """What Telegram counts against its limits: UTF-16 units of the visible text."""
    return utf16_length(visible_text(markup))


def clip(text: str, units: int) -> str:
    """Plain text shortened to at most ``units`` UTF-16 units, ending with … when it was cut."""
    if utf16_length(text) <= units:
        return text
    if units <= 0:
        return ""
    budget = units - utf16_length(ELLIPSIS)
    kept: list[str] = []
    for char in text:
        size = utf16_length(char)  # a surrogate pair is never split: a code point is kept whole
        if size > budget:
            break
        kept.append(char)
        budget -= size
    return "".join(kept).rstrip() + ELLIPSIS


def join(parts: Sequence[Markup | str], separator: str = "\n") -> Markup:
    """Join lines into one message; plain strings among them are escaped."""
    return Markup(separator).join(parts)


def fit_lines(
    head: Sequence[Markup],
    lines: Sequence[Markup],
    *,
    limit: int,
    more: Callable[[int], Markup],
    tail: Sequence[Markup] = (),
    keep_first: int | None = None,
) -> Markup:
    """``head``, as many ``lines`` as fit within ``limit``, then ``tail``; ``more(n)`` stands for n left out.

    By default lines are kept from the top (lists are newest first). With ``keep_first`` the
    first few are kept and then the latest ones (a timeline's start and its end matter most).
    Each line must already be short: a line is left out whole, never cut.
    """
    fixed = visible_length(join([*head, *tail])) + len(head) + len(tail)
    sizes = [visible_length(line) + 1 for line in lines]
    if fixed + sum(sizes) <= limit:
        return join([*head, *lines, *tail])
    budget = limit - fixed - utf16_length(visible_text(more(len(lines)))) - 1
    count = len(lines)
    top_count = count if keep_first is None else min(keep_first, count)
    top: list[int] = []
    for index in range(top_count):
        if sizes[index] > budget:
            break
        top.append(index)
        budget -= sizes[index]
    bottom: list[int] = []
    if keep_first is not None and len(top) == top_count:
        for index in range(count - 1, top_count - 1, -1):
            if sizes[index] > budget:
                break
            bottom.append(index)
            budget -= sizes[index]
    body = [lines[index] for index in top]
    body.append(more(count - len(top) - len(bottom)))
    body += [lines[index] for index in reversed(bottom)]
    return join([*head, *body, *tail])


def paginate(lines: Sequence[Markup], *, limit: int, head: Markup, reserve: int = 64) -> list[list[Markup]]:
    """Cut lines into pages that each fit under ``head`` within ``limit`` (``reserve`` for a footer)."""
    budget = limit - visible_length(head) - reserve
    pages: list[list[Markup]] = [[]]
    used = 0
    for line in lines:
        size = visible_length(line) + 1
        if pages[-1] and used + size > budget:
            pages.append([])
            used = 0
        pages[-1].append(line)
        used += size
    return pages


def truncate(markup: Markup, limit: int) -> Markup:
    """Cut a message to ``limit`` visible units without breaking its tags (the last resort).

    Text is kept token by token; the token that crosses the limit is clipped with …, and every
    tag still open is closed, so the result always parses.
    """
    if visible_length(markup) <= limit:
        return markup
    budget = limit
    out: list[str] = []
    open_tags: list[str] = []
    for kind, value in _tokens(markup):
        if kind == "start":
            out.append(value)
            open_tags.append(value[1:].split(None, 1)[0].rstrip(">").lower())
        elif kind == "end":
            out.append(value)
            name = value[2:-1].lower()
            if name in open_tags:
                del open_tags[len(open_tags) - 1 - open_tags[::-1].index(name)]
        else:
            size = utf16_length(value)
            if size <= budget:
                out.append(str(escape(value)))
                budget -= size
                continue
            out.append(str(escape(clip(value, budget))))
            break
    out.extend(f"</{name}>" for name in reversed(open_tags))
    return Markup("".join(out))
