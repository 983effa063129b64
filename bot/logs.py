"""Structured logging: one event per line, ``key=value`` context, secrets scrubbed."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from typing import TextIO

# Context fields handlers attach with ``extra=`` and the formatter prints when present.
CONTEXT_FIELDS = ("link", "chat", "user", "status", "trade")
# Libraries whose INFO lines would carry the bot token (it is part of every Bot API URL).
_CHATTY_LOGGERS = ("httpx", "httpcore", "telegram", "apscheduler", "uvicorn.access", "aiosqlite", "asyncio")
# Libraries whose DEBUG lines describe their own internals (font tables, image plugins), not the bot's work.
_INTERNAL_LOGGERS = ("fontTools", "PIL", "matplotlib")
_REDACTED = "[redacted]"


class LineFormatter(logging.Formatter):
    """``time level logger message key=value ...`` on one line, exceptions folded in."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if secret]

    def format(self, record: logging.LogRecord) -> str:
        timestamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z"
        parts = [timestamp, record.levelname, record.name, record.getMessage()]
        parts += [
            f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if getattr(record, name, None) is not None
        ]
        if record.exc_info:
            parts.append("exc=" + self.formatException(record.exc_info).replace("\n", " | "))
        line = " ".join(str(part) for part in parts)
        for secret in self._secrets:
            line = line.replace(secret, _REDACTED)
        return line


def configure_logging(level: str = "INFO", *, secrets: Iterable[str] = (), stream: TextIO | None = None) -> None:
    """Send every log line through the scrubbing formatter at the given level."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter = LineFormatter(secrets)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    for name in _INTERNAL_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLevelName(level)))
