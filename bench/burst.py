"""Outbox burst: 1,000 payments over 50 private chats drained through a fake Bot API that enforces limits.

Seeds ACTIVE links with their cards already posted, records one payment per link through
``PaymentService.apply_to_link`` (so the outbox holds exactly what a notification writes: a
"paid" message and a "card_update" edit per payment), then runs one ``OutboxDispatcher`` (with
the bot's rate limiter and send budget, as the application builds them) until no row is PENDING.
The fake counts edits against Telegram's limits like sends, as Telegram does under floods of
them; the drain time is compared with the least time those limits allow for every Paid message
and every card edit, and every payment must be announced exactly once.

    .venv/bin/python -m bench.burst [--quick] [--database-url postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col
from telegram import Bot
from telegram.constants import ParseMode
from telegram.ext import Defaults, ExtBot

from bench.databases import bench_database, describe
from bench.report import percentile, print_table, verdict
from bot.botapi.budget import Limits, LocalBudget
from bot.botapi.pacing import BudgetRateLimiter, SendArgs
from bot.logs import configure_logging
from bot.outbox import OutboxDispatcher
from bot.payermax.models import PaymentAttempt
from bot.qr import qr_png
from bot.services.payments import Outcome, PaymentReport, PaymentService
from storage.db import create_engine, is_sqlite, session_factory, upgrade
from storage.models import Link, LinkStatus, OutboxMessage, OutboxStatus, PaymentSource
from tests.fakes.telegram_api import FakeTelegram

FULL_PAYMENTS, FULL_CHATS = 1000, 50
QUICK_PAYMENTS, QUICK_CHATS = 400, 40
FIRST_CHAT_ID = 700_000_001  # positive ids: private chats, 1 message a second each
# The budget books 28 a second, two under Telegram's 30 so arrival jitter never makes 31: 30/28 = 1.07 of the
# ratio is that margin, the rest the dispatcher's own overhead.
GOAL_RATIO = 1.2
TELEGRAM_PER_SECOND = 30.0  # the limits the goal is stated in (and the fake enforces)
TELEGRAM_PRIVATE_INTERVAL = 1.0
CARD_POSTING_CONCURRENCY = 32
PROGRESS_POLL_SECONDS = 0.05
DRAIN_TIMEOUT_FACTOR, DRAIN_TIMEOUT_SLACK_SECONDS = 4, 60  # give up on a drain this far past the minimum
# Bot API methods that create or change a message (the fake limits both here).
MESSAGE_SENDS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
MESSAGE_EDITS = frozenset({"editMessageText", "editMessageCaption", "editMessageMedia", "editMessageReplyMarkup"})
SHUFFLE_SEED = 20240611  # payments arrive in a mixed, repeatable order, as from many customers
AMOUNT, CURRENCY = Decimal("150000"), "IDR"


@dataclass(frozen=True)
class Plan:
    """How many payments over how many chats."""

    payments: int
    chats: int

    @property
    def per_chat(self) -> int:
        """Payments (and Paid messages) each chat receives."""
        return -(-self.payments // self.chats)


@dataclass
class Drain:
    """What happened while the dispatcher drained the outbox."""

    seconds: float
    drained: bool
    paid_times: list[float]  # seconds from start at which each Paid message was accepted, in order
    sends_429: int
    edits_ok: int


def minimum_seconds(messages: int, per_chat: int) -> float:
    """The least time Telegram's limits allow: the overall rate, or one chat's chain at 1 a second."""
    return max(messages / TELEGRAM_PER_SECOND, (per_chat - 1) * TELEGRAM_PRIVATE_INTERVAL)


async def seed_links(sessions: async_sessionmaker[AsyncSession], plan: Plan) -> list[Link]:
    """ACTIVE links spread evenly over the chats, as LinkService leaves them once PayerMax answered."""
    links = [
        Link(
            merchant_link_id=f"PLBURST{index:07d}",
            chat_id=FIRST_CHAT_ID + index % plan.chats,
            creator_user_id=FIRST_CHAT_ID + index % plan.chats,
            creator_name="Bench",
            amount=AMOUNT,
            currency=CURRENCY,
            country="ID",
            description=f"Order {index}",
            expires_seconds=86400,
            status=LinkStatus.ACTIVE,
            payermax_link_id=f"BURSTLINK{index:09d}",
            link_url=f"https://pay.example/{index}",
        )
        for index in range(plan.payments)
    ]
    async with sessions() as session, session.begin():
        session.add_all(links)
    return links


async def post_cards(bot: Bot, sessions: async_sessionmaker[AsyncSession], links: list[Link]) -> None:
    """Post each link's card (a photo, as the dispatcher would) and remember its message id.

    Done before limits are switched on: the burst measured is the payments, not the cards. Paid
    messages then reply to a real card and card edits have a real message to change.
    """
    first = await bot.send_photo(
        links[0].chat_id, qr_png(links[0].link_url or ""), caption=f"Card {links[0].merchant_link_id}"
    )
    photo_id = first.photo[-1].file_id
    message_ids = {links[0].id: first.message_id}
    gate = asyncio.Semaphore(CARD_POSTING_CONCURRENCY)

    async def post(link: Link) -> None:
        async with gate:
            sent = await bot.send_photo(link.chat_id, photo_id, caption=f"Card {link.merchant_link_id}")
        message_ids[link.id] = sent.message_id

    await asyncio.gather(*(post(link) for link in links[1:]))
    async with sessions() as session, session.begin():
        await session.execute(
            update(Link), [{"id": link_id, "card_message_id": mid} for link_id, mid in message_ids.items()]
        )
    for link in links:
        link.card_message_id = message_ids[link.id]


async def record_payments(payments: PaymentService, links: list[Link]) -> None:
    """One successful payment per link, applied in a shuffled order as PayerMax would report them."""
    order = list(links)
    random.Random(SHUFFLE_SEED).shuffle(order)
    paid_at = datetime.now(UTC)
    for number, link in enumerate(order):
        attempt = PaymentAttempt(
            out_trade_no=f"BURSTTRADE{number:010d}",
            status="SUCCESS",
            complete_at=paid_at,
            payment_method="CARD",
            target_org=None,
            card_org="VISA",
            card_number="411111******1111",
        )
        report = PaymentReport(
            attempt=attempt, amount=link.amount, currency=link.currency, source=PaymentSource.PAYBYLINK
        )
        outcome = await payments.apply_to_link(link.merchant_link_id, [report], notify_type="PAYBYLINK")
        if outcome != Outcome.APPLIED:
            raise RuntimeError(f"seeding payment on {link.merchant_link_id} gave {outcome}")


async def outbox_counts(sessions: async_sessionmaker[AsyncSession]) -> Counter[tuple[str, str]]:
    """Outbox rows by (kind, status)."""
    async with sessions() as session:
        rows = await session.execute(
            select(col(OutboxMessage.kind), col(OutboxMessage.status), func.count()).group_by(
                col(OutboxMessage.kind), col(OutboxMessage.status)
            )
        )
        return Counter({(kind, status): count for kind, status, count in rows})


async def pending_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Rows still PENDING (claimed rows stay PENDING until sent or given up)."""
    async with sessions() as session:
        statement = (
            select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.status) == OutboxStatus.PENDING)
        )
        return int((await session.execute(statement)).scalar_one())


