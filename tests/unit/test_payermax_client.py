"""PayerMaxClient against a fake PayerMax that checks requests the way the gateway does and answers signed."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bot.payermax.client import PayerMaxClient
from bot.payermax.errors import (
    ApiError,
    ConnectError,
    PayerMaxTimeout,
    ProtocolError,
    RefundRefusal,
    ServerError,
    SignatureError,
    TransportError,
    classify_refund_refusal,
)
from bot.payermax.models import CreateLinkRequest, RefundRequest
from bot.payermax.signing import sign, verify
from tests.keys import rsa_key

BASE_URL = "http://payermax.test/sandbox/"  # trailing slash on purpose: the client must not double it
APP_ID = "app-test-1"
MERCHANT_NO = "P01000000000000"
EXPECTED_VERSIONS = {
    "createPaybylink": "1.1",
    "queryPaybylink": "1.1",
    "expirePaybylink": "1.1",
    "orderQuery": "1.4",
    "refund": "1.5",
    "refundQuery": "1.5",
}
REQUEST_TIME_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)")

Answer = Callable[[str, dict[str, Any]], httpx.Response]


@pytest.fixture(scope="module")
def merchant_key():
    """Our key: signs requests; the fake verifies with its public half."""
    return rsa_key("merchant")


@pytest.fixture(scope="module")
def platform_key():
    """PayerMax's key: signs answers; the client verifies with its public half."""
    return rsa_key("platform")


@pytest.fixture(scope="module")
def stranger_key():
    """Someone else's key, for forged answers."""
    return rsa_key("stranger")


def answer_bytes(body: bytes, key=None, *, status: int = 200, signature: str | None = None) -> httpx.Response:
    """An HTTP answer with ``body``, signed by ``key`` unless an explicit signature (or none) is given."""
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["sign"] = signature
    elif key is not None:
        headers["sign"] = sign(body, key)
    return httpx.Response(status, content=body, headers=headers)


def compact_json(payload: dict[str, Any]) -> bytes:
    """Compact JSON in which Decimal values become bare JSON numbers, as in PayerMax's orderQuery answers."""
    numbers: dict[str, str] = {}

    def placeholder(value: object) -> str:
        if not isinstance(value, Decimal):
            raise TypeError(f"cannot encode {type(value).__name__}")
        token = f"@number{len(numbers)}@"
        numbers[token] = str(value)
        return token

    text = json.dumps(payload, separators=(",", ":"), default=placeholder)
    for token, number in numbers.items():
        text = text.replace(f'"{token}"', number)
    return text.encode()


def answer_json(payload: dict[str, Any], key=None, **kwargs: Any) -> httpx.Response:
    """Serialise ``payload`` the compact way PayerMax does and answer it."""
    return answer_bytes(compact_json(payload), key, **kwargs)


