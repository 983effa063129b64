"""Refunds through the bot's real PayerMax client against the sandbox gateway over loopback HTTP (contract §11)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.payermax.client import PayerMaxClient
from bot.payermax.errors import (
    ApiError,
    PayerMaxTimeout,
    RefundRefusal,
    ServerError,
    TransportError,
    classify_refund_refusal,
)
from bot.payermax.models import NOTIFY_TYPE_REFUND, RefundInfo, RefundRequest
from bot.payermax.webhook import verify_notification
from bot.sandbox.gateway import SandboxGateway
from bot.sandbox.keys import SandboxKeys
from bot.sandbox.store import SandboxStateError
from tests.integration.sandbox_harness import (
    APP_ID,
    MERCHANT_NO,
    Harness,
    NotificationReceiver,
    link_data,
    serve_harness,
    serve_receiver,
    wait_until,
)
from tests.keys import rsa_key

PAID = Decimal("150000")


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[NotificationReceiver, str]]:
    async with serve_receiver() as served:
        yield served


@pytest.fixture
async def harness(
    keys: SandboxKeys, receiver: tuple[NotificationReceiver, str], tmp_path: Path
) -> AsyncIterator[Harness]:
    # Refunds stay pending until a test settles them, so every step can be looked at.
    async with serve_harness(keys, receiver[1], tmp_path / "sandbox-state.json", refund_settle_seconds=None) as served:
        yield served


@pytest.fixture
async def payermax(harness: Harness) -> AsyncIterator[PayerMaxClient]:
    async with harness.client() as client:
        yield client


async def paid_order(harness: Harness, merchant_link_id: str, *, method: str = "CARD", **link: Any) -> str:
    """Create a link (150000 IDR unless overridden), pay it at the checkout, return the order's outTradeNo."""
    created = await harness.create(merchant_link_id, **link)
    assert created["code"] == "APPLY_SUCCESS", created
    return await harness.gateway.pay(created["data"]["linkId"], method=method)


def refund_of(harness: Harness, out_trade_no: str, out_refund_no: str, amount: str, **fields: Any) -> RefundRequest:
    """A refund request as the bot would make it, with results sent to the test's notify endpoint."""
    fields.setdefault("refund_currency", "IDR")
    fields.setdefault("refund_notify_url", harness.notify_url)
    return RefundRequest(
        out_refund_no=out_refund_no, out_trade_no=out_trade_no, refund_amount=Decimal(amount), **fields
    )


async def refusal(payermax: PayerMaxClient, request: RefundRequest) -> ApiError:
    """Apply for a refund that must be refused; return the error."""
    with pytest.raises(ApiError) as caught:
        await payermax.refund(request)
    assert caught.value.authenticated  # the sandbox signs its refusals
    return caught.value


def refund_notifications(recorder: NotificationReceiver) -> list[dict[str, Any]]:
    """The REFUND notifications the merchant received, parsed with exact amounts."""
    documents = [json.loads(body, parse_float=Decimal) for _, body in recorder.deliveries]
    return [document for document in documents if document["notifyType"] == "REFUND"]


# --- the happy path ------------------------------------------------------------------------


