"""``POST /payermax/notify`` and ``POST /payermax/refund-notify``: PayerMax's signed notifications."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.payermax.models import Notification
from bot.payermax.webhook import (
    PAYMENT_NOTIFY_TYPES,
    MerchantIdentity,
    NotificationRejected,
    check_recipient,
    verify_notification,
)
from bot.services.payments import Outcome
from bot.web import metrics
from bot.web.availability import DatabaseAvailability
from storage.outage import is_outage

log = logging.getLogger("paylink.notify")

MAX_BODY_BYTES = 64 * 1024  # real notifications are a few KB; anything larger is refused unread
ACKNOWLEDGED = {"code": "SUCCESS", "msg": "Success"}
_OUTCOME_STATUS = {Outcome.UNKNOWN: 404, Outcome.NOT_OURS: 404, Outcome.MISMATCH: 409, Outcome.WRONG_LINK: 409}


class _BodyTooLarge(Exception):
    """The body passed the size cap."""


async def _read_capped(request: Request) -> bytes:
    """Read the raw body, stopping as soon as it passes the cap."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"code": "FAIL", "msg": reason}, status_code=status)


def notify_endpoint(
    apply: Callable[[Notification], Awaitable[Outcome]],
    platform_public_key: RSAPublicKey,
    database: DatabaseAvailability,
    merchant: MerchantIdentity,
    *,
    accept: Collection[str] = PAYMENT_NOTIFY_TYPES,
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """Build the endpoint: verify, parse, ``apply``, acknowledge only after the commit; 503 if the database is away.

    ``accept`` names the notifyTypes this endpoint takes (payments, or refunds); any other is refused.
    """

    async def payermax_notify(request: Request) -> JSONResponse:
        """Receive one notification."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            metrics.NOTIFICATIONS.labels(result="bad_content_type").inc()
            return _refuse(415, "content type must be application/json")
        try:
            body = await _read_capped(request)
        except _BodyTooLarge:
            metrics.NOTIFICATIONS.labels(result="too_large").inc()
            return _refuse(413, f"body larger than {MAX_BODY_BYTES} bytes")
        try:
            notification = verify_notification(body, request.headers.get("sign"), platform_public_key, accept=accept)
            check_recipient(notification, merchant)
        except NotificationRejected as exc:
            metrics.NOTIFICATIONS.labels(result="rejected").inc()
            log.warning("notification rejected: %s", exc.reason)
            return _refuse(exc.status_code, exc.reason)
        try:
            outcome = await apply(notification)
        except Exception as exc:
            if not is_outage(exc):
                raise
            # PayerMax delivers it again later (if the write did land, that delivery is a duplicate, acknowledged
            # then). Logged once per outage, not per delivery.
            database.lost(exc)
            metrics.NOTIFICATIONS.labels(result="database_unavailable").inc()
            return _refuse(503, "database unavailable, deliver again later")
        database.answered()
        metrics.NOTIFICATIONS.labels(result=outcome.value).inc()
        if outcome.acknowledged:
            return JSONResponse(ACKNOWLEDGED)
        return _refuse(_OUTCOME_STATUS.get(outcome, 400), f"not accepted: {outcome.value}")

    return payermax_notify