class FakePayerMax:
    """Checks each request as the real gateway would, records it, and answers signed with the platform key."""

    def __init__(self, merchant_public_key, platform_private_key) -> None:
        self.merchant_public_key = merchant_public_key
        self.platform_key = platform_private_key
        self.requests: list[dict[str, Any]] = []
        self.raw_bodies: list[bytes] = []
        self.answer: Answer = self.default_answer

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Validate the request, then delegate the answer."""
        body = request.content
        assert request.method == "POST"
        match = re.fullmatch(r"/sandbox/aggregate-pay/api/gateway/(\w+)", request.url.path)
        assert match, f"unexpected path {request.url.path}"
        api_name = match.group(1)
        assert request.headers["content-type"] == "application/json"
        assert verify(body, request.headers.get("sign"), self.merchant_public_key), "request signature invalid"
        envelope = json.loads(body)
        assert list(envelope) == ["version", "keyVersion", "requestTime", "appId", "merchantNo", "data"]
        assert envelope["version"] == EXPECTED_VERSIONS[api_name]
        assert envelope["keyVersion"] == "1"
        assert envelope["appId"] == APP_ID and envelope["merchantNo"] == MERCHANT_NO
        assert REQUEST_TIME_FORMAT.fullmatch(envelope["requestTime"]), envelope["requestTime"]
        sent_at = datetime.fromisoformat(envelope["requestTime"])
        assert abs(datetime.now(UTC) - sent_at) < timedelta(minutes=2)
        self.requests.append({"api": api_name, **envelope})
        self.raw_bodies.append(body)
        return self.answer(api_name, envelope["data"])

    def default_answer(self, api_name: str, data: dict[str, Any]) -> httpx.Response:
        """Answer like PayerMax does on success for each endpoint."""
        payload = {"code": "APPLY_SUCCESS", "msg": "Success.", "data": success_data(api_name, data)}
        return answer_json(payload, self.platform_key)


def success_data(api_name: str, data: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` PayerMax returns for a successful call on ``api_name``."""
    if api_name == "refund":
        # Only what contract §11.2 promises: the refund's ids and its status.
        return {"outRefundNo": data["outRefundNo"], "refundTradeNo": "R2025070100000001", "status": "REFUND_PENDING"}
    if api_name == "refundQuery":
        return {
            "outRefundNo": data["outRefundNo"],
            "refundTradeNo": "R2025070100000001",
            "outTradeNo": "T1",
            "refundAmount": Decimal("50000"),
            "refundCurrency": "IDR",
            "status": "REFUND_SUCCESS",
            "refundFinishTime": "2025-07-01T08:00:01.250Z",
        }
    if api_name == "orderQuery":
        return {
            "outTradeNo": data["outTradeNo"],
            "tradeToken": "T2024062702289232000001",
            "totalAmount": Decimal("150000.50"),  # a JSON number here, unlike the link APIs
            "currency": "IDR",
            "country": "ID",
            "status": "SUCCESS",
            "completeTime": "2025-06-26T12:11:36.142Z",
            "paymentDetails": [
                {"paymentMethodType": "CARD", "cardInfo": {"cardOrg": "VISA", "cardNumber": "411111******1111"}}
            ],
        }
    link: dict[str, Any] = {
        "linkId": "BYLqPQaQlD",
        "merchantLinkId": data["merchantLinkId"],
        "linkUrl": "http://uat.payermax.link/uat/#/BYLqPQaQlD",
        "qrCodeUrl": "https://img.example/qr.png",
        "linkStatus": "EXPIRED" if api_name == "expirePaybylink" else "ACTIVE",
        "expiresAt": "2024-02-28T05:46:25Z",
    }
    if api_name == "queryPaybylink":
        link.update(
            totalAmount="150000",
            currency="IDR",
            country="ID",
            description="Winter shoes",
            payByLinkInfo=[
                {
                    "outTradeNo": "T1",
                    "status": "SUCCESS",
                    "completeAt": "2024-02-27T13:45:36.960+08:00",
                    "paymentDetails": [{"paymentMethodType": "WALLET", "targetOrg": "DANA"}],
                },
                {"outTradeNo": "T0", "status": "CLOSE"},
            ],
        )
    return link


@pytest.fixture
def fake(merchant_key, platform_key) -> FakePayerMax:
    return FakePayerMax(merchant_key.public_key(), platform_key)


@pytest.fixture
def calls() -> list[tuple[str, float, str]]:
    """What the client reported through on_call."""
    return []


@pytest.fixture
async def client(fake, calls, merchant_key, platform_key):
    async with PayerMaxClient(
        base_url=BASE_URL,
        app_id=APP_ID,
        merchant_no=MERCHANT_NO,
        merchant_private_key=merchant_key,
        platform_public_key=platform_key.public_key(),
        transport=httpx.MockTransport(fake.handle),
        on_call=lambda api, seconds, outcome: calls.append((api, seconds, outcome)),
    ) as payermax:
        yield payermax


def make_request(**overrides: Any) -> CreateLinkRequest:
    """A typical link request: 150000 IDR winter shoes."""
    fields: dict[str, Any] = {
        "merchant_link_id": "tg-42-7",
        "total_amount": Decimal("150000"),
        "currency": "IDR",
        "country": "ID",
        "description": "Sepatu musim dingin ❄",
        "notify_url": "https://bot.example/payermax/notify",
        "user_id": "1001",
        "contact_email": "shop@example.com",
    }
    fields.update(overrides)
    return CreateLinkRequest(**fields)


