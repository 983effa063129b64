"""Who is reading: the language and time zone a message is being written for, and the gettext calls that use them.

Handlers set the reader for the update they handle, the outbox for the chat a message goes to
(:func:`reading_as`); everything that words or formats a message below them asks :func:`current`.
A ContextVar keeps concurrent updates and deliveries from seeing each other's reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from bot.i18n.catalogues import translations


@dataclass(frozen=True)
class Reader:
    """A message's reader: the bot's language for them and the time zone they live in (IANA name)."""

    locale: str = "en"
    timezone: str = "UTC"


_reader: ContextVar[Reader] = ContextVar("reader", default=Reader())


def current() -> Reader:
    """The reader of the message being written now."""
    return _reader.get()


@contextmanager
def reading_as(reader: Reader) -> Iterator[Reader]:
    """Write messages for ``reader`` inside this block."""
    token = _reader.set(reader)
    try:
        yield reader
    finally:
        _reader.reset(token)


def set_reader(reader: Reader) -> None:
    """Write messages for ``reader`` from here on in this task (a handler's whole update)."""
    _reader.set(reader)


def gettext(message: str) -> str:
    """``message`` in the reader's language."""
    return translations(_reader.get().locale).ugettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form (as the reader's language counts) of a message."""
    return translations(_reader.get().locale).ungettext(singular, plural, count)


def pgettext(context: str, message: str) -> str:
    """``message`` in the reader's language, in this context (the same English word, translated apart)."""
    return translations(_reader.get().locale).upgettext(context, message)


def N_(message: str) -> str:  # noqa: N802 - the name pybabel looks for
    """Mark a message for extraction without translating it yet (translated where it is used)."""
    return message