async def test_refund_is_pending_then_settles_and_the_merchant_gets_a_signed_notification(
    harness: Harness, payermax: PayerMaxClient, receiver: tuple[NotificationReceiver, str]
) -> None:
    recorder, _ = receiver
    out_trade_no = await paid_order(harness, "tg-refund")
    await wait_until(lambda: len(recorder.deliveries) == 1)  # the PAYBYLINK notification

    accepted = await payermax.refund(refund_of(harness, out_trade_no, "rf-1", "50000", comments="Wrong size"))
    assert accepted.status == "REFUND_PENDING" and not accepted.is_final
    assert accepted.refund_trade_no.startswith("RSBX")
    assert (accepted.out_trade_no, accepted.refund_amount, accepted.refund_currency) == (
        out_trade_no,
        Decimal("50000"),
        "IDR",
    )
    pending = await payermax.refund_query("rf-1")
    assert (pending.status, pending.refund_trade_no, pending.finish_time) == (
        "REFUND_PENDING",
        accepted.refund_trade_no,
        None,
    )
    await asyncio.sleep(0.1)
    assert refund_notifications(recorder) == []  # nothing is announced before it settles

    [settled] = harness.gateway.settle_refunds()
    assert settled.out_refund_no == "rf-1"
    done = await payermax.refund_query("rf-1")
    assert done.status == "REFUND_SUCCESS" and done.is_final
    assert done.finish_time is not None and abs(done.finish_time - datetime.now(UTC)) < timedelta(minutes=1)

    await wait_until(lambda: len(recorder.deliveries) == 2)
    headers, body = recorder.deliveries[1]
    assert headers["content-type"] == "application/json"
    # The bot's own check: signed with the platform key over the exact bytes, parsed as a refund.
    notification = verify_notification(body, headers["sign"], harness.keys.platform_public_key, accept=("REFUND",))
    assert notification.notify_type == NOTIFY_TYPE_REFUND
    assert (notification.app_id, notification.merchant_no) == (APP_ID, MERCHANT_NO)
    assert notification.refund == RefundInfo(
        out_refund_no="rf-1",
        refund_trade_no=accepted.refund_trade_no,
        out_trade_no=out_trade_no,
        refund_amount=Decimal("50000"),
        refund_currency="IDR",
        status="REFUND_SUCCESS",
        finish_time=done.finish_time,
    )
    assert b'"refundAmount":50000,' in body  # a JSON number, as contract §11.4 says
    assert json.loads(body)["code"] == "APPLY_SUCCESS"


async def test_refund_settles_by_itself_after_the_configured_delay(
    harness: Harness, receiver: tuple[NotificationReceiver, str], tmp_path: Path
) -> None:
    recorder, _ = receiver
    await harness.use_gateway(harness.new_gateway(state_path=tmp_path / "auto.json", refund_settle_seconds=0.2))
    out_trade_no = await paid_order(harness, "tg-auto")
    async with harness.client() as payermax:
        accepted = await payermax.refund(refund_of(harness, out_trade_no, "rf-auto", "150000"))
        assert accepted.status == "REFUND_PENDING"
        await wait_until(lambda: len(refund_notifications(recorder)) == 1)
        assert (await payermax.refund_query("rf-auto")).status == "REFUND_SUCCESS"
    assert refund_notifications(recorder)[0]["data"]["status"] == "REFUND_SUCCESS"


async def test_usd_refund_keeps_its_cents(harness: Harness, payermax: PayerMaxClient) -> None:
    out_trade_no = await paid_order(harness, "tg-usd", currency="USD", country="US", totalAmount="12.50")
    refund = await payermax.refund(refund_of(harness, out_trade_no, "rf-usd", "2.5", refund_currency="USD"))
    assert refund.refund_amount == Decimal("2.50")
    [(_api, envelope)] = [seen for seen in harness.gateway.requests_seen() if seen[0] == "refund"]
    assert envelope["version"] == "1.5"
    assert str(envelope["data"]["refundAmount"]) == "2.50"  # exactly what the client wrote, as a number
    queried = await harness.post_signed("refundQuery", {"outRefundNo": "rf-usd"}, version="1.5")
    assert b'"refundAmount":2.50,' in queried.content


# --- PayerMax's rules (contract §11.1) -----------------------------------------------------


