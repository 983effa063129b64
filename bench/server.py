"""Serve an ASGI app with uvicorn in a child process, so the load generator never shares its loop.

The child runs uvicorn the way ``PaylinkApp.run`` does: ``asyncio.run`` (the default event loop),
one worker, ``bot.web.connections.server_config`` (h11 with the request deadlines and the
connection cap) and a socket bound beforehand. Both the baseline and the real app are served by
this one function, so the only difference between them is the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import json
import multiprocessing
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection

import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from bot.logs import configure_logging
from bot.payermax.signing import load_public_key
from bot.payermax.webhook import MerchantIdentity
from bot.services.notification_writer import NotificationWriter
from bot.services.payments import PaymentService
from bot.startup_gc import freeze_startup_objects
from bot.web.app import build_web_app
from bot.web.connections import ConnectionGuard, connection_cap, server_config
from storage.db import create_engine, session_factory

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0
BASELINE_ANSWER = {"code": "SUCCESS", "msg": "Success"}


@dataclass(frozen=True)
class ServerSpec:
    """What the child serves: the bare ``baseline`` app or the real ``notify`` app (picklable)."""

    kind: str
    log_path: str
    database_url: str | None = None
    platform_public_key: str | None = None  # base64 SubjectPublicKeyInfo
    profile_path: str | None = None  # write cProfile stats here when set
    # PaylinkApp.bind_socket makes its socket with proto 0, and asyncio only sets TCP_NODELAY on
    # connections whose socket says IPPROTO_TCP; uvicorn's two writes per answer then meet Nagle
    # and delayed ACKs (about 40 ms a request). False reproduces that; True measures the app.
    nodelay: bool = True


class _ChildServer(uvicorn.Server):
    """uvicorn whose stop comes from the handler installed below, so the child can clean up after it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn's own handler re-raises SIGTERM after shutdown, killing the child before it can
        # dispose the engine or write its profile.
        yield


def baseline_app() -> Starlette:
    """A bare Starlette app whose POST endpoint reads the body and acknowledges like the real one."""

    async def acknowledge(request: Request) -> JSONResponse:
        """Read the body and answer SUCCESS."""
        await request.body()
        return JSONResponse(BASELINE_ANSWER)

    return Starlette(routes=[Route("/payermax/notify", acknowledge, methods=["POST"])])


def describe_stack() -> str:
    """The uvicorn event loop and HTTP implementation the child ends up with."""
    config = server_config(baseline_app(), ConnectionGuard(max_connections=connection_cap()))
    config.load()
    http = getattr(config.http_protocol_class, "__name__", str(config.http_protocol_class))
    return f"uvicorn {uvicorn.__version__}, 1 worker, asyncio.run loop (as PaylinkApp), http={http}"


def _build_app(spec: ServerSpec) -> tuple[ASGIApp, AsyncEngine | None, NotificationWriter | None]:
    """The app the spec names, and the engine and started notification writer to close after (None for the baseline)."""
    if spec.kind == "baseline":
        return baseline_app(), None, None
    assert spec.database_url and spec.platform_public_key
    engine = create_engine(spec.database_url)
    payments = PaymentService(session_factory(engine), owner_chat_ids=())
    notifications = NotificationWriter(payments, engine)
    notifications.start()  # as PaylinkApp.run does: group commit in front of PaymentService
    app = build_web_app(
        merchant=MerchantIdentity("bench-app", "BENCH0000001"),
        engine=engine,
        payments=payments,
        notifications=notifications,
        platform_public_key=load_public_key(spec.platform_public_key),
    )
    return app, engine, notifications


async def _serve(spec: ServerSpec, ready: Connection) -> None:
    log_file = open(spec.log_path, "a", encoding="utf-8")  # noqa: SIM115, ASYNC230 - once, before serving; closed below
    # The real process logs at INFO; a notification writes a line, so the bench pays for it too.
    configure_logging("INFO", stream=log_file)
    app, engine, notifications = _build_app(spec)
    freeze_startup_objects()  # as PaylinkApp.run does before serving
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP if spec.nodelay else 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    server = _ChildServer(server_config(app, ConnectionGuard(max_connections=connection_cap())))
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: setattr(server, "should_exit", True))
    profiler = cProfile.Profile() if spec.profile_path else None
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    ready.send(json.dumps({"port": sock.getsockname()[1]}))
    if profiler:
        profiler.enable()
    try:
        await task
    finally:
        if profiler and spec.profile_path:
            profiler.disable()
            profiler.dump_stats(spec.profile_path)
        if notifications is not None:
            await notifications.close()
        if engine is not None:
            await engine.dispose()
        log_file.close()


def _child_main(spec: ServerSpec, ready: Connection) -> None:
    asyncio.run(_serve(spec, ready))


@contextlib.contextmanager
def served(spec: ServerSpec) -> Iterator[int]:
    """Run the app in a fresh child process and yield its port; stop it (gracefully) on exit."""
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(spec, child_end), name=f"bench-{spec.kind}", daemon=True)
    process.start()
    child_end.close()
    try:
        if not parent_end.poll(START_TIMEOUT_SECONDS):
            raise RuntimeError(f"the {spec.kind} server did not start within {START_TIMEOUT_SECONDS:.0f}s")
        port = json.loads(parent_end.recv())["port"]
        yield port
    finally:
        if process.is_alive():
            process.terminate()  # SIGTERM: the child's handler stops uvicorn gracefully
        process.join(STOP_TIMEOUT_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
