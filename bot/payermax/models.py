"""Typed views of what we send to and receive from PayerMax, and the parsers that build them.

Parsing is strict about the fields decisions depend on (ids, amount, currency, status) and
lenient about presentation: unknown fields are ignored, statuses are compared in upper case,
``CLOSE`` means ``CLOSED``, amounts may be JSON strings or numbers, timestamps may be any
ISO-8601 form. Amounts are always ``Decimal`` and timestamps always UTC-aware.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.money import currency_decimals, is_known_currency

# createPaybylink limits (contract §3.1, §10).
LINK_TYPE_ONETIME = "ONETIME"
MIN_EXPIRES_SECONDS = 3600
MAX_EXPIRES_SECONDS = 2_592_000
MERCHANT_LINK_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
COUNTRY_PATTERN = re.compile(r"[A-Z]{2}")
MAX_AMOUNT_CHARS = 24
MAX_DESCRIPTION_CHARS = 256
MAX_GOODS_NAME_CHARS = 128
MAX_URL_CHARS = 256
MAX_USER_ID_CHARS = 64

# Statuses (contract §5.3).
STATUS_SUCCESS = "SUCCESS"
STATUS_CLOSED = "CLOSED"
STATUS_FAILED = "FAILED"
# An attempt that ended without money: declined or failed (FAILED), or left unpaid (CLOSED) (§5.3).
UNSUCCESSFUL_STATUSES = frozenset({STATUS_FAILED, STATUS_CLOSED})
_STATUS_ALIASES = {"CLOSE": STATUS_CLOSED}  # payByLinkInfo[].status spells it CLOSE (§9.5)

# Refund statuses (contract §11.3-§11.4).
REFUND_PENDING = "REFUND_PENDING"
REFUND_SUCCESS = "REFUND_SUCCESS"
REFUND_FAILED = "REFUND_FAILED"
REFUND_STATUSES = (REFUND_PENDING, REFUND_SUCCESS, REFUND_FAILED)

# Refund limits (contract §11.2). PayerMax gives no length for comments; 256 like its other free texts.
OUT_REFUND_NO_PATTERN = MERCHANT_LINK_ID_PATTERN
MAX_OUT_TRADE_NO_CHARS = 64
MAX_COMMENTS_CHARS = 256

NOTIFY_TYPE_PAYBYLINK = "PAYBYLINK"
NOTIFY_TYPE_PAYMENT = "PAYMENT"
NOTIFY_TYPE_REFUND = "REFUND"
NOTIFY_TYPES = (NOTIFY_TYPE_PAYBYLINK, NOTIFY_TYPE_PAYMENT, NOTIFY_TYPE_REFUND)

_MAX_QUOTED_VALUE = 40  # how much of a bad value an error message repeats


class DataFormatError(ValueError):
    """A PayerMax data object lacks a required field or holds a value of the wrong type."""


class NotificationError(ValueError):
    """A notification body that cannot be understood; the message says why."""


@dataclass(frozen=True)
class CreateLinkRequest:
    """What the bot asks PayerMax for when it creates a one-time payment link."""

    merchant_link_id: str
    total_amount: Decimal  # already quantized to the currency's PayerMax precision by the caller
    currency: str
    country: str
    description: str  # shown to the payer
    notify_url: str
    user_id: str  # our userInfo.userId, e.g. the Telegram user id
    expires_seconds: int = 86400
    language: str = "en"
    username: str | None = None
    link_description: str | None = None  # merchant-only note, echoed back in notifications
    contact_email: str = ""
    logo_url: str | None = None
    show_url: str = ""  # goodsDetails[].showUrl

    def __post_init__(self) -> None:
        """Refuse requests PayerMax would reject, so the mistake shows up where it was made."""
        if not MERCHANT_LINK_ID_PATTERN.fullmatch(self.merchant_link_id):
            raise ValueError("merchant_link_id must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
        if not isinstance(self.total_amount, Decimal) or not self.total_amount.is_finite() or self.total_amount <= 0:
            raise ValueError("total_amount must be a positive finite Decimal")
        if len(format(self.total_amount, "f")) > MAX_AMOUNT_CHARS:
            raise ValueError(f"total_amount must render in at most {MAX_AMOUNT_CHARS} characters")
        if not CURRENCY_PATTERN.fullmatch(self.currency):
            raise ValueError("currency must be three upper-case letters (ISO 4217)")
        if not COUNTRY_PATTERN.fullmatch(self.country):
            raise ValueError("country must be two upper-case letters (ISO 3166 alpha-2)")
        if not MIN_EXPIRES_SECONDS <= self.expires_seconds <= MAX_EXPIRES_SECONDS:
            raise ValueError(f"expires_seconds must be between {MIN_EXPIRES_SECONDS} and {MAX_EXPIRES_SECONDS}")
        if not self.description or len(self.description) > MAX_DESCRIPTION_CHARS:
            raise ValueError(f"description must be 1-{MAX_DESCRIPTION_CHARS} characters")
        if self.link_description is not None and len(self.link_description) > MAX_DESCRIPTION_CHARS:
            raise ValueError(f"link_description must be at most {MAX_DESCRIPTION_CHARS} characters")
        if not self.user_id or len(self.user_id) > MAX_USER_ID_CHARS:
            raise ValueError(f"user_id must be 1-{MAX_USER_ID_CHARS} characters")
        if not self.notify_url.startswith(("http://", "https://")) or len(self.notify_url) > MAX_URL_CHARS:
            raise ValueError(f"notify_url must be an http(s) URL of at most {MAX_URL_CHARS} characters")

    def to_data(self) -> dict[str, Any]:
        """Build the createPaybylink ``data`` object exactly as PayerMax expects it."""
        amount = format(self.total_amount, "f")
        user_info: dict[str, str] = {"userId": self.user_id}
        if self.username:
            user_info["username"] = self.username
        merchant_info: dict[str, str] = {"contactEmail": self.contact_email}
        if self.logo_url:
            merchant_info["logoUrl"] = self.logo_url
        # One goods line whose price equals the total keeps Σ(price × quantity) == totalAmount (§9.14).
        goods_line = {
            "goodsName": self.description[:MAX_GOODS_NAME_CHARS],
            "goodsDescription": self.description,
            "quantity": "1",
            "price": amount,
            "goodsCurrency": self.currency,
            "showUrl": self.show_url,
        }
        data: dict[str, Any] = {
            "merchantLinkId": self.merchant_link_id,
            "linkType": LINK_TYPE_ONETIME,
            "expiresTime": str(self.expires_seconds),
            "country": self.country,
            "currency": self.currency,
            "totalAmount": amount,
            "language": self.language,
            "description": self.description,
        }
        if self.link_description:
            data["linkDescription"] = self.link_description
        data["userInfo"] = user_info
        data["goodsDetails"] = [goods_line]
        data["merchantInfo"] = merchant_info
        data["notifyUrl"] = self.notify_url
        return data


@dataclass(frozen=True)
class RefundRequest:
    """What the bot asks PayerMax for when it refunds (part of) a paid order (contract §11.2)."""

    out_refund_no: str  # our id for this refund; reused on every retry of the same intent
    out_trade_no: str  # the paid order (payByLinkInfo[].outTradeNo)
    refund_amount: Decimal  # major units, at most the currency's PayerMax decimals
    refund_currency: str  # the order's currency
    comments: str | None = None  # reason shown in PayerMax's portal
    refund_notify_url: str | None = None  # where the REFUND notification goes

    def __post_init__(self) -> None:
        """Refuse refunds PayerMax would reject, so the mistake shows up where it was made."""
        if not OUT_REFUND_NO_PATTERN.fullmatch(self.out_refund_no):
            raise ValueError("out_refund_no must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
        if not self.out_trade_no.strip() or len(self.out_trade_no) > MAX_OUT_TRADE_NO_CHARS:
            raise ValueError(f"out_trade_no must be 1-{MAX_OUT_TRADE_NO_CHARS} characters")
        if not CURRENCY_PATTERN.fullmatch(self.refund_currency) or not is_known_currency(self.refund_currency):
            raise ValueError("refund_currency must be an upper-case ISO 4217 code such as USD or IDR")
        amount = self.refund_amount
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
            raise ValueError("refund_amount must be a positive finite Decimal")
        # Length first: it also keeps quantize() below within Decimal's default precision.
        if len(format(amount, "f")) > MAX_AMOUNT_CHARS:
            raise ValueError(f"refund_amount must render in at most {MAX_AMOUNT_CHARS} characters")
        decimals = currency_decimals(self.refund_currency)
        if amount != self.rendered_amount:
            raise ValueError(
                f"refund_amount {format(amount, 'f')} has more decimals than {self.refund_currency} allows ({decimals})"
            )
        if self.comments is not None and len(self.comments) > MAX_COMMENTS_CHARS:
            raise ValueError(f"comments must be at most {MAX_COMMENTS_CHARS} characters")
        url = self.refund_notify_url
        if url is not None and (not url.startswith(("http://", "https://")) or len(url) > MAX_URL_CHARS):
            raise ValueError(f"refund_notify_url must be an http(s) URL of at most {MAX_URL_CHARS} characters")

    @property
    def rendered_amount(self) -> Decimal:
        """The amount with exactly the currency's decimals (12.5 USD becomes 12.50)."""
        return self.refund_amount.quantize(Decimal(1).scaleb(-currency_decimals(self.refund_currency)))

    def to_data(self) -> dict[str, Any]:
        """Build the refund ``data`` object; ``refundAmount`` stays a Decimal, to be written as a JSON number."""
        data: dict[str, Any] = {
            "outRefundNo": self.out_refund_no,
            "refundAmount": self.rendered_amount,
            "refundCurrency": self.refund_currency,
            "outTradeNo": self.out_trade_no,
        }
        if self.comments:
            data["comments"] = self.comments
        if self.refund_notify_url:
            data["refundNotifyUrl"] = self.refund_notify_url
        return data


