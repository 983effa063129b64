"""Parsing PayerMax notification bodies: strict about what decides a payment, lenient about the rest."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bot.payermax.models import DataFormatError, NotificationError, parse_notification, parse_timestamp
from bot.payermax.signing import sign
from bot.payermax.webhook import NotificationRejected, verify_notification
from tests.keys import rsa_key


def paybylink_body(**data_overrides: Any) -> dict[str, Any]:
    """A PAYBYLINK notification as PayerMax documents it (contract §5.1)."""
    data: dict[str, Any] = {
        "linkId": "BYLqPQaQlD",
        "merchantLinkId": "tg-42-7",
        "linkUrl": "http://uat.payermax.link/uat/#/BYLqPQaQlD",
        "qrCodeUrl": "https://img.example/qr.png",
        "linkStatus": "EXPIRED",
        "totalAmount": "150000",
        "country": "ID",
        "currency": "IDR",
        "expiresAt": "2024-02-28T05:46:25Z",
        "linkDescription": "chat -100123",
        "payByLinkInfo": [
            {
                "outTradeNo": "T1",
                "status": "SUCCESS",
                "completeAt": "2024-02-27T13:45:36.960+08:00",
                "paymentDetails": [
                    {"paymentMethodType": "CARD", "cardInfo": {"cardOrg": "VISA", "cardNumber": "411111******1111"}}
                ],
            },
            {"outTradeNo": "T0", "status": "PENDING"},
        ],
    }
    data.update(data_overrides)
    return {
        "code": "APPLY_SUCCESS",
        "msg": "Success.",
        "keyVersion": "1",
        "appId": "app-test-1",
        "merchantNo": "P01000000000000",
        "notifyTime": "2024-02-27T05:50:00.500Z",
        "notifyType": "PAYBYLINK",
        "data": data,
    }


def payment_body(**data_overrides: Any) -> dict[str, Any]:
    """A PAYMENT notification as PayerMax documents it (contract §5.2)."""
    data: dict[str, Any] = {
        "outTradeNo": "T1",
        "tradeToken": "T2024062702289232000001",
        "totalAmount": 150000,
        "currency": "IDR",
        "country": "ID",
        "status": "SUCCESS",
        "completeTime": "2023-10-20T03:28:23.092Z",
        "paymentDetails": [{"paymentMethodType": "WALLET", "targetOrg": "DANA"}],
    }
    data.update(data_overrides)
    return {
        "code": "APPLY_SUCCESS",
        "msg": "Success.",
        "keyVersion": "1",
        "appId": "app-test-1",
        "merchantNo": "P01000000000000",
        "notifyTime": "2024-05-13T10:28:03.606Z",
        "notifyType": "PAYMENT",
        "data": data,
    }


def refund_body(**data_overrides: Any) -> dict[str, Any]:
    """A REFUND notification as PayerMax documents it (contract §11.4)."""
    data: dict[str, Any] = {
        "outRefundNo": "rf-42-7-1",
        "refundTradeNo": "R2025070100000001",
        "outTradeNo": "T1",
        "refundAmount": 50000,
        "refundCurrency": "IDR",
        "status": "REFUND_SUCCESS",
        "refundFinishTime": "2025-07-01T08:00:01.250Z",
    }
    data.update(data_overrides)
    return {
        "code": "APPLY_SUCCESS",
        "msg": "Success.",
        "keyVersion": "1",
        "appId": "app-test-1",
        "merchantNo": "P01000000000000",
        "notifyTime": "2025-07-01T08:00:02.000Z",
        "notifyType": "REFUND",
        "data": data,
    }


def minimal_payment(amount_json: bytes) -> bytes:
    """A PAYMENT body with only the required fields and ``amount_json`` written verbatim as totalAmount."""
    return (
        b'{"notifyType":"PAYMENT","data":{"outTradeNo":"T1","totalAmount":'
        + amount_json
        + b',"currency":"USD","status":"SUCCESS"}}'
    )


def encode(document: Any) -> bytes:
    """Compact JSON bytes, as a notification arrives on the wire."""
    return json.dumps(document, separators=(",", ":")).encode()


def test_paybylink_notification_is_parsed_into_link_and_successful_attempts():
    notification = parse_notification(encode(paybylink_body()))

    assert notification.notify_type == "PAYBYLINK"
    assert notification.order is None
    assert (notification.app_id, notification.merchant_no) == ("app-test-1", "P01000000000000")
    assert notification.notify_time == datetime(2024, 2, 27, 5, 50, 0, 500000, tzinfo=UTC)
    link = notification.link
    assert (link.merchant_link_id, link.link_id, link.link_status) == ("tg-42-7", "BYLqPQaQlD", "EXPIRED")
    assert (link.total_amount, link.currency, link.link_description) == (Decimal("150000"), "IDR", "chat -100123")
    (paid,) = notification.successful_attempts()
    assert (paid.out_trade_no, paid.status, paid.payment_method, paid.card_org, paid.card_number) == (
        "T1",
        "SUCCESS",
        "CARD",
        "VISA",
        "411111******1111",
    )
    assert paid.complete_at == datetime(2024, 2, 27, 5, 45, 36, 960000, tzinfo=UTC)


def test_payment_notification_is_parsed_into_order_and_one_successful_attempt():
    notification = parse_notification(encode(payment_body()))

    assert notification.notify_type == "PAYMENT"
    assert notification.link is None
    order = notification.order
    assert (order.out_trade_no, order.trade_token, order.total_amount, order.currency, order.status) == (
        "T1",
        "T2024062702289232000001",
        Decimal("150000"),
        "IDR",
        "SUCCESS",
    )
    (paid,) = notification.successful_attempts()
    assert (paid.out_trade_no, paid.payment_method, paid.target_org) == ("T1", "WALLET", "DANA")
    assert paid.complete_at == datetime(2023, 10, 20, 3, 28, 23, 92000, tzinfo=UTC)


def test_failed_payment_has_no_successful_attempts():
    notification = parse_notification(encode(payment_body(status="FAILED", resultCode="PAYMENT_FAILED")))
    assert notification.order.status == "FAILED"
    assert notification.order.result_code == "PAYMENT_FAILED"
    assert notification.successful_attempts() == ()


def test_lowercase_link_status_and_attempt_status_are_normalised():
    body = paybylink_body(linkStatus="active", payByLinkInfo=[{"outTradeNo": "T1", "status": "success"}])
    notification = parse_notification(encode(body))
    assert notification.link.link_status == "ACTIVE"
    assert [a.status for a in notification.successful_attempts()] == ["SUCCESS"]


@pytest.mark.parametrize("spelling", ["CLOSE", "CLOSED", "close"])
def test_close_and_closed_both_mean_closed(spelling):
    body = paybylink_body(payByLinkInfo=[{"outTradeNo": "T9", "status": spelling}])
    notification = parse_notification(encode(body))
    assert notification.link.attempts[0].status == "CLOSED"
    assert notification.successful_attempts() == ()
    assert parse_notification(encode(payment_body(status=spelling))).order.status == "CLOSED"


def test_payment_amount_as_number_or_string_gives_the_same_decimal():
    as_number = minimal_payment(b"10.10")
    as_string = minimal_payment(b'"10.10"')
    number_amount = parse_notification(as_number).order.total_amount
    string_amount = parse_notification(as_string).order.total_amount
    assert number_amount == string_amount == Decimal("10.10")
    assert str(number_amount) == "10.10"


def test_large_amount_number_keeps_every_digit():
    # A float would round this to 12345678901234568; money must never pass through one.
    body = minimal_payment(b"12345678901234567.89")
    assert parse_notification(body).order.total_amount == Decimal("12345678901234567.89")


def test_link_amount_as_number_is_accepted():
    notification = parse_notification(encode(paybylink_body(totalAmount=150000)))
    assert notification.link.total_amount == Decimal("150000")


def test_unknown_fields_are_ignored():
    body = paybylink_body(newField={"nested": [1, 2]}, goodsDetails=[{"goodsName": "shoes"}])
    body["brandNewTopLevel"] = "whatever"
    body["data"]["payByLinkInfo"][0]["userInfo"] = {"userId": "1001", "userName": "anna"}
    notification = parse_notification(encode(body))
    assert notification.link.merchant_link_id == "tg-42-7"


def test_missing_optional_fields_are_tolerated():
    body = {
        "notifyType": "PAYBYLINK",
        "data": {
            "linkId": "L1",
            "merchantLinkId": "tg-1-1",
            "linkStatus": "ACTIVE",
            "totalAmount": "5",
            "currency": "usd",
        },
    }
    notification = parse_notification(encode(body))
    assert notification.link.currency == "USD"
    assert notification.link.attempts == ()
    assert notification.notify_time is None and notification.app_id is None
    assert notification.successful_attempts() == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-02-28T05:46:25Z", datetime(2024, 2, 28, 5, 46, 25, tzinfo=UTC)),
        ("2024-02-28T05:46:25.123Z", datetime(2024, 2, 28, 5, 46, 25, 123000, tzinfo=UTC)),
        ("2022-11-01T10:00:00.000+08:00", datetime(2022, 11, 1, 2, 0, tzinfo=UTC)),
        ("2022-11-01T10:00:00+08:00", datetime(2022, 11, 1, 2, 0, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
)
def test_timestamps_in_any_iso_form_become_utc(text, expected):
    parsed = parse_timestamp(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset().total_seconds() == 0


@pytest.fixture
def local_time_jakarta(monkeypatch):
    """Run with a local time zone far from UTC, so 'local' and 'UTC' readings differ."""
    monkeypatch.setenv("TZ", "Asia/Jakarta")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_timestamp_without_offset_means_utc_not_local_time(local_time_jakarta):
    assert parse_timestamp("2024-02-28T05:46:25") == datetime(2024, 2, 28, 5, 46, 25, tzinfo=UTC)


def test_garbage_timestamp_raises_clear_value_error():
    with pytest.raises(ValueError, match="expiresAt is not an ISO-8601 timestamp: 'yesterday'"):
        parse_timestamp("yesterday", field="expiresAt")
    with pytest.raises(DataFormatError):
        parse_timestamp(1700000000)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<xml>not json</xml>", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'[{"notifyType":"PAYBYLINK"}]', "must be a JSON object, got array"),
        (b'{"notifyType":"PAYBYLINK"}', "PAYBYLINK notification has no data object"),
        (b'{"notifyType":"PAYMENT","data":"x"}', "PAYMENT notification has no data object"),
        (b'{"data":{}}', "no notifyType"),
        (b'{"notifyType":"DISPUTE","data":{}}', r"notifyType 'DISPUTE' \(expected PAYBYLINK, PAYMENT or REFUND\)"),
        (b'{"notifyType":"REFUND","data":null}', "REFUND notification has no data object"),
        (b'{"notifyType":7,"data":{}}', "unknown notifyType 7"),
    ],
)
def test_malformed_envelope_is_refused_with_reason(body, message):
    with pytest.raises(NotificationError, match=message):
        parse_notification(body)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"totalAmount": "15O000"}, "totalAmount is not a decimal amount: '15O000'"),
        ({"totalAmount": "NaN"}, "totalAmount is not a valid amount"),
        ({"totalAmount": "-5"}, "totalAmount is not a valid amount"),
        ({"totalAmount": True}, "totalAmount must be a decimal string or number, got boolean"),
        ({"totalAmount": None}, "totalAmount is missing"),
        ({"currency": "RUPIAH"}, "currency must be a three-letter currency code"),
        ({"currency": None}, "currency is missing"),
        ({"merchantLinkId": ""}, "merchantLinkId is missing"),
        ({"linkStatus": None}, "linkStatus is missing"),
        ({"expiresAt": "tomorrow"}, "expiresAt is not an ISO-8601 timestamp"),
        ({"payByLinkInfo": {"status": "SUCCESS"}}, "payByLinkInfo must be an array, got object"),
        ({"payByLinkInfo": [{"outTradeNo": "T1"}]}, r"payByLinkInfo\[0\]\.status is missing"),
        ({"payByLinkInfo": ["SUCCESS"]}, r"payByLinkInfo\[0\] must be an object, got string"),
    ],
)
def test_paybylink_with_bad_essentials_is_refused_with_reason(overrides, message):
    with pytest.raises(NotificationError, match=f"^PAYBYLINK notification: {message}"):
        parse_notification(encode(paybylink_body(**overrides)))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"outTradeNo": None}, "outTradeNo is missing"),
        ({"totalAmount": "ten"}, "totalAmount is not a decimal amount"),
        ({"currency": "ID"}, "currency must be a three-letter currency code"),
        ({"status": None}, "status is missing"),
        ({"paymentDetails": [{"cardInfo": "VISA"}]}, r"paymentDetails\[0\]\.cardInfo must be an object"),
    ],
)
def test_payment_with_bad_essentials_is_refused_with_reason(overrides, message):
    with pytest.raises(NotificationError, match=f"^PAYMENT notification: {message}"):
        parse_notification(encode(payment_body(**overrides)))


# Signed bodies PayerMax would never send, but a leaked key or a bug could: json.loads raises a bare
# ValueError past Python's 4300-digit integer limit and RecursionError past its stack depth.
HOSTILE_BODIES = {
    "5000-digit-integer": (minimal_payment(b"9" * 5000), "number too long"),
    "20000-levels-deep": (
        b'{"notifyType":"PAYMENT","extra":' + b"[" * 20_000 + b"]" * 20_000 + b',"data":{}}',
        "nested too deeply",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_BODIES))
def test_hostile_json_is_a_notification_error_not_a_crash(case):
    body, message = HOSTILE_BODIES[case]
    with pytest.raises(NotificationError, match=message):
        parse_notification(body)


def test_payment_without_amount_is_refused():
    body = payment_body()
    del body["data"]["totalAmount"]
    with pytest.raises(NotificationError, match="totalAmount is missing"):
        parse_notification(encode(body))


def test_refund_notification_is_parsed_into_a_refund():
    notification = parse_notification(encode(refund_body()))

    assert notification.notify_type == "REFUND"
    assert notification.link is None and notification.order is None
    assert (notification.app_id, notification.merchant_no) == ("app-test-1", "P01000000000000")
    refund = notification.refund
    ids = (refund.out_refund_no, refund.refund_trade_no, refund.out_trade_no)
    assert ids == ("rf-42-7-1", "R2025070100000001", "T1")
    assert (refund.refund_amount, refund.refund_currency, refund.status) == (Decimal("50000"), "IDR", "REFUND_SUCCESS")
    assert refund.is_final
    assert refund.finish_time == datetime(2025, 7, 1, 8, 0, 1, 250000, tzinfo=UTC)
    assert notification.successful_attempts() == ()  # a refund is never read as a payment


def test_refund_notification_is_lenient_about_presentation():
    body = refund_body(status="refund_failed", refundCurrency="idr", refundAmount="50000", refundFinishTime=None)
    body["notifyType"] = "refund"
    refund = parse_notification(encode(body)).refund
    assert (refund.status, refund.refund_currency, refund.refund_amount) == ("REFUND_FAILED", "IDR", Decimal("50000"))
    assert refund.finish_time is None


def test_refund_amount_number_keeps_every_digit():
    body = encode(refund_body(refundAmount="@")).replace(b'"@"', b"12345678901234567.80")
    assert str(parse_notification(body).refund.refund_amount) == "12345678901234567.80"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"outRefundNo": None}, "outRefundNo is missing"),
        ({"refundTradeNo": ""}, "refundTradeNo is missing"),
        ({"outTradeNo": None}, "outTradeNo is missing"),
        ({"refundAmount": None}, "refundAmount is missing"),
        ({"refundAmount": "lots"}, "refundAmount is not a decimal amount"),
        ({"refundAmount": 0}, "refundAmount must be greater than zero"),
        ({"refundAmount": -5}, "refundAmount is not a valid amount"),
        ({"refundCurrency": None}, "refundCurrency must be a three-letter currency code"),
        ({"status": None}, "status is missing"),
        ({"status": "SUCCESS"}, "status must be one of REFUND_PENDING, REFUND_SUCCESS, REFUND_FAILED, got 'SUCCESS'"),
        ({"refundFinishTime": "soon"}, "refundFinishTime is not an ISO-8601 timestamp"),
    ],
)
def test_refund_with_bad_essentials_is_refused_with_reason(overrides, message):
    with pytest.raises(NotificationError, match=f"^REFUND notification: {message}"):
        parse_notification(encode(refund_body(**overrides)))


@pytest.fixture(scope="module")
def platform_key():
    return rsa_key("platform")


def test_payment_endpoint_refuses_a_signed_refund_notification(platform_key):
    body = encode(refund_body())
    with pytest.raises(NotificationRejected, match="REFUND notifications are not accepted here") as caught:
        verify_notification(body, sign(body, platform_key), platform_key.public_key())
    assert caught.value.status_code == 400


def test_refund_endpoint_accepts_refunds_and_refuses_payments(platform_key):
    refund = encode(refund_body())
    key = platform_key.public_key()
    notification = verify_notification(refund, sign(refund, platform_key), key, accept=("REFUND",))
    assert notification.refund.out_refund_no == "rf-42-7-1"
    payment = encode(paybylink_body())
    with pytest.raises(NotificationRejected, match="PAYBYLINK notifications are not accepted here"):
        verify_notification(payment, sign(payment, platform_key), key, accept=("REFUND",))


def test_payment_endpoint_still_takes_paybylink_and_payment(platform_key):
    for body in (encode(paybylink_body()), encode(payment_body())):
        assert verify_notification(body, sign(body, platform_key), platform_key.public_key()).refund is None
