"""Group commit of PAYBYLINK notifications (SQLite and PostgreSQL).

Many notifications applied in one transaction must each get the answer, and leave the rows,
that applying them one by one gives; one that cannot be written must not take the others down;
shutting the writer down must still write and answer what was waiting.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.payermax.models import Notification, parse_notification
from bot.payermax.webhook import MerchantIdentity
from bot.services.links import new_merchant_link_id
from bot.services.notification_writer import NotificationWriter
from bot.services.payments import Outcome, PaymentService
from bot.web.app import build_web_app
from storage.db import BatchTransactions, create_engine, is_sqlite, session_factory
from storage.models import Link, LinkEvent, LinkStatus, Member, NotificationEvent, OutboxMessage, Payment
from tests.integration.test_notifications import (  # noqa: F401 - platform_key is a fixture
    OWNER,
    SELLER,
    TRADE,
    Endpoint,
    encode,
    paybylink,
    platform_key,
    success_attempt,
)

POISONED_CHAT = -100_999_000_666  # the test database refuses outbox messages for this chat


@dataclass
class Writer:
    """The app with its group-commit writer, the service behind it, and what they were seen doing."""

    endpoint: Endpoint
    engine: AsyncEngine
    payments: PaymentService
    notifications: NotificationWriter
    batches: list[int] = field(default_factory=list)  # sizes of the batches applied in one transaction
    wakeups: list[str] = field(default_factory=list)  # on_enqueued calls


@pytest.fixture
async def writer(migrated_database_url: str, platform_key: RSAPrivateKey) -> AsyncIterator[Writer]:  # noqa: F811 - the imported fixture
    """A started writer in front of the real PaymentService on a fresh database, and the app using it."""
    engine = create_engine(migrated_database_url)
    try:
        sessions = session_factory(engine)
        wakeups: list[str] = []
        payments = PaymentService(sessions, owner_chat_ids=[OWNER], on_enqueued=lambda: wakeups.append("wake"))
        async with NotificationWriter(payments, engine) as notifications:
            app = build_web_app(
                merchant=MerchantIdentity("app-under-test", "M000000000001"),
                engine=engine,
                payments=payments,
                notifications=notifications,
                platform_public_key=platform_key.public_key(),
            )
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
                state = Writer(
                    Endpoint(client, sessions, platform_key, payments), engine, payments, notifications, wakeups=wakeups
                )
                batched = payments.apply_link_notifications

                async def counting(
                    notifications: Sequence[Notification], transactions: BatchTransactions
                ) -> list[Outcome]:
                    state.batches.append(len(notifications))
                    return await batched(notifications, transactions)

                payments.apply_link_notifications = counting  # type: ignore[method-assign]
                yield state
    finally:
        await engine.dispose()


def notification(document: dict[str, Any]) -> Notification:
    """A notification as the endpoint hands it on once the signature checked out."""
    return parse_notification(encode(document))


async def add_member_notified_privately(endpoint: Endpoint, user_id: int) -> None:
    """The seller asked to get "Paid" for their group links in their private chat too."""
    async with endpoint.sessions() as session, session.begin():
        session.add(Member(user_id=user_id, role="agent", name="Seller", notify_private=True, added_by=OWNER))


# --- one batch with every kind of notification ------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """Links in each state a batch can meet, and one notification per case."""

    links: dict[str, Link]
    documents: list[dict[str, Any]]


EXPECTED = [
    ("paid", 200, Outcome.APPLIED),
    ("paid, delivered twice", 200, Outcome.DUPLICATE),
    ("amount mismatch", 409, Outcome.MISMATCH),
    ("unknown link of ours", 404, Outcome.UNKNOWN),
    ("link made elsewhere", 404, Outcome.NOT_OURS),
    ("replay of a recorded payment", 200, Outcome.DUPLICATE),
    ("pending attempt", 200, Outcome.NOT_PAID),
    ("two payments in one report", 200, Outcome.APPLIED),
]


async def seed_scenario(endpoint: Endpoint, payments: PaymentService) -> Scenario:
    """Seed the links (one already paid) and build the notifications, in EXPECTED's order."""
    links = {role: await endpoint.seed_link() for role in ("paid", "mismatched", "recorded", "pending", "twice")}
    recorded = paybylink(links["recorded"].merchant_link_id)
    assert await payments.apply_notification(notification(recorded)) == Outcome.APPLIED
    documents = [
        paybylink(links["paid"].merchant_link_id),
        paybylink(links["paid"].merchant_link_id),
        paybylink(links["mismatched"].merchant_link_id, amount="150001"),
        paybylink(new_merchant_link_id()),
        paybylink("shop-order-77"),
        recorded,
        paybylink(links["pending"].merchant_link_id, attempts=[success_attempt(status="PENDING")]),
        paybylink(
            links["twice"].merchant_link_id, attempts=[success_attempt(trade="T-1"), success_attempt(trade="T-2")]
        ),
    ]
    return Scenario(links, documents)