@dataclass(frozen=True)
class PaymentAttempt:
    """One payment attempt (trade order) on a link."""

    out_trade_no: str | None
    status: str  # upper case; CLOSE normalised to CLOSED
    complete_at: datetime | None
    payment_method: str | None  # paymentDetails[0].paymentMethodType
    target_org: str | None
    card_org: str | None
    card_number: str | None  # masked as PayerMax gives it


@dataclass(frozen=True)
class LinkInfo:
    """A payment link as createPaybylink, queryPaybylink, expirePaybylink and PAYBYLINK notifications describe it."""

    link_id: str
    merchant_link_id: str
    link_url: str | None
    qr_code_url: str | None
    link_status: str  # upper case: ACTIVE or EXPIRED
    expires_at: datetime | None
    total_amount: Decimal | None
    currency: str | None
    country: str | None
    description: str | None
    link_description: str | None
    attempts: tuple[PaymentAttempt, ...] = ()


@dataclass(frozen=True)
class OrderInfo:
    """A trade order as orderQuery and PAYMENT notifications describe it."""

    out_trade_no: str
    trade_token: str | None
    total_amount: Decimal
    currency: str
    country: str | None
    status: str  # SUCCESS, PENDING, FAILED or CLOSED
    result_code: str | None
    result_msg: str | None
    complete_time: datetime | None
    payment_method: str | None
    target_org: str | None
    card_org: str | None
    card_number: str | None
    create_time: datetime | None = None  # when the customer started the attempt (orderQuery's createTime)