async def test_only_a_paid_order_can_be_refunded(harness: Harness, payermax: PayerMaxClient) -> None:
    link = (await harness.create("tg-declined"))["data"]
    declined = await harness.http.post(link["linkUrl"], data={"action": "decline", "method": "CARD"})
    assert declined.status_code == 200
    closed_trade = (await harness.query("tg-declined"))["data"]["payByLinkInfo"][0]["outTradeNo"]

    not_paid = await refusal(payermax, refund_of(harness, closed_trade, "rf-closed", "1000"))
    assert not_paid.code == "ORDER_CLOSED" and "only a SUCCESS order" in not_paid.msg
    assert classify_refund_refusal(not_paid.code) is RefundRefusal.ORDER_NOT_PAID

    unknown = await refusal(payermax, refund_of(harness, "SBXT0000", "rf-unknown", "1000"))
    assert unknown.code == "ORDER_NOT_EXIST"
    assert classify_refund_refusal(unknown.code) is RefundRefusal.ORDER_NOT_FOUND
    for refused in ("rf-closed", "rf-unknown"):  # a refused application leaves no refund behind
        with pytest.raises(ApiError, match="ORDER_NOT_EXIST"):
            await payermax.refund_query(refused)


async def test_refunds_are_possible_for_180_days_after_payment(
    harness: Harness, payermax: PayerMaxClient, tmp_path: Path
) -> None:
    offset = [timedelta(0)]
    gateway = harness.new_gateway(
        state_path=tmp_path / "clock.json",
        refund_settle_seconds=None,
        clock=lambda: datetime.now(UTC) + offset[0],
    )
    await harness.use_gateway(gateway)
    orders = {}
    for name, age in (("old", timedelta(days=180, minutes=1)), ("edge", timedelta(days=180) - timedelta(minutes=1))):
        offset[0] = -age  # the customer pays this long ago on the gateway's clock
        then = (datetime.now(UTC) + offset[0]).isoformat(timespec="milliseconds")
        link = await harness.call("createPaybylink", link_data(f"tg-{name}", harness.notify_url), request_time=then)
        orders[name] = await gateway.pay(link["data"]["linkId"])
    offset[0] = timedelta(0)  # today: the client's requestTime and the gateway agree again

    too_old = await refusal(payermax, refund_of(harness, orders["old"], "rf-old", "150000"))
    assert too_old.code == "REFUND_EXPIRED" and "180 days" in too_old.msg
    assert classify_refund_refusal(too_old.code) is RefundRefusal.TOO_OLD
    in_time = await payermax.refund(refund_of(harness, orders["edge"], "rf-edge", "150000"))
    assert in_time.status == "REFUND_PENDING"


async def test_one_refund_at_a_time_per_order(harness: Harness, payermax: PayerMaxClient) -> None:
    out_trade_no = await paid_order(harness, "tg-one-at-a-time")
    other_order = await paid_order(harness, "tg-other")
    await payermax.refund(refund_of(harness, out_trade_no, "rf-first", "10000"))

    busy = await refusal(payermax, refund_of(harness, out_trade_no, "rf-second", "10000"))
    assert busy.code == "REFUND_PROCESSING" and "rf-first" in busy.msg
    assert classify_refund_refusal(busy.code) is RefundRefusal.IN_PROGRESS
    # Another order is not held up by it.
    assert (await payermax.refund(refund_of(harness, other_order, "rf-other", "10000"))).status == "REFUND_PENDING"

    harness.gateway.settle_refunds()
    assert (await payermax.refund(refund_of(harness, out_trade_no, "rf-second", "10000"))).status == "REFUND_PENDING"


async def test_refunds_never_exceed_what_is_still_refundable(harness: Harness, payermax: PayerMaxClient) -> None:
    out_trade_no = await paid_order(harness, "tg-parts")
    too_much = await refusal(payermax, refund_of(harness, out_trade_no, "rf-too-much", "150001"))
    assert too_much.code == "REFUND_AMOUNT_INVALID" and "150000 IDR still refundable" in too_much.msg
    assert classify_refund_refusal(too_much.code) is RefundRefusal.EXCEEDS_REFUNDABLE

    await payermax.refund(refund_of(harness, out_trade_no, "rf-part-1", "100000"))
    harness.gateway.settle_refunds()
    rest = await refusal(payermax, refund_of(harness, out_trade_no, "rf-part-2", "60000"))
    assert rest.code == "REFUND_AMOUNT_INVALID" and "50000 IDR still refundable" in rest.msg
    await payermax.refund(refund_of(harness, out_trade_no, "rf-part-2", "50000"))
    harness.gateway.settle_refunds()
    nothing_left = await refusal(payermax, refund_of(harness, out_trade_no, "rf-part-3", "1"))
    assert nothing_left.code == "REFUND_AMOUNT_INVALID" and "0 IDR still refundable" in nothing_left.msg


