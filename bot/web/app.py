"""The Starlette app: PayerMax notifications, the Telegram webhook, health, metrics, sandbox."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from bot.payermax.models import NOTIFY_TYPE_REFUND
from bot.payermax.webhook import MerchantIdentity
from bot.services.notification_writer import NotificationWriter
from bot.services.payments import PaymentService
from bot.services.refunds import RefundService
from bot.web.availability import DatabaseAvailability
from bot.web.connections import CLIENT_GONE_HANDLERS
from bot.web.metrics import metrics_endpoint
from bot.web.notify import notify_endpoint
from bot.web.operator import local_only, token_only
from storage.db import read_connection

log = logging.getLogger("paylink.web")

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1024 * 1024


def _healthz(engine: AsyncEngine, database: DatabaseAvailability) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def healthz(_request: Request) -> JSONResponse:
        """Report whether the database answers (a read: on SQLite it never waits behind a writer)."""
        try:
            async with read_connection(engine) as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means "not healthy"; logged once per outage, never shown
            database.lost(exc)
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        database.answered()
        return JSONResponse({"status": "ok", "database": "ok"})

    return healthz


def _telegram_webhook(
    secret: str, submit: Callable[[dict[str, Any]], Awaitable[None]]
) -> Callable[[Request], Awaitable[Response]]:
    async def telegram_webhook(request: Request) -> Response:
        """Accept an update from Telegram if it carries our secret token."""
        offered = request.headers.get(TELEGRAM_SECRET_HEADER, "")
        if not hmac.compare_digest(offered.encode(), secret.encode()):
            return Response(status_code=403)
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            return Response(status_code=413)
        try:
            update = json.loads(body)
        except (ValueError, RecursionError):  # also an integer past the digit limit, or nesting past the stack
            return Response(status_code=400)
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return Response(status_code=400)
        await submit(update)
        return Response(status_code=200)

    return telegram_webhook


def build_web_app(
    *,
    engine: AsyncEngine,
    payments: PaymentService,
    platform_public_key: RSAPublicKey,
    merchant: MerchantIdentity,
    notifications: NotificationWriter | None = None,
    refunds: RefundService | None = None,
    sandbox_app: ASGIApp | None = None,
    telegram_secret: str | None = None,
    submit_update: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    metrics_token: str | None = None,
    metrics_elsewhere: bool = False,
) -> Starlette:
    """Assemble the routes this process serves; notifications go through the group-commit writer when given one.

    /metrics needs ``metrics_token`` as a bearer token when one is given; otherwise it answers
    local requests only, or nobody when ``metrics_elsewhere`` (a listener of its own serves it).
    """
    apply = notifications.submit if notifications is not None else payments.apply_notification
    database = DatabaseAvailability()
    routes: list[BaseRoute] = [
        Route("/payermax/notify", notify_endpoint(apply, platform_public_key, database, merchant), methods=["POST"]),
        Route("/healthz", _healthz(engine, database), methods=["GET"]),
    ]
    if refunds is not None:
        refund_notify = notify_endpoint(
            refunds.apply_notification, platform_public_key, database, merchant, accept=(NOTIFY_TYPE_REFUND,)
        )
        routes.append(Route("/payermax/refund-notify", refund_notify, methods=["POST"]))
    if metrics_token is not None:
        routes.append(Route("/metrics", token_only(metrics_endpoint, metrics_token), methods=["GET"]))
    elif not metrics_elsewhere:
        routes.append(Route("/metrics", local_only(metrics_endpoint), methods=["GET"]))
    if telegram_secret and submit_update:
        routes.append(Route("/telegram", _telegram_webhook(telegram_secret, submit_update), methods=["POST"]))
    if sandbox_app is not None:
        routes.append(Mount("/sandbox", app=sandbox_app))
    return Starlette(routes=routes, exception_handlers=CLIENT_GONE_HANDLERS)
