"""The sockets this process listens on and the uvicorn servers behind them.

Ports are bound before anything starts, so a port in use is one configuration-error line naming
HTTP_PORT or METRICS_PORT rather than a traceback from deep inside uvicorn.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from bot.config import ConfigError, Settings
from bot.web import metrics
from bot.web.connections import ConnectionGuard, connection_cap, deepen_listen_queue, server_config

log = logging.getLogger("paylink.web")

METRICS_CONNECTIONS = 32  # the metrics listener serves a scraper or two


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: this process decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class Listener:
    """One bound socket and the server that serves it."""

    name: str
    server: EmbeddedServer
    sock: socket.socket


def bind_socket(settings: Settings) -> socket.socket:
    """Bind the web port now, so a port in use is a clear configuration error."""
    return listen(settings.http_host, settings.http_port, "HTTP_PORT")


def bind_metrics_socket(settings: Settings) -> socket.socket | None:
    """Bind METRICS_PORT now, if it is set, for the same reason."""
    if settings.metrics_port is None:
        return None
    return listen(settings.metrics_host, settings.metrics_port, "METRICS_PORT")


def listen(host: str, port: int, variable: str) -> socket.socket:
    """A listening TCP socket on host:port, or a ConfigError naming ``variable``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on accepted sockets of a TCP-protocol
    # listener, and without it every answer waits ~40 ms on Nagle and delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listening at once: with SO_REUSEADDR, a second socket may bind a port nobody listens on yet.
        deepen_listen_queue(sock)
    except OSError as exc:
        sock.close()
        raise ConfigError(variable, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def bind_listeners(settings: Settings, web: ASGIApp) -> list[Listener]:
    """Bind the web port (and METRICS_PORT, if set) and build a uvicorn server for each."""
    sock = bind_socket(settings)
    guard = ConnectionGuard(max_connections=connection_cap(), on_drop=metrics.record_connection_drop)
    metrics.HTTP_CONNECTIONS.set_function(guard.open_connections)
    listeners = [Listener("web", EmbeddedServer(server_config(web, guard)), sock)]
    try:
        metrics_sock = bind_metrics_socket(settings)
    except ConfigError:
        sock.close()
        raise
    if metrics_sock is not None:
        metrics_config = server_config(metrics.metrics_app(), ConnectionGuard(max_connections=METRICS_CONNECTIONS))
        listeners.append(Listener("metrics", EmbeddedServer(metrics_config), metrics_sock))
        log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    return listeners
