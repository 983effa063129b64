"""The JSON shapes PayerMax answers and notifies with (contract §3.2, §4, §5.1, §11), built from sandbox state.

Serialize them with :func:`bot.payermax.jsontext.dumps`, which writes Decimal amounts as exact JSON numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.sandbox.store import AttemptStatus, PaymentAttempt, PaymentLink, Refund

MOUNT_PREFIX = "/sandbox"
NOTIFY_TYPE_PAYBYLINK = "PAYBYLINK"
NOTIFY_TYPE_PAYMENT = "PAYMENT"
NOTIFY_TYPE_REFUND = "REFUND"
KEY_VERSION = "1"
SUCCESS_MSG = "Success."
SANDBOX_WALLET_ORG = "SANDBOXWALLET"
# payByLinkInfo spells the closed status CLOSE while orderQuery spells it CLOSED (contract §9.5);
# the sandbox reproduces both spellings so the bot is tested against each. payByLinkInfo has no
# FAILED (§4.1): a declined attempt is CLOSE there and FAILED in orderQuery and PAYMENT notifications.
_PAY_BY_LINK_STATUS = {AttemptStatus.SUCCESS: "SUCCESS", AttemptStatus.FAILED: "CLOSE", AttemptStatus.CLOSED: "CLOSE"}
# Why a declined attempt failed, per method (PayerMax's resultCode and resultMsg).
DECLINE_CODE = "PAYMENT_FAILED"
_DECLINE_MESSAGES = {
    "CARD": "SANDBOX: the card was declined",
    "WALLET": "SANDBOX: the e-wallet declined the payment",
}


@dataclass(frozen=True)
class SandboxUrls:
    """The public URLs of the sandbox's customer-facing pages."""

    public_base_url: str

    @property
    def checkout_base(self) -> str:
        """Where every link's checkout page lives: the part of its URL before the link's id."""
        return f"{self.public_base_url.rstrip('/')}{MOUNT_PREFIX}/pay/"

    def checkout(self, link_id: str) -> str:
        """The checkout page of a link (PayerMax's ``linkUrl``)."""
        return f"{self.public_base_url.rstrip('/')}{MOUNT_PREFIX}/pay/{link_id}"

    def qr_code(self, link_id: str) -> str:
        """The QR PNG of a link (PayerMax's ``qrCodeUrl``)."""
        return f"{self.public_base_url.rstrip('/')}{MOUNT_PREFIX}/qr/{link_id}.png"


def format_seconds(moment: datetime) -> str:
    """UTC ISO time without fraction, as in PayerMax's ``expiresAt``: ``2024-02-28T05:46:25Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_millis(moment: datetime) -> str:
    """UTC ISO time with milliseconds, as in PayerMax's event times: ``2025-06-26T12:11:36.142Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def link_summary(link: PaymentLink, urls: SandboxUrls, now: datetime) -> dict[str, Any]:
    """The ``data`` of createPaybylink and expirePaybylink answers."""
    return {
        "linkId": link.link_id,
        "merchantLinkId": link.merchant_link_id,
        "linkUrl": urls.checkout(link.link_id),
        "qrCodeUrl": urls.qr_code(link.link_id),
        "linkStatus": link.link_status(now),
        "expiresAt": format_seconds(link.expires_at),
    }


def link_details(link: PaymentLink, urls: SandboxUrls, now: datetime) -> dict[str, Any]:
    """The ``data`` of a queryPaybylink answer: the summary plus amounts, texts and attempts."""
    return {
        **link_summary(link, urls, now),
        "totalAmount": link.total_amount,
        "country": link.country,
        "currency": link.currency,
        "description": link.description,
        "linkDescription": link.request.get("linkDescription", ""),
        "payByLinkInfo": [pay_by_link_info(link, attempt) for attempt in link.attempts],
        "goodsDetails": link.request.get("goodsDetails", []),
    }


def pay_by_link_info(link: PaymentLink, attempt: PaymentAttempt) -> dict[str, Any]:
    """One ``payByLinkInfo`` item; payment details only for a successful attempt (contract §4.1)."""
    user = link.request.get("userInfo", {})
    info: dict[str, Any] = {
        "outTradeNo": attempt.out_trade_no,
        "status": _PAY_BY_LINK_STATUS[attempt.status],
        # The request key is ``username``; PayerMax answers with ``userName`` (contract §3.1).
        "userInfo": {"userId": user.get("userId", ""), "userName": user.get("username", "")},
    }
    if attempt.status == AttemptStatus.SUCCESS:
        info["completeAt"] = format_millis(attempt.complete_at or attempt.created_at)
        info["paymentDetails"] = [payment_detail(attempt)]
    return info


def payment_detail(attempt: PaymentAttempt) -> dict[str, Any]:
    """How an attempt was paid: method, and the masked card for card payments."""
    detail: dict[str, Any] = {"paymentMethodType": attempt.method}
    if attempt.card_number is not None:
        detail["cardInfo"] = {"cardOrg": attempt.card_org, "cardNumber": attempt.card_number}
    else:
        detail["targetOrg"] = SANDBOX_WALLET_ORG
    return detail