def paced_bot(fake: FakeTelegram, budget: LocalBudget) -> ExtBot[SendArgs]:
    """The bot as the application builds it: HTML by default, every send and edit through the budget."""
    return ExtBot(
        fake.token,
        base_url=fake.base_url,
        defaults=Defaults(parse_mode=ParseMode.HTML),
        rate_limiter=BudgetRateLimiter(budget),
    )


async def drain(
    fake: FakeTelegram, sessions: async_sessionmaker[AsyncSession], skip_locked: bool, timeout: float
) -> Drain:
    """Run one dispatcher from now until the outbox has no PENDING row (or the timeout passes)."""
    calls_before = len(fake.calls)
    fake.enforce_limits = True
    fake.limit_edits = True
    budget = LocalBudget()
    bot = paced_bot(fake, budget)
    await bot.initialize()
    dispatcher = OutboxDispatcher(sessions, bot, budget=budget, skip_locked=skip_locked)
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(dispatcher.run(stop), name="outbox")
    drained = False
    while time.monotonic() - started < timeout:
        if await pending_count(sessions) == 0:
            drained = True
            break
        await asyncio.sleep(PROGRESS_POLL_SECONDS)
    seconds = time.monotonic() - started
    stop.set()
    dispatcher.wake()
    await task
    await bot.shutdown()
    calls = fake.calls[calls_before:]
    paid_times = sorted(
        call.at - started for call in calls if call.method == "sendMessage" and call.status == HTTPStatus.OK
    )
    return Drain(
        seconds=seconds,
        drained=drained,
        paid_times=paid_times,
        sends_429=sum(
            1
            for call in calls
            if call.method in MESSAGE_SENDS | MESSAGE_EDITS and call.status == HTTPStatus.TOO_MANY_REQUESTS
        ),
        edits_ok=sum(1 for call in calls if call.method in MESSAGE_EDITS and call.status == HTTPStatus.OK),
    )