async def written(endpoint: Endpoint, links: dict[str, Link]) -> dict[str, Any]:
    """Everything the scenario's links have in the database, with row ids replaced by link roles and trades."""
    role = {link.id: name for name, link in links.items()}
    trade_of: dict[int, str] = {}
    async with endpoint.sessions() as session:

        async def rows(model: Any) -> list[Any]:
            statement = select(model).where(model.link_id.in_(list(role))).order_by(model.id)
            return list((await session.execute(statement)).scalars())

        payments = await rows(Payment)
        trade_of.update({payment.id: payment.out_trade_no for payment in payments})

        def key(message: OutboxMessage) -> str:
            parts = message.dedupe_key.split(":")
            parts[1] = role[int(parts[1])]
            return ":".join(parts)

        def payload(message: OutboxMessage) -> str:
            data = json.loads(message.payload)
            if "payment_id" in data:
                data["payment_id"] = trade_of[data["payment_id"]]
            return json.dumps(data, sort_keys=True)

        statuses = {}
        for name, link in links.items():
            stored = await session.get(Link, link.id, populate_existing=True)
            assert stored is not None
            statuses[name] = (stored.status, stored.paid_at)
        return {
            "links": statuses,
            "payments": sorted(
                (
                    role[p.link_id],
                    p.out_trade_no,
                    p.amount,
                    p.currency,
                    p.source,
                    p.payment_method,
                    p.card_number,
                    p.completed_at,
                )
                for p in payments
            ),
            "outbox": sorted((key(m), m.kind, m.chat_id, payload(m), m.status) for m in await rows(OutboxMessage)),
            "events": sorted((role[e.link_id], e.outcome, e.detail) for e in await rows(NotificationEvent)),
            "timelines": sorted((role[e.link_id], e.kind, e.detail) for e in await rows(LinkEvent)),
        }


async def test_a_mixed_batch_answers_each_notification_as_applying_them_one_by_one_does(writer: Writer) -> None:
    await add_member_notified_privately(writer.endpoint, SELLER)
    one_by_one = await seed_scenario(writer.endpoint, writer.payments)
    batched = await seed_scenario(writer.endpoint, writer.payments)
    sequential = [await writer.payments.apply_notification(notification(document)) for document in one_by_one.documents]
    writer.wakeups.clear()

    responses = await asyncio.gather(*(writer.endpoint.post(document) for document in batched.documents))

    assert writer.batches == [len(EXPECTED)], "the notifications were not written in one transaction"
    assert [(case, response.status_code) for (case, _, _), response in zip(EXPECTED, responses, strict=True)] == [
        (case, status) for case, status, _ in EXPECTED
    ]
    assert [(case, outcome) for (case, _, _), outcome in zip(EXPECTED, sequential, strict=True)] == [
        (case, outcome) for case, _, outcome in EXPECTED
    ]
    # Once for the batch's payments, once for the mismatch (applied on its own) - not once per notification.
    assert writer.wakeups == ["wake", "wake"]
    result = await written(writer.endpoint, batched.links)
    assert result == await written(writer.endpoint, one_by_one.links)
    assert {name: status for name, (status, _) in result["links"].items()} == {
        "paid": LinkStatus.PAID,
        "mismatched": LinkStatus.ACTIVE,
        "recorded": LinkStatus.PAID,
        "pending": LinkStatus.ACTIVE,
        "twice": LinkStatus.PAID,
    }
    assert [(name, trade) for name, trade, *_ in result["payments"]] == [
        ("paid", TRADE),
        ("recorded", TRADE),
        ("twice", "T-1"),
        ("twice", "T-2"),
    ]
    assert [(key, chat) for key, _, chat, _, _ in result["outbox"]] == sorted(
        [
            ("card-paid:paid", batched.links["paid"].chat_id),
            ("card-paid:recorded", batched.links["recorded"].chat_id),
            ("card-paid:twice", batched.links["twice"].chat_id),
            (f"mismatch:mismatched:{TRADE}:{OWNER}", OWNER),
            (f"paid-private:paid:{TRADE}", SELLER),
            (f"paid-private:recorded:{TRADE}", SELLER),
            ("paid-private:twice:T-1", SELLER),
            ("paid-private:twice:T-2", SELLER),
            (f"paid:paid:{TRADE}", batched.links["paid"].chat_id),
            (f"paid:recorded:{TRADE}", batched.links["recorded"].chat_id),
            ("paid:twice:T-1", batched.links["twice"].chat_id),
            ("paid:twice:T-2", batched.links["twice"].chat_id),
        ]
    )
    assert [(name, outcome) for name, outcome, _ in result["events"]] == [("mismatched", "mismatch")]


