"""PayerMax notifications through the real web app and a real database (SQLite and PostgreSQL).

Each test builds the Starlette app exactly as the bot does, seeds links straight into the
database, signs bodies with a throwaway "PayerMax" key, and checks both the answer PayerMax
gets (only ``SUCCESS`` stops its retries) and what was written: links, payments, outbox
messages and notification events.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import SQLModel

from bot.payermax.models import parse_link_info
from bot.payermax.signing import sign
from bot.payermax.webhook import MerchantIdentity
from bot.services.attempts import FailedAttempts
from bot.services.links import new_merchant_link_id
from bot.services.notification_writer import NotificationWriter
from bot.services.payments import Outcome, PaymentReport, PaymentService
from bot.services.shared import SharedMessages
from bot.web.app import build_web_app
from bot.web.notify import MAX_BODY_BYTES
from storage.db import create_engine, session_factory
from storage.models import (
    FailedAttempt,
    Link,
    LinkStatus,
    NotificationEvent,
    OutboxMessage,
    Payment,
    PaymentSource,
)
from tests.keys import rsa_key

OWNER = 900_001
SELLER_CHAT = -100_555_000_111
SELLER = 424_242
PRICE = Decimal("150000")
CURRENCY = "IDR"
TRADE = "T20240513102803606"
COMPLETED_AT = "2024-05-13T10:28:03.606Z"
NOTIFY_PATH = "/payermax/notify"
SNAPSHOT_TABLES: tuple[type[SQLModel], ...] = (Link, Payment, OutboxMessage, NotificationEvent)


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def platform_key() -> RSAPrivateKey:
    """PayerMax's signing key; the app trusts only its public half."""
    return rsa_key("platform")


@pytest.fixture(scope="module")
def stranger_key() -> RSAPrivateKey:
    """A key PayerMax never had: what a forger would sign with."""
    return rsa_key("stranger")


def encode(document: Any) -> bytes:
    """Serialise compactly, as PayerMax sends it; the signature covers exactly these bytes."""
    return json.dumps(document, separators=(",", ":")).encode()


def success_attempt(trade: str = TRADE, status: str = "SUCCESS", **extra: Any) -> dict[str, Any]:
    """One payByLinkInfo entry: a card payment attempt."""
    return {
        "outTradeNo": trade,
        "status": status,
        "completeAt": COMPLETED_AT,
        "paymentDetails": [
            {
                "paymentMethodType": "CARD",
                "targetOrg": "BCA",
                "cardInfo": {"cardOrg": "VISA", "cardNumber": "411111******1111"},
            }
        ],
        **extra,
    }


def paybylink(
    merchant_link_id: str,
    *,
    attempts: list[dict[str, Any]] | None = None,
    amount: Any = "150000",
    currency: str = CURRENCY,
    link_status: str = "ACTIVE",
) -> dict[str, Any]:
    """A PAYBYLINK notification (contract §5.1); by default it reports one successful payment."""
    return {
        "code": "APPLY_SUCCESS",
        "msg": "",
        "keyVersion": "1",
        "appId": "app-under-test",
        "merchantNo": "M000000000001",
        "notifyTime": "2024-05-13T10:28:04.000Z",
        "notifyType": "PAYBYLINK",
        "data": {
            "linkId": "PBL" + merchant_link_id,
            "merchantLinkId": merchant_link_id,
            "linkUrl": "https://cashier.example/pay/" + merchant_link_id,
            "linkStatus": link_status,
            "totalAmount": amount,
            "currency": currency,
            "country": "ID",
            "payByLinkInfo": [success_attempt()] if attempts is None else attempts,
        },
    }