def announced(fake: FakeTelegram, links: list[Link]) -> Counter[str]:
    """How many Paid messages each link got: text messages replying to its card, or naming it."""
    by_card = {(link.chat_id, link.card_message_id): link.merchant_link_id for link in links}
    counts: Counter[str] = Counter()
    for message in fake.sent():
        if message.kind != "text":
            continue
        link_id = by_card.get((message.chat_id, message.reply_to_message_id))
        if link_id is None:
            link_id = next(
                (link.merchant_link_id for link in links if link.merchant_link_id in (message.text or "")), None
            )
        if link_id is not None:
            counts[link_id] += 1
    return counts


@dataclass(frozen=True)
class BurstResult:
    """What one run queued, delivered and left behind."""

    plan: Plan
    queued: Counter[tuple[str, str]]
    final: Counter[tuple[str, str]]
    drain: Drain
    paid_per_link: Counter[str]
    links: list[Link]
    violations: int
    warnings: int

    @property
    def edits(self) -> int:
        """Card edits that were queued beside the Paid messages."""
        return sum(count for (kind, _status), count in self.queued.items() if kind == "card_update")

    @property
    def lost(self) -> int:
        """Payments with no Paid message."""
        return sum(1 for link in self.links if self.paid_per_link[link.merchant_link_id] == 0)

    @property
    def duplicated(self) -> int:
        """Payments announced more than once."""
        return sum(1 for link in self.links if self.paid_per_link[link.merchant_link_id] > 1)

    @property
    def failed(self) -> int:
        """Outbox rows the dispatcher gave up on."""
        return sum(count for (_kind, status), count in self.final.items() if status == OutboxStatus.FAILED)


async def seed_and_drain(plan: Plan, database_url: str) -> BurstResult:
    """Seed the burst, drain it through the fake, and count what arrived (warnings are filled in later)."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        async with FakeTelegram() as fake:
            bot = Bot(fake.token, base_url=fake.base_url)
            async with bot:
                started = time.perf_counter()
                links = await seed_links(sessions, plan)
                await post_cards(bot, sessions, links)
                carded = time.perf_counter()
                await record_payments(PaymentService(sessions, owner_chat_ids=()), links)
                queued = await outbox_counts(sessions)
                print(
                    f"seeded {plan.payments} links over {plan.chats} chats "
                    f"with their cards in {carded - started:.1f}s, "
                    f"recorded a payment on each in {time.perf_counter() - carded:.1f}s; outbox: "
                    + ", ".join(f"{count} {kind}" for (kind, _status), count in sorted(queued.items()))
                )
                timeout = (
                    DRAIN_TIMEOUT_FACTOR * minimum_seconds(2 * plan.payments, 2 * plan.per_chat)
                    + DRAIN_TIMEOUT_SLACK_SECONDS
                )
                result = await drain(fake, sessions, not is_sqlite(engine), timeout)
                paid_per_link = announced(fake, links)
                final = await outbox_counts(sessions)
                violations = fake.limit_violations
    finally:
        await engine.dispose()
    return BurstResult(plan, queued, final, result, paid_per_link, links, violations, warnings=0)


async def measure(args: argparse.Namespace) -> BurstResult:
    """Run the burst on a fresh database with the bot's log going to a file whose warnings are counted."""
    plan = Plan(QUICK_PAYMENTS, QUICK_CHATS) if args.quick else Plan(FULL_PAYMENTS, FULL_CHATS)
    with tempfile.TemporaryDirectory(prefix="paylink-bench-burst-") as folder:
        log_path = Path(folder) / "bot.log"
        with log_path.open("a", encoding="utf-8") as log_file:
            configure_logging("WARNING", stream=log_file)  # retries and 429s are counted, not printed
            try:
                async with bench_database(args.database_url, Path(folder)) as database_url:
                    print(f"database: {describe(database_url)}")
                    result = await seed_and_drain(plan, database_url)
            finally:
                logging.getLogger().handlers.clear()
        warnings = sum(
            1 for line in log_path.read_text(encoding="utf-8").splitlines() if " WARNING " in line or " ERROR " in line
        )
    return dataclasses.replace(result, warnings=warnings)


