"""The HTTP clients the bot talks to Telegram through: sends wait for a slow answer, getUpdates keeps PTB's.

A send Telegram took but answered late used to end in PTB's 5 s read timeout, and the outbox sent it
again: Telegram has no idempotency key, so the seller read "Paid" twice. Sends now wait
:data:`SEND_READ_TIMEOUT` for the answer (the outbox renews the message's lease meanwhile, and cuts
sends short at stop). getUpdates has its own client: PTB adds the long-poll time to its read timeout.
"""

from __future__ import annotations

import ssl

from telegram.request import HTTPXRequest

# Long enough for a Telegram that is slow but working; a send still unanswered after it is
# ambiguous (it may have been delivered) and retried only after a pause (bot.botapi.errors).
SEND_READ_TIMEOUT = 30.0
SEND_CONNECTIONS = 256  # PTB's default for the general client


def send_request(verify: ssl.SSLContext | bool, *, read_timeout: float = SEND_READ_TIMEOUT) -> HTTPXRequest:
    """The client for every call but getUpdates: sends, edits, answers."""
    return HTTPXRequest(
        connection_pool_size=SEND_CONNECTIONS, read_timeout=read_timeout, httpx_kwargs={"verify": verify}
    )


def updates_request(verify: ssl.SSLContext | bool) -> HTTPXRequest:
    """getUpdates' own client: one connection, PTB's timeouts (it adds the long poll to the read timeout)."""
    return HTTPXRequest(connection_pool_size=1, httpx_kwargs={"verify": verify})