@dataclass(frozen=True)
class RefundInfo:
    """A refund as the refund and refundQuery answers and REFUND notifications describe it."""

    out_refund_no: str
    refund_trade_no: str  # PayerMax's id of the refund
    out_trade_no: str  # the refunded order
    refund_amount: Decimal
    refund_currency: str
    status: str  # REFUND_PENDING, REFUND_SUCCESS or REFUND_FAILED
    finish_time: datetime | None  # refundFinishTime, once the refund has settled

    @property
    def is_final(self) -> bool:
        """Whether the refund has settled (succeeded or failed) and will not change again."""
        return self.status != REFUND_PENDING


@dataclass(frozen=True)
class Notification:
    """A parsed PayerMax notification (signature already checked by the caller)."""

    notify_type: str  # PAYBYLINK, PAYMENT or REFUND
    app_id: str | None
    merchant_no: str | None
    notify_time: datetime | None
    link: LinkInfo | None  # set for PAYBYLINK
    order: OrderInfo | None  # set for PAYMENT
    refund: RefundInfo | None = None  # set for REFUND

    def successful_attempts(self) -> tuple[PaymentAttempt, ...]:
        """Return the payments this notification reports as successful."""
        if self.link is not None:
            return tuple(attempt for attempt in self.link.attempts if attempt.status == STATUS_SUCCESS)
        if self.order is not None and self.order.status == STATUS_SUCCESS:
            order = self.order
            return (
                PaymentAttempt(
                    out_trade_no=order.out_trade_no,
                    status=order.status,
                    complete_at=order.complete_time,
                    payment_method=order.payment_method,
                    target_org=order.target_org,
                    card_org=order.card_org,
                    card_number=order.card_number,
                ),
            )
        return ()