def payment(trade: str, *, status: str = "SUCCESS", amount: Any = 150000, currency: str = CURRENCY) -> dict[str, Any]:
    """A PAYMENT notification (contract §5.2): it names the order, not the link; the amount is a number."""
    return {
        "code": "APPLY_SUCCESS" if status == "SUCCESS" else "PAYMENT_FAILED",
        "msg": "",
        "keyVersion": "1",
        "appId": "app-under-test",
        "merchantNo": "M000000000001",
        "notifyTime": "2024-05-13T10:28:05.000Z",
        "notifyType": "PAYMENT",
        "data": {
            "outTradeNo": trade,
            "tradeToken": "TOKEN" + trade,
            "totalAmount": amount,
            "currency": currency,
            "country": "ID",
            "status": status,
            "completeTime": COMPLETED_AT,
            "paymentDetails": [
                {"paymentMethodType": "CARD", "cardInfo": {"cardOrg": "VISA", "cardNumber": "411111******1111"}}
            ],
        },
    }


@dataclass
class Endpoint:
    """The notify endpoint of a freshly built app, and the database behind it."""

    client: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    platform_key: RSAPrivateKey
    payments: PaymentService

    async def post_raw(self, body: Any, headers: dict[str, str]) -> httpx.Response:
        """Send these bytes (or this byte stream) with exactly these headers."""
        return await self.client.post(NOTIFY_PATH, content=body, headers=headers)

    async def post(self, document: Any) -> httpx.Response:
        """Send a document signed by PayerMax, the way PayerMax does."""
        body = encode(document)
        return await self.post_raw(body, {"content-type": "application/json", "sign": sign(body, self.platform_key)})

    async def seed_link(
        self, *, status: LinkStatus = LinkStatus.ACTIVE, amount: Decimal = PRICE, currency: str = CURRENCY
    ) -> Link:
        """Store a link as if the bot had created it with PayerMax."""
        merchant_link_id = new_merchant_link_id()
        link = Link(
            merchant_link_id=merchant_link_id,
            chat_id=SELLER_CHAT,
            creator_user_id=SELLER,
            creator_name="Seller",
            amount=amount,
            currency=currency,
            country="ID",
            description="Winter shoes",
            expires_seconds=86400,
            status=status,
            payermax_link_id="PBL" + merchant_link_id,
            link_url="https://cashier.example/pay/" + merchant_link_id,
        )
        async with self.sessions() as session, session.begin():
            session.add(link)
        return link

    async def rows(self, model: type[SQLModel]) -> list[Any]:
        """Every row of a table, oldest first."""
        async with self.sessions() as session:
            return list((await session.execute(select(model).order_by(model.id))).scalars().all())

    async def link(self, link_id: int) -> Link:
        """The link as stored now."""
        async with self.sessions() as session:
            found = await session.get(Link, link_id)
            assert found is not None
            return found

    async def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """All rows of links, payments, outbox and notification_events, to compare before/after."""
        tables: dict[str, list[dict[str, Any]]] = {}
        async with self.sessions() as session:
            for model in SNAPSHOT_TABLES:
                table = model.__table__
                result = await session.execute(select(table).order_by(table.c.id))
                tables[table.name] = [dict(row._mapping) for row in result]
        return tables


@pytest.fixture
async def endpoint(migrated_database_url: str, platform_key: RSAPrivateKey) -> AsyncIterator[Endpoint]:
    """The real app on a fresh, migrated database, called in-process over ASGI, with the bot's group-commit writer."""
    engine = create_engine(migrated_database_url)
    try:
        sessions = session_factory(engine)
        payments = PaymentService(sessions, owner_chat_ids=[OWNER], attempts=FailedAttempts(sessions))
        async with NotificationWriter(payments, engine) as notifications:
            app = build_web_app(
                merchant=MerchantIdentity("app-under-test", "M000000000001"),
                engine=engine,
                payments=payments,
                notifications=notifications,
                platform_public_key=platform_key.public_key(),
            )
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
                yield Endpoint(client, sessions, platform_key, payments)
    finally:
        await engine.dispose()


def assert_acknowledged(response: httpx.Response) -> None:
    """PayerMax stops retrying only on HTTP 200 with code SUCCESS."""
    assert response.status_code == 200, response.text
    assert response.json()["code"] == "SUCCESS"


def assert_refused(response: httpx.Response, status: int) -> None:
    """A refusal: the given status and anything but code SUCCESS, so PayerMax does not stop."""
    assert response.status_code == status, response.text
    assert response.json()["code"] != "SUCCESS"


