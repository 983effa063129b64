"""Notification throughput: signed PAYBYLINK notifications per second with a durable commit.

Serves the real web app (``build_web_app`` with a real ``PaymentService`` on a real database) and
a bare Starlette endpoint with the same uvicorn set-up, each in a child process, and posts to both
from this process over 32 keep-alive connections. Every notification pays a different ACTIVE link,
so each one is a new payment: a committed transaction with the payment and its outbox rows.
The baseline runs before and after the real app and the two rates are averaged, to damp drift.

    .venv/bin/python -m bench.notify [--quick] [--database-url postgresql+asyncpg://...] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pstats
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import func, select
from sqlmodel import col

from bench.databases import bench_database, describe
from bench.loadgen import CLIENTS, LoadResult, PreparedRequest, post_all
from bench.report import print_table, verdict
from bench.server import HOST, ServerSpec, describe_stack, served
from bot.payermax import signing
from storage.db import create_engine, session_factory, upgrade
from storage.models import Link, LinkStatus, OutboxKind, OutboxMessage, Payment

NOTIFY_PATH = "/payermax/notify"
CONCURRENCY = 32
FULL_COUNT, QUICK_COUNT = 5000, 1000
FULL_WARMUP, QUICK_WARMUP = 300, 100
FULL_CLIENT_CHECK, QUICK_CLIENT_CHECK = 1000, 500  # baseline requests also sent with the other client
GOAL_RATIO = 0.25
GOAL_P99_MS = 50.0
CHATS = 100  # links spread over this many chats, as many sellers would
FIRST_CHAT_ID = 1_000_000
LINK_AMOUNT, LINK_CURRENCY = Decimal("12.50"), "USD"
PROFILE_LINES = 22
ERROR_LINES_SHOWN = 5
ERROR_CHARS_SHOWN = 300
LOG_RECORD_START = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


@dataclass(frozen=True)
class Measurement:
    """Every load run of one benchmark, and what the database holds afterwards."""

    baseline_before: LoadResult
    warmup: LoadResult
    notify: LoadResult
    baseline_after: LoadResult
    other_client: str
    client_check: LoadResult
    payments: int
    paid_messages: int

    @property
    def baseline_rate(self) -> float:
        """The mean of the two baseline rates."""
        return (self.baseline_before.rate + self.baseline_after.rate) / 2

    @property
    def ratio(self) -> float:
        """Notify rate over the mean baseline rate."""
        return self.notify.rate / self.baseline_rate if self.baseline_rate else 0.0

    @property
    def expected_payments(self) -> int:
        """Payments the acknowledged answers promise (warm-up included)."""
        return self.warmup.ok + self.notify.ok


def merchant_link_id(index: int) -> str:
    """An id with the shape the bot gives its links ("PL" and 12 characters)."""
    return f"PLBENCH{index:07d}"


async def seed_links(database_url: str, count: int) -> None:
    """Create the schema and ``count`` ACTIVE links, as LinkService leaves them once PayerMax answered."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session, session.begin():
            session.add_all(
                Link(
                    merchant_link_id=merchant_link_id(index),
                    chat_id=FIRST_CHAT_ID + index % CHATS,
                    creator_user_id=FIRST_CHAT_ID + index % CHATS,
                    creator_name="Bench",
                    amount=LINK_AMOUNT,
                    currency=LINK_CURRENCY,
                    country="US",
                    description=f"Order {index}",
                    expires_seconds=86400,
                    status=LinkStatus.ACTIVE,
                    payermax_link_id=f"BENCHLINK{index:09d}",
                    link_url=f"https://pay.example/{index}",
                    card_message_id=index + 1,
                )
                for index in range(count)
            )
    finally:
        await engine.dispose()