def _quote(value: object) -> str:
    """Repeat a bad value in an error message without flooding it."""
    text = repr(value)
    return text if len(text) <= _MAX_QUOTED_VALUE else text[: _MAX_QUOTED_VALUE - 3] + "..."


def _type_name(value: object) -> str:
    """Name a JSON value's type the way the JSON spec does."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


def _optional_str(data: Mapping[str, Any], key: str, path: str = "") -> str | None:
    """Read a string field that may be absent; an empty string counts as absent."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DataFormatError(f"{path}{key} must be a string, got {_type_name(value)}")
    return value


def _required_str(data: Mapping[str, Any], key: str, path: str = "") -> str:
    """Read a string field that must be present and non-empty."""
    value = _optional_str(data, key, path)
    if value is None:
        raise DataFormatError(f"{path}{key} is missing")
    return value


def _optional_object(data: Mapping[str, Any], key: str, path: str = "") -> Mapping[str, Any]:
    """Read an object field that may be absent (absent reads as an empty object)."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DataFormatError(f"{path}{key} must be an object, got {_type_name(value)}")
    return value


def _optional_list(data: Mapping[str, Any], key: str, path: str = "") -> list[Any]:
    """Read an array field that may be absent (absent reads as an empty array)."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataFormatError(f"{path}{key} must be an array, got {_type_name(value)}")
    return value


def parse_amount(value: object, *, field: str = "totalAmount") -> Decimal:
    """Turn a JSON amount (string or number) into a non-negative finite Decimal."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise DataFormatError(f"{field} must be a decimal string or number, got {_type_name(value)}")
    try:
        # str() first: a float (if a caller parsed without parse_float=Decimal) keeps its short form.
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise DataFormatError(f"{field} is not a decimal amount: {_quote(value)}") from None
    if not amount.is_finite() or amount < 0:
        raise DataFormatError(f"{field} is not a valid amount: {_quote(value)}")
    return amount


def _parse_currency(value: object, *, field: str = "currency") -> str:
    """Check a currency code is three letters and return it in upper case."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value.strip()):
        raise DataFormatError(f"{field} must be a three-letter currency code, got {_quote(value)}")
    return value.strip().upper()


