"""Connection limits for the embedded uvicorn, so idle or slow clients cannot use up the process's sockets.

uvicorn's h11 protocol sets no deadline on a new connection's first request (its keep-alive
timer only starts after a response), and its ``limit_concurrency`` answers 503 to complete
requests once too many connections are open, which would turn PayerMax's notifications away
first. A client that opens connections and sends half a header could hold every descriptor the
process may open; accept() then fails with EMFILE and notifications and /healthz wait in the
listen backlog until their senders give up.

:func:`guarded_protocol` gives uvicorn an h11 protocol with two rules, kept by a
:class:`ConnectionGuard` per listener:

* a connection owes a complete request head within ``head_timeout`` seconds of opening (or of
  its previous answer) and the rest of its body within ``body_timeout``; past that it is closed;
* at most ``max_connections`` stay open: a new connection beyond that closes the connection
  that has waited longest without delivering a complete request. A flood of idle clients costs
  its own oldest members, never a request being answered, and never PayerMax's next one.

A closed socket's descriptor is only freed an event-loop pass or two later, and asyncio accepts
up to the listener's ``backlog`` connections in each pass before any of them is counted, so the
cap leaves room for a few such batches: uvicorn gets a small ``backlog`` (:data:`ACCEPT_BATCH`)
and the kernel's queue of waiting connections is deepened again once serving
(:func:`deepen_listen_queue`), so a burst waits there instead of being refused.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import uvicorn
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

log = logging.getLogger("paylink.web")

HEAD_TIMEOUT_SECONDS = 5.0
BODY_TIMEOUT_SECONDS = 30.0  # notifications and updates are a few KB; this only bounds a trickle
KEEP_ALIVE_SECONDS = 5  # uvicorn's idle timeout between requests on one connection
ACCEPT_BATCH = 16  # uvicorn's backlog, which asyncio also uses as the most connections accepted per loop pass
LISTEN_QUEUE = 2048  # the kernel's queue of connections not yet accepted (uvicorn's default backlog)
# Descriptors kept free for everything but counted clients: database connections (and SQLite's
# -wal and -shm files), the Telegram and PayerMax HTTP pools, logs, the listening sockets, and a
# few accept batches not yet counted or already closed but not yet released.
MIN_RESERVED_FILES = 128
MAX_CONNECTIONS = 4096
MIN_CONNECTIONS = 16
WARN_EVERY_SECONDS = 60.0


def connection_cap() -> int:
    """How many client connections one listener may keep under this process's RLIMIT_NOFILE."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    reserved = max(MIN_RESERVED_FILES, soft // 4)
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, soft - reserved))


def deepen_listen_queue(sock: socket.socket) -> None:
    """Once asyncio listens with ACCEPT_BATCH, give the kernel a deep queue again (listen() may be called again)."""
    sock.listen(LISTEN_QUEUE)