def make_refund(**overrides: Any) -> RefundRequest:
    """A typical refund: 50000 of a 150000 IDR order, results to the bot's refund endpoint."""
    fields: dict[str, Any] = {
        "out_refund_no": "rf-42-7-1",
        "out_trade_no": "T1",
        "refund_amount": Decimal("50000"),
        "refund_currency": "IDR",
        "comments": "Wrong size ❄",
        "refund_notify_url": "https://bot.example/payermax/refund-notify",
    }
    fields.update(overrides)
    return RefundRequest(**fields)


def raising(exc: Exception) -> Answer:
    """An answer function that fails the way the network would."""

    def answer(api_name: str, data: dict[str, Any]) -> httpx.Response:
        raise exc

    return answer


async def test_create_sends_signed_request_and_returns_typed_link(client, fake, calls):
    link = await client.create_paybylink(make_request())

    assert link.link_id == "BYLqPQaQlD"
    assert link.merchant_link_id == "tg-42-7"
    assert link.link_url == "http://uat.payermax.link/uat/#/BYLqPQaQlD"
    assert link.link_status == "ACTIVE"
    assert link.expires_at == datetime(2024, 2, 28, 5, 46, 25, tzinfo=UTC)
    (sent,) = fake.requests
    data = sent["data"]
    assert data["merchantLinkId"] == "tg-42-7"
    assert data["totalAmount"] == "150000"
    assert data["goodsDetails"] == [
        {
            "goodsName": "Sepatu musim dingin ❄",
            "goodsDescription": "Sepatu musim dingin ❄",
            "quantity": "1",
            "price": "150000",
            "goodsCurrency": "IDR",
            "showUrl": "",
        }
    ]
    assert data["expiresTime"] == "86400" and data["linkType"] == "ONETIME"
    assert data["notifyUrl"] == "https://bot.example/payermax/notify"
    # Sent as UTF-8, not \u escapes, and the signature (checked by the fake) covers those exact bytes.
    assert "❄".encode() in fake.raw_bodies[0]
    assert calls[0][0] == "createPaybylink" and calls[0][2] == "ok" and calls[0][1] >= 0


@pytest.mark.parametrize(
    ("amount", "rendered"),
    [(Decimal("150000"), "150000"), (Decimal("1.5E+5"), "150000"), (Decimal("9.90"), "9.90"), (Decimal("0.5"), "0.5")],
)
def test_amount_is_rendered_as_plain_decimal_string(amount, rendered):
    data = make_request(total_amount=amount).to_data()
    assert data["totalAmount"] == rendered
    assert data["goodsDetails"][0]["price"] == rendered


def test_long_description_is_cut_for_goods_name_only():
    description = "x" * 200
    data = make_request(description=description, link_description="chat 5", username="anna").to_data()
    assert data["description"] == description
    assert data["goodsDetails"][0]["goodsName"] == "x" * 128
    assert data["linkDescription"] == "chat 5"
    assert data["userInfo"] == {"userId": "1001", "username": "anna"}


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"total_amount": Decimal("0")}, "positive"),
        ({"currency": "idr"}, "currency"),
        ({"expires_seconds": 60}, "expires_seconds"),
        ({"merchant_link_id": "has space"}, "merchant_link_id"),
        ({"description": ""}, "description"),
    ],
)
def test_request_payermax_would_reject_is_refused_early(overrides, problem):
    with pytest.raises(ValueError, match=problem):
        make_request(**overrides)


@pytest.mark.parametrize(
    ("call", "api_name"),
    [
        (lambda c: c.create_paybylink(make_request()), "createPaybylink"),
        (lambda c: c.query_paybylink("tg-42-7"), "queryPaybylink"),
        (lambda c: c.expire_paybylink("tg-42-7"), "expirePaybylink"),
        (lambda c: c.order_query("T1"), "orderQuery"),
        (lambda c: c.refund(make_refund()), "refund"),
        (lambda c: c.refund_query("rf-42-7-1"), "refundQuery"),
    ],
)
async def test_each_endpoint_posts_to_its_path_with_its_version(client, fake, call, api_name):
    await call(client)
    (sent,) = fake.requests  # the fake has checked the path, signature and envelope
    assert sent["api"] == api_name
    assert sent["version"] == EXPECTED_VERSIONS[api_name]