def outbox_summary(messages: list[OutboxMessage]) -> list[tuple[str, int, str]]:
    """What the outbox would send, where, under which dedupe key."""
    return [(message.kind, message.chat_id, message.dedupe_key) for message in messages]


def paid_messages_for(link: Link) -> list[tuple[str, int, str]]:
    """The announcement one payment on this link should queue: "Paid" and the card edit."""
    return [("paid", SELLER_CHAT, f"paid:{link.id}:{TRADE}"), ("card_update", SELLER_CHAT, f"card-paid:{link.id}")]


# --- a payment is recorded and announced once -----------------------------------------------


async def test_paid_link_is_recorded_and_announced(endpoint: Endpoint) -> None:
    link = await endpoint.seed_link()

    response = await endpoint.post(paybylink(link.merchant_link_id))

    assert_acknowledged(response)
    stored = await endpoint.link(link.id)
    assert stored.status == LinkStatus.PAID
    assert stored.paid_at == datetime(2024, 5, 13, 10, 28, 3, 606000, tzinfo=UTC)
    [paid] = await endpoint.rows(Payment)
    assert (paid.link_id, paid.out_trade_no, paid.status, paid.source) == (link.id, TRADE, "SUCCESS", "PAYBYLINK")
    assert (paid.amount, paid.currency) == (PRICE, CURRENCY)
    assert (paid.payment_method, paid.target_org, paid.card_org, paid.card_number) == (
        "CARD",
        "BCA",
        "VISA",
        "411111******1111",
    )
    assert outbox_summary(await endpoint.rows(OutboxMessage)) == paid_messages_for(link)
    assert await endpoint.rows(NotificationEvent) == []


async def test_replayed_notification_is_acknowledged_and_changes_nothing(endpoint: Endpoint) -> None:
    link = await endpoint.seed_link()
    document = paybylink(link.merchant_link_id)
    assert_acknowledged(await endpoint.post(document))
    after_first = await endpoint.snapshot()

    for _ in range(3):
        assert_acknowledged(await endpoint.post(document))

    assert await endpoint.snapshot() == after_first
    assert len(await endpoint.rows(Payment)) == 1
    assert [m.kind for m in await endpoint.rows(OutboxMessage)].count("paid") == 1


async def test_payment_notification_after_paybylink_announces_once(endpoint: Endpoint) -> None:
    link = await endpoint.seed_link()
    assert_acknowledged(await endpoint.post(paybylink(link.merchant_link_id)))

    response = await endpoint.post(payment(TRADE, amount=150000))

    assert_acknowledged(response)
    assert len(await endpoint.rows(Payment)) == 1
    assert outbox_summary(await endpoint.rows(OutboxMessage)) == paid_messages_for(link)
    assert (await endpoint.link(link.id)).status == LinkStatus.PAID


async def test_successful_payment_for_unknown_order_is_retried(endpoint: Endpoint) -> None:
    """Until the PAYBYLINK report or the reconciler ties the order to a link, PayerMax must keep trying."""
    await endpoint.seed_link()
    before = await endpoint.snapshot()

    response = await endpoint.post(payment("T-NEVER-SEEN"))

    assert_refused(response, 404)
    assert await endpoint.snapshot() == before


async def test_failed_payment_for_unknown_order_is_acknowledged_and_kept(endpoint: Endpoint) -> None:
    """A declined order names no link: kept once, and the links it may be (same amount) are asked about soon."""
    candidate = await endpoint.seed_link()
    other = await endpoint.seed_link(amount=Decimal("99000"))
    before = await endpoint.snapshot()

    for _ in range(2):
        assert_acknowledged(await endpoint.post(payment("T-DECLINED", status="FAILED")))

    [kept] = await endpoint.rows(FailedAttempt)
    assert (kept.out_trade_no, kept.link_id, kept.status, kept.payment_method) == ("T-DECLINED", None, "FAILED", "CARD")
    assert kept.attempted_at == datetime(2024, 5, 13, 10, 28, 3, 606000, tzinfo=UTC)
    assert (await endpoint.link(candidate.id)).next_check_at is not None
    assert (await endpoint.link(other.id)).next_check_at is None
    after = await endpoint.snapshot()
    for row in after["links"]:
        row["next_check_at"] = None  # the one change: when the reconciler looks again
    assert after == before