def parse_timestamp(value: str | None, *, field: str = "timestamp") -> datetime | None:
    """Parse any ISO-8601 timestamp PayerMax sends into an aware UTC datetime (None stays None)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DataFormatError(f"{field} must be an ISO-8601 string, got {_type_name(value)}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise DataFormatError(f"{field} is not an ISO-8601 timestamp: {_quote(value)}") from None
    if parsed.tzinfo is None:
        # PayerMax documents its times as UTC; a missing offset means UTC, not our local time.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def normalise_status(value: str) -> str:
    """Upper-case a status and map PayerMax's CLOSE spelling to CLOSED."""
    status = value.strip().upper()
    return _STATUS_ALIASES.get(status, status)


def _payment_method_fields(data: Mapping[str, Any], path: str) -> dict[str, str | None]:
    """Pick method, organisation and masked card details from the first paymentDetails entry."""
    details = _optional_list(data, "paymentDetails", path)
    if not details:
        first: Mapping[str, Any] = {}
    elif isinstance(details[0], dict):
        first = details[0]
    else:
        raise DataFormatError(f"{path}paymentDetails[0] must be an object, got {_type_name(details[0])}")
    detail_path = f"{path}paymentDetails[0]."
    card = _optional_object(first, "cardInfo", detail_path)
    card_path = f"{detail_path}cardInfo."
    return {
        "payment_method": _optional_str(first, "paymentMethodType", detail_path),
        "target_org": _optional_str(first, "targetOrg", detail_path),
        "card_org": _optional_str(card, "cardOrg", card_path),
        "card_number": _optional_str(card, "cardNumber", card_path),
    }


def _parse_attempt(item: object, path: str) -> PaymentAttempt:
    """Build one PaymentAttempt from a payByLinkInfo entry."""
    if not isinstance(item, dict):
        raise DataFormatError(f"{path.rstrip('.')} must be an object, got {_type_name(item)}")
    return PaymentAttempt(
        out_trade_no=_optional_str(item, "outTradeNo", path),  # empty until the payer opens the link
        status=normalise_status(_required_str(item, "status", path)),
        complete_at=parse_timestamp(item.get("completeAt"), field=f"{path}completeAt"),
        **_payment_method_fields(item, path),
    )


def parse_link_info(data: Mapping[str, Any]) -> LinkInfo:
    """Build a LinkInfo from a link answer's or PAYBYLINK notification's ``data`` object."""
    amount = data.get("totalAmount")
    currency = data.get("currency")
    country = _optional_str(data, "country")
    attempts = _optional_list(data, "payByLinkInfo")
    return LinkInfo(
        link_id=_required_str(data, "linkId"),
        merchant_link_id=_required_str(data, "merchantLinkId"),
        link_url=_optional_str(data, "linkUrl"),
        qr_code_url=_optional_str(data, "qrCodeUrl"),
        link_status=_required_str(data, "linkStatus").strip().upper(),
        expires_at=parse_timestamp(data.get("expiresAt"), field="expiresAt"),
        total_amount=None if amount in (None, "") else parse_amount(amount),
        currency=None if currency in (None, "") else _parse_currency(currency),
        country=country.upper() if country else None,
        description=_optional_str(data, "description"),
        link_description=_optional_str(data, "linkDescription"),
        attempts=tuple(_parse_attempt(item, f"payByLinkInfo[{index}].") for index, item in enumerate(attempts)),
    )


def parse_order_info(data: Mapping[str, Any]) -> OrderInfo:
    """Build an OrderInfo from an orderQuery answer's or PAYMENT notification's ``data`` object."""
    if "totalAmount" not in data:
        raise DataFormatError("totalAmount is missing")
    country = _optional_str(data, "country")
    return OrderInfo(
        out_trade_no=_required_str(data, "outTradeNo"),
        trade_token=_optional_str(data, "tradeToken"),
        total_amount=parse_amount(data["totalAmount"]),
        currency=_parse_currency(data.get("currency")),
        country=country.upper() if country else None,
        status=normalise_status(_required_str(data, "status")),
        result_code=_optional_str(data, "resultCode"),
        result_msg=_optional_str(data, "resultMsg"),
        complete_time=parse_timestamp(data.get("completeTime"), field="completeTime"),
        **_payment_method_fields(data, ""),
        create_time=parse_timestamp(data.get("createTime"), field="createTime"),
    )