async def test_a_failed_refund_gives_the_amount_back_to_refund(
    harness: Harness, payermax: PayerMaxClient, receiver: tuple[NotificationReceiver, str]
) -> None:
    recorder, _ = receiver
    out_trade_no = await paid_order(harness, "tg-fail")
    harness.gateway.faults.refund_fail_next = 1
    await payermax.refund(refund_of(harness, out_trade_no, "rf-fails", "150000"))
    harness.gateway.settle_refunds()
    assert (await payermax.refund_query("rf-fails")).status == "REFUND_FAILED"
    await wait_until(lambda: len(refund_notifications(recorder)) == 1)
    assert refund_notifications(recorder)[0]["data"]["status"] == "REFUND_FAILED"

    # Only the next refund was to fail: the retry (a new application) succeeds, for the whole amount again.
    assert harness.gateway.faults.refund_fail_next == 0
    await payermax.refund(refund_of(harness, out_trade_no, "rf-again", "150000"))
    harness.gateway.settle_refunds()
    assert (await payermax.refund_query("rf-again")).status == "REFUND_SUCCESS"


async def test_refund_currency_must_be_the_orders(harness: Harness, payermax: PayerMaxClient) -> None:
    out_trade_no = await paid_order(harness, "tg-currency")
    wrong = await refusal(payermax, refund_of(harness, out_trade_no, "rf-usd", "10", refund_currency="USD"))
    assert wrong.code == "PARAMS_INVALID" and "order's currency IDR" in wrong.msg
    assert classify_refund_refusal(wrong.code) is RefundRefusal.INVALID_REQUEST


async def test_wallet_payments_are_refunded_only_in_full(harness: Harness, payermax: PayerMaxClient) -> None:
    wallet_order = await paid_order(harness, "tg-wallet", method="WALLET")
    partial = await refusal(payermax, refund_of(harness, wallet_order, "rf-wallet-part", "50000"))
    assert partial.code == "REFUND_NOT_ALLOWED" and "WALLET payments can only be refunded in full" in partial.msg
    assert classify_refund_refusal(partial.code) is RefundRefusal.FULL_REFUND_ONLY
    assert (await payermax.refund(refund_of(harness, wallet_order, "rf-wallet", "150000"))).status == "REFUND_PENDING"

    card_order = await paid_order(harness, "tg-card")
    assert (await payermax.refund(refund_of(harness, card_order, "rf-card", "1"))).status == "REFUND_PENDING"
    # The checkout page tells the developer which method is which.
    link = (await harness.create("tg-page"))["data"]
    checkout = await harness.http.get(link["linkUrl"])
    assert "an e-wallet payment only in full" in checkout.text


async def test_insufficient_balance_refuses_refunds_while_switched_on(
    harness: Harness, payermax: PayerMaxClient
) -> None:
    out_trade_no = await paid_order(harness, "tg-balance")
    harness.gateway.faults.insufficient_balance = True
    short = await refusal(payermax, refund_of(harness, out_trade_no, "rf-balance", "150000"))
    assert short.code == "REFUND_INSUFFICIENT_BALANCE"
    assert classify_refund_refusal(short.code) is RefundRefusal.INSUFFICIENT_BALANCE
    harness.gateway.faults.insufficient_balance = False
    assert (await payermax.refund(refund_of(harness, out_trade_no, "rf-balance", "150000"))).status == "REFUND_PENDING"


# --- idempotency and concurrency -----------------------------------------------------------