class ConnectionGuard:
    """One listener's limits, its open connections, and those still owing a request, longest-waiting first."""

    def __init__(
        self,
        *,
        max_connections: int,
        head_timeout: float = HEAD_TIMEOUT_SECONDS,
        body_timeout: float = BODY_TIMEOUT_SECONDS,
        on_drop: Callable[[str], None] | None = None,
    ) -> None:
        self.max_connections = max_connections
        self.head_timeout = head_timeout
        self.body_timeout = body_timeout
        self._on_drop = on_drop
        self._open: set[GuardedH11Protocol] = set()
        self._waiting: dict[GuardedH11Protocol, None] = {}  # insertion order: the first has waited longest
        self._warned_at = -WARN_EVERY_SECONDS

    def open_connections(self) -> int:
        """How many connections are open now."""
        return len(self._open)

    def admit(self, connection: GuardedH11Protocol) -> None:
        """Count a new connection, closing the longest-waiting ones if the cap is reached."""
        if len(self._open) >= self.max_connections and self._waiting:
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY_SECONDS:
                self._warned_at = now
                log.warning(
                    "%d client connections open (the cap): closing those that waited longest without a request",
                    len(self._open),
                )
        while len(self._open) >= self.max_connections and self._waiting:
            self.drop(next(iter(self._waiting)), "evicted")
        self._open.add(connection)
        self.waiting(connection)

    def waiting(self, connection: GuardedH11Protocol) -> None:
        """Mark a connection as owing a request, as the newest in line."""
        self._waiting.pop(connection, None)
        self._waiting[connection] = None

    def busy(self, connection: GuardedH11Protocol) -> None:
        """Mark a connection whose request has fully arrived: it is being answered, never evicted."""
        self._waiting.pop(connection, None)

    def forget(self, connection: GuardedH11Protocol) -> None:
        """Stop counting a connection that closed."""
        self._open.discard(connection)
        self._waiting.pop(connection, None)

    def drop(self, connection: GuardedH11Protocol, reason: str) -> None:
        """Close a connection now and stop counting it; ``reason`` goes to the on_drop hook."""
        self.forget(connection)
        connection.close_now()
        if self._on_drop is not None:
            self._on_drop(reason)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request deadline and a connection cap (see the module docstring)."""

    guard: ClassVar[ConnectionGuard]
    # The deadline is a time, checked by one timer per connection that re-arms itself only while a
    # request is owed: a busy keep-alive connection costs no timer work per request.
    _deadline: float | None = None  # loop time by which the owed request must have arrived; None: none owed
    _timer: asyncio.TimerHandle | None = None
    _request: RequestResponseCycle | None = None  # the latest request whose head arrived

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.guard.admit(self)
        self._owe_request(self.guard.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        self.guard.forget(self)
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return  # still waiting for a request head
        if cycle is not self._request:
            self._request = cycle
            if cycle.more_body:  # a complete head arrived: now the body is on the clock
                self._owe_request(self.guard.body_timeout)
        if not cycle.more_body:
            self._deadline = None
            self.guard.busy(self)

    def on_response_complete(self) -> None:
        # Before uvicorn's own handler, which may start a pipelined request at once.
        if not self.transport.is_closing():
            self.guard.waiting(self)
            self._owe_request(self.guard.head_timeout)
        super().on_response_complete()

    def close_now(self) -> None:
        """Close the connection without an answer (it never completed a request)."""
        self._stop_timer()
        if not self.transport.is_closing():
            self.transport.close()

    def _owe_request(self, seconds: float) -> None:
        self._deadline = self.loop.time() + seconds
        if self._timer is not None and self._timer.when() > self._deadline:
            self._timer.cancel()  # set for a later deadline than this one
            self._timer = None
        if self._timer is None:
            self._timer = self.loop.call_at(self._deadline, self._check_deadline)

    def _check_deadline(self) -> None:
        self._timer = None
        if self._deadline is None:
            return  # the request arrived; the next owed one arms the timer again
        remaining = self._deadline - self.loop.time()
        if remaining > 0:
            self._timer = self.loop.call_later(remaining, self._check_deadline)
        else:
            self.guard.drop(self, "request_timeout")

    def _stop_timer(self) -> None:
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def client_gone(_request: Request, _exc: Exception) -> Response:
    """The connection closed before the body arrived (the client left, or was closed as too slow): nobody reads this."""
    return Response(status_code=400)


# For every Starlette app served behind the guard: without it, each body cut short logs a traceback.
CLIENT_GONE_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {ClientDisconnect: client_gone}


def guarded_protocol(guard: ConnectionGuard) -> type[GuardedH11Protocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` whose connections ``guard`` keeps."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"guard": guard})


GRACEFUL_SHUTDOWN_SECONDS = 2


def server_config(app: ASGIApp, guard: ConnectionGuard) -> uvicorn.Config:
    """uvicorn settings for one listener of this process: h11 kept by ``guard``, logging left to the bot's own."""
    return uvicorn.Config(
        app,
        http=guarded_protocol(guard),
        ws="none",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        backlog=ACCEPT_BATCH,
        log_config=None,
        access_log=False,
        lifespan="off",
        # At shutdown a request in flight gets this long; a slow client must not hold the process past SIGKILL.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