async def test_a_customer_message_posted_for_the_link_is_turned_into_thanks_once(endpoint: Endpoint) -> None:
    """Share's messages are edited when the link is paid: queued with the payment, by either way of applying it."""
    shared = SharedMessages(endpoint.sessions)
    batched, alone = await endpoint.seed_link(), await endpoint.seed_link()
    for link in (batched, alone):
        await shared.remember(link.id, SELLER_CHAT, 70 + link.id)
        await shared.remember(link.id, SELLER, 80 + link.id)
        await shared.remember(link.id, SELLER, 80 + link.id)  # the same message twice: once

    for _ in range(2):
        assert_acknowledged(await endpoint.post(paybylink(batched.merchant_link_id)))  # the group commit
    attempt = parse_link_info(paybylink(alone.merchant_link_id)["data"]).attempts[0]
    report = PaymentReport(attempt, PRICE, CURRENCY, PaymentSource.RECONCILE)
    assert await endpoint.payments.apply_to_link(alone.merchant_link_id, [report], notify_type="RECONCILE") == (
        Outcome.APPLIED
    )

    edits = [(m.chat_id, json.loads(m.payload)) for m in await endpoint.rows(OutboxMessage) if m.kind == "shared_paid"]
    assert sorted(edits, key=str) == sorted(
        [
            (chat, {"message_id": message})
            for link in (batched, alone)
            for chat, message in ((SELLER_CHAT, 70 + link.id), (SELLER, 80 + link.id))
        ],
        key=str,
    )
    # Shared after it was paid (the press read the link a moment before): the edit is queued at once.
    await shared.remember(batched.id, SELLER_CHAT, 99)
    late = [m for m in await endpoint.rows(OutboxMessage) if m.kind == "shared_paid" and m.chat_id == SELLER_CHAT]
    assert {json.loads(m.payload)["message_id"] for m in late} == {70 + batched.id, 70 + alone.id, 99}


async def test_late_pending_report_does_not_move_a_paid_link_back(endpoint: Endpoint) -> None:
    link = await endpoint.seed_link()
    assert_acknowledged(await endpoint.post(paybylink(link.merchant_link_id)))
    after_paid = await endpoint.snapshot()

    late = paybylink(link.merchant_link_id, attempts=[success_attempt(trade="T-LATER", status="PENDING")])
    assert_acknowledged(await endpoint.post(late))

    assert await endpoint.snapshot() == after_paid
    assert (await endpoint.link(link.id)).status == LinkStatus.PAID


@pytest.mark.parametrize("attempt_status", ["CLOSE", "CLOSED"])
async def test_closed_attempt_is_not_a_payment(endpoint: Endpoint, attempt_status: str) -> None:
    link = await endpoint.seed_link()
    before = await endpoint.snapshot()

    response = await endpoint.post(paybylink(link.merchant_link_id, attempts=[success_attempt(status=attempt_status)]))

    assert_acknowledged(response)
    assert await endpoint.snapshot() == before
    assert (await endpoint.link(link.id)).status == LinkStatus.ACTIVE


# --- lenient about presentation --------------------------------------------------------------


@pytest.mark.parametrize(
    "reported_amount", ["150000", 150000, "150000.00"], ids=["string", "number", "string-with-decimals"]
)
async def test_amount_spelling_and_lowercase_link_status_still_match(endpoint: Endpoint, reported_amount: Any) -> None:
    link = await endpoint.seed_link()

    response = await endpoint.post(paybylink(link.merchant_link_id, amount=reported_amount, link_status="active"))

    assert_acknowledged(response)
    assert (await endpoint.link(link.id)).status == LinkStatus.PAID
    [paid] = await endpoint.rows(Payment)
    assert paid.amount == link.amount
    assert outbox_summary(await endpoint.rows(OutboxMessage)) == paid_messages_for(link)