def report(result: BurstResult) -> bool:
    """Print the figures and the minimums they are compared with; return whether the goals were met."""
    plan, drained = result.plan, result.drain
    edits = result.edits
    minimum = minimum_seconds(plan.payments + edits, 2 * plan.per_chat)
    ratio = drained.seconds / minimum
    sends_only = minimum_seconds(plan.payments, plan.per_chat)
    limits = Limits()
    budget_pace = (plan.payments + edits) / limits.per_second
    progress = " / ".join(f"{percentile(drained.paid_times, share):.1f}" for share in (0.5, 0.9, 1.0))
    print_table(
        f"Outbox burst: {plan.payments} payments over {plan.chats} private chats ({plan.per_chat} each), "
        f"fake Bot API enforcing {TELEGRAM_PER_SECOND:.0f}/s overall and 1/s per chat, edits counted like sends",
        ["figure", "value", "goal", "result"],
        [
            [
                "drain time (no PENDING row left)",
                f"{drained.seconds:.1f} s" + ("" if drained.drained else " (timed out)"),
                "",
                "",
            ],
            ["theoretical minimum (Paid messages and card edits)", f"{minimum:.1f} s", "", ""],
            ["ratio drain / minimum", f"{ratio:.2f}", f"<= {GOAL_RATIO}", verdict(ratio <= GOAL_RATIO)],
            ["Paid messages accepted by (50% / 90% / all)", f"{progress} s", "", ""],
            ["lost (payments with no Paid message)", result.lost, "0", verdict(result.lost == 0)],
            ["duplicated (more than one Paid message)", result.duplicated, "0", verdict(result.duplicated == 0)],
            [
                "limit violations (fake's 429s to sends and edits)",
                f"{result.violations} ({drained.sends_429} in drain)",
                "0",
                verdict(drained.sends_429 == 0),
            ],
            ["card edits accepted", f"{drained.edits_ok}/{edits}", "", ""],
            ["outbox rows FAILED", result.failed, "", ""],
            ["bot warnings/errors logged", result.warnings, "", ""],
        ],
    )
    print_table(
        "Why the minimum is what it is",
        ["reference", "seconds", "drain / it"],
        [
            [
                f"Paid and edits: max({plan.payments + edits}/{TELEGRAM_PER_SECOND:.0f}, "
                f"{2 * plan.per_chat - 1} s chain)",
                f"{minimum:.1f}",
                f"{ratio:.2f}",
            ],
            [
                f"Paid messages only: max({plan.payments}/{TELEGRAM_PER_SECOND:.0f}, {plan.per_chat - 1} s chain)",
                f"{sends_only:.1f}",
                f"{drained.seconds / sends_only:.2f}",
            ],
            [
                f"budget pace: {plan.payments + edits} slots / {limits.per_second} per s",
                f"{budget_pace:.1f}",
                f"{drained.seconds / budget_pace:.2f}",
            ],
        ],
    )
    passed = drained.drained and ratio <= GOAL_RATIO and result.lost == 0 and result.duplicated == 0
    print(f"overall: {verdict(passed)}")
    return passed


def main() -> None:
    """Parse options and run the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_PAYMENTS} payments over {QUICK_CHATS} chats instead of {FULL_PAYMENTS} over {FULL_CHATS}",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL (a throwaway database is created on it); default: SQLite in a temp dir",
    )
    args = parser.parse_args()
    raise SystemExit(0 if report(asyncio.run(measure(args))) else 1)


if __name__ == "__main__":
    main()