async def test_a_repeated_out_refund_no_replays_the_same_refund(harness: Harness, payermax: PayerMaxClient) -> None:
    out_trade_no = await paid_order(harness, "tg-replay")
    request = refund_of(harness, out_trade_no, "rf-replay", "40000", comments="Damaged")
    first = await payermax.refund(request)
    replay = await payermax.refund(request)
    assert replay == first  # same refundTradeNo, still pending: not a second refund
    harness.gateway.settle_refunds()
    after = await payermax.refund(request)
    assert (after.refund_trade_no, after.status) == (first.refund_trade_no, "REFUND_SUCCESS")
    # Only 40000 was taken: the remaining 110000 can still be refunded.
    await payermax.refund(refund_of(harness, out_trade_no, "rf-rest", "110000"))

    for changed in ({"refund_amount": Decimal("40001")}, {"comments": "Other reason"}, {"refund_notify_url": None}):
        reused = await refusal(payermax, dataclasses.replace(request, **changed))
        assert reused.code == "ORDER_REPEAT" and "rf-replay" in reused.msg
        assert classify_refund_refusal(reused.code) is RefundRefusal.REFUND_NO_REUSED


async def test_concurrent_refunds_of_one_order_accept_only_what_is_refundable(
    harness: Harness, payermax: PayerMaxClient
) -> None:
    out_trade_no = await paid_order(harness, "tg-race")
    accepted: list[str] = []
    for round_number in range(3):
        requests = [refund_of(harness, out_trade_no, f"rf-race-{round_number}-{i}", "60000") for i in range(6)]
        results = await asyncio.gather(*(payermax.refund(r) for r in requests), return_exceptions=True)
        winners = [r.out_refund_no for r in results if isinstance(r, RefundInfo)]
        codes = {r.code for r in results if isinstance(r, ApiError)}
        assert len(winners) + sum(isinstance(r, ApiError) for r in results) == len(requests)
        accepted += winners
        harness.gateway.settle_refunds()
        if round_number < 2:
            assert len(winners) == 1 and codes == {"REFUND_PROCESSING"}
        else:
            assert winners == [] and codes == {"REFUND_AMOUNT_INVALID"}  # 30000 left, less than 60000
    statuses = [(await payermax.refund_query(no)).status for no in accepted]
    assert statuses == ["REFUND_SUCCESS", "REFUND_SUCCESS"]  # 120000 of 150000 refunded, never more


# --- notifications -------------------------------------------------------------------------


async def test_refund_notification_is_retried_until_the_merchant_answers_success(
    harness: Harness, payermax: PayerMaxClient, receiver: tuple[NotificationReceiver, str]
) -> None:
    recorder, _ = receiver
    out_trade_no = await paid_order(harness, "tg-notify-retry")
    await wait_until(lambda: len(recorder.deliveries) == 1)
    recorder.answers = ["FAIL", "FAIL", "SUCCESS"]
    await payermax.refund(refund_of(harness, out_trade_no, "rf-retry", "150000"))
    harness.gateway.settle_refunds()
    await wait_until(lambda: len(refund_notifications(recorder)) == 3)
    await asyncio.sleep(0.3)  # the rest of the fast schedule passes without another attempt
    refund_bodies = [body for _, body in recorder.deliveries[1:]]
    assert len(refund_bodies) == 3 and len(set(refund_bodies)) == 1  # the same signed bytes each time


async def test_refund_without_notify_url_is_only_visible_through_refund_query(
    harness: Harness, payermax: PayerMaxClient, receiver: tuple[NotificationReceiver, str]
) -> None:
    recorder, _ = receiver
    out_trade_no = await paid_order(harness, "tg-silent")
    await wait_until(lambda: len(recorder.deliveries) == 1)
    await payermax.refund(refund_of(harness, out_trade_no, "rf-silent", "150000", refund_notify_url=None))
    harness.gateway.settle_refunds()
    assert (await payermax.refund_query("rf-silent")).status == "REFUND_SUCCESS"
    await asyncio.sleep(0.1)
    assert refund_notifications(recorder) == []


# --- faults --------------------------------------------------------------------------------