async def test_query_returns_attempts_with_normalised_statuses(client):
    link = await client.query_paybylink("tg-42-7")
    assert link.total_amount == Decimal("150000") and link.currency == "IDR"
    paid, closed = link.attempts
    assert (paid.out_trade_no, paid.status, paid.payment_method, paid.target_org) == ("T1", "SUCCESS", "WALLET", "DANA")
    assert paid.complete_at == datetime(2024, 2, 27, 5, 45, 36, 960000, tzinfo=UTC)
    assert closed.status == "CLOSED"


async def test_expire_returns_expired_link(client, fake):
    link = await client.expire_paybylink("tg-42-7")
    assert link.link_status == "EXPIRED"
    assert fake.requests[0]["data"] == {"merchantLinkId": "tg-42-7"}


async def test_order_query_keeps_amount_exact(client, fake):
    order = await client.order_query("T1")
    assert fake.requests[0]["data"] == {"outTradeNo": "T1"}
    assert order.total_amount == Decimal("150000.50")
    assert str(order.total_amount) == "150000.50"  # a float on the way would have dropped the trailing zero
    assert (order.status, order.payment_method, order.card_org, order.card_number) == (
        "SUCCESS",
        "CARD",
        "VISA",
        "411111******1111",
    )


async def test_error_code_becomes_api_error_with_code_and_msg(client, fake, calls):
    fake.answer = lambda api, data: answer_json({"code": "AMOUNT_INVALID", "msg": "amount format wrong"})

    with pytest.raises(ApiError) as caught:
        await client.create_paybylink(make_request())

    error = caught.value
    assert (error.code, error.msg, error.api_name) == ("AMOUNT_INVALID", "amount format wrong", "createPaybylink")
    assert str(error) == "PayerMax createPaybylink refused: AMOUNT_INVALID (amount format wrong)"
    assert not error.retryable
    assert not error.authenticated  # unsigned error answers prove nothing
    assert calls[-1][2] == "AMOUNT_INVALID"


async def test_transient_error_code_is_retryable_and_signed_errors_are_authenticated(client, fake, platform_key):
    fake.answer = lambda api, data: answer_json({"code": "SYSTEM_ERROR", "msg": "busy"}, platform_key)
    with pytest.raises(ApiError) as caught:
        await client.query_paybylink("tg-42-7")
    assert caught.value.retryable
    assert caught.value.authenticated


async def test_error_answer_with_invalid_signature_is_rejected(client, fake, stranger_key):
    fake.answer = lambda api, data: answer_json({"code": "ORDER_NOT_EXIST", "msg": "no"}, stranger_key)
    with pytest.raises(SignatureError, match="ORDER_NOT_EXIST"):
        await client.order_query("T404")


async def test_success_signed_by_another_key_is_rejected(client, fake, stranger_key, calls):
    fake.answer = lambda api, data: answer_json(
        {"code": "APPLY_SUCCESS", "msg": "Success.", "data": success_data(api, data)}, stranger_key
    )
    with pytest.raises(SignatureError, match="does not verify"):
        await client.create_paybylink(make_request())
    assert calls[-1][2] == "SignatureError"


async def test_success_changed_after_signing_is_rejected(client, fake, platform_key):
    def tampered(api: str, data: dict[str, Any]) -> httpx.Response:
        body = compact_json({"code": "APPLY_SUCCESS", "msg": "Success.", "data": success_data(api, data)})
        return answer_bytes(body.replace(b'"ACTIVE"', b'"EXPIRED"'), signature=sign(body, platform_key))

    fake.answer = tampered
    with pytest.raises(SignatureError):
        await client.query_paybylink("tg-42-7")


async def test_success_without_signature_is_rejected(client, fake):
    fake.answer = lambda api, data: answer_json(
        {"code": "APPLY_SUCCESS", "msg": "Success.", "data": success_data(api, data)}
    )
    with pytest.raises(SignatureError, match="no sign header"):
        await client.create_paybylink(make_request())