def notification_body(index: int, now: datetime) -> bytes:
    """A PAYBYLINK notification reporting one successful card payment on link ``index`` (contract §5.1)."""
    stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    attempt = {
        "outTradeNo": f"BENCHTRADE{index:010d}",
        "status": "SUCCESS",
        "completeAt": stamp,
        "userInfo": {"userId": str(FIRST_CHAT_ID + index % CHATS), "userName": ""},
        "paymentDetails": [
            {"paymentMethodType": "CARD", "cardInfo": {"cardOrg": "VISA", "cardNumber": "411111******1111"}}
        ],
    }
    document = {
        "code": "APPLY_SUCCESS",
        "msg": "Success.",
        "keyVersion": "1",
        "appId": "bench-app",
        "merchantNo": "BENCH0000001",
        "notifyTime": stamp,
        "notifyType": "PAYBYLINK",
        "data": {
            "linkId": f"BENCHLINK{index:09d}",
            "merchantLinkId": merchant_link_id(index),
            "linkUrl": f"https://pay.example/{index}",
            "qrCodeUrl": f"https://pay.example/{index}.png",
            "linkStatus": "ACTIVE",
            "totalAmount": str(LINK_AMOUNT),
            "country": "US",
            "currency": LINK_CURRENCY,
            "expiresAt": "2030-01-01T00:00:00Z",
            "linkDescription": "",
            "payByLinkInfo": [attempt],
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


def signed_requests(indexes: range, key: RSAPrivateKey) -> list[PreparedRequest]:
    """One notification per link, signed as PayerMax signs: SHA256withRSA over the raw body."""
    now = datetime.now(UTC)
    requests = []
    for index in indexes:
        body = notification_body(index, now)
        requests.append(PreparedRequest(body, {"Content-Type": "application/json", "sign": signing.sign(body, key)}))
    return requests


async def count_recorded(database_url: str) -> tuple[int, int]:
    """Payments, and "paid" messages queued for them, in the database after the run."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            payments = (await session.execute(select(func.count()).select_from(Payment))).scalar_one()
            paid = select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.kind) == OutboxKind.PAID)
            return int(payments), int((await session.execute(paid)).scalar_one())
    finally:
        await engine.dispose()


def server_errors(log_path: Path) -> list[str]:
    """The first ERROR lines the servers logged (exceptions are folded into their line)."""
    if not log_path.exists():
        return []
    records: list[str] = []
    for line in log_path.read_text(encoding="utf-8").splitlines():
        # A message with a newline in it (uvicorn's "Exception in ASGI application\n") spills onto
        # following lines; they belong to the record above.
        if LOG_RECORD_START.match(line) or not records:
            records.append(line)
        else:
            records[-1] += " " + line.strip()
    lines = [record for record in records if " ERROR " in record]
    # The head says what failed, the tail of the folded traceback says why.
    return [
        line if len(line) <= 2 * ERROR_CHARS_SHOWN else f"{line[:ERROR_CHARS_SHOWN]} ... {line[-ERROR_CHARS_SHOWN:]}"
        for line in lines[:ERROR_LINES_SHOWN]
    ]


def print_profile(path: Path) -> None:
    """The server's hottest functions, by own time and by cumulative time."""
    for order in ("tottime", "cumulative"):
        print(f"\nserver profile (event-loop thread only), top {PROFILE_LINES} by {order}:")
        pstats.Stats(str(path)).sort_stats(order).print_stats(PROFILE_LINES)


async def measure(args: argparse.Namespace, folder: Path, database_url: str) -> Measurement:
    """Seed and sign, then load the baseline, the real app, and the baseline again."""
    count, warmup = (QUICK_COUNT, QUICK_WARMUP) if args.quick else (FULL_COUNT, FULL_WARMUP)
    started = time.perf_counter()
    await seed_links(database_url, warmup + count)
    key = signing.generate_private_key()
    warm_requests = signed_requests(range(warmup), key)
    measured_requests = signed_requests(range(warmup, warmup + count), key)
    print(f"seeded {warmup + count} links and signed as many notifications in {time.perf_counter() - started:.1f}s")

    log_path, profile_path = folder / "server.log", folder / "notify.prof"
    nodelay = not args.app_socket
    baseline_spec = ServerSpec("baseline", str(log_path), nodelay=nodelay)
    notify_spec = ServerSpec(
        "notify",
        str(log_path),
        nodelay=nodelay,
        database_url=database_url,
        platform_public_key=signing.public_key_base64(key.public_key()),
        profile_path=str(profile_path) if args.profile else None,
    )
    other_client = "httpx" if args.client == "raw" else "raw"
    check_count = QUICK_CLIENT_CHECK if args.quick else FULL_CLIENT_CHECK

    async def load(port: int, requests: list[PreparedRequest], client: str = args.client) -> LoadResult:
        return await post_all(client, HOST, port, NOTIFY_PATH, requests, args.concurrency)

    with served(baseline_spec) as baseline_port:
        await load(baseline_port, warm_requests)
        baseline_before = await load(baseline_port, measured_requests)
        with served(notify_spec) as notify_port:
            warm = await load(notify_port, warm_requests)
            notify = await load(notify_port, measured_requests)
        baseline_after = await load(baseline_port, measured_requests)
        client_check = await load(baseline_port, measured_requests[:check_count], other_client)
    payments, paid_messages = await count_recorded(database_url)
    if args.profile:
        print_profile(profile_path)
    for line in server_errors(log_path):
        print(f"server error: {line}")
    return Measurement(
        baseline_before, warm, notify, baseline_after, other_client, client_check, payments, paid_messages
    )


def _rate_row(name: str, result: LoadResult) -> list[object]:
    return [
        name,
        result.ok,
        f"{result.rate:,.0f}",
        f"{result.latency_ms(0.5):.1f}",
        f"{result.latency_ms(0.99):.1f}",
        result.error_summary(),
    ]


def report(args: argparse.Namespace, result: Measurement) -> bool:
    """Print both tables; return whether every goal was met."""
    count = QUICK_COUNT if args.quick else FULL_COUNT
    p99 = result.notify.latency_ms(0.99)
    expected = result.expected_payments
    durable = result.payments == expected and result.paid_messages == expected
    print_table(
        f"POST {NOTIFY_PATH}: {count} signed notifications, {args.concurrency} connections, {args.client} client",
        ["run", "acked", "req/s", "p50 ms", "p99 ms", "errors"],
        [
            _rate_row("baseline (before)", result.baseline_before),
            _rate_row("notify (real app)", result.notify),
            _rate_row("baseline (after)", result.baseline_after),
            _rate_row(f"baseline, {result.other_client} client", result.client_check),
        ],
    )
    checks = [
        ("ratio notify / mean baseline", f"{result.ratio:.3f}", f">= {GOAL_RATIO}", result.ratio >= GOAL_RATIO),
        ("notify p99 latency", f"{p99:.1f} ms", f"<= {GOAL_P99_MS:.0f} ms", p99 <= GOAL_P99_MS),
        ("acknowledged", f"{result.notify.ok}/{count}", "all", result.notify.ok == count),
        (
            "payments / Paid messages in db",
            f"{result.payments} / {result.paid_messages}",
            f"{expected} / {expected}",
            durable,
        ),
    ]
    print_table(
        "Goals",
        ["figure", "value", "goal", "result"],
        [[name, value, goal, verdict(ok)] for name, value, goal, ok in checks],
    )
    passed = all(ok for *_, ok in checks)
    print(f"overall: {verdict(passed)}")
    return passed


async def run(args: argparse.Namespace) -> bool:
    """Measure on a fresh database and print the results; return whether the goals were met."""
    with tempfile.TemporaryDirectory(prefix="paylink-bench-notify-") as folder:
        async with bench_database(args.database_url, Path(folder)) as database_url:
            socket_note = "proto-0 socket as bot.app.bind_socket (no TCP_NODELAY)" if args.app_socket else "TCP_NODELAY"
            print(f"database: {describe(database_url)}")
            print(f"server:   {describe_stack()}, {socket_note}; client: {args.client}, {args.concurrency} connections")
            result = await measure(args, Path(folder), database_url)
    return report(args, result)


def main() -> None:
    """Parse options and run the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.notify", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_COUNT} notifications instead of {FULL_COUNT}")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL (a throwaway database is created on it); default: SQLite in a temp dir",
    )
    parser.add_argument(
        "--client", choices=CLIENTS, default="raw", help="load generator client (default: raw asyncio streams)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="keep-alive connections (default: %(default)s)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="run cProfile in the server process and print its hottest functions"
    )
    parser.add_argument(
        "--app-socket",
        action="store_true",
        help="bind both servers' sockets as bot.app.bind_socket does (proto 0: no TCP_NODELAY on connections)",
    )
    args = parser.parse_args()
    raise SystemExit(0 if asyncio.run(run(args)) else 1)


if __name__ == "__main__":
    main()