async def test_http_error_status_does_not_apply_the_refund(harness: Harness, payermax: PayerMaxClient) -> None:
    out_trade_no = await paid_order(harness, "tg-503")
    harness.gateway.faults.update({"refund_status": 503, "refund_status_count": 1})
    request = refund_of(harness, out_trade_no, "rf-503", "150000")
    with pytest.raises(ServerError) as caught:
        await payermax.refund(request)
    assert caught.value.status_code == 503 and caught.value.outcome_unknown
    with pytest.raises(ApiError, match="ORDER_NOT_EXIST"):  # the bot's next step: ask, and learn nothing happened
        await payermax.refund_query("rf-503")
    assert (await payermax.refund(request)).status == "REFUND_PENDING"  # the switch was for one refund only


async def test_dropped_connection_after_refund_still_applies_it(harness: Harness, payermax: PayerMaxClient) -> None:
    out_trade_no = await paid_order(harness, "tg-drop")
    harness.gateway.faults.drop_after_refund = 1
    request = refund_of(harness, out_trade_no, "rf-drop", "150000")
    with pytest.raises(TransportError) as caught:
        await payermax.refund(request)
    assert caught.value.outcome_unknown
    applied = await payermax.refund_query("rf-drop")
    assert applied.status == "REFUND_PENDING"
    retried = await payermax.refund(request)  # same outRefundNo: the same refund, not a second one
    assert retried.refund_trade_no == applied.refund_trade_no


async def test_slow_refund_times_out_but_is_applied(harness: Harness) -> None:
    out_trade_no = await paid_order(harness, "tg-slow")
    harness.gateway.faults.refund_delay = 0.6
    async with harness.client(timeout=0.2) as impatient:
        with pytest.raises(PayerMaxTimeout):
            await impatient.refund(refund_of(harness, out_trade_no, "rf-slow", "150000"))
    harness.gateway.faults.refund_delay = 0.0
    async with harness.client() as payermax:
        assert (await payermax.refund_query("rf-slow")).status == "REFUND_PENDING"


async def test_refund_faults_and_settling_are_controlled_over_http(harness: Harness, payermax: PayerMaxClient) -> None:
    out_trade_no = await paid_order(harness, "tg-http")
    faults_url = f"{harness.server.url}/sandbox/_faults"
    changed = await harness.http.post(faults_url, json={"refund_fail_next": 1, "insufficient_balance": True})
    assert changed.status_code == 200
    assert changed.json()["refund_fail_next"] == 1 and changed.json()["insufficient_balance"] is True
    assert (await refusal(payermax, refund_of(harness, out_trade_no, "rf-http", "150000"))).code == (
        "REFUND_INSUFFICIENT_BALANCE"
    )
    await harness.http.post(faults_url, json={"insufficient_balance": False})
    await payermax.refund(refund_of(harness, out_trade_no, "rf-http", "150000"))

    settled = await harness.http.post(f"{harness.server.url}/sandbox/_refunds/settle")
    assert settled.status_code == 200
    assert settled.json() == {"settled": [{"outRefundNo": "rf-http", "status": "REFUND_FAILED"}]}
    assert (await harness.http.post(f"{harness.server.url}/sandbox/_refunds/settle")).json() == {"settled": []}

    for bad in ({"refund_fail_next": -1}, {"refund_delay": "slow"}, {"insufficient_balance": 1}, {"refund_status": 42}):
        refused = await harness.http.post(faults_url, json=bad)
        assert refused.status_code == 400 and next(iter(bad)) in refused.json()["error"]
    seen = (await harness.http.get(f"{harness.server.url}/sandbox/_requests")).json()["requests"]
    assert {
        "api": "refund",
        "data": {
            "outRefundNo": "rf-http",
            "refundAmount": 150000,
            "refundCurrency": "IDR",
            "outTradeNo": out_trade_no,
            "refundNotifyUrl": harness.notify_url,
        },
    } in seen


