"""Request checks the sandbox applies, following PayerMax's documented field rules (contract §1.3, §3.1, §11).

The sandbox is deliberately as strict as the documentation: where the docs mark a field required
(OAS schema), the sandbox requires it, so a bot that passes here sends everything PayerMax
may enforce. The one exception is ``merchantInfo``, which PayerMax's own examples omit (§3.1).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from bot.money import currency_decimals, is_known_currency
from bot.sandbox.errors import GatewayError, ResultCode

KEY_VERSION = "1"
LINK_API_VERSION = "1.1"
ORDER_QUERY_VERSION = "1.4"
REFUND_API_VERSION = "1.5"
REQUEST_TIME_TOLERANCE = timedelta(minutes=2)
SUPPORTED_LINK_TYPE = "ONETIME"
DEFAULT_EXPIRES_SECONDS = 86400
MIN_EXPIRES_SECONDS = 3600
MAX_EXPIRES_SECONDS = 2592000
MAX_EXPIRES_TIME_CHARS = 10
MAX_AMOUNT_CHARS = 24
# PayerMax gives no length for refund comments; the sandbox allows what its other free texts allow.
MAX_COMMENTS_CHARS = 256

_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DIGITS = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


def parse_envelope(raw_body: bytes) -> dict[str, Any]:
    """Parse the request body as a JSON object, or refuse it with PARAMS_INVALID."""
    try:
        # parse_float=Decimal: a refundAmount must be read exactly as sent, never through a float.
        envelope = json.loads(raw_body, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:  # ValueError covers bad UTF-8 and integers past the digit limit
        raise GatewayError(ResultCode.PARAMS_INVALID, f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(envelope, dict):
        raise GatewayError(ResultCode.PARAMS_INVALID, "the request body must be a JSON object")
    return envelope


def check_envelope(
    envelope: dict[str, Any], *, version: str, app_id: str, merchant_no: str, now: datetime
) -> dict[str, Any]:
    """Check the envelope fields (contract §1.3) and return its ``data`` object."""
    for name in ("version", "keyVersion", "requestTime", "appId", "data"):
        if name not in envelope:
            raise GatewayError(ResultCode.PARAMS_INVALID, f"{name} is required")
    if envelope["version"] != version:
        raise GatewayError(ResultCode.PARAMS_INVALID, f"version must be {version!r} for this API")
    if envelope["keyVersion"] != KEY_VERSION:
        raise GatewayError(ResultCode.PARAMS_INVALID, f"keyVersion must be {KEY_VERSION!r}")
    if envelope["appId"] != app_id:
        raise GatewayError(ResultCode.PARAMS_INVALID, "appId does not match this merchant application")
    if "merchantNo" in envelope and envelope["merchantNo"] != merchant_no:
        raise GatewayError(ResultCode.PARAMS_INVALID, "merchantNo does not match this merchant")
    _check_request_time(envelope["requestTime"], now)
    data = envelope["data"]
    if not isinstance(data, dict):
        raise GatewayError(ResultCode.PARAMS_INVALID, "data must be a JSON object")
    return data


def _check_request_time(value: Any, now: datetime) -> None:
    """requestTime must be an ISO time with offset, within two minutes of the gateway's clock."""
    if not isinstance(value, str) or len(value) > 32:
        raise GatewayError(ResultCode.PARAMS_INVALID, "requestTime must be an ISO-8601 string (at most 32 chars)")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise GatewayError(ResultCode.PARAMS_INVALID, f"requestTime is not ISO-8601: {value!r}") from exc
    if moment.tzinfo is None:
        raise GatewayError(ResultCode.PARAMS_INVALID, "requestTime needs a UTC offset (e.g. Z or +08:00)")
    if abs(moment - now) > REQUEST_TIME_TOLERANCE:
        raise GatewayError(
            ResultCode.PARAMS_INVALID,
            f"requestTime {value} is more than 2 minutes away from the gateway time {now.isoformat()}; check the clock",
        )


def check_create_data(data: dict[str, Any]) -> int:
    """Check createPaybylink ``data`` (contract §3.1); return the link lifetime in seconds."""
    require_text(data, "merchantLinkId", 64)
    link_type = require_text(data, "linkType", 32)
    if link_type != SUPPORTED_LINK_TYPE:
        raise GatewayError(
            ResultCode.PARAMS_INVALID, f"linkType must be {SUPPORTED_LINK_TYPE!r} (the only type supported)"
        )
    expires_seconds = _expires_seconds(data)
    if not _COUNTRY.fullmatch(require_text(data, "country", 2)):
        raise GatewayError(ResultCode.PARAMS_INVALID, "country must be an uppercase ISO 3166 alpha-2 code")
    currency = _checked_currency(data)
    _check_amount(data.get("totalAmount"), currency)
    require_text(data, "description", 256)
    optional_text(data, "linkDescription", 256)
    optional_text(data, "language", 8)
    _check_user_info(data.get("userInfo"))
    _check_goods(data.get("goodsDetails"))
    _check_merchant_info(data.get("merchantInfo"))
    _check_url(data, "notifyUrl")
    return expires_seconds