async def test_unknown_extra_fields_are_ignored(endpoint: Endpoint) -> None:
    link = await endpoint.seed_link()
    document = paybylink(
        link.merchant_link_id, attempts=[success_attempt(riskLevel="LOW", fees={"merFee": {"amount": "10"}})]
    )
    document["traceId"] = "abc-123"
    document["data"]["newFieldFrom2030"] = {"nested": [1, 2, 3]}

    response = await endpoint.post(document)

    assert_acknowledged(response)
    assert (await endpoint.link(link.id)).status == LinkStatus.PAID
    assert len(await endpoint.rows(Payment)) == 1


# --- mismatches and links we do not know -------------------------------------------------------


@pytest.mark.parametrize(("amount", "currency"), [("150001", CURRENCY), ("150000", "USD")], ids=["amount", "currency"])
async def test_mismatch_is_never_paid_and_alerts_the_owner_once(endpoint: Endpoint, amount: str, currency: str) -> None:
    link = await endpoint.seed_link()
    document = paybylink(link.merchant_link_id, amount=amount, currency=currency)

    response = await endpoint.post(document)

    assert_refused(response, 409)
    assert (await endpoint.link(link.id)).status == LinkStatus.ACTIVE
    assert await endpoint.rows(Payment) == []
    [event] = await endpoint.rows(NotificationEvent)
    assert (event.outcome, event.link_id, event.reference) == ("mismatch", link.id, link.merchant_link_id)
    alert = [("alert", OWNER, f"mismatch:{link.id}:{TRADE}:{OWNER}")]
    assert outbox_summary(await endpoint.rows(OutboxMessage)) == alert

    assert_refused(await endpoint.post(document), 409)

    assert outbox_summary(await endpoint.rows(OutboxMessage)) == alert
    assert (await endpoint.link(link.id)).status == LinkStatus.ACTIVE
    assert await endpoint.rows(Payment) == []


@pytest.mark.parametrize(
    ("make_id", "status"),
    [(new_merchant_link_id, 404), (lambda: "shop-order-77", 404)],
    ids=["ours-not-stored-yet-retry", "made-elsewhere-not-ours"],
)
async def test_unknown_link(endpoint: Endpoint, make_id: Callable[[], str], status: int) -> None:
    """A link we did not make (or not yet) is never acknowledged (contract §12), and nothing changes."""
    merchant_link_id = make_id()
    await endpoint.seed_link()
    before = await endpoint.snapshot()

    response = await endpoint.post(paybylink(merchant_link_id))

    if status == 200:
        assert_acknowledged(response)
    else:
        assert_refused(response, status)
    assert await endpoint.snapshot() == before


# --- forged and malformed deliveries change nothing ------------------------------------------


def _signed(body: bytes, key: RSAPrivateKey, content_type: str = "application/json") -> tuple[bytes, dict[str, str]]:
    return body, {"content-type": content_type, "sign": sign(body, key)}


def _forged(valid: bytes, key: RSAPrivateKey, stranger: RSAPrivateKey) -> tuple[bytes, dict[str, str]]:
    return _signed(valid, stranger)


def _unsigned(valid: bytes, key: RSAPrivateKey, stranger: RSAPrivateKey) -> tuple[bytes, dict[str, str]]:
    return valid, {"content-type": "application/json"}


def _signed_after_reserialising(
    valid: bytes, key: RSAPrivateKey, stranger: RSAPrivateKey
) -> tuple[bytes, dict[str, str]]:
    # The same JSON, but json.dumps' default separators add spaces: the signature covers other bytes.
    reserialised = json.dumps(json.loads(valid)).encode()
    assert reserialised != valid
    return valid, {"content-type": "application/json", "sign": sign(reserialised, key)}


def _with_document(
    change: Callable[[dict[str, Any]], Any],
) -> Callable[[bytes, RSAPrivateKey, RSAPrivateKey], tuple[bytes, dict[str, str]]]:
    def build(valid: bytes, key: RSAPrivateKey, stranger: RSAPrivateKey) -> tuple[bytes, dict[str, str]]:
        return _signed(encode(change(json.loads(valid))), key)

    return build


