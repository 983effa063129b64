"""Serve an ASGI app with uvicorn on 127.0.0.1 and a free port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the test process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The owner stops the server through LoopbackServer.stop(); Ctrl-C belongs to pytest.
        yield


class LoopbackServer:
    """An ASGI app served on loopback for the length of a test; `url` has no trailing slash."""

    HOST = "127.0.0.1"
    STARTUP_TIMEOUT_SECONDS = 5.0
    STARTUP_POLL_SECONDS = 0.01
    # Requests still running at shutdown (a long poll, a slow webhook) get this long to finish.
    GRACEFUL_SHUTDOWN_SECONDS = 2

    def __init__(self, app: ASGIApp) -> None:
        config = uvicorn.Config(
            app,
            host=self.HOST,
            port=0,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=self.GRACEFUL_SHUTDOWN_SECONDS,
        )
        self._server = _QuietServer(config)
        self._task: asyncio.Task[None] | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. http://127.0.0.1:54321."""
        if self.port is None:
            raise RuntimeError("the server is not running; call start() first")
        return f"http://{self.HOST}:{self.port}"

    async def start(self) -> None:
        """Start serving and return once the socket is bound."""
        self._task = asyncio.create_task(self._server.serve(), name="loopback-uvicorn")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if self._task.done():
                self._task.result()  # re-raise what stopped uvicorn
                raise RuntimeError("uvicorn exited during startup")
            if loop.time() > deadline:
                await self.stop()
                raise TimeoutError("uvicorn did not start in time")
            await asyncio.sleep(self.STARTUP_POLL_SECONDS)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop serving and wait for uvicorn to finish its shutdown."""
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None
        self.port = None

    async def __aenter__(self) -> LoopbackServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