def require_text(data: dict[str, Any], name: str, max_length: int, *, where: str = "") -> str:
    """A required non-empty string field of at most ``max_length`` characters."""
    value = data.get(name)
    label = f"{where}{name}"
    if not isinstance(value, str) or not value:
        raise GatewayError(ResultCode.PARAMS_INVALID, f"{label} is required and must be a non-empty string")
    if len(value) > max_length:
        raise GatewayError(ResultCode.PARAMS_INVALID, f"{label} must be at most {max_length} characters")
    return value


def optional_text(data: dict[str, Any], name: str, max_length: int, *, where: str = "") -> None:
    """An optional string field of at most ``max_length`` characters."""
    if name in data and data[name] is not None:
        value = data[name]
        if not isinstance(value, str) or len(value) > max_length:
            raise GatewayError(
                ResultCode.PARAMS_INVALID, f"{where}{name} must be a string of at most {max_length} characters"
            )


def _expires_seconds(data: dict[str, Any]) -> int:
    """expiresTime: optional digits string, 1 hour to 30 days; 24 hours when absent."""
    value = data.get("expiresTime")
    if value is None:
        return DEFAULT_EXPIRES_SECONDS
    if not isinstance(value, str) or len(value) > MAX_EXPIRES_TIME_CHARS or not _DIGITS.fullmatch(value):
        raise GatewayError(ResultCode.PARAMS_INVALID, "expiresTime must be a string of digits (seconds)")
    seconds = int(value)
    if not MIN_EXPIRES_SECONDS <= seconds <= MAX_EXPIRES_SECONDS:
        raise GatewayError(
            ResultCode.PARAMS_INVALID,
            f"expiresTime must be between {MIN_EXPIRES_SECONDS} (1 hour) and {MAX_EXPIRES_SECONDS} (30 days) seconds",
        )
    return seconds


def _checked_currency(data: dict[str, Any], name: str = "currency") -> str:
    """A currency field: three uppercase letters naming a currency the gateway knows."""
    currency = require_text(data, name, 3)
    if not _CURRENCY.fullmatch(currency):
        raise GatewayError(ResultCode.PARAMS_INVALID, f"{name} must be an uppercase ISO 4217 code")
    if not is_known_currency(currency):
        raise GatewayError(ResultCode.CURRENCY_INVALID, f"{name} {currency} is not a known ISO 4217 code")
    return currency


def _check_amount(value: Any, currency: str) -> None:
    """totalAmount: a positive decimal string with no more decimals than the currency allows."""
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value) or len(value) > MAX_AMOUNT_CHARS:
        raise GatewayError(
            ResultCode.AMOUNT_INVALID,
            f'totalAmount must be a decimal string of at most {MAX_AMOUNT_CHARS} characters, e.g. "40000" or "0.99"',
        )
    if Decimal(value) <= 0:
        raise GatewayError(ResultCode.AMOUNT_INVALID, "totalAmount must be greater than zero")
    allowed = currency_decimals(currency)
    written = len(value.partition(".")[2])
    if written > allowed:
        raise GatewayError(
            ResultCode.AMOUNT_INVALID,
            f"totalAmount {value} has {written} decimal places; {currency} allows {allowed}",
        )


def _check_user_info(value: Any) -> None:
    """userInfo: an object with userId (≤64) and an optional username (≤64)."""
    if not isinstance(value, dict):
        raise GatewayError(ResultCode.PARAMS_INVALID, "userInfo is required: an object with userId")
    require_text(value, "userId", 64, where="userInfo.")
    optional_text(value, "username", 64, where="userInfo.")