async def test_503_is_server_error_with_unknown_outcome(client, fake):
    fake.answer = lambda api, data: httpx.Response(503, text="Service Unavailable")
    with pytest.raises(ServerError) as caught:
        await client.create_paybylink(make_request())
    assert caught.value.status_code == 503
    assert caught.value.outcome_unknown
    assert "HTTP 503" in str(caught.value)


async def test_http_error_with_payermax_code_is_still_server_error(client, fake, platform_key):
    # A non-2xx answer is not a clean refusal: PayerMax (or a proxy) may have acted on the request.
    fake.answer = lambda api, data: answer_json({"code": "SYSTEM_ERROR", "msg": "busy"}, platform_key, status=500)
    with pytest.raises(ServerError) as caught:
        await client.create_paybylink(make_request())
    assert caught.value.outcome_unknown
    assert str(caught.value) == "PayerMax createPaybylink answered HTTP 500 (SYSTEM_ERROR: busy)"


async def test_non_json_answer_is_server_error(client, fake):
    fake.answer = lambda api, data: httpx.Response(200, text="<html>gateway error</html>")
    with pytest.raises(ServerError) as caught:
        await client.create_paybylink(make_request())
    assert caught.value.outcome_unknown


@pytest.mark.parametrize(
    "body",
    [b'{"code":"APPLY_SUCCESS","data":{"n":' + b"9" * 5000 + b"}}", b'{"code":' + b"[" * 20_000 + b"]" * 20_000 + b"}"],
    ids=["5000-digit-integer", "20000-levels-deep"],
)
async def test_hostile_json_answer_is_server_error(client, fake, platform_key, body):
    # json.loads raises a bare ValueError past the integer digit limit and RecursionError past its depth.
    fake.answer = lambda api, data: answer_bytes(body, platform_key)
    with pytest.raises(ServerError, match="not a PayerMax answer") as caught:
        await client.create_paybylink(make_request())
    assert caught.value.outcome_unknown


async def test_read_timeout_is_payermax_timeout_with_unknown_outcome(client, fake, calls):
    fake.answer = raising(httpx.ReadTimeout("timed out"))
    with pytest.raises(PayerMaxTimeout) as caught:
        await client.create_paybylink(make_request())
    assert caught.value.outcome_unknown
    assert calls[-1][2] == "PayerMaxTimeout"


async def test_connect_error_means_payermax_did_not_act(client, fake):
    fake.answer = raising(httpx.ConnectError("connection refused"))
    with pytest.raises(ConnectError) as caught:
        await client.create_paybylink(make_request())
    assert caught.value.outcome_unknown is False


async def test_missing_required_answer_field_is_protocol_error(client, fake, platform_key):
    def without_link_url(api: str, data: dict[str, Any]) -> httpx.Response:
        link = success_data(api, data)
        del link["linkUrl"]
        return answer_json({"code": "APPLY_SUCCESS", "msg": "Success.", "data": link}, platform_key)

    fake.answer = without_link_url
    with pytest.raises(ProtocolError, match="linkUrl is missing"):
        await client.create_paybylink(make_request())


async def test_answer_about_another_link_is_protocol_error(client, fake, platform_key):
    fake.answer = lambda api, data: answer_json(
        {"code": "APPLY_SUCCESS", "data": success_data(api, {"merchantLinkId": "someone-else"})}, platform_key
    )
    with pytest.raises(ProtocolError, match="merchantLinkId"):
        await client.query_paybylink("tg-42-7")


async def test_success_without_data_is_protocol_error(client, fake, platform_key):
    fake.answer = lambda api, data: answer_json({"code": "APPLY_SUCCESS", "msg": "Success."}, platform_key)
    with pytest.raises(ProtocolError, match="no data object"):
        await client.order_query("T1")


async def test_log_line_names_the_call_but_never_the_signature(client, fake, caplog, merchant_key):
    caplog.set_level(logging.INFO, logger="paylink.payermax")
    await client.create_paybylink(make_request())
    sent_signature = sign(fake.raw_bodies[0], merchant_key)
    (record,) = [r for r in caplog.records if r.name == "paylink.payermax"]
    line = record.getMessage()
    assert "createPaybylink" in line and "merchantLinkId=tg-42-7" in line and line.endswith("ok")
    assert sent_signature not in caplog.text