def _drop_data(document: dict[str, Any]) -> dict[str, Any]:
    del document["data"]
    return document


def _drop(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(document: dict[str, Any]) -> dict[str, Any]:
        del document[key]
        return document

    return change


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(document: dict[str, Any]) -> dict[str, Any]:
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return document

    return change


Delivery = tuple[bytes, dict[str, str]]  # a body and its headers


def _signed_with_raw_amount(raw_amount: bytes) -> Callable[[bytes, RSAPrivateKey, RSAPrivateKey], Delivery]:
    """The valid document with totalAmount written verbatim as ``raw_amount``, signed by PayerMax's key."""

    def build(valid: bytes, key: RSAPrivateKey, stranger: RSAPrivateKey) -> Delivery:
        return _signed(valid.replace(b'"totalAmount":"150000"', b'"totalAmount":' + raw_amount), key)

    return build


def _signed_deeply_nested(valid: bytes, key: RSAPrivateKey, stranger: RSAPrivateKey) -> Delivery:
    depth = 20_000  # 40 KB, under the body cap; json.loads gives up with RecursionError long before
    return _signed(valid[:-1] + b',"extra":' + b"[" * depth + b"]" * depth + b"}", key)


REJECTIONS = {
    "forged-signature": (_forged, 401),
    "missing-sign": (_unsigned, 401),
    "sign-over-reserialised-json": (_signed_after_reserialising, 401),
    "not-json": (lambda valid, key, _: _signed(b"paid=yes&amount=150000", key), 400),
    "json-array": (_with_document(lambda document: [document]), 400),
    "missing-data": (_with_document(_drop_data), 400),
    "unknown-notify-type": (_with_document(_set(("notifyType",), "REFUND")), 400),
    "bad-total-amount": (_with_document(_set(("data", "totalAmount"), "abc")), 400),
    "text-plain": (lambda valid, key, _: _signed(valid, key, content_type="text/plain"), 415),
    "signed-5000-digit-integer": (_signed_with_raw_amount(b"9" * 5000), 400),
    "signed-20000-levels-deep": (_signed_deeply_nested, 400),
    # Contract §12: signed by PayerMax, but not for us.
    "signed-for-another-merchant": (_with_document(_set(("merchantNo",), "P01000000099999")), 403),
    "signed-for-another-app": (_with_document(_set(("appId",), "someone-elses-app")), 403),
    "signed-naming-no-merchant": (_with_document(_drop("merchantNo")), 403),
    "signed-naming-another-payermax-link": (_with_document(_set(("data", "linkId"), "BYLnotthisone")), 409),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
async def test_bad_delivery_is_refused_and_changes_nothing(
    endpoint: Endpoint, stranger_key: RSAPrivateKey, case: str
) -> None:
    make_delivery, status = REJECTIONS[case]
    link = await endpoint.seed_link()
    body, headers = make_delivery(encode(paybylink(link.merchant_link_id)), endpoint.platform_key, stranger_key)
    before = await endpoint.snapshot()

    response = await endpoint.post_raw(body, headers)

    assert_refused(response, status)
    assert await endpoint.snapshot() == before


@pytest.mark.parametrize(
    ("change", "status", "named"),
    [
        (_set(("merchantNo",), "P01000000099999"), 403, "P01000000099999"),
        (_set(("appId",), "someone-elses-app"), 403, "someone-elses-app"),
        (_set(("data", "linkId"), "BYLnotthisone"), 409, "BYLnotthisone"),
    ],
    ids=["merchant", "app", "payermax-link"],
)
async def test_a_notification_not_for_us_is_logged_once_naming_what_differed(
    endpoint: Endpoint,
    caplog: pytest.LogCaptureFixture,
    change: Callable[[dict[str, Any]], Any],
    status: int,
    named: str,
) -> None:
    """Contract §12: refused, never SUCCESS, nothing changed, and one WARNING line says what was not ours."""
    link = await endpoint.seed_link()
    before = await endpoint.snapshot()
    with caplog.at_level(logging.WARNING):
        assert_refused(await endpoint.post(change(paybylink(link.merchant_link_id))), status)
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and named in warnings[0], warnings
    assert await endpoint.snapshot() == before


async def test_a_payment_notification_for_another_merchant_changes_nothing(endpoint: Endpoint) -> None:
    """A PAYMENT report for an order we know, but addressed to another merchant, is refused before it is applied."""
    link = await endpoint.seed_link()
    assert_acknowledged(await endpoint.post(paybylink(link.merchant_link_id)))
    before = await endpoint.snapshot()
    document = payment(TRADE)
    document["merchantNo"] = "P01000000099999"
    assert_refused(await endpoint.post(document), 403)
    assert await endpoint.snapshot() == before


async def test_empty_body_is_refused(endpoint: Endpoint) -> None:
    await endpoint.seed_link()
    before = await endpoint.snapshot()

    response = await endpoint.post_raw(*_signed(b"", endpoint.platform_key))

    assert 400 <= response.status_code < 500
    assert response.json()["code"] != "SUCCESS"
    assert await endpoint.snapshot() == before


class CountingBody:
    """A request body streamed in chunks, counting how many the server pulled."""

    CHUNK = b"x" * 16 * 1024

    def __init__(self, total_bytes: int) -> None:
        self.chunks_total = -(-total_bytes // len(self.CHUNK))
        self.chunks_read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks_total):
            self.chunks_read += 1
            yield self.CHUNK


async def test_oversized_body_with_declared_length_is_refused_unread(endpoint: Endpoint) -> None:
    await endpoint.seed_link()
    before = await endpoint.snapshot()
    body = CountingBody(MAX_BODY_BYTES + 1)
    declared = len(CountingBody.CHUNK) * body.chunks_total

    response = await endpoint.post_raw(
        body, {"content-type": "application/json", "content-length": str(declared), "sign": "AAAA"}
    )

    assert_refused(response, 413)
    assert body.chunks_read == 0
    assert await endpoint.snapshot() == before


async def test_oversized_streamed_body_is_cut_off_at_the_cap(endpoint: Endpoint) -> None:
    await endpoint.seed_link()
    before = await endpoint.snapshot()
    body = CountingBody(16 * MAX_BODY_BYTES)  # no length declared: sent chunked

    response = await endpoint.post_raw(body, {"content-type": "application/json", "sign": "AAAA"})

    assert_refused(response, 413)
    assert body.chunks_read <= MAX_BODY_BYTES // len(CountingBody.CHUNK) + 1
    assert await endpoint.snapshot() == before


# --- money that came in anyway, and many deliveries at once -----------------------------------


@pytest.mark.parametrize("status", [LinkStatus.EXPIRED, LinkStatus.CANCELLED])
async def test_payment_on_expired_or_cancelled_link_is_still_recorded_because_money_came_in(
    endpoint: Endpoint, status: LinkStatus
) -> None:
    """The customer was charged (e.g. paid just before we expired the link): hiding it would lose a sale."""
    link = await endpoint.seed_link(status=status)

    response = await endpoint.post(paybylink(link.merchant_link_id, link_status="EXPIRED"))

    assert_acknowledged(response)
    assert (await endpoint.link(link.id)).status == LinkStatus.PAID
    assert len(await endpoint.rows(Payment)) == 1
    assert outbox_summary(await endpoint.rows(OutboxMessage)) == paid_messages_for(link)


async def test_concurrent_deliveries_record_one_payment(endpoint: Endpoint) -> None:
    link = await endpoint.seed_link()
    document = paybylink(link.merchant_link_id)

    responses = await asyncio.gather(*(endpoint.post(document) for _ in range(20)))

    for response in responses:
        assert_acknowledged(response)
    assert len(await endpoint.rows(Payment)) == 1
    assert outbox_summary(await endpoint.rows(OutboxMessage)) == paid_messages_for(link)
    assert (await endpoint.link(link.id)).status == LinkStatus.PAID