def _check_goods(value: Any) -> None:
    """goodsDetails: a non-empty list of items with name, quantity and price."""
    if not isinstance(value, list) or not value:
        raise GatewayError(ResultCode.PARAMS_INVALID, "goodsDetails is required and must be a non-empty list")
    for index, item in enumerate(value):
        where = f"goodsDetails[{index}]."
        if not isinstance(item, dict):
            raise GatewayError(ResultCode.PARAMS_INVALID, f"goodsDetails[{index}] must be an object")
        require_text(item, "goodsName", 128, where=where)
        quantity = require_text(item, "quantity", 16, where=where)
        if not _DIGITS.fullmatch(quantity):
            raise GatewayError(ResultCode.PARAMS_INVALID, f"{where}quantity must be a string of digits")
        price = require_text(item, "price", 24, where=where)
        if not _DECIMAL.fullmatch(price):
            raise GatewayError(ResultCode.PARAMS_INVALID, f"{where}price must be a decimal string")
        optional_text(item, "goodsDescription", 256, where=where)
        optional_text(item, "goodsCurrency", 3, where=where)
        optional_text(item, "showUrl", 256, where=where)


def _check_merchant_info(value: Any) -> None:
    """merchantInfo: optional; when given, contactEmail (≤128) is required and logoUrl ≤256."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise GatewayError(ResultCode.PARAMS_INVALID, "merchantInfo must be an object")
    require_text(value, "contactEmail", 128, where="merchantInfo.")
    optional_text(value, "logoUrl", 256, where="merchantInfo.")


def _check_url(data: dict[str, Any], name: str) -> str:
    """A required http(s) URL of at most 256 characters."""
    url = require_text(data, name, 256)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise GatewayError(ResultCode.PARAMS_INVALID, f"{name} must be an http(s) URL")
    return url


def check_merchant_link_id(data: dict[str, Any]) -> str:
    """The ``merchantLinkId`` a link query or expire names."""
    return require_text(data, "merchantLinkId", 64)


def check_out_trade_no(data: dict[str, Any]) -> str:
    """The ``outTradeNo`` an orderQuery names."""
    return require_text(data, "outTradeNo", 64)


@dataclass(frozen=True)
class RefundApplication:
    """The fields of a refund request, checked."""

    out_refund_no: str
    out_trade_no: str
    amount: Decimal
    currency: str
    comments: str | None
    notify_url: str | None


def check_refund_data(data: dict[str, Any]) -> RefundApplication:
    """Check refund ``data`` (contract §11.2): ids, a JSON-number amount, currency, optional comments and URL."""
    out_refund_no = require_text(data, "outRefundNo", 64)
    if "outTradeNo" not in data and "tradeToken" in data:
        raise GatewayError(
            ResultCode.PARAMS_INVALID, "outTradeNo is required (the sandbox does not look orders up by tradeToken)"
        )
    out_trade_no = require_text(data, "outTradeNo", 64)
    currency = _checked_currency(data, "refundCurrency")
    amount = _refund_amount(data.get("refundAmount"), currency)
    optional_text(data, "comments", MAX_COMMENTS_CHARS)
    notify_url = _check_url(data, "refundNotifyUrl") if data.get("refundNotifyUrl") is not None else None
    return RefundApplication(
        out_refund_no=out_refund_no,
        out_trade_no=out_trade_no,
        amount=amount,
        currency=currency,
        comments=data.get("comments"),
        notify_url=notify_url,
    )


def _refund_amount(value: Any, currency: str) -> Decimal:
    """refundAmount: a positive JSON number (not a string) with no more decimals than the currency allows."""
    # JSON numbers arrive as int or Decimal (parse_float=Decimal); NaN and Infinity arrive as float.
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise GatewayError(
            ResultCode.AMOUNT_INVALID, "refundAmount must be a JSON number such as 40000 or 0.99 (not a string)"
        )
    amount = Decimal(value)
    if amount <= 0:
        raise GatewayError(ResultCode.AMOUNT_INVALID, "refundAmount must be greater than zero")
    allowed = currency_decimals(currency)
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int), "an int or a parsed JSON number is always finite"
    written = max(0, -exponent)
    if written > allowed:
        raise GatewayError(
            ResultCode.AMOUNT_INVALID,
            f"refundAmount {format(amount, 'f')} has {written} decimal places; {currency} allows {allowed}",
        )
    return amount


def check_refund_query(data: dict[str, Any]) -> tuple[str | None, str | None]:
    """The ``outRefundNo`` and ``refundTradeNo`` a refundQuery names; at least one is required (§11.3)."""
    if data.get("outRefundNo") is None and data.get("refundTradeNo") is None:
        raise GatewayError(ResultCode.PARAMS_INVALID, "outRefundNo or refundTradeNo is required")
    out_refund_no = require_text(data, "outRefundNo", 64) if data.get("outRefundNo") is not None else None
    refund_trade_no = require_text(data, "refundTradeNo", 64) if data.get("refundTradeNo") is not None else None
    return out_refund_no, refund_trade_no