async def test_failing_metrics_hook_does_not_fail_the_call(fake, merchant_key, platform_key):
    def broken_hook(api: str, seconds: float, outcome: str) -> None:
        raise RuntimeError("metrics backend down")

    async with PayerMaxClient(
        base_url=BASE_URL,
        app_id=APP_ID,
        merchant_no=MERCHANT_NO,
        merchant_private_key=merchant_key,
        platform_public_key=platform_key.public_key(),
        transport=httpx.MockTransport(fake.handle),
        on_call=broken_hook,
    ) as payermax:
        link = await payermax.query_paybylink("tg-42-7")
    assert link.link_status == "ACTIVE"


# Refunds (contract §11).


async def test_refund_sends_the_application_and_returns_the_pending_refund(client, fake, calls):
    refund = await client.refund(make_refund())

    (sent,) = fake.requests
    assert sent["data"] == {
        "outRefundNo": "rf-42-7-1",
        "refundAmount": 50000,
        "refundCurrency": "IDR",
        "outTradeNo": "T1",
        "comments": "Wrong size ❄",
        "refundNotifyUrl": "https://bot.example/payermax/refund-notify",
    }
    assert (refund.out_refund_no, refund.refund_trade_no, refund.status) == (
        "rf-42-7-1",
        "R2025070100000001",
        "REFUND_PENDING",
    )
    assert not refund.is_final and refund.finish_time is None
    # The answer leaves out order, amount and currency: they are the ones asked for.
    assert (refund.out_trade_no, refund.refund_amount, refund.refund_currency) == ("T1", Decimal("50000"), "IDR")
    assert calls[-1][0] == "refund" and calls[-1][2] == "ok"


@pytest.mark.parametrize(
    ("amount", "currency", "on_the_wire"),
    [
        (Decimal("50000"), "IDR", b'"refundAmount":50000,'),
        (Decimal("12.5"), "USD", b'"refundAmount":12.50,'),  # the currency's two decimals, as a number
        (Decimal("1.5E+2"), "USD", b'"refundAmount":150.00,'),
        (Decimal("12345678901234567.89"), "USD", b'"refundAmount":12345678901234567.89,'),  # a float would round
        (Decimal("7.25"), "KWD", b'"refundAmount":7.25,'),
    ],
)
async def test_refund_amount_is_an_exact_json_number(client, fake, amount, currency, on_the_wire):
    refund = await client.refund(make_refund(refund_amount=amount, refund_currency=currency))
    assert on_the_wire in fake.raw_bodies[0]
    assert refund.refund_amount == amount


async def test_refund_without_optional_fields_sends_only_the_required_ones(client, fake):
    await client.refund(make_refund(comments=None, refund_notify_url=None))
    assert list(fake.requests[0]["data"]) == ["outRefundNo", "refundAmount", "refundCurrency", "outTradeNo"]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"out_refund_no": "has space"}, "out_refund_no"),
        ({"out_refund_no": "r" * 65}, "out_refund_no"),
        ({"out_trade_no": ""}, "out_trade_no"),
        ({"out_trade_no": "T" * 65}, "out_trade_no"),
        ({"refund_amount": Decimal("0")}, "positive"),
        ({"refund_amount": Decimal("-1")}, "positive"),
        ({"refund_amount": Decimal("NaN")}, "positive"),
        ({"refund_amount": 50000}, "Decimal"),
        ({"refund_amount": Decimal("100.5")}, "more decimals than IDR allows"),
        ({"refund_amount": Decimal("12.345"), "refund_currency": "USD"}, "more decimals than USD allows"),
        ({"refund_amount": Decimal("1" * 25)}, "24 characters"),
        ({"refund_currency": "idr"}, "refund_currency"),
        ({"refund_currency": "QQQ"}, "refund_currency"),
        ({"comments": "x" * 257}, "comments"),
        ({"refund_notify_url": "ftp://bot.example/refund"}, "refund_notify_url"),
        ({"refund_notify_url": "https://bot.example/" + "x" * 240}, "refund_notify_url"),
    ],
)
def test_refund_payermax_would_reject_is_refused_early(overrides, problem):
    with pytest.raises(ValueError, match=problem):
        make_refund(**overrides)


