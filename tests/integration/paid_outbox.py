"""A "Paid" waiting in the outbox (an ACTIVE link and a successful payment on it), and a dispatcher sending it.

The dispatcher runs in the test's process as the bot builds it: a python-telegram-bot ExtBot paced
by a send budget of its own, sending to the fake Bot API.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.constants import ParseMode
from telegram.ext import Defaults, ExtBot

from bot.botapi.budget import Limits, LocalBudget
from bot.botapi.pacing import BudgetRateLimiter
from bot.botapi.requests import SEND_READ_TIMEOUT, send_request
from bot.outbox import OutboxDispatcher
from bot.payermax.models import PaymentAttempt
from bot.services.payments import Outcome, PaymentReport, PaymentService
from bot.tls import client_tls
from storage.db import is_sqlite
from storage.models import Link, LinkStatus
from tests.fakes.telegram_api import FakeTelegram


async def queue_paid(
    sessions: async_sessionmaker[AsyncSession],
    *,
    chat_id: int,
    merchant_link_id: str,
    trade_no: str,
    owner_chat_ids: tuple[int, ...] = (),
) -> Link:
    """Store a $10 link in ``chat_id`` and apply a card payment to it, so its "Paid" is queued."""
    link = Link(
        merchant_link_id=merchant_link_id,
        chat_id=chat_id,
        creator_user_id=chat_id,
        creator_name="Ann",
        amount=Decimal("10.00"),
        currency="USD",
        country="US",
        description="Lamp",
        expires_seconds=86400,
        status=LinkStatus.ACTIVE,
        sandbox=True,
        link_url="https://pay.example/lamp",
        next_check_at=None,
    )
    async with sessions() as session, session.begin():
        session.add(link)
    attempt = PaymentAttempt(
        out_trade_no=trade_no,
        status="SUCCESS",
        complete_at=datetime.now(UTC),
        payment_method="CARD",
        target_org=None,
        card_org="VISA",
        card_number="411111******1111",
    )
    report = PaymentReport(attempt=attempt, amount=link.amount, currency=link.currency, source="PAYBYLINK")
    payments = PaymentService(sessions, owner_chat_ids=owner_chat_ids)
    assert await payments.apply_to_link(link.merchant_link_id, [report], notify_type="PAYBYLINK") == Outcome.APPLIED
    return link


@asynccontextmanager
async def running_outbox(
    fake: FakeTelegram,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    *,
    limits: Limits | None = None,
    read_timeout: float = SEND_READ_TIMEOUT,
    **options: Any,
) -> AsyncIterator[OutboxDispatcher]:
    """An outbox dispatcher sending until the block ends, then stopped as the bot stops it."""
    budget = LocalBudget(limits)
    bot = ExtBot(
        fake.token,
        base_url=fake.base_url,
        defaults=Defaults(parse_mode=ParseMode.HTML),
        rate_limiter=BudgetRateLimiter(budget),
        request=send_request(client_tls(), read_timeout=read_timeout),  # the client the bot sends with
    )
    await bot.initialize()
    options.setdefault("idle_poll_seconds", 0.05)
    dispatcher = OutboxDispatcher(sessions, bot, budget=budget, skip_locked=not is_sqlite(database_url), **options)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    try:
        yield dispatcher
    finally:
        stop.set()
        dispatcher.wake()
        await running
        await bot.shutdown()
