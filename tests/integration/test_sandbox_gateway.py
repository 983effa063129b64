"""The sandbox gateway over real HTTP on loopback: PayerMax's contract, checkout, notifications, faults."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.payermax.models import parse_notification
from bot.payermax.signing import public_key_base64, sign, verify
from bot.sandbox.errors import CheckoutRefused
from bot.sandbox.gateway import SandboxGateway
from bot.sandbox.keys import SandboxKeyError, SandboxKeys, load_or_create_sandbox_keys
from tests.integration.sandbox_harness import (
    APP_ID,
    MERCHANT_NO,
    Harness,
    NotificationReceiver,
    link_data,
    parse_expires_at,
    serve_harness,
    serve_receiver,
    wait_until,
)
from tests.keys import rsa_key


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[NotificationReceiver, str]]:
    async with serve_receiver() as served:
        yield served


@pytest.fixture
async def harness(
    keys: SandboxKeys, receiver: tuple[NotificationReceiver, str], tmp_path: Path
) -> AsyncIterator[Harness]:
    async with serve_harness(keys, receiver[1], tmp_path / "sandbox-state.json") as served:
        yield served


# --- the happy path ------------------------------------------------------------------------


async def test_created_link_is_paid_on_the_checkout_page_and_notified(
    harness: Harness, receiver: tuple[NotificationReceiver, str]
) -> None:
    recorder, _ = receiver
    created = await harness.create("tg-1-1")
    assert created["code"] == "APPLY_SUCCESS"
    link = created["data"]
    assert link["merchantLinkId"] == "tg-1-1"
    assert link["linkId"].startswith("SBX") and len(link["linkId"]) == 13
    assert link["linkUrl"] == f"{harness.server.url}/sandbox/pay/{link['linkId']}"
    assert link["qrCodeUrl"] == f"{harness.server.url}/sandbox/qr/{link['linkId']}.png"
    assert link["linkStatus"] == "ACTIVE"
    expires_at = parse_expires_at(link["expiresAt"])
    assert abs(expires_at - (datetime.now(UTC) + timedelta(days=1))) < timedelta(minutes=1)

    queried = await harness.query("tg-1-1")
    assert queried["code"] == "APPLY_SUCCESS"
    assert queried["data"]["totalAmount"] == "150000"
    assert queried["data"]["currency"] == "IDR"
    assert queried["data"]["description"] == "Winter shoes <size 42>"
    assert queried["data"]["payByLinkInfo"] == []

    page = await harness.http.get(link["linkUrl"])
    assert page.status_code == 200
    assert "SANDBOX" in page.text and "150,000" in page.text and "IDR" in page.text
    assert "Winter shoes &lt;size 42&gt;" in page.text  # escaped, never raw HTML
    assert 'value="pay"' in page.text and 'value="decline"' in page.text

    qr = await harness.http.get(link["qrCodeUrl"])
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/png"
    assert qr.content.startswith(b"\x89PNG")

    paid = await harness.http.post(link["linkUrl"], data={"action": "pay", "method": "CARD"})
    assert paid.status_code == 200 and "SANDBOX" in paid.text and "Payment successful" in paid.text

    await wait_until(lambda: len(recorder.deliveries) == 1)
    headers, body = recorder.deliveries[0]
    assert headers["content-type"] == "application/json"
    assert verify(body, headers["sign"], harness.keys.platform_public_key)
    notification = json.loads(body)
    assert notification["code"] == "APPLY_SUCCESS"
    assert notification["notifyType"] == "PAYBYLINK"
    envelope = (notification["appId"], notification["merchantNo"], notification["keyVersion"])
    assert envelope == (APP_ID, MERCHANT_NO, "1")
    data = notification["data"]
    assert data["linkId"] == link["linkId"] and data["merchantLinkId"] == "tg-1-1"
    assert (data["totalAmount"], data["currency"], data["country"]) == ("150000", "IDR", "ID")
    assert data["linkDescription"] == "tg chat 42"
    [attempt] = data["payByLinkInfo"]
    assert attempt["status"] == "SUCCESS" and attempt["outTradeNo"].startswith("SBXT")
    assert attempt["paymentDetails"] == [
        {"paymentMethodType": "CARD", "cardInfo": {"cardOrg": "VISA", "cardNumber": "411111******1111"}}
    ]
    assert paid.text.count(attempt["outTradeNo"]) == 1  # the result page names the order

    order = await harness.call("orderQuery", {"outTradeNo": attempt["outTradeNo"]}, version="1.4")
    assert order["code"] == "APPLY_SUCCESS"
    assert order["data"]["status"] == "SUCCESS"
    assert order["data"]["totalAmount"] == 150000  # a JSON number here, unlike the link APIs
    assert order["data"]["paymentDetails"][0]["cardInfo"]["cardNumber"] == "411111******1111"

    after = await harness.query("tg-1-1")
    assert [a["status"] for a in after["data"]["payByLinkInfo"]] == ["SUCCESS"]
    await asyncio.sleep(0.3)  # past the whole fast schedule: an acknowledged notification is not resent
    assert len(recorder.deliveries) == 1


async def test_order_amount_is_an_exact_json_number(harness: Harness) -> None:
    link = (await harness.create("tg-usd", currency="USD", country="US", totalAmount="12.50"))["data"]
    out_trade_no = await harness.gateway.pay(link["linkId"])
    response = await harness.post_signed("orderQuery", {"outTradeNo": out_trade_no}, version="1.4")
    assert b'"totalAmount":12.50' in response.content
    assert json.loads(response.content, parse_float=Decimal)["data"]["totalAmount"] == Decimal("12.50")


async def test_notification_is_retried_until_the_merchant_answers_success(
    harness: Harness, receiver: tuple[NotificationReceiver, str]
) -> None:
    recorder, _ = receiver
    recorder.answers = ["FAIL", "FAIL", "SUCCESS"]
    link = (await harness.create("tg-retry"))["data"]
    await harness.gateway.pay(link["linkId"])
    await wait_until(lambda: len(recorder.deliveries) == 3)
    await asyncio.sleep(0.3)  # the rest of the schedule passes without another attempt
    assert len(recorder.deliveries) == 3
    bodies = {body for _, body in recorder.deliveries}
    assert len(bodies) == 1  # every retry carries the same signed bytes


async def test_notification_is_given_up_after_six_attempts(
    harness: Harness, receiver: tuple[NotificationReceiver, str]
) -> None:
    recorder, _ = receiver
    recorder.answers = ["FAIL"] * 10
    link = (await harness.create("tg-never"))["data"]
    await harness.gateway.pay(link["linkId"])
    await wait_until(lambda: len(recorder.deliveries) == 6)
    await asyncio.sleep(0.3)
    assert len(recorder.deliveries) == 6


async def test_declined_attempt_is_notified_as_a_failed_payment_and_link_stays_payable(
    harness: Harness, receiver: tuple[NotificationReceiver, str]
) -> None:
    recorder, _ = receiver
    link = (await harness.create("tg-decline"))["data"]
    declined = await harness.http.post(link["linkUrl"], data={"action": "decline", "method": "WALLET"})
    assert declined.status_code == 200 and "declined" in declined.text
    queried = await harness.query("tg-decline")
    [attempt] = queried["data"]["payByLinkInfo"]
    assert attempt["status"] == "CLOSE" and "paymentDetails" not in attempt  # payByLinkInfo knows no FAILED
    order = await harness.call("orderQuery", {"outTradeNo": attempt["outTradeNo"]}, version="1.4")
    assert order["data"]["status"] == "FAILED" and order["data"]["paymentDetails"] == []
    assert order["data"]["resultMsg"] == "SANDBOX: the e-wallet declined the payment"
    # PayerMax's general payment notification (contract §5.2) tells of the failure; the link's does not.
    await wait_until(lambda: len(recorder.deliveries) == 1)
    headers, body = recorder.deliveries[0]
    assert verify(body, headers["sign"], harness.keys.platform_public_key)
    notification = parse_notification(body)
    assert notification.notify_type == "PAYMENT" and notification.order is not None
    assert (notification.order.out_trade_no, notification.order.status) == (attempt["outTradeNo"], "FAILED")
    assert notification.order.payment_method == "WALLET" and notification.order.total_amount == Decimal("150000")
    page = await harness.http.get(link["linkUrl"])
    assert 'value="pay"' in page.text


async def test_a_onetime_link_cannot_be_paid_twice(harness: Harness) -> None:
    link = (await harness.create("tg-twice"))["data"]
    first = await harness.http.post(link["linkUrl"], data={"action": "pay", "method": "WALLET"})
    assert first.status_code == 200
    second = await harness.http.post(link["linkUrl"], data={"action": "pay", "method": "CARD"})
    assert second.status_code == 409 and "already been paid" in second.text
    page = await harness.http.get(link["linkUrl"])
    assert "already been paid" in page.text and 'value="pay"' not in page.text
    queried = await harness.query("tg-twice")
    assert [a["status"] for a in queried["data"]["payByLinkInfo"]] == ["SUCCESS"]


# --- request validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"totalAmount": "100.5"}, "AMOUNT_INVALID"),
        ({"totalAmount": "150000.00"}, "AMOUNT_INVALID"),
        ({"totalAmount": "0"}, "AMOUNT_INVALID"),
        ({"totalAmount": 150000}, "AMOUNT_INVALID"),
        ({"totalAmount": "1" * 25}, "AMOUNT_INVALID"),
        ({"linkType": "REUSABLE"}, "PARAMS_INVALID"),
        ({"expiresTime": "60"}, "PARAMS_INVALID"),
        ({"expiresTime": "2592001"}, "PARAMS_INVALID"),
        ({"country": "id"}, "PARAMS_INVALID"),
        ({"currency": "QQQ"}, "CURRENCY_INVALID"),
        ({"merchantLinkId": "x" * 65}, "PARAMS_INVALID"),
        ({"description": ""}, "PARAMS_INVALID"),
        ({"notifyUrl": "ftp://shop.example/notify"}, "PARAMS_INVALID"),
        ({"userInfo": {"userId": "u" * 65}}, "PARAMS_INVALID"),
        ({"goodsDetails": [{"goodsName": "g" * 129, "quantity": "1", "price": "1"}]}, "PARAMS_INVALID"),
    ],
)
async def test_invalid_create_is_refused_and_creates_nothing(
    harness: Harness, overrides: dict[str, Any], code: str
) -> None:
    answer = await harness.create("tg-bad", **overrides)
    assert answer["code"] == code
    assert "data" not in answer
    assert (await harness.query("tg-bad"))["code"] == "ORDER_NOT_EXIST"


async def test_amount_error_says_what_the_currency_allows(harness: Harness) -> None:
    answer = await harness.create("tg-idr", totalAmount="100.5")
    assert answer["code"] == "AMOUNT_INVALID" and "IDR allows 0" in answer["msg"]
    usd = await harness.create("tg-usd-ok", currency="USD", country="US", totalAmount="0.99")
    assert usd["code"] == "APPLY_SUCCESS"


async def test_expires_time_defaults_to_one_day(harness: Harness) -> None:
    data = link_data("tg-default-expiry", harness.notify_url)
    del data["expiresTime"]
    answer = await harness.call("createPaybylink", data)
    expires_at = parse_expires_at(answer["data"]["expiresAt"])
    assert abs(expires_at - (datetime.now(UTC) + timedelta(seconds=86400))) < timedelta(minutes=1)


async def test_request_signed_with_another_key_is_refused(harness: Harness) -> None:
    response = await harness.post_signed(
        "createPaybylink", link_data("tg-forged", harness.notify_url), key=rsa_key("stranger")
    )
    assert response.json()["code"] == "SIGN_VERIFY_FAILED"
    assert verify(response.content, response.headers["sign"], harness.keys.platform_public_key)
    assert (await harness.query("tg-forged"))["code"] == "ORDER_NOT_EXIST"


async def test_body_changed_after_signing_is_refused(harness: Harness) -> None:
    data = link_data("tg-tampered", harness.notify_url)
    envelope = {
        "version": "1.1",
        "keyVersion": "1",
        "appId": APP_ID,
        "merchantNo": MERCHANT_NO,
        "requestTime": datetime.now(UTC).isoformat(),
        "data": data,
    }
    signed = json.dumps(envelope).encode()
    tampered = signed.replace(b'"150000"', b'"1"', 1)
    signature = sign(signed, harness.keys.merchant_private_key)
    url = harness.api_url("createPaybylink")
    response = await harness.http.post(url, content=tampered, headers={"sign": signature})
    assert response.json()["code"] == "SIGN_VERIFY_FAILED"


async def test_malformed_json_and_unknown_api(harness: Harness) -> None:
    body = b"{not json"
    signature = sign(body, harness.keys.merchant_private_key)
    url = harness.api_url("createPaybylink")
    response = await harness.http.post(url, content=body, headers={"sign": signature})
    assert response.status_code == 200 and response.json()["code"] == "PARAMS_INVALID"
    unknown = await harness.post_signed("refundPaybylink", {"merchantLinkId": "x"})
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    "body",
    [b'{"version":' + b"9" * 5000 + b"}", b'{"version":' + b"[" * 20_000 + b"]" * 20_000 + b"}"],
    ids=["5000-digit-integer", "20000-levels-deep"],
)
async def test_hostile_json_is_params_invalid(harness: Harness, body: bytes) -> None:
    response = await harness.http.post(harness.api_url("createPaybylink"), content=body)
    assert response.status_code == 200 and response.json()["code"] == "PARAMS_INVALID"


@pytest.mark.parametrize("skew", [timedelta(minutes=-3), timedelta(minutes=3)])
async def test_request_time_off_by_more_than_two_minutes_is_refused(harness: Harness, skew: timedelta) -> None:
    stale = (datetime.now(UTC) + skew).isoformat(timespec="milliseconds")
    data = link_data("tg-stale", harness.notify_url)
    answer = await harness.call("createPaybylink", data, request_time=stale)
    assert answer["code"] == "PARAMS_INVALID" and "2 minutes" in answer["msg"]


async def test_envelope_with_wrong_version_or_app_is_refused(harness: Harness) -> None:
    answer = await harness.call("queryPaybylink", {"merchantLinkId": "x"}, version="1.4")
    assert answer["code"] == "PARAMS_INVALID" and "version" in answer["msg"]
    answer = await harness.call("orderQuery", {"outTradeNo": "x"}, version="1.1")
    assert answer["code"] == "PARAMS_INVALID"


async def test_repeated_merchant_link_id(harness: Harness) -> None:
    first = await harness.create("tg-dup")
    replay = await harness.create("tg-dup")
    assert replay["code"] == "APPLY_SUCCESS"
    assert replay["data"]["linkId"] == first["data"]["linkId"]
    different = await harness.create("tg-dup", totalAmount="200000")
    assert different["code"] == "ORDER_REPEAT"
    harness.gateway.faults.refuse_duplicate = True
    assert (await harness.create("tg-dup"))["code"] == "ORDER_REPEAT"


async def test_unknown_link_and_order_are_reported(harness: Harness) -> None:
    assert (await harness.query("nope"))["code"] == "ORDER_NOT_EXIST"
    assert (await harness.call("expirePaybylink", {"merchantLinkId": "nope"}))["code"] == "ORDER_NOT_EXIST"
    order = await harness.call("orderQuery", {"outTradeNo": "SBXT0"}, version="1.4")
    assert order["code"] == "ORDER_NOT_EXIST"
    page = await harness.http.get(f"{harness.server.url}/sandbox/pay/SBXnope")
    assert page.status_code == 404 and "SANDBOX" in page.text


# --- expiry --------------------------------------------------------------------------------


async def test_expired_link_cannot_be_paid(harness: Harness, receiver: tuple[NotificationReceiver, str]) -> None:
    recorder, _ = receiver
    link = (await harness.create("tg-expire"))["data"]
    expired = await harness.call("expirePaybylink", {"merchantLinkId": "tg-expire"})
    assert expired["code"] == "APPLY_SUCCESS" and expired["data"]["linkStatus"] == "EXPIRED"
    assert (await harness.query("tg-expire"))["data"]["linkStatus"] == "EXPIRED"
    refused = await harness.http.post(link["linkUrl"], data={"action": "pay", "method": "CARD"})
    assert refused.status_code == 409 and "cancelled" in refused.text
    with pytest.raises(CheckoutRefused):
        await harness.gateway.pay(link["linkId"])
    page = await harness.http.get(link["linkUrl"])
    assert "The shop cancelled this link" in page.text and 'value="pay"' not in page.text
    await asyncio.sleep(0.1)
    assert recorder.deliveries == []


async def test_paid_link_cannot_be_expired(harness: Harness) -> None:
    link = (await harness.create("tg-paid"))["data"]
    await harness.gateway.pay(link["linkId"])
    answer = await harness.call("expirePaybylink", {"merchantLinkId": "tg-paid"})
    assert answer["code"] == "ORDER_CLOSED" and answer["msg"] == "link already paid"


async def test_link_expires_by_itself_when_its_time_is_up(harness: Harness) -> None:
    now = [datetime.now(UTC)]
    await harness.use_gateway(harness.new_gateway(clock=lambda: now[0]))
    link = (await harness.create("tg-timeout", expiresTime="3600"))["data"]
    now[0] += timedelta(seconds=3601)
    later = now[0].isoformat()
    answer = await harness.call("queryPaybylink", {"merchantLinkId": "tg-timeout"}, request_time=later)
    assert answer["data"]["linkStatus"] == "EXPIRED"
    page = await harness.http.get(link["linkUrl"])
    assert "This link has expired" in page.text and 'value="pay"' not in page.text


# --- persistence ---------------------------------------------------------------------------


async def test_restarted_gateway_knows_links_and_resumes_notifications(
    harness: Harness, receiver: tuple[NotificationReceiver, str], tmp_path: Path
) -> None:
    recorder, _ = receiver
    state_path = tmp_path / "restart-state.json"
    before = harness.new_gateway(state_path=state_path)
    await harness.use_gateway(before, start=False)  # never started: its notification stays queued
    link = (await harness.create("tg-restart"))["data"]
    out_trade_no = await before.pay(link["linkId"])
    await asyncio.sleep(0.1)
    assert recorder.deliveries == []

    await harness.use_gateway(harness.new_gateway(state_path=state_path))
    queried = await harness.query("tg-restart")
    assert queried["data"]["linkId"] == link["linkId"]
    assert queried["data"]["payByLinkInfo"][0]["outTradeNo"] == out_trade_no
    await wait_until(lambda: len(recorder.deliveries) == 1)
    assert json.loads(recorder.deliveries[0][1])["data"]["payByLinkInfo"][0]["outTradeNo"] == out_trade_no


async def test_numbers_in_a_saved_request_survive_a_restart_exactly(harness: Harness, tmp_path: Path) -> None:
    # Requests are read with exact decimals (refund amounts need it); the state file must keep them so.
    state_path = tmp_path / "numbers-state.json"
    await harness.use_gateway(harness.new_gateway(state_path=state_path))
    data = link_data("tg-numbers", harness.notify_url, extraScore=Decimal("0.10"))
    first = await harness.call("createPaybylink", data)
    assert '"extraScore": 0.10' in state_path.read_text()
    await harness.use_gateway(harness.new_gateway(state_path=state_path))
    replay = await harness.call("createPaybylink", data)
    assert replay["code"] == "APPLY_SUCCESS" and replay["data"]["linkId"] == first["data"]["linkId"]


def test_corrupt_state_file_is_named_in_the_error(keys: SandboxKeys, tmp_path: Path) -> None:
    state_path = tmp_path / "state.json"
    state_path.write_text("{oops")
    with pytest.raises(Exception, match=r"state\.json"):
        SandboxGateway(keys=keys, public_base_url="http://127.0.0.1:1", state_path=state_path)


# --- keys ----------------------------------------------------------------------------------


def test_keys_are_created_once_private_and_reused(tmp_path: Path) -> None:
    first = load_or_create_sandbox_keys(tmp_path)
    key_dir = tmp_path / "sandbox"
    assert stat.S_IMODE(os.stat(key_dir).st_mode) == 0o700
    for name in ("merchant_private.pem", "platform_private.pem"):
        assert stat.S_IMODE(os.stat(key_dir / name).st_mode) == 0o600
    second = load_or_create_sandbox_keys(tmp_path)
    assert public_key_base64(second.merchant_public_key) == public_key_base64(first.merchant_public_key)
    assert public_key_base64(second.platform_public_key) == public_key_base64(first.platform_public_key)
    assert public_key_base64(first.merchant_public_key) != public_key_base64(first.platform_public_key)


def test_corrupt_key_file_is_named_in_the_error(tmp_path: Path) -> None:
    load_or_create_sandbox_keys(tmp_path)
    (tmp_path / "sandbox" / "platform_private.pem").write_text("-----BEGIN PRIVATE KEY-----\nbroken\n")
    with pytest.raises(SandboxKeyError, match=r"platform_private\.pem"):
        load_or_create_sandbox_keys(tmp_path)


# --- faults --------------------------------------------------------------------------------


async def test_dropped_connection_after_create_still_creates_the_link(harness: Harness) -> None:
    harness.gateway.faults.drop_after_create = 1
    with pytest.raises(httpx.TransportError):
        await harness.post_signed("createPaybylink", link_data("tg-drop", harness.notify_url))
    queried = await harness.query("tg-drop")
    assert queried["code"] == "APPLY_SUCCESS" and queried["data"]["linkStatus"] == "ACTIVE"
    # The fault was for one create only; an identical retry gets the same link back.
    retry = await harness.create("tg-drop")
    assert retry["code"] == "APPLY_SUCCESS" and retry["data"]["linkId"] == queried["data"]["linkId"]


async def test_http_error_status_creates_nothing(harness: Harness) -> None:
    harness.gateway.faults.create_status = 503
    response = await harness.post_signed("createPaybylink", link_data("tg-503", harness.notify_url))
    assert response.status_code == 503 and "SANDBOX" in response.text
    harness.gateway.faults.create_status = None
    assert (await harness.query("tg-503"))["code"] == "ORDER_NOT_EXIST"


async def test_http_error_status_for_the_next_creates_only(harness: Harness) -> None:
    faults_url = f"{harness.server.url}/sandbox/_faults"
    changed = await harness.http.post(faults_url, json={"create_status": 503, "create_status_count": 2})
    assert changed.status_code == 200
    for _ in range(2):
        refused = await harness.post_signed("createPaybylink", link_data("tg-503-twice", harness.notify_url))
        assert refused.status_code == 503
    assert (await harness.query("tg-503-twice"))["code"] == "ORDER_NOT_EXIST"
    # The third try goes through, and the switch is off again for everyone.
    assert (await harness.create("tg-503-twice"))["code"] == "APPLY_SUCCESS"
    assert (await harness.http.get(faults_url)).json()["create_status"] is None
    assert (await harness.create("tg-after-503"))["code"] == "APPLY_SUCCESS"


async def test_slow_create_still_creates_the_link(harness: Harness) -> None:
    harness.gateway.faults.create_delay = 0.5
    with pytest.raises(httpx.ReadTimeout):
        await harness.post_signed("createPaybylink", link_data("tg-slow", harness.notify_url), timeout=0.1)
    harness.gateway.faults.create_delay = 0.0
    assert (await harness.query("tg-slow"))["code"] == "APPLY_SUCCESS"


async def test_faults_can_be_set_over_http(harness: Harness, receiver: tuple[NotificationReceiver, str]) -> None:
    recorder, _ = receiver
    faults_url = f"{harness.server.url}/sandbox/_faults"
    changed = await harness.http.post(faults_url, json={"notify_duplicates": 2, "create_status": 502})
    assert changed.status_code == 200 and changed.json()["notify_duplicates"] == 2
    assert (await harness.http.get(faults_url)).json()["create_status"] == 502
    refused = await harness.post_signed("createPaybylink", link_data("tg-x", harness.notify_url))
    assert refused.status_code == 502
    assert (await harness.http.post(faults_url, json={"create_status": None})).status_code == 200

    bad = await harness.http.post(faults_url, json={"explode": True})
    assert bad.status_code == 400 and "explode" in bad.json()["error"]
    assert (await harness.http.post(faults_url, json={"notify_duplicates": 0})).status_code == 400

    link = (await harness.create("tg-replayed"))["data"]
    await harness.gateway.pay(link["linkId"])
    await wait_until(lambda: len(recorder.deliveries) == 2)
    await asyncio.sleep(0.3)
    assert len(recorder.deliveries) == 2  # one attempt, sent twice; acknowledged, so no retries
    assert recorder.deliveries[0][1] == recorder.deliveries[1][1]


async def test_requests_seen_lists_every_api_call(harness: Harness) -> None:
    assert harness.gateway.requests_seen() == []
    await harness.create("tg-seen")
    await harness.query("tg-seen")
    seen = harness.gateway.requests_seen()
    assert [api for api, _ in seen] == ["createPaybylink", "queryPaybylink"]
    assert seen[0][1]["data"]["merchantLinkId"] == "tg-seen"


# --- the page in the customer's language ------------------------------------------------------


async def test_checkout_page_follows_the_links_language(harness: Harness) -> None:
    """PayerMax's page language from createPaybylink decides the page: lang, direction, and money written that way."""
    indonesian = (await harness.create("tg-lang-id", language="in", totalAmount="150000", currency="IDR"))["data"]
    page = await harness.http.get(indonesian["linkUrl"])
    assert page.status_code == 200
    assert '<html lang="id" dir="ltr">' in page.text and "Rp\xa0150.000" in page.text

    arabic = (await harness.create("tg-lang-ar", language="ar", totalAmount="300", currency="SAR"))["data"]
    page = await harness.http.get(arabic["linkUrl"])
    assert '<html lang="ar" dir="rtl">' in page.text
    paid = await harness.http.post(arabic["linkUrl"], data={"action": "pay", "method": "CARD"})
    assert paid.status_code == 200 and 'dir="rtl"' in paid.text

    unknown = (await harness.create("tg-lang-xx", language="xx"))["data"]
    assert '<html lang="en" dir="ltr">' in (await harness.http.get(unknown["linkUrl"])).text