async def test_refund_answer_about_another_refund_is_protocol_error(client, fake, platform_key):
    fake.answer = lambda api, data: answer_json(
        {"code": "APPLY_SUCCESS", "data": success_data(api, {**data, "outRefundNo": "rf-other"})}, platform_key
    )
    with pytest.raises(ProtocolError, match="outRefundNo 'rf-other' does not match"):
        await client.refund(make_refund())
    with pytest.raises(ProtocolError, match="outRefundNo 'rf-other' does not match"):
        await client.refund_query("rf-42-7-1")


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"refundAmount": Decimal("150000")}, "refund of 150000 IDR does not match the 50000 IDR asked for"),
        ({"refundCurrency": "USD"}, "refund of 50000 USD does not match"),
        ({"outTradeNo": "T2"}, "outTradeNo 'T2' does not match"),
        ({"status": "DONE"}, "status must be one of REFUND_PENDING, REFUND_SUCCESS, REFUND_FAILED"),
        ({"refundTradeNo": ""}, "refundTradeNo is missing"),
    ],
)
async def test_refund_answer_contradicting_the_request_is_protocol_error(client, fake, platform_key, extra, problem):
    fake.answer = lambda api, data: answer_json(
        {"code": "APPLY_SUCCESS", "data": {**success_data(api, data), **extra}}, platform_key
    )
    with pytest.raises(ProtocolError, match=problem):
        await client.refund(make_refund())


async def test_refund_answer_repeating_the_request_in_other_forms_is_accepted(client, fake, platform_key):
    extra = {"outTradeNo": "T1", "refundAmount": "50000.0", "refundCurrency": "idr", "status": "refund_pending"}
    fake.answer = lambda api, data: answer_json(
        {"code": "APPLY_SUCCESS", "data": {**success_data(api, data), **extra}}, platform_key
    )
    refund = await client.refund(make_refund())
    assert (refund.refund_amount, refund.refund_currency, refund.status) == (Decimal("50000"), "IDR", "REFUND_PENDING")


async def test_refund_query_returns_the_settled_refund(client, fake):
    refund = await client.refund_query("rf-42-7-1")
    assert fake.requests[0]["data"] == {"outRefundNo": "rf-42-7-1"}
    assert (refund.out_trade_no, refund.refund_amount, refund.refund_currency, refund.status) == (
        "T1",
        Decimal("50000"),
        "IDR",
        "REFUND_SUCCESS",
    )
    assert refund.is_final
    assert refund.finish_time == datetime(2025, 7, 1, 8, 0, 1, 250000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("missing", "problem"),
    [
        ("refundAmount", "refundAmount is missing"),
        ("outTradeNo", "outTradeNo is missing"),
        ("refundCurrency", "refundCurrency must be a three-letter"),
        ("status", "status is missing"),
    ],
)
async def test_refund_query_answer_without_essentials_is_protocol_error(client, fake, platform_key, missing, problem):
    def without(api: str, data: dict[str, Any]) -> httpx.Response:
        refund = success_data(api, data)
        del refund[missing]
        return answer_json({"code": "APPLY_SUCCESS", "data": refund}, platform_key)

    fake.answer = without
    with pytest.raises(ProtocolError, match=problem):
        await client.refund_query("rf-42-7-1")


async def test_refund_query_refuses_an_impossible_out_refund_no_before_sending(client, fake):
    with pytest.raises(ValueError, match="out_refund_no"):
        await client.refund_query("not valid!")
    assert fake.requests == []


async def test_refund_refusal_is_api_error_the_bot_can_classify(client, fake, platform_key, calls):
    fake.answer = lambda api, data: answer_json(
        {"code": "REFUND_INSUFFICIENT_BALANCE", "msg": "balance is not enough"}, platform_key
    )
    with pytest.raises(ApiError) as caught:
        await client.refund(make_refund())
    error = caught.value
    assert (error.api_name, error.code, error.authenticated) == ("refund", "REFUND_INSUFFICIENT_BALANCE", True)
    assert classify_refund_refusal(error.code) is RefundRefusal.INSUFFICIENT_BALANCE
    assert calls[-1][2] == "REFUND_INSUFFICIENT_BALANCE"


