"""The web port's connection rules on a real uvicorn set up as the bot does, with short deadlines and a small cap."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from bot.payermax.webhook import MerchantIdentity
from bot.services.payments import PaymentService
from bot.web.app import build_web_app
from bot.web.connections import ConnectionGuard, server_config
from storage.db import create_engine, session_factory
from tests.keys import rsa_key

# It checks how long things take: see the "timing" marker.
pytestmark = [pytest.mark.timing, pytest.mark.xdist_group("timing")]

HALF_A_HEAD = b"POST /slow HTTP/1.1\r\nHost: bot\r\nContent-Ty"
CLOSED_WITHIN = 2.0  # seconds a test waits for the server to close a connection


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Served:
    """A running server, what it dropped, and an event that releases its slow endpoint."""

    port: int
    dropped: list[str]
    release: asyncio.Event

    async def connect(self, first_bytes: bytes = HALF_A_HEAD) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(first_bytes)
        await writer.drain()
        return reader, writer

    async def get(self, path: str) -> bytes:
        """One complete GET on a new connection; the raw answer."""
        reader, writer = await self.connect(f"GET {path} HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n\r\n".encode())
        try:
            return await asyncio.wait_for(reader.read(), CLOSED_WITHIN)
        finally:
            writer.close()


async def closed_by_server(reader: asyncio.StreamReader, within: float = CLOSED_WITHIN) -> bool:
    """Whether the server closes this connection (without answering) within ``within`` seconds."""
    try:
        return await asyncio.wait_for(reader.read(), within) == b""
    except TimeoutError:
        return False


async def still_open(reader: asyncio.StreamReader) -> bool:
    """Whether the server has left this connection open so far."""
    return not await closed_by_server(reader, within=0.05)


@contextlib.asynccontextmanager
async def serve(app: ASGIApp | None = None, **limits: Any) -> AsyncIterator[Served]:
    """The bot's uvicorn configuration around ``app``, or a tiny app: /fast answers at once, /slow when released."""
    release = asyncio.Event()

    async def fast(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("fast")

    async def slow(request: Request) -> PlainTextResponse:
        await request.body()
        await release.wait()
        return PlainTextResponse("slow")

    app = app or Starlette(routes=[Route("/fast", fast), Route("/slow", slow, methods=["GET", "POST"])])
    dropped: list[str] = []
    guard = ConnectionGuard(on_drop=dropped.append, **limits)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = _Server(server_config(app, guard))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield Served(sock.getsockname()[1], dropped, release)
    finally:
        release.set()
        server.should_exit = True
        await task
        sock.close()


async def test_half_sent_head_is_closed_at_the_deadline_even_if_it_trickles() -> None:
    async with serve(max_connections=100, head_timeout=0.4) as served:
        idle_reader, _idle = await served.connect()
        trickle_reader, trickle = await served.connect(b"G")
        for byte in b"ET /fast HTTP/1.1\r\nHost":  # a byte every 0.05 s: never a complete head within 0.4 s
            if trickle.is_closing() or trickle_reader.at_eof():
                break
            with contextlib.suppress(ConnectionError):
                trickle.write(bytes([byte]))
            await asyncio.sleep(0.05)

        assert await closed_by_server(idle_reader)
        assert await closed_by_server(trickle_reader)
        assert served.dropped == ["request_timeout", "request_timeout"]
        assert (await served.get("/fast")).endswith(b"fast")


async def test_notification_body_that_never_completes_is_closed_quietly_at_its_deadline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'paylink.db'}")
    payments = PaymentService(session_factory(engine), owner_chat_ids=[])
    app = build_web_app(
        merchant=MerchantIdentity("sandbox-app", "SANDBOX000001"),
        engine=engine,
        payments=payments,
        platform_public_key=rsa_key("platform").public_key(),
    )
    head = b"POST /payermax/notify HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: 100\r\n\r\n"
    try:
        async with serve(app, max_connections=100, head_timeout=5, body_timeout=0.4) as served:
            reader, _writer = await served.connect(head + b'{"notifyT')
            assert await closed_by_server(reader)
            assert served.dropped == ["request_timeout"]
            await asyncio.sleep(0.1)  # the endpoint, still reading the body, learns the client is gone
    finally:
        await engine.dispose()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_at_the_cap_the_longest_waiting_connection_makes_room() -> None:
    async with serve(max_connections=4, head_timeout=30) as served:
        connections = [await served.connect() for _ in range(4)]
        readers = [reader for reader, _writer in connections]

        answer = await served.get("/fast")  # a fifth connection: the first idle one goes

        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"fast")
        assert await closed_by_server(readers[0])
        assert [await still_open(reader) for reader in readers[1:]] == [True, True, True]
        assert served.dropped == ["evicted"]


async def test_a_request_being_answered_is_never_evicted(caplog: pytest.LogCaptureFixture) -> None:
    async with serve(max_connections=3, head_timeout=30) as served:
        busy_reader, _busy = await served.connect(b"GET /slow HTTP/1.1\r\nHost: bot\r\n\r\n")
        await asyncio.sleep(0.1)  # the request is in the app, waiting for release
        idle = [await served.connect() for _ in range(6)]

        served.release.set()
        answer = await asyncio.wait_for(busy_reader.readuntil(b"slow"), CLOSED_WITHIN)

        assert answer.startswith(b"HTTP/1.1 200")
        assert served.dropped == ["evicted"] * 4
        assert [await still_open(reader) for reader, _writer in idle] == [False] * 4 + [True] * 2
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_kept_alive_connection_owes_its_next_request_in_time_too() -> None:
    async with serve(max_connections=100, head_timeout=0.4) as served:
        reader, writer = await served.connect(b"GET /fast HTTP/1.1\r\nHost: bot\r\n\r\n")
        assert (await asyncio.wait_for(reader.readuntil(b"fast"), CLOSED_WITHIN)).startswith(b"HTTP/1.1 200")
        writer.write(b"GET /fast HTTP/1.1\r\nHo")  # the next request stalls halfway through its head

        assert await closed_by_server(reader)
        assert served.dropped == ["request_timeout"]
