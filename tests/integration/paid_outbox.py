"""A "Paid" waiting in the outbox: an ACTIVE link in a seller's chat and a successful payment on it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.payermax.models import PaymentAttempt
from bot.services.payments import Outcome, PaymentReport, PaymentService
from storage.models import Link, LinkStatus


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
