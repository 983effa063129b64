"""HTTP load generators: POST prepared requests over N keep-alive connections and time each answer.

Two clients do the same thing: ``raw`` writes pre-built HTTP/1.1 requests on asyncio streams and
parses just enough of the answer; ``httpx`` uses ``httpx.AsyncClient``. The raw client costs the
load generator far less per request, so it is the default: a slow client would cap the baseline
and flatter the ratio.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import httpx

from bench.report import percentile

ACKNOWLEDGED_CODE = "SUCCESS"
CLIENTS = ("raw", "httpx")


@dataclass(frozen=True)
class PreparedRequest:
    """One POST: its body and the headers that go with it (besides Host and Content-Length)."""

    body: bytes
    headers: dict[str, str]


@dataclass
class LoadResult:
    """What a run achieved: acknowledged answers, errors by kind, wall time and per-request latency."""

    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, acknowledged answers only

    @property
    def rate(self) -> float:
        """Acknowledged answers per second."""
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def latency_ms(self, fraction: float) -> float:
        """A latency percentile in milliseconds."""
        return percentile(self.latencies, fraction) * 1000

    def error_summary(self) -> str:
        """``none`` or ``count×kind`` pairs."""
        return ", ".join(f"{count}×{kind}" for kind, count in self.errors.most_common()) or "none"

    def record(self, status: int, body: bytes, seconds: float) -> None:
        """Count one answer: only a 200 whose JSON code is SUCCESS is acknowledged."""
        if status == 200:
            try:
                code = json.loads(body).get("code")
            except (ValueError, AttributeError):
                code = None
            if code == ACKNOWLEDGED_CODE:
                self.ok += 1
                self.latencies.append(seconds)
                return
            self.errors[f"200 code={code}"] += 1
            return
        self.errors[f"HTTP {status}"] += 1


async def post_all(
    client: str, host: str, port: int, path: str, requests: Sequence[PreparedRequest], concurrency: int
) -> LoadResult:
    """Send every request once, from ``concurrency`` connections, and time the whole run."""
    if client == "raw":
        return await _post_all_raw(host, port, path, requests, concurrency)
    if client == "httpx":
        return await _post_all_httpx(host, port, path, requests, concurrency)
    raise ValueError(f"unknown client {client!r}; choose one of {CLIENTS}")


def _wire_bytes(host: str, port: int, path: str, request: PreparedRequest) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(request.body)}"]
    head += [f"{name}: {value}" for name, value in request.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + request.body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one HTTP/1.1 answer with a Content-Length body (what uvicorn sends for JSON)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("server closed the connection")
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _post_all_raw(
    host: str, port: int, path: str, requests: Sequence[PreparedRequest], concurrency: int
) -> LoadResult:
    # Build every request before the clock starts: the client's own work must stay out of the figure.
    wire = [_wire_bytes(host, port, path, request) for request in requests]
    result = LoadResult()
    work: Iterator[bytes] = iter(wire)
    connections = [await asyncio.open_connection(host, port) for _ in range(min(concurrency, len(wire)))]

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for payload in work:
            started = time.perf_counter()
            writer.write(payload)
            try:
                status, body = await _read_answer(reader)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                result.errors[type(exc).__name__] += 1
                writer.close()  # the answer is lost with the connection: carry on over a new one
                reader, writer = await asyncio.open_connection(host, port)
                continue
            result.record(status, body, time.perf_counter() - started)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(reader, writer) for reader, writer in connections))
    result.elapsed = time.perf_counter() - started
    return result


async def _post_all_httpx(
    host: str, port: int, path: str, requests: Sequence[PreparedRequest], concurrency: int
) -> LoadResult:
    result = LoadResult()
    work: Iterator[PreparedRequest] = iter(requests)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}", limits=limits, timeout=30.0) as client:

        async def worker() -> None:
            for request in work:
                started = time.perf_counter()
                try:
                    answer = await client.post(path, content=request.body, headers=request.headers)
                except httpx.HTTPError as exc:
                    result.errors[type(exc).__name__] += 1
                    continue
                result.record(answer.status_code, answer.content, time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.elapsed = time.perf_counter() - started
    return result