@pytest.mark.parametrize(
    ("code", "refusal"),
    [
        ("REFUND_INSUFFICIENT_BALANCE", RefundRefusal.INSUFFICIENT_BALANCE),
        ("REFUND_EXPIRED", RefundRefusal.TOO_OLD),
        ("REFUND_PROCESSING", RefundRefusal.IN_PROGRESS),
        ("REFUND_NOT_ALLOWED", RefundRefusal.FULL_REFUND_ONLY),
        ("REFUND_AMOUNT_INVALID", RefundRefusal.EXCEEDS_REFUNDABLE),
        ("ORDER_NOT_EXIST", RefundRefusal.ORDER_NOT_FOUND),
        ("ORDER_CLOSED", RefundRefusal.ORDER_NOT_PAID),
        ("ORDER_REPEAT", RefundRefusal.REFUND_NO_REUSED),
        ("PARAMS_INVALID", RefundRefusal.INVALID_REQUEST),
        ("AMOUNT_INVALID", RefundRefusal.INVALID_REQUEST),
        ("SYSTEM_ERROR", RefundRefusal.TEMPORARY),
        ("refund_expired", RefundRefusal.TOO_OLD),
        ("SOMETHING_NEW", RefundRefusal.OTHER),
        ("", RefundRefusal.OTHER),
    ],
)
def test_refund_refusal_codes_are_classified(code, refusal):
    assert classify_refund_refusal(code) is refusal


async def test_refund_timeout_has_unknown_outcome(client, fake):
    # The bot must then ask refundQuery with the same outRefundNo before trying again (contract §11.2).
    fake.answer = raising(httpx.ReadTimeout("timed out"))
    with pytest.raises(PayerMaxTimeout) as caught:
        await client.refund(make_refund())
    assert caught.value.outcome_unknown


async def test_refund_answer_with_a_forged_signature_is_rejected(client, fake, stranger_key):
    fake.answer = lambda api, data: answer_json(
        {"code": "APPLY_SUCCESS", "msg": "Success.", "data": success_data(api, data)}, stranger_key
    )
    with pytest.raises(SignatureError):
        await client.refund(make_refund())


# Real sockets on loopback: what httpx does when a server misbehaves mid-answer.


async def _serve(behaviour: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]):
    """Start a loopback TCP server on a free port that runs ``behaviour`` per connection."""
    return await asyncio.start_server(behaviour, "127.0.0.1", 0)


def _client_for(port: int, merchant_key, platform_key, timeout: float = 5.0) -> PayerMaxClient:
    """A client talking real HTTP to a loopback port."""
    return PayerMaxClient(
        base_url=f"http://127.0.0.1:{port}",
        app_id=APP_ID,
        merchant_no=MERCHANT_NO,
        merchant_private_key=merchant_key,
        platform_public_key=platform_key.public_key(),
        timeout=timeout,
    )


async def test_connection_closed_mid_answer_is_transport_error_with_unknown_outcome(merchant_key, platform_key):
    async def close_mid_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"code":"APP')
        await writer.drain()
        writer.close()

    server = await _serve(close_mid_answer)
    port = server.sockets[0].getsockname()[1]
    async with server, _client_for(port, merchant_key, platform_key) as payermax:
        with pytest.raises(TransportError) as caught:
            await payermax.create_paybylink(make_request())
    assert type(caught.value) is TransportError
    assert caught.value.outcome_unknown


async def test_silent_server_is_timeout(merchant_key, platform_key):
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # hold the connection open until the client gives up

    server = await _serve(never_answer)
    port = server.sockets[0].getsockname()[1]
    async with server, _client_for(port, merchant_key, platform_key, timeout=0.3) as payermax:
        with pytest.raises(PayerMaxTimeout) as caught:
            await payermax.order_query("T1")
    assert caught.value.outcome_unknown


async def test_refused_connection_is_connect_error(merchant_key, platform_key):
    with socket.socket() as probe:  # find a free port, then leave it closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with _client_for(port, merchant_key, platform_key) as payermax:
        with pytest.raises(ConnectError) as caught:
            await payermax.expire_paybylink("tg-42-7")
    assert not caught.value.outcome_unknown