# --- a notification that cannot be written fails alone --------------------------------------


async def refuse_messages_for(engine: AsyncEngine, chat_id: int) -> None:
    """Make the database itself reject outbox rows for one chat, as a broken row would."""
    async with engine.begin() as connection:
        if is_sqlite(engine):
            await connection.execute(
                text(
                    f"CREATE TRIGGER refuse_chat BEFORE INSERT ON outbox WHEN NEW.chat_id = {chat_id} "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            await connection.execute(
                text(
                    "CREATE FUNCTION refuse_chat() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    f"BEGIN IF NEW.chat_id = {chat_id} THEN "
                    "RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
                )
            )
            await connection.execute(
                text("CREATE TRIGGER refuse_chat BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_chat()")
            )


async def test_a_notification_that_cannot_be_written_fails_alone(writer: Writer) -> None:
    good = [await writer.endpoint.seed_link() for _ in range(3)]
    poisoned = await writer.endpoint.seed_link()
    async with writer.endpoint.sessions() as session, session.begin():
        (await session.get(Link, poisoned.id)).chat_id = POISONED_CHAT  # type: ignore[union-attr]
    await refuse_messages_for(writer.engine, POISONED_CHAT)
    order = [good[0], poisoned, good[1], good[2]]

    results = await asyncio.gather(
        *(writer.notifications.submit(notification(paybylink(link.merchant_link_id))) for link in order),
        return_exceptions=True,
    )

    assert writer.batches == [len(order)]
    applied = [result for link, result in zip(order, results, strict=True) if link is not poisoned]
    assert applied == [Outcome.APPLIED] * 3
    assert isinstance(results[1], Exception), "the unwritable notification must not be acknowledged"
    stored = {link.id: (await writer.endpoint.link(link.id)).status for link in order}
    assert stored == {**{link.id: LinkStatus.PAID for link in good}, poisoned.id: LinkStatus.ACTIVE}
    assert sorted(payment.link_id for payment in await writer.endpoint.rows(Payment)) == sorted(
        link.id for link in good
    )


# --- shutting down ----------------------------------------------------------------------------


async def test_closing_writes_and_answers_every_waiting_notification(writer: Writer) -> None:
    links = [await writer.endpoint.seed_link() for _ in range(5)]
    waiting = [
        asyncio.create_task(writer.notifications.submit(notification(paybylink(link.merchant_link_id))))
        for link in links
    ]
    await asyncio.sleep(0)  # every request has queued its notification; the writer has not taken any yet

    await writer.notifications.close()

    assert all(task.done() for task in waiting)
    assert [task.result() for task in waiting] == [Outcome.APPLIED] * len(links)
    assert sum(writer.batches) == len(links)
    assert len(await writer.endpoint.rows(Payment)) == len(links)


async def test_after_closing_a_late_notification_is_still_applied_on_its_own(writer: Writer) -> None:
    link = await writer.endpoint.seed_link()
    await writer.notifications.close()

    response = await writer.endpoint.post(paybylink(link.merchant_link_id))

    assert response.status_code == 200 and response.json()["code"] == "SUCCESS"
    assert writer.batches == []
    assert (await writer.endpoint.link(link.id)).status == LinkStatus.PAID
