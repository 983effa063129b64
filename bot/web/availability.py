"""Whether the database answered the web endpoints lately: one log line each time that changes, and a gauge."""

from __future__ import annotations

import logging

from bot.web import metrics

log = logging.getLogger("paylink.web")

_MAX_REASON_CHARS = 200


class DatabaseAvailability:
    """Outages seen by requests: one WARNING when one starts and one INFO when it ends, not a line per request."""

    def __init__(self) -> None:
        self._up = True
        metrics.DATABASE_UP.set(1)

    def lost(self, error: BaseException) -> None:
        """A request could not use the database because of ``error`` (an outage, see storage.outage)."""
        metrics.DATABASE_UP.set(0)
        if self._up:
            self._up = False
            log.warning("database unavailable (%s): notifications are answered 503 until it is back", describe(error))

    def answered(self) -> None:
        """A request used the database successfully."""
        if not self._up:
            self._up = True
            metrics.DATABASE_UP.set(1)
            log.info("database reachable again")


def describe(error: BaseException) -> str:
    """The driver's own error, in one short line: SQLAlchemy's wrapper text can carry SQL and parameters."""
    while error.__cause__ is not None:
        error = error.__cause__
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text[:_MAX_REASON_CHARS]