def parse_refund_status(value: object) -> str:
    """Check a refund status is one of PayerMax's three and return it in upper case."""
    if not isinstance(value, str) or value.strip().upper() not in REFUND_STATUSES:
        raise DataFormatError(f"status must be one of {', '.join(REFUND_STATUSES)}, got {_quote(value)}")
    return value.strip().upper()


def parse_refund_info(data: Mapping[str, Any]) -> RefundInfo:
    """Build a RefundInfo from a refund answer's, refundQuery answer's or REFUND notification's ``data``."""
    if data.get("refundAmount") in (None, ""):
        raise DataFormatError("refundAmount is missing")
    if data.get("status") in (None, ""):
        raise DataFormatError("status is missing")
    amount = parse_amount(data["refundAmount"], field="refundAmount")
    if amount == 0:
        raise DataFormatError("refundAmount must be greater than zero")
    return RefundInfo(
        out_refund_no=_required_str(data, "outRefundNo"),
        refund_trade_no=_required_str(data, "refundTradeNo"),
        out_trade_no=_required_str(data, "outTradeNo"),
        refund_amount=amount,
        refund_currency=_parse_currency(data.get("refundCurrency"), field="refundCurrency"),
        status=parse_refund_status(data["status"]),
        finish_time=parse_timestamp(data.get("refundFinishTime"), field="refundFinishTime"),
    )


def _load_json_object(body: bytes) -> dict[str, Any]:
    """Decode a notification body into a JSON object, keeping every number exact."""
    try:
        # parse_float=Decimal: an amount like 150000.10 must never pass through a float.
        document = json.loads(body.decode("utf-8"), parse_float=Decimal)
    except UnicodeDecodeError:
        raise NotificationError("notification body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise NotificationError(f"notification body is not valid JSON ({exc.msg} at position {exc.pos})") from None
    except ValueError:
        # Python refuses integers of more than sys.get_int_max_str_digits() digits (4300) with a bare ValueError.
        raise NotificationError("notification body holds a number too long to read") from None
    except RecursionError:
        raise NotificationError("notification body is nested too deeply") from None
    if not isinstance(document, dict):
        raise NotificationError(f"notification body must be a JSON object, got {_type_name(document)}")
    return document


def parse_notification(body: bytes) -> Notification:
    """Parse the raw body of a PayerMax notification (verify its ``sign`` before trusting it)."""
    document = _load_json_object(body)
    raw_type = document.get("notifyType")
    if raw_type is None or raw_type == "":
        raise NotificationError("notification has no notifyType")
    notify_type = raw_type.strip().upper() if isinstance(raw_type, str) else None
    if notify_type not in NOTIFY_TYPES:
        raise NotificationError(f"unknown notifyType {_quote(raw_type)} (expected PAYBYLINK, PAYMENT or REFUND)")
    data = document.get("data")
    if not isinstance(data, dict):
        raise NotificationError(f"{notify_type} notification has no data object (got {_type_name(data)})")
    try:
        link = order = refund = None
        if notify_type == NOTIFY_TYPE_PAYBYLINK:
            # Amount and currency are what the webhook checks against the link we created.
            for key in ("totalAmount", "currency"):
                if data.get(key) in (None, ""):
                    raise DataFormatError(f"{key} is missing")
            link = parse_link_info(data)
        elif notify_type == NOTIFY_TYPE_PAYMENT:
            order = parse_order_info(data)
        else:
            refund = parse_refund_info(data)
        return Notification(
            notify_type=notify_type,
            app_id=_optional_str(document, "appId"),
            merchant_no=_optional_str(document, "merchantNo"),
            notify_time=parse_timestamp(document.get("notifyTime"), field="notifyTime"),
            link=link,
            order=order,
            refund=refund,
        )
    except DataFormatError as exc:
        raise NotificationError(f"{notify_type} notification: {exc}") from None
