"""Async client for the PayerMax gateway: envelope, signing, transport errors, answer checks.

Every call serialises the envelope once, signs exactly those bytes, sends exactly those bytes,
and verifies the answer's ``sign`` header over the raw bytes received (contract §1-§2). The
HTTP transport is injectable (``httpx.MockTransport`` in tests, the sandbox gateway on loopback).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from bot.payermax import errors
from bot.payermax.jsontext import dumps
from bot.payermax.models import (
    OUT_REFUND_NO_PATTERN,
    CreateLinkRequest,
    DataFormatError,
    LinkInfo,
    OrderInfo,
    RefundInfo,
    RefundRequest,
    parse_link_info,
    parse_order_info,
    parse_refund_info,
)
from bot.payermax.signing import sign, verify
from bot.tls import client_tls

logger = logging.getLogger("paylink.payermax")

T = TypeVar("T")


class PayerMaxClient:
    """Signed calls to the PayerMax gateway: the link APIs, orderQuery, refund and refundQuery."""

    LINK_API_VERSION = "1.1"
    ORDER_QUERY_VERSION = "1.4"
    # The current API reference says 1.5; an older guide page shows 1.1 (contract §11.2).
    REFUND_API_VERSION = "1.5"
    KEY_VERSION = "1"
    API_PATH = "/aggregate-pay/api/gateway/"
    SUCCESS_CODE = "APPLY_SUCCESS"
    SIGN_HEADER = "sign"
    # Failing to connect is cheap to retry and PayerMax cannot have acted, so give up on it sooner.
    MAX_CONNECT_TIMEOUT = 5.0

    CREATE_PAYBYLINK = "createPaybylink"
    QUERY_PAYBYLINK = "queryPaybylink"
    EXPIRE_PAYBYLINK = "expirePaybylink"
    ORDER_QUERY = "orderQuery"
    REFUND = "refund"
    REFUND_QUERY = "refundQuery"

    def __init__(
        self,
        *,
        base_url: str,
        app_id: str,
        merchant_no: str,
        merchant_private_key: RSAPrivateKey,
        platform_public_key: RSAPublicKey,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_call: Callable[[str, float, str], None] | None = None,
    ) -> None:
        self._gateway_url = base_url.rstrip("/") + self.API_PATH
        self._app_id = app_id
        self._merchant_no = merchant_no
        self._private_key = merchant_private_key
        self._platform_key = platform_public_key
        self._on_call = on_call
        self._http = httpx.AsyncClient(
            transport=transport,
            verify=client_tls(),
            timeout=httpx.Timeout(
                connect=min(timeout, self.MAX_CONNECT_TIMEOUT), read=timeout, write=timeout, pool=timeout
            ),
        )

    async def __aenter__(self) -> PayerMaxClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying HTTP connections."""
        await self._http.aclose()

    async def create_paybylink(self, request: CreateLinkRequest) -> LinkInfo:
        """Create a one-time payment link; the answer carries its URL and expiry."""

        def parse(data: Mapping[str, Any]) -> LinkInfo:
            link = self._parse_link(data, request.merchant_link_id)
            if link.link_url is None:
                raise DataFormatError("linkUrl is missing")
            return link

        return await self._call(
            self.CREATE_PAYBYLINK,
            self.LINK_API_VERSION,
            request.to_data(),
            reference=("merchantLinkId", request.merchant_link_id),
            parse=parse,
        )

    async def query_paybylink(self, merchant_link_id: str) -> LinkInfo:
        """Ask PayerMax for a link's status and its payment attempts."""
        return await self._call(
            self.QUERY_PAYBYLINK,
            self.LINK_API_VERSION,
            {"merchantLinkId": merchant_link_id},
            reference=("merchantLinkId", merchant_link_id),
            parse=lambda data: self._parse_link(data, merchant_link_id),
        )

    async def expire_paybylink(self, merchant_link_id: str) -> LinkInfo:
        """Invalidate a link before its expiry so it can no longer be paid."""
        return await self._call(
            self.EXPIRE_PAYBYLINK,
            self.LINK_API_VERSION,
            {"merchantLinkId": merchant_link_id},
            reference=("merchantLinkId", merchant_link_id),
            parse=lambda data: self._parse_link(data, merchant_link_id),
        )

    async def order_query(self, out_trade_no: str) -> OrderInfo:
        """Ask PayerMax for the state of one trade order (a payment attempt)."""

        def parse(data: Mapping[str, Any]) -> OrderInfo:
            order = parse_order_info(data)
            if order.out_trade_no != out_trade_no:
                raise DataFormatError(f"outTradeNo {order.out_trade_no!r} does not match the one asked for")
            return order

        return await self._call(
            self.ORDER_QUERY,
            self.ORDER_QUERY_VERSION,
            {"outTradeNo": out_trade_no},
            reference=("outTradeNo", out_trade_no),
            parse=parse,
        )

    async def refund(self, request: RefundRequest) -> RefundInfo:
        """Apply for a refund; APPLY_SUCCESS means accepted (normally REFUND_PENDING), not that money moved.

        The answer documents only outRefundNo, refundTradeNo and status (contract §11.2): the order,
        amount and currency it leaves out are the ones asked for, and any it does give must match them.
        """

        def parse(data: Mapping[str, Any]) -> RefundInfo:
            asked = {
                "outTradeNo": request.out_trade_no,
                "refundAmount": request.rendered_amount,
                "refundCurrency": request.refund_currency,
            }
            given = {key: value for key, value in data.items() if value not in (None, "")}
            refund = self._parse_refund({**asked, **given}, request.out_refund_no)
            if refund.out_trade_no != request.out_trade_no:
                raise DataFormatError(f"outTradeNo {refund.out_trade_no!r} does not match the one asked for")
            if (refund.refund_amount, refund.refund_currency) != (request.refund_amount, request.refund_currency):
                raise DataFormatError(
                    f"refund of {refund.refund_amount} {refund.refund_currency} does not match the "
                    f"{request.rendered_amount} {request.refund_currency} asked for"
                )
            return refund

        return await self._call(
            self.REFUND,
            self.REFUND_API_VERSION,
            request.to_data(),
            reference=("outRefundNo", request.out_refund_no),
            parse=parse,
        )

    async def refund_query(self, out_refund_no: str) -> RefundInfo:
        """Ask PayerMax for the state of one refund, by our ``outRefundNo``."""
        if not OUT_REFUND_NO_PATTERN.fullmatch(out_refund_no):
            raise ValueError("out_refund_no must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
        return await self._call(
            self.REFUND_QUERY,
            self.REFUND_API_VERSION,
            {"outRefundNo": out_refund_no},
            reference=("outRefundNo", out_refund_no),
            parse=lambda data: self._parse_refund(data, out_refund_no),
        )

    @staticmethod
    def _parse_refund(data: Mapping[str, Any], out_refund_no: str) -> RefundInfo:
        """Parse a refund answer and make sure it is about the refund we asked for."""
        refund = parse_refund_info(data)
        if refund.out_refund_no != out_refund_no:
            raise DataFormatError(f"outRefundNo {refund.out_refund_no!r} does not match the one asked for")
        return refund

    @staticmethod
    def _parse_link(data: Mapping[str, Any], merchant_link_id: str) -> LinkInfo:
        """Parse a link answer and make sure it is about the link we asked for."""
        link = parse_link_info(data)
        if link.merchant_link_id != merchant_link_id:
            raise DataFormatError(f"merchantLinkId {link.merchant_link_id!r} does not match the one asked for")
        return link

    async def _call(
        self,
        api_name: str,
        version: str,
        data: dict[str, Any],
        *,
        reference: tuple[str, str],
        parse: Callable[[Mapping[str, Any]], T],
    ) -> T:
        """Send one signed request, check the answer, parse its data; log and report the outcome."""
        started = time.monotonic()
        outcome = "ok"
        try:
            answer_data = await self._exchange(api_name, version, data)
            try:
                return parse(answer_data)
            except DataFormatError as exc:
                raise errors.ProtocolError(
                    f"PayerMax {api_name} answer is malformed: {exc}", api_name=api_name
                ) from None
        except errors.ApiError as exc:
            outcome = exc.code
            raise
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            self._report(api_name, reference, time.monotonic() - started, outcome)

    async def _exchange(self, api_name: str, version: str, data: dict[str, Any]) -> Mapping[str, Any]:
        """POST the signed envelope and return the verified answer's ``data`` object."""
        envelope = {
            "version": version,
            "keyVersion": self.KEY_VERSION,
            "requestTime": _request_time(),
            "appId": self._app_id,
            "merchantNo": self._merchant_no,
            "data": data,
        }
        # Serialise once: the bytes signed must be the bytes sent (contract §2.2). Decimal amounts
        # (refundAmount) go out as exact JSON numbers, never through a float.
        body = dumps(envelope)
        headers = {"Content-Type": "application/json", self.SIGN_HEADER: sign(body, self._private_key)}
        response = await self._post(api_name, body, headers)
        return self._check_answer(api_name, response)

    async def _post(self, api_name: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """Send the request, turning httpx failures into TransportError subclasses."""
        url = self._gateway_url + api_name
        try:
            return await self._http.post(url, content=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise errors.ConnectError(
                f"PayerMax {api_name}: could not connect ({type(exc).__name__}: {exc})", api_name=api_name
            ) from exc
        except httpx.PoolTimeout as exc:
            # Waiting for a free connection: nothing was sent yet.
            raise errors.PayerMaxTimeout(
                f"PayerMax {api_name}: no free connection in time", api_name=api_name, outcome_unknown=False
            ) from exc
        except httpx.TimeoutException as exc:
            raise errors.PayerMaxTimeout(
                f"PayerMax {api_name}: no answer in time ({type(exc).__name__})", api_name=api_name
            ) from exc
        except httpx.UnsupportedProtocol as exc:
            raise errors.TransportError(
                f"PayerMax {api_name}: unsupported URL scheme ({exc})", api_name=api_name, outcome_unknown=False
            ) from exc
        except httpx.RequestError as exc:
            # E.g. the server closed the connection mid-answer: the request may have been processed.
            raise errors.TransportError(
                f"PayerMax {api_name}: transport failed ({type(exc).__name__}: {exc})",
                api_name=api_name,
                outcome_unknown=True,
            ) from exc

    def _check_answer(self, api_name: str, response: httpx.Response) -> Mapping[str, Any]:
        """Check status, JSON shape and signature; return ``data`` or raise the matching error."""
        raw = response.content
        answer = _json_object(raw)
        if not response.is_success:
            raise errors.ServerError(
                f"PayerMax {api_name} answered HTTP {response.status_code}{_describe_code(answer)}",
                status_code=response.status_code,
                api_name=api_name,
            )
        code = answer.get("code") if answer is not None else None
        if answer is None or not isinstance(code, str) or not code:
            raise errors.ServerError(
                f"PayerMax {api_name} answered HTTP {response.status_code} with a body that is not a PayerMax answer",
                status_code=response.status_code,
                api_name=api_name,
            )
        signature = response.headers.get(self.SIGN_HEADER)
        signed = verify(raw, signature, self._platform_key)
        if code != self.SUCCESS_CODE:
            if signature is not None and not signed:
                raise errors.SignatureError(
                    f"PayerMax {api_name} error answer ({code}) has an invalid signature", api_name=api_name
                )
            msg = answer.get("msg")
            raise errors.ApiError(
                api_name=api_name, code=code, msg=msg if isinstance(msg, str) else "", authenticated=signed
            )
        if not signed:
            problem = "has no sign header" if signature is None else "has a signature that does not verify"
            raise errors.SignatureError(f"PayerMax {api_name} answer {problem}", api_name=api_name)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise errors.ProtocolError(f"PayerMax {api_name} answer has no data object", api_name=api_name)
        return data

    def _report(self, api_name: str, reference: tuple[str, str], seconds: float, outcome: str) -> None:
        """Log one line for the call and tell the metrics hook."""
        level = logging.INFO if outcome == "ok" else logging.WARNING
        logger.log(level, "payermax %s %s=%s %.3fs %s", api_name, reference[0], reference[1], seconds, outcome)
        if self._on_call is None:
            return
        try:
            self._on_call(api_name, seconds, outcome)
        except Exception:
            # Metrics must never turn a completed payment call into a failure.
            logger.exception("payermax on_call hook failed for %s", api_name)


def _request_time() -> str:
    """Now in UTC, RFC 3339 with milliseconds, as ``requestTime`` requires."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """Parse an answer body as a JSON object with exact numbers, or None if it is not one."""
    try:
        document = json.loads(raw.decode("utf-8"), parse_float=Decimal)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, an integer past the digit limit, or too deep
        return None
    return document if isinstance(document, dict) else None


def _describe_code(answer: Mapping[str, Any] | None) -> str:
    """Quote an error answer's code and msg for a message, when the body has them."""
    if answer is None or not isinstance(answer.get("code"), str):
        return ""
    msg = answer.get("msg")
    return f" ({answer['code']}: {msg})" if isinstance(msg, str) and msg else f" ({answer['code']})"
