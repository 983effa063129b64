"""A local PayerMax-compatible pay-by-link gateway: the API, the checkout page, refunds and notifications.

The bot talks to it exactly as to PayerMax (contract §1-§5, §11): signed JSON envelopes in, signed
JSON answers out, signed PAYBYLINK and REFUND notifications with PayerMax's retry schedule. Mount
``SandboxGateway.app`` at ``/sandbox``; API paths are then
``/sandbox/aggregate-pay/api/gateway/<apiName>``. The owner calls ``start``/``stop``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.payermax.jsontext import dumps
from bot.payermax.signing import sign, verify
from bot.qr import qr_png
from bot.sandbox.checkout import CheckoutDesk, PaymentMethod
from bot.sandbox.errors import GatewayError, ResultCode
from bot.sandbox.faults import Faults
from bot.sandbox.keys import SandboxKeys
from bot.sandbox.notifier import PAYERMAX_NOTIFY_SCHEDULE, Notifier
from bot.sandbox.payloads import (
    SUCCESS_MSG,
    SandboxUrls,
    link_details,
    link_summary,
    order_details,
    refund_accepted,
    refund_details,
)
from bot.sandbox.refunds import DEFAULT_SETTLE_SECONDS, RefundDesk
from bot.sandbox.store import PaymentLink, Refund, SandboxStore, new_link_id
from bot.sandbox.validation import (
    LINK_API_VERSION,
    ORDER_QUERY_VERSION,
    REFUND_API_VERSION,
    check_create_data,
    check_envelope,
    check_merchant_link_id,
    check_out_trade_no,
    check_refund_data,
    check_refund_query,
    parse_envelope,
)
from bot.web.connections import CLIENT_GONE_HANDLERS
from bot.web.operator import local_only

logger = logging.getLogger(__name__)

API_PATH_PREFIX = "/aggregate-pay/api/gateway"
CREATE_API = "createPaybylink"
QUERY_API = "queryPaybylink"
EXPIRE_API = "expirePaybylink"
ORDER_QUERY_API = "orderQuery"
REFUND_API = "refund"
REFUND_QUERY_API = "refundQuery"
# requests_seen() is for tests; the bound keeps a long-running developer sandbox from growing forever.
REQUESTS_KEPT = 10_000

_ApiHandler = Callable[[dict[str, Any], datetime], Awaitable[Response]]


def _utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class SandboxGateway:
    """A PayerMax-compatible pay-by-link gateway on loopback, with a checkout page."""

    def __init__(
        self,
        *,
        keys: SandboxKeys,
        public_base_url: str,
        state_path: Path | None = None,
        notify_schedule: Sequence[float] = PAYERMAX_NOTIFY_SCHEDULE,
        notify_transport: httpx.AsyncBaseTransport | None = None,
        app_id: str = "sandbox-app",
        merchant_no: str = "SANDBOX000001",
        clock: Callable[[], datetime] = _utc_now,
        refund_settle_seconds: float | None = DEFAULT_SETTLE_SECONDS,
    ) -> None:
        self.faults = Faults()
        self._closing = asyncio.Event()
        self._keys = keys
        self._app_id = app_id
        self._merchant_no = merchant_no
        self._clock = clock
        self._urls = SandboxUrls(public_base_url)
        self._store = SandboxStore(state_path)
        self._requests: deque[tuple[str, dict[str, Any]]] = deque(maxlen=REQUESTS_KEPT)
        self._notifier = Notifier(
            store=self._store,
            platform_private_key=keys.platform_private_key,
            faults=self.faults,
            schedule=notify_schedule,
            transport=notify_transport,
        )
        self._checkout = CheckoutDesk(
            store=self._store,
            notifier=self._notifier,
            urls=self._urls,
            app_id=app_id,
            merchant_no=merchant_no,
            clock=clock,
        )
        self._refunds = RefundDesk(
            store=self._store,
            notifier=self._notifier,
            faults=self.faults,
            clock=clock,
            app_id=app_id,
            merchant_no=merchant_no,
            settle_seconds=refund_settle_seconds,
        )
        self._apis: dict[str, tuple[str, _ApiHandler]] = {
            CREATE_API: (LINK_API_VERSION, self._create_link),
            QUERY_API: (LINK_API_VERSION, self._query_link),
            EXPIRE_API: (LINK_API_VERSION, self._expire_link),
            ORDER_QUERY_API: (ORDER_QUERY_VERSION, self._query_order),
            REFUND_API: (REFUND_API_VERSION, self._refund),
            REFUND_QUERY_API: (REFUND_API_VERSION, self._query_refund),
        }
        self.app = Starlette(
            routes=[
                Route(API_PATH_PREFIX + "/{api_name}", self._handle_api, methods=["POST"]),
                *self._checkout.routes(),
                Route("/qr/{link_id}.png", self._qr_code, methods=["GET"]),
                # Operator controls: only from this host, never through a proxy (the sandbox may listen on 0.0.0.0).
                Route("/_faults", local_only(self._show_faults), methods=["GET"]),
                Route("/_faults", local_only(self._set_faults), methods=["POST"]),
                Route("/_requests", local_only(self._show_requests), methods=["GET"]),
                Route("/_refunds/settle", local_only(self._settle_refunds_now), methods=["POST"]),
                Route("/_links/expire", local_only(self._run_out_link), methods=["POST"]),
            ],
            exception_handlers=CLIENT_GONE_HANDLERS,
        )

    async def start(self) -> None:
        """Start delivering notifications and settling refunds, resuming what a previous run left."""
        await self._notifier.start()
        self._refunds.start()

    async def stop(self) -> None:
        """Stop settling and delivering; pending refunds and notifications stay saved for the next start.

        Requests held back by a delay fault are answered at once (SYSTEM_ERROR), so a shutting-down
        process is not kept waiting by its own slow sandbox.
        """
        self._closing.set()
        self._refunds.stop()
        await self._notifier.stop()

    async def _slow_down(self, seconds: float) -> None:
        """Wait as a slow PayerMax would; if the sandbox stops meanwhile, refuse as a busy PayerMax does."""
        try:
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise GatewayError(ResultCode.SYSTEM_ERROR, "the sandbox is shutting down")

    async def pay(self, link_id: str, *, method: str = PaymentMethod.CARD) -> str:
        """Pay a link as a customer would with the Pay button; return the new ``outTradeNo``."""
        return self._checkout.pay(link_id, method).out_trade_no

    async def decline(self, link_id: str, *, method: str = PaymentMethod.CARD) -> str:
        """Decline a payment of a link as the Decline button does; return the failed order's ``outTradeNo``."""
        return self._checkout.decline(link_id, method).out_trade_no

    def settle_refunds(self) -> list[Refund]:
        """Settle every pending refund now, without waiting for the delay; return the refunds settled."""
        return self._refunds.settle_pending()

    def requests_seen(self) -> list[tuple[str, dict[str, Any]]]:
        """(apiName, parsed envelope) of every API request received (the latest 10,000), oldest first."""
        return list(self._requests)

    # --- the API -------------------------------------------------------------------------

    async def _handle_api(self, request: Request) -> Response:
        """POST /aggregate-pay/api/gateway/{api_name}: parse, verify, check, dispatch."""
        api_name = request.path_params["api_name"]
        if api_name not in self._apis:
            return PlainTextResponse(f"SANDBOX: unknown PayerMax API {api_name!r}", status_code=404)
        version, handler = self._apis[api_name]
        raw_body = await request.body()
        try:
            envelope = parse_envelope(raw_body)
        except GatewayError as error:
            self._requests.append((api_name, {}))
            return self._refusal(api_name, error)
        self._requests.append((api_name, envelope))
        status = self._injected_status(api_name)
        if status is not None:
            logger.info("SANDBOX fault: answering %s with HTTP %d", api_name, status)
            return PlainTextResponse(f"SANDBOX fault injected: HTTP {status}", status_code=status)
        now = self._clock()
        try:
            # PayerMax signs and verifies the exact bytes on the wire (contract §2.2).
            if not verify(raw_body, request.headers.get("sign"), self._keys.merchant_public_key):
                raise GatewayError(
                    ResultCode.SIGN_VERIFY_FAILED,
                    "the sign header does not verify over the request body with the merchant public key",
                )
            data = check_envelope(
                envelope, version=version, app_id=self._app_id, merchant_no=self._merchant_no, now=now
            )
            return await handler(data, now)
        except GatewayError as error:
            return self._refusal(api_name, error)

    async def _create_link(self, data: dict[str, Any], now: datetime) -> Response:
        """createPaybylink (contract §3)."""
        expires_seconds = check_create_data(data)
        merchant_link_id = data["merchantLinkId"]
        link = self._store.link_by_merchant_id(merchant_link_id)
        if link is not None:
            # PayerMax's answer to a repeated merchantLinkId is undocumented (contract §9.8). The
            # sandbox treats an identical repeat as an idempotent replay (a client retrying after a
            # timeout gets the link it already created) and anything else as ORDER_REPEAT.
            if self.faults.refuse_duplicate or link.request != data:
                raise GatewayError(ResultCode.ORDER_REPEAT, f"merchantLinkId {merchant_link_id} already exists")
        else:
            link = PaymentLink(
                link_id=new_link_id(),
                merchant_link_id=merchant_link_id,
                request=data,
                created_at=now,
                expires_at=now + timedelta(seconds=expires_seconds),
            )
            self._store.add_link(link)
            logger.info("SANDBOX link %s created for %s", link.link_id, merchant_link_id)
        answer = self._success(link_summary(link, self._urls, now))
        if self.faults.take_drop_after_create():
            logger.info("SANDBOX fault: dropping the connection after creating %s", link.link_id)
            return _DroppedConnection(CREATE_API)
        if self.faults.create_delay:
            await self._slow_down(self.faults.create_delay)
        return answer

    async def _query_link(self, data: dict[str, Any], now: datetime) -> Response:
        """queryPaybylink (contract §4.1); the link's expiry is worked out at query time."""
        if self.faults.query_delay:
            await self._slow_down(self.faults.query_delay)
        link = self._existing_link(check_merchant_link_id(data))
        return self._success(link_details(link, self._urls, now))

    async def _expire_link(self, data: dict[str, Any], now: datetime) -> Response:
        """expirePaybylink (contract §4.2)."""
        link = self._existing_link(check_merchant_link_id(data))
        if link.paid_attempt is not None:
            # What PayerMax answers when expiring a paid link is undocumented; the sandbox refuses
            # with ORDER_CLOSED so the bot must handle "too late to cancel".
            raise GatewayError(ResultCode.ORDER_CLOSED, "link already paid")
        if not link.cancelled:
            self._store.cancel_link(link)
            logger.info("SANDBOX link %s expired by the merchant", link.link_id)
        return self._success(link_summary(link, self._urls, now))

    async def _query_order(self, data: dict[str, Any], now: datetime) -> Response:
        """orderQuery (contract §4.3)."""
        out_trade_no = check_out_trade_no(data)
        if self.faults.query_delay:
            await self._slow_down(self.faults.query_delay)
        found = self._store.attempt_by_out_trade_no(out_trade_no)
        if found is None:
            raise GatewayError(ResultCode.ORDER_NOT_EXIST, f"no order with outTradeNo {out_trade_no}")
        link, attempt = found
        return self._success(order_details(link, attempt))

    async def _refund(self, data: dict[str, Any], now: datetime) -> Response:
        """refund (contract §11.2): accepted as REFUND_PENDING, settled later by the refund desk."""
        refund = self._refunds.apply(check_refund_data(data), now)
        answer = self._success(refund_accepted(refund))
        if self.faults.take_drop_after_refund():
            logger.info("SANDBOX fault: dropping the connection after accepting refund %s", refund.out_refund_no)
            return _DroppedConnection(REFUND_API)
        if self.faults.refund_delay:
            await self._slow_down(self.faults.refund_delay)
        return answer

    async def _query_refund(self, data: dict[str, Any], now: datetime) -> Response:
        """refundQuery (contract §11.3)."""
        out_refund_no, refund_trade_no = check_refund_query(data)
        return self._success(refund_details(self._refunds.find(out_refund_no, refund_trade_no)))

    def _injected_status(self, api_name: str) -> int | None:
        """The HTTP status a fault switch says to answer this call with, instead of handling it."""
        if api_name == CREATE_API:
            return self.faults.take_create_status()
        if api_name == REFUND_API:
            return self.faults.take_refund_status()
        return None

    def _existing_link(self, merchant_link_id: str) -> PaymentLink:
        """The link with this merchantLinkId, or ORDER_NOT_EXIST."""
        link = self._store.link_by_merchant_id(merchant_link_id)
        if link is None:
            raise GatewayError(ResultCode.ORDER_NOT_EXIST, f"no link with merchantLinkId {merchant_link_id}")
        return link

    def _success(self, data: dict[str, Any]) -> Response:
        """An APPLY_SUCCESS answer carrying ``data``."""
        return self._signed_answer({"code": ResultCode.APPLY_SUCCESS, "msg": SUCCESS_MSG, "data": data})

    def _refusal(self, api_name: str, error: GatewayError) -> Response:
        """An error answer; like PayerMax's, it carries no ``data`` (contract §3.2)."""
        logger.info("SANDBOX %s refused: %s %s", api_name, error.code, error.msg)
        return self._signed_answer({"code": error.code, "msg": error.msg})

    def _signed_answer(self, answer: dict[str, Any]) -> Response:
        """HTTP 200 JSON, signed with the platform key over the exact bytes sent."""
        body = dumps(answer)
        return Response(
            body,
            media_type="application/json",
            headers={"sign": sign(body, self._keys.platform_private_key)},
        )

    # --- pages and controls --------------------------------------------------------------

    async def _qr_code(self, request: Request) -> Response:
        """GET /qr/{link_id}.png: the QR code of a link's checkout URL."""
        link = self._store.link_by_id(request.path_params["link_id"])
        if link is None:
            return PlainTextResponse("SANDBOX: no payment link with this id", status_code=404)
        return Response(qr_png(self._urls.checkout(link.link_id)), media_type="image/png")

    async def _show_faults(self, request: Request) -> Response:
        """GET /_faults: the fault switches in force."""
        return JSONResponse(self.faults.as_dict())

    async def _show_requests(self, request: Request) -> Response:
        """GET /_requests: which API calls arrived, for tests in another process."""
        seen = [{"api": api_name, "data": envelope.get("data")} for api_name, envelope in self._requests]
        # dumps, not JSONResponse: a refundAmount was read as an exact Decimal and is shown as one.
        return Response(dumps({"requests": seen}), media_type="application/json")

    async def _settle_refunds_now(self, request: Request) -> Response:
        """POST /_refunds/settle: settle every pending refund now, for tests in another process."""
        settled = [{"outRefundNo": refund.out_refund_no, "status": refund.status} for refund in self.settle_refunds()]
        return JSONResponse({"settled": settled})

    async def _run_out_link(self, request: Request) -> Response:
        """POST /_links/expire {"merchantLinkId": ...}: the link expires now, as if its time had passed."""
        try:
            body = await request.json()
        except (ValueError, RecursionError):
            body = None
        merchant_link_id = body.get("merchantLinkId") if isinstance(body, dict) else None
        link = self._store.link_by_merchant_id(merchant_link_id) if isinstance(merchant_link_id, str) else None
        if link is None:
            return JSONResponse({"error": 'SANDBOX: name a link as {"merchantLinkId": ...}'}, status_code=404)
        self._store.run_out(link, self._clock())
        logger.info("SANDBOX link %s made to expire now", link.link_id)
        return JSONResponse({"merchantLinkId": link.merchant_link_id, "expiresAt": link.expires_at.isoformat()})

    async def _set_faults(self, request: Request) -> Response:
        """POST /_faults: change some fault switches (JSON object of field: value)."""
        try:
            changes = await request.json()
        except (ValueError, RecursionError):
            return JSONResponse({"error": "SANDBOX: the body must be a JSON object"}, status_code=400)
        if not isinstance(changes, dict):
            return JSONResponse({"error": "SANDBOX: the body must be a JSON object"}, status_code=400)
        try:
            self.faults.update(changes)
        except ValueError as error:
            return JSONResponse({"error": f"SANDBOX: {error}"}, status_code=400)
        logger.info("SANDBOX faults set: %s", self.faults.as_dict())
        return JSONResponse(self.faults.as_dict())


class _DroppedConnection(Response):
    """Starts an answer, then fails, so the client's connection dies without a complete reply.

    Under uvicorn the server closes the socket (the client's httpx sees RemoteProtocolError).
    Under httpx's in-process ASGITransport the raised error reaches the client unchanged, so
    raising httpx's own RemoteProtocolError gives callers the same exception either way.
    """

    def __init__(self, api_name: str) -> None:
        super().__init__(status_code=200, media_type="application/json")
        self._api_name = api_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send headers promising a body, then break off."""
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1024")],
            }
        )
        raise httpx.RemoteProtocolError(f"SANDBOX fault injected: connection dropped after {self._api_name}")