# --- request validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code", "phrase"),
    [
        ({"refundAmount": "150000"}, "AMOUNT_INVALID", "JSON number"),
        ({"refundAmount": Decimal("100.5")}, "AMOUNT_INVALID", "IDR allows 0"),
        ({"refundAmount": 0}, "AMOUNT_INVALID", "greater than zero"),
        ({"refundAmount": -5}, "AMOUNT_INVALID", "greater than zero"),
        ({"refundAmount": True}, "AMOUNT_INVALID", "JSON number"),
        ({"refundAmount": None}, "AMOUNT_INVALID", "JSON number"),
        ({"outRefundNo": ""}, "PARAMS_INVALID", "outRefundNo"),
        ({"outRefundNo": "r" * 65}, "PARAMS_INVALID", "outRefundNo"),
        ({"outTradeNo": None}, "PARAMS_INVALID", "outTradeNo"),
        ({"refundCurrency": "idr"}, "PARAMS_INVALID", "refundCurrency"),
        ({"refundCurrency": "QQQ"}, "CURRENCY_INVALID", "refundCurrency QQQ"),
        ({"comments": "c" * 257}, "PARAMS_INVALID", "comments"),
        ({"refundNotifyUrl": "ftp://bot.example/refunds"}, "PARAMS_INVALID", "refundNotifyUrl"),
    ],
)
async def test_invalid_refund_is_refused_and_applies_nothing(
    harness: Harness, overrides: dict[str, Any], code: str, phrase: str
) -> None:
    out_trade_no = await paid_order(harness, "tg-invalid")
    data: dict[str, Any] = {
        "outRefundNo": "rf-invalid",
        "refundAmount": 150000,
        "refundCurrency": "IDR",
        "outTradeNo": out_trade_no,
        "refundNotifyUrl": harness.notify_url,
    }
    data.update(overrides)
    answer = await harness.call("refund", {k: v for k, v in data.items() if v is not None}, version="1.5")
    assert answer["code"] == code and phrase in answer["msg"] and "data" not in answer
    assert harness.gateway.settle_refunds() == []


async def test_refund_query_by_either_id_and_wrong_envelope(harness: Harness, payermax: PayerMaxClient) -> None:
    out_trade_no = await paid_order(harness, "tg-query")
    refund = await payermax.refund(refund_of(harness, out_trade_no, "rf-query", "1000"))
    by_trade_no = await harness.call("refundQuery", {"refundTradeNo": refund.refund_trade_no}, version="1.5")
    assert by_trade_no["data"]["outRefundNo"] == "rf-query"
    both = {"outRefundNo": "rf-query", "refundTradeNo": "RSBX0"}
    assert (await harness.call("refundQuery", both, version="1.5"))["code"] == "PARAMS_INVALID"
    assert (await harness.call("refundQuery", {}, version="1.5"))["code"] == "PARAMS_INVALID"
    old_version = await harness.call("refundQuery", {"outRefundNo": "rf-query"}, version="1.1")
    assert old_version["code"] == "PARAMS_INVALID" and "version" in old_version["msg"]


# --- persistence ---------------------------------------------------------------------------


