"""Notification throughput: signed PAYBYLINK notifications per second with a durable commit.

Serves the real web app (``build_web_app`` with a real ``PaymentService`` on a real database) and
a bare Starlette endpoint with the same uvicorn set-up, each in a child process, and posts to both
from this process over 32 keep-alive connections. Every notification pays a different ACTIVE link,
so each one is a new payment: a committed transaction with the payment and two outbox rows.
The baseline runs before and after the real app and the two runs are averaged, to damp drift.

    .venv/bin/python -m bench.notify [--quick] [--database-url postgresql+asyncpg://...] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pstats
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from bench.databases import bench_database, describe
from bench.loadgen import CLIENTS, LoadResult, PreparedRequest, post_all
from bench.report import print_table, verdict
from bench.server import HOST, ServerSpec, describe_stack, served
from bot.payermax import signing
from storage.db import create_engine, session_factory, upgrade
from storage.models import Link, LinkStatus, OutboxMessage, Payment

NOTIFY_PATH = "/payermax/notify"
CONCURRENCY = 32
FULL_COUNT, QUICK_COUNT = 5000, 1000
FULL_WARMUP, QUICK_WARMUP = 300, 100
CLIENT_CHECK_COUNT = 2000  # baseline requests sent with httpx too, to show what the client costs
GOAL_RATIO = 0.25
GOAL_P99_MS = 50.0
CHATS = 100  # links spread over this many chats, as many sellers would
LINK_AMOUNT, LINK_CURRENCY = Decimal("12.50"), "USD"
PROFILE_LINES = 22


@dataclass(frozen=True)
class Seeded:
    """The merchantLinkIds the benchmark created, split into warm-up and measured ones."""

    warmup: list[str]
    measured: list[str]


def merchant_link_id(index: int) -> str:
    """An id with the shape the bot gives its links ("PL" and 12 characters)."""
    return f"PLBENCH{index:07d}"


async def seed_links(database_url: str, count: int) -> None:
    """Create the schema and ``count`` ACTIVE links, as LinkService leaves them once PayerMax answered."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            session.add_all(
                Link(
                    merchant_link_id=merchant_link_id(index), chat_id=1_000_000 + index % CHATS, creator_user_id=1_000_000 + index % CHATS,
                    creator_name="Bench", amount=LINK_AMOUNT, currency=LINK_CURRENCY, country="US", description=f"Order {index}",
                    expires_seconds=86400, status=LinkStatus.ACTIVE, payermax_link_id=f"BENCHLINK{index:09d}",
                    link_url=f"https://pay.example/{index}", card_message_id=index + 1,
                )
                for index in range(count)
            )
    finally:
        await engine.dispose()


