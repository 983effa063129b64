"""What the bot's log keeps at DEBUG: its own lines, not the token or a font library's internals."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.logs import configure_logging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("DEBUG", secrets=["123:SECRET"], stream=buffer)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)


def test_debug_keeps_the_bots_lines_and_drops_library_internals(stream: io.StringIO) -> None:
    logging.getLogger("paylink.outbox").debug("claimed 3 messages")
    logging.getLogger("fontTools.ttLib.ttFont").debug("Reading 'cmap' table from disk")
    logging.getLogger("httpx").info("POST https://api.telegram.org/bot123:SECRET/sendMessage")
    logging.getLogger("paylink.chat").warning("send to bot123:SECRET failed")
    lines = stream.getvalue().splitlines()
    assert any("claimed 3 messages" in line for line in lines)
    assert not any("cmap" in line for line in lines)
    assert not any("POST" in line for line in lines)
    assert any("send to bot[redacted] failed" in line for line in lines)
    assert "SECRET" not in stream.getvalue()