async def test_refunds_and_their_notifications_survive_a_restart(
    harness: Harness, receiver: tuple[NotificationReceiver, str], tmp_path: Path
) -> None:
    recorder, _ = receiver
    state_path = tmp_path / "restart.json"
    await harness.use_gateway(harness.new_gateway(state_path=state_path, refund_settle_seconds=None))
    out_trade_no = await paid_order(harness, "tg-restart")
    await wait_until(lambda: len(recorder.deliveries) == 1)
    async with harness.client() as payermax:
        accepted = await payermax.refund(refund_of(harness, out_trade_no, "rf-restart", "100000"))

    # Restarted: the pending refund is known, and still blocks a second refund of the order.
    await harness.use_gateway(harness.new_gateway(state_path=state_path, refund_settle_seconds=None))
    async with harness.client() as payermax:
        assert await payermax.refund_query("rf-restart") == accepted
        busy = await refusal(payermax, refund_of(harness, out_trade_no, "rf-second", "1000"))
        assert busy.code == "REFUND_PROCESSING"

    # Settled by a gateway that never starts notifying: the notification waits in the state file.
    stopped = harness.new_gateway(state_path=state_path, refund_settle_seconds=None)
    await harness.use_gateway(stopped, start=False)
    stopped.settle_refunds()
    await asyncio.sleep(0.1)
    assert refund_notifications(recorder) == []

    await harness.use_gateway(harness.new_gateway(state_path=state_path, refund_settle_seconds=None))
    await wait_until(lambda: len(refund_notifications(recorder)) == 1)
    assert refund_notifications(recorder)[0]["data"]["outRefundNo"] == "rf-restart"
    async with harness.client() as payermax:
        assert (await payermax.refund_query("rf-restart")).status == "REFUND_SUCCESS"
        rest = await refusal(payermax, refund_of(harness, out_trade_no, "rf-too-much", "50001"))
        assert rest.code == "REFUND_AMOUNT_INVALID"  # the settled 100000 still counts after restarts


async def test_a_pending_refund_settles_after_a_restart_by_itself(
    harness: Harness, receiver: tuple[NotificationReceiver, str], tmp_path: Path
) -> None:
    recorder, _ = receiver
    state_path = tmp_path / "resume.json"
    await harness.use_gateway(harness.new_gateway(state_path=state_path, refund_settle_seconds=None))
    out_trade_no = await paid_order(harness, "tg-resume")
    async with harness.client() as payermax:
        await payermax.refund(refund_of(harness, out_trade_no, "rf-resume", "150000"))
    await harness.use_gateway(harness.new_gateway(state_path=state_path, refund_settle_seconds=0.05))
    await wait_until(lambda: len(refund_notifications(recorder)) == 1)


async def test_a_version_1_state_file_is_still_read(harness: Harness, payermax: PayerMaxClient, tmp_path: Path) -> None:
    state_path = tmp_path / "v1.json"
    await harness.use_gateway(harness.new_gateway(state_path=state_path, refund_settle_seconds=None))
    out_trade_no = await paid_order(harness, "tg-v1")
    state = json.loads(state_path.read_text())
    assert state["version"] == 2 and state["refunds"] == []
    del state["refunds"]
    state["version"] = 1  # what the sandbox wrote before refunds existed
    state_path.write_text(json.dumps(state))

    await harness.use_gateway(harness.new_gateway(state_path=state_path, refund_settle_seconds=None))
    assert (await harness.query("tg-v1"))["data"]["payByLinkInfo"][0]["outTradeNo"] == out_trade_no
    await payermax.refund(refund_of(harness, out_trade_no, "rf-v1", "150000"))
    assert json.loads(state_path.read_text())["version"] == 2


def test_a_state_file_from_a_newer_sandbox_is_refused_by_name(keys: SandboxKeys, tmp_path: Path) -> None:
    state_path = tmp_path / "future.json"
    state_path.write_text(json.dumps({"version": 3, "links": [], "refunds": [], "deliveries": []}))
    with pytest.raises(SandboxStateError, match=r"future\.json.*unsupported state version 3"):
        SandboxGateway(keys=keys, public_base_url="http://127.0.0.1:1", state_path=state_path)


async def test_refund_signed_with_another_key_is_refused_and_applies_nothing(harness: Harness) -> None:
    out_trade_no = await paid_order(harness, "tg-forged")
    data = {"outRefundNo": "rf-forged", "refundAmount": 150000, "refundCurrency": "IDR", "outTradeNo": out_trade_no}
    response = await harness.post_signed("refund", data, version="1.5", key=rsa_key("stranger"))
    assert response.json()["code"] == "SIGN_VERIFY_FAILED"
    assert (await harness.call("refundQuery", {"outRefundNo": "rf-forged"}, version="1.5"))["code"] == (
        "ORDER_NOT_EXIST"
    )