def notification_body(link_id: str, index: int, now: datetime) -> bytes:
    """A PAYBYLINK notification reporting one successful card payment on the link (contract §5.1)."""
    stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    document = {
        "code": "APPLY_SUCCESS", "msg": "Success.", "keyVersion": "1", "appId": "bench-app", "merchantNo": "BENCH0000001",
        "notifyTime": stamp, "notifyType": "PAYBYLINK",
        "data": {
            "linkId": f"BENCHLINK{index:09d}", "merchantLinkId": link_id, "linkUrl": f"https://pay.example/{index}",
            "qrCodeUrl": f"https://pay.example/{index}.png", "linkStatus": "ACTIVE", "totalAmount": str(LINK_AMOUNT),
            "country": "US", "currency": LINK_CURRENCY, "expiresAt": "2030-01-01T00:00:00Z", "linkDescription": "",
            "payByLinkInfo": [{
                "outTradeNo": f"BENCHTRADE{index:010d}", "status": "SUCCESS", "completeAt": stamp,
                "userInfo": {"userId": str(1_000_000 + index % CHATS), "userName": ""},
                "paymentDetails": [{"paymentMethodType": "CARD", "cardInfo": {"cardOrg": "VISA", "cardNumber": "411111******1111"}}],
            }],
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


def signed_requests(link_ids: list[str], first_index: int, key: signing.rsa.RSAPrivateKey) -> list[PreparedRequest]:
    """One validly signed notification per link, signed the way PayerMax signs (over the raw body)."""
    now = datetime.now(timezone.utc)
    requests = []
    for offset, link_id in enumerate(link_ids):
        body = notification_body(link_id, first_index + offset, now)
        requests.append(PreparedRequest(body, {"Content-Type": "application/json", "sign": signing.sign(body, key)}))
    return requests


async def count_recorded(database_url: str) -> tuple[int, int]:
    """Payments and outbox rows in the database after the run."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            payments = (await session.execute(select(func.count()).select_from(Payment))).scalar_one()
            outbox = (await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
        return int(payments), int(outbox)
    finally:
        await engine.dispose()


def print_profile(path: Path) -> None:
    """The server's hottest functions, by own time and by cumulative time."""
    for order in ("tottime", "cumulative"):
        print(f"\nserver profile, top {PROFILE_LINES} by {order}:")
        stats = pstats.Stats(str(path))
        stats.sort_stats(order).print_stats(PROFILE_LINES)


def _rate_row(name: str, result: LoadResult) -> list[object]:
    return [name, result.ok, f"{result.rate:,.0f}", f"{result.latency_ms(0.5):.1f}", f"{result.latency_ms(0.99):.1f}", result.error_summary()]


async def run(args: argparse.Namespace) -> bool:
    """Seed, serve both apps, measure, print; return whether the goals were met."""
    count = QUICK_COUNT if args.quick else FULL_COUNT
    warmup = QUICK_WARMUP if args.quick else FULL_WARMUP
    with tempfile.TemporaryDirectory(prefix="paylink-bench-notify-") as folder:
        async with bench_database(args.database_url, Path(folder)) as database_url:
            print(f"database: {describe(database_url)}")
            print(f"server:   {describe_stack()}; client: {args.client}, {args.concurrency} connections")
            started = time.perf_counter()
            await seed_links(database_url, warmup + count)
            key = signing.generate_private_key()
            ids = [merchant_link_id(index) for index in range(warmup + count)]
            seeded = Seeded(ids[:warmup], ids[warmup:])
            warm_requests = signed_requests(seeded.warmup, 0, key)
            measured_requests = signed_requests(seeded.measured, warmup, key)
            print(f"seeded {warmup + count} links and signed as many notifications in {time.perf_counter() - started:.1f}s")

            log_path = str(Path(folder) / "server.log")
            profile_path = Path(folder) / "notify.prof"
            baseline_spec = ServerSpec("baseline", log_path)
            notify_spec = ServerSpec(
                "notify", log_path, database_url=database_url, platform_public_key=signing.public_key_base64(key.public_key()),
                profile_path=str(profile_path) if args.profile else None,
            )
            with served(baseline_spec) as baseline_port:
                await post_all(args.client, HOST, baseline_port, NOTIFY_PATH, warm_requests, args.concurrency)
                baseline_before = await post_all(args.client, HOST, baseline_port, NOTIFY_PATH, measured_requests, args.concurrency)
                with served(notify_spec) as notify_port:
                    warm = await post_all(args.client, HOST, notify_port, NOTIFY_PATH, warm_requests, args.concurrency)
                    if warm.ok != len(warm_requests):
                        print(f"warning: warm-up acknowledged {warm.ok}/{len(warm_requests)} ({warm.error_summary()})")
                    notify = await post_all(args.client, HOST, notify_port, NOTIFY_PATH, measured_requests, args.concurrency)
                baseline_after = await post_all(args.client, HOST, baseline_port, NOTIFY_PATH, measured_requests, args.concurrency)
                other_client = "httpx" if args.client == "raw" else "raw"
                client_check = await post_all(
                    other_client, HOST, baseline_port, NOTIFY_PATH, measured_requests[:CLIENT_CHECK_COUNT], args.concurrency
                )
            payments, outbox = await count_recorded(database_url)

    baseline_rate = (baseline_before.rate + baseline_after.rate) / 2
    ratio = notify.rate / baseline_rate if baseline_rate else 0.0
    p99 = notify.latency_ms(0.99)
    expected_payments = warm.ok + notify.ok
    durable = payments == expected_payments and outbox == 2 * expected_payments
    passed = ratio >= GOAL_RATIO and p99 <= GOAL_P99_MS and notify.ok == count and durable
    if args.profile:
        print_profile(profile_path)

    print_table(
        f"POST {NOTIFY_PATH}: {count} signed notifications, {args.concurrency} connections, {args.client} client",
        ["run", "acked", "req/s", "p50 ms", "p99 ms", "errors"],
        [
            _rate_row("baseline (before)", baseline_before),
            _rate_row("notify (real app)", notify),
            _rate_row("baseline (after)", baseline_after),
            _rate_row(f"baseline, {other_client} client", client_check),
        ],
    )
    print_table(
        "Goals",
        ["figure", "value", "goal", "result"],
        [
            ["ratio notify / mean baseline", f"{ratio:.3f}", f">= {GOAL_RATIO}", verdict(ratio >= GOAL_RATIO)],
            ["notify p99 latency", f"{p99:.1f} ms", f"<= {GOAL_P99_MS:.0f} ms", verdict(p99 <= GOAL_P99_MS)],
            ["acknowledged", f"{notify.ok}/{count}", "all", verdict(notify.ok == count)],
            ["payments / outbox rows in db", f"{payments} / {outbox}", f"{expected_payments} / {2 * expected_payments}", verdict(durable)],
        ],
    )
    print(f"overall: {verdict(passed)}")
    return passed


def main() -> None:
    """Parse options and run the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.notify", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_COUNT} notifications instead of {FULL_COUNT}")
    parser.add_argument("--database-url", help="a PostgreSQL server URL (a throwaway database is created on it); default: SQLite in a temp dir")
    parser.add_argument("--client", choices=CLIENTS, default="raw", help="load generator client (default: raw asyncio streams)")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="keep-alive connections (default: %(default)s)")
    parser.add_argument("--profile", action="store_true", help="run cProfile in the server process and print its hottest functions")
    args = parser.parse_args()
    passed = asyncio.run(run(args))
    raise SystemExit(0 if passed else 1)


if __name__ == "__main__":
    main()