def order_details(link: PaymentLink, attempt: PaymentAttempt) -> dict[str, Any]:
    """The ``data`` of an orderQuery answer; amounts are JSON numbers here (contract §4.3)."""
    amount = Decimal(link.total_amount)
    details: dict[str, Any] = {
        "outTradeNo": attempt.out_trade_no,
        "tradeToken": attempt.trade_token,
        "totalAmount": amount,
        "currency": link.currency,
        "country": link.country,
        "status": attempt.status,
        "createTime": format_millis(attempt.created_at),
        "paymentDetails": [],
    }
    if attempt.status == AttemptStatus.SUCCESS:
        paid_at = format_millis(attempt.complete_at or attempt.created_at)
        details["confirmPayTime"] = paid_at
        details["completeTime"] = paid_at
        details["cashierCountry"] = link.country
        details["paymentDetails"] = [{**payment_detail(attempt), "payAmount": amount, "payCurrency": link.currency}]
    elif attempt.status == AttemptStatus.FAILED:
        details["resultCode"] = DECLINE_CODE
        details["resultMsg"] = _DECLINE_MESSAGES.get(attempt.method, "SANDBOX: the payment was declined")
    else:
        details["resultCode"] = "ORDER_CLOSED"
        details["resultMsg"] = "SANDBOX: the customer declined the payment"
    return details


def payment_notification(
    link: PaymentLink, attempt: PaymentAttempt, *, app_id: str, merchant_no: str, now: datetime
) -> dict[str, Any]:
    """The PAYMENT notification for an attempt that did not go through (contract §5.2).

    ``code`` is the failure's code and ``data.status`` FAILED; like orderQuery, ``totalAmount`` is a
    number. ``paymentDetails`` names only the method: card details come with successes.
    """
    data = order_details(link, attempt)
    data["completeTime"] = format_millis(attempt.complete_at or attempt.created_at)
    data["paymentDetails"] = [{"paymentMethodType": attempt.method}]
    return {
        "code": data.get("resultCode", DECLINE_CODE),
        "msg": data.get("resultMsg", ""),
        "keyVersion": KEY_VERSION,
        "appId": app_id,
        "merchantNo": merchant_no,
        "notifyTime": format_millis(now),
        "notifyType": NOTIFY_TYPE_PAYMENT,
        "data": data,
    }


def paybylink_notification(
    link: PaymentLink,
    attempt: PaymentAttempt,
    urls: SandboxUrls,
    *,
    app_id: str,
    merchant_no: str,
    now: datetime,
) -> dict[str, Any]:
    """The PAYBYLINK notification body for a successful payment (contract §5.1)."""
    return {
        "code": "APPLY_SUCCESS",
        "msg": SUCCESS_MSG,
        "keyVersion": KEY_VERSION,
        "appId": app_id,
        "merchantNo": merchant_no,
        "notifyTime": format_millis(now),
        "notifyType": NOTIFY_TYPE_PAYBYLINK,
        "data": {
            "linkId": link.link_id,
            "merchantLinkId": link.merchant_link_id,
            "linkUrl": urls.checkout(link.link_id),
            "qrCodeUrl": urls.qr_code(link.link_id),
            "linkStatus": link.link_status(now),
            "totalAmount": link.total_amount,
            "country": link.country,
            "currency": link.currency,
            "expiresAt": format_seconds(link.expires_at),
            "linkDescription": link.request.get("linkDescription", ""),
            # Only successful payments are reported in this callback (contract §5.1).
            "payByLinkInfo": [pay_by_link_info(link, attempt)],
        },
    }


def refund_accepted(refund: Refund) -> dict[str, Any]:
    """The ``data`` of a refund answer: only what contract §11.2 promises."""
    return {"outRefundNo": refund.out_refund_no, "refundTradeNo": refund.refund_trade_no, "status": refund.status}


def refund_details(refund: Refund) -> dict[str, Any]:
    """The ``data`` of a refundQuery answer and of a REFUND notification; the amount is a JSON number."""
    details: dict[str, Any] = {
        "outRefundNo": refund.out_refund_no,
        "refundTradeNo": refund.refund_trade_no,
        "outTradeNo": refund.out_trade_no,
        "refundAmount": refund.amount,
        "refundCurrency": refund.currency,
        "status": refund.status,
    }
    if refund.finished_at is not None:
        details["refundFinishTime"] = format_millis(refund.finished_at)
    return details


def refund_notification(refund: Refund, *, app_id: str, merchant_no: str, now: datetime) -> dict[str, Any]:
    """The REFUND notification body for a settled refund (contract §11.4).

    ``code`` is APPLY_SUCCESS for a failed refund too: the result is ``data.status``, never ``code`` (§5.2).
    """
    return {
        "code": "APPLY_SUCCESS",
        "msg": SUCCESS_MSG,
        "keyVersion": KEY_VERSION,
        "appId": app_id,
        "merchantNo": merchant_no,
        "notifyTime": format_millis(now),
        "notifyType": NOTIFY_TYPE_REFUND,
        "data": refund_details(refund),
    }
