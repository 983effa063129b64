"""Wiring: build every part from Settings and run them in one event loop.

uvicorn (notifications, webhook, health, metrics, sandbox), the python-telegram-bot
``Application`` and the outbox dispatcher share one loop. PTB's ``run_polling()`` would own the
loop, so PTB is started inside ``async with application`` beside uvicorn instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import uvicorn
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, Defaults

from bot.botapi.budget import LocalBudget, SendBudget
from bot.botapi.pacing import BudgetRateLimiter
from bot.chat import router
from bot.chat.context import CONTEXT_TYPES, PaylinkApplication, Services
from bot.chat.menus import publish_commands
from bot.config import ConfigError, Settings, live_problems
from bot.database import open_engine, prepare_schema
from bot.heap import freeze_startup_objects
from bot.logs import configure_logging
from bot.outbox import OutboxDispatcher
from bot.payermax import signing
from bot.payermax.client import PayerMaxClient
from bot.sandbox.gateway import SandboxGateway
from bot.sandbox.keys import load_or_create_sandbox_keys
from bot.services.access import AccessService
from bot.services.chats import ChatDefaults, ChatSettingsService
from bot.services.drafts import DraftService
from bot.services.reconcile import Reconciler
from bot.services.updates import UpdateLog
from bot.services.links import LinkService
from bot.services.manage import LinkManager
from bot.services.notices import RefusalNotices
from bot.services.payments import PaymentService
from bot.services.audit import AuditLog
from bot.services.batching import NotificationWriter
from bot.services.team import TeamService
from bot.web import metrics
from bot.web.app import build_web_app
from bot.web.connections import ConnectionGuard, connection_cap, deepen_listen_queue, server_config
from storage.db import is_sqlite, session_factory

log = logging.getLogger("paylink.app")

SANDBOX_APP_ID = "sandbox-app"
SANDBOX_MERCHANT_NO = "SANDBOX000001"
METRICS_CONNECTIONS = 32  # the metrics listener serves a scraper or two
# Updates handled at once: enough that a few slow PayerMax calls do not hold up every other chat,
# few enough that a flood (strangers sending hundreds of commands) waits in PTB's queue instead of
# queueing on the database, where the outbox's claims and sends of "Paid" would wait behind it.
UPDATES_AT_ONCE = 32


@dataclass(frozen=True)
class MerchantKeys:
    """The keys the client signs and verifies with."""

    merchant_private_key: RSAPrivateKey
    platform_public_key: RSAPublicKey


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: this process decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


def configured_keys(settings: Settings) -> MerchantKeys:
    """Load the merchant key and PayerMax's public key from the settings."""
    try:
        private = signing.load_private_key(settings.merchant_private_key_text() or "")
    except signing.KeyFormatError as exc:
        raise ConfigError(settings.key_variable("PAYERMAX_MERCHANT_PRIVATE_KEY"), str(exc)) from None
    try:
        public = signing.load_public_key(settings.platform_public_key_text() or "")
    except signing.KeyFormatError as exc:
        raise ConfigError(settings.key_variable("PAYERMAX_PLATFORM_PUBLIC_KEY"), str(exc)) from None
    return MerchantKeys(private, public)


def telegram_unreachable(settings: Settings, exc: NetworkError) -> ConfigError:
    """Name TELEGRAM_API_BASE_URL for a Bot API that cannot be reached, never showing the token."""
    # The Bot API URL carries the token, so only the base URL and the error's own words are shown.
    problem = str(exc).replace(settings.telegram_bot_token.get_secret_value(), "[token]")
    where = settings.telegram_api_base_url
    return ConfigError("TELEGRAM_API_BASE_URL", f"cannot reach the Telegram Bot API at {where} ({problem})")


def bind_socket(settings: Settings) -> socket.socket:
    """Bind the web port now, so a port in use is a clear configuration error."""
    return _listen(settings.http_host, settings.http_port, "HTTP_PORT")


def bind_metrics_socket(settings: Settings) -> socket.socket | None:
    """Bind METRICS_PORT now, if it is set, for the same reason."""
    if settings.metrics_port is None:
        return None
    return _listen(settings.metrics_host, settings.metrics_port, "METRICS_PORT")


def _listen(host: str, port: int, variable: str) -> socket.socket:
    """A listening TCP socket on host:port, or a ConfigError naming ``variable``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on accepted sockets of a TCP-protocol
    # listener, and without it every answer waits ~40 ms on Nagle and delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listening at once: with SO_REUSEADDR, a second socket may bind a port nobody listens on yet.
        deepen_listen_queue(sock)
    except OSError as exc:
        sock.close()
        raise ConfigError(variable, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


class PaylinkApp:
    """Every long-lived part of the bot, built from Settings."""

    def __init__(self, settings: Settings) -> None:
        problems = live_problems(settings)
        if problems:
            raise problems[0]
        self.settings = settings
        self.engine: AsyncEngine = open_engine(settings)
        self.sessions = session_factory(self.engine)
        self.sandbox: SandboxGateway | None = None
        if settings.is_sandbox:
            sandbox_keys = load_or_create_sandbox_keys(settings.data_dir)
            self.sandbox = SandboxGateway(
                keys=sandbox_keys,
                public_base_url=settings.public_base_url,
                state_path=settings.data_dir / "sandbox" / "state.json",
                notify_schedule=settings.sandbox_notify_schedule,
                refund_settle_seconds=settings.sandbox_refund_settle_seconds,
                app_id=settings.payermax_app_id or SANDBOX_APP_ID,
                merchant_no=settings.payermax_merchant_no or SANDBOX_MERCHANT_NO,
            )
            keys = MerchantKeys(sandbox_keys.merchant_private_key, sandbox_keys.platform_public_key)
        else:
            keys = configured_keys(settings)
        self.platform_public_key = keys.platform_public_key
        self.client = PayerMaxClient(
            base_url=settings.gateway_base_url,
            app_id=settings.payermax_app_id or SANDBOX_APP_ID,
            merchant_no=settings.payermax_merchant_no or SANDBOX_MERCHANT_NO,
            merchant_private_key=keys.merchant_private_key,
            platform_public_key=keys.platform_public_key,
            timeout=settings.payermax_timeout,
            on_call=metrics.record_payermax_call,
        )
        self.budget: SendBudget = LocalBudget()
        self.application = self._build_application()
        owners = settings.admin_user_ids
        self.dispatcher = OutboxDispatcher(
            self.sessions, self.application.bot, budget=self.budget, skip_locked=not is_sqlite(self.engine),
            owner_chat_ids=owners, lease=timedelta(seconds=settings.outbox_lease_seconds),
        )
        self.links = LinkService(
            self.sessions, self.client, notify_url=settings.notify_url, contact_email=settings.payermax_contact_email or "sandbox@example.com",
            logo_url=settings.payermax_logo_url, sandbox=settings.is_sandbox, on_enqueued=self.dispatcher.wake,
            on_outcome=metrics.record_link_outcome,
        )
        self.payments = PaymentService(self.sessions, owner_chat_ids=owners, on_enqueued=self.dispatcher.wake)
        self.notifications = NotificationWriter(self.payments, self.engine)
        deployment = ChatDefaults(
            currency=settings.default_currency, country=settings.default_country,
            language=settings.default_language, expires_seconds=settings.link_expiry_seconds,
        )
        self.reconciler = Reconciler(self.sessions, self.client, self.links, self.payments, on_enqueued=self.dispatcher.wake)
        access = AccessService(self.sessions, owner_ids=frozenset(owners), sandbox=settings.is_sandbox)
        self.application.bot_data.services = Services(
            links=self.links,
            chats=ChatSettingsService(self.sessions, deployment),
            drafts=DraftService(self.sessions),
            updates=UpdateLog(self.sessions, sole_receiver=settings.bot_mode == "polling"),
            access=access,
            team=TeamService(self.sessions, access),
            audit=AuditLog(self.sessions),
            manage=LinkManager(self.sessions, self.client, self.reconciler, access, on_enqueued=self.dispatcher.wake),
            notices=RefusalNotices(self.sessions),
        )
        router.register(self.application)
        webhook = settings.bot_mode == "webhook"
        self.web = build_web_app(
            engine=self.engine,
            payments=self.payments,
            notifications=self.notifications,
            platform_public_key=self.platform_public_key,
            sandbox_app=self.sandbox.app if self.sandbox else None,
            telegram_secret=settings.telegram_webhook_secret.get_secret_value() if webhook and settings.telegram_webhook_secret else None,
            submit_update=self._submit_update if webhook else None,
            metrics_token=settings.metrics_token.get_secret_value() if settings.metrics_token else None,
            metrics_elsewhere=settings.metrics_port is not None,
        )

    def _build_application(self) -> PaylinkApplication:
        builder = (
            Application.builder()
            .token(self.settings.telegram_bot_token.get_secret_value())
            .base_url(self.settings.telegram_api_base_url)
            .context_types(CONTEXT_TYPES)
            .defaults(Defaults(parse_mode=ParseMode.HTML))  # every text the bot sends is Telegram HTML
            .rate_limiter(BudgetRateLimiter(self.budget))  # every send and edit waits for its slot
            .concurrent_updates(UPDATES_AT_ONCE)
        )
        if self.settings.bot_mode == "webhook":
            builder = builder.updater(None)
        return builder.build()

    async def _submit_update(self, data: dict[str, Any]) -> None:
        await self.application.update_queue.put(Update.de_json(data, self.application.bot))

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut everything down in reverse order."""
        await prepare_schema(self.engine, self.settings)
        if self.settings.is_sandbox and not self.settings.admin_user_ids:
            log.warning("sandbox with no ADMIN_USER_IDS: anyone who finds this bot can create (test) links")
        listeners = self._listeners()
        freeze_startup_objects()
        # The writer outlives the web server on both ends: requests in flight at shutdown wait on it.
        self.notifications.start()
        tasks = [asyncio.create_task(server.serve(sockets=[sock]), name=name) for name, server, sock in listeners]
        try:
            for (name, server, sock), task in zip(listeners, tasks, strict=True):
                while not server.started:
                    if task.done():
                        task.result()
                        raise RuntimeError(f"{name} server stopped during start-up")
                    await asyncio.sleep(0.02)
                deepen_listen_queue(sock)  # uvicorn listened with a small backlog: see bot.web.connections
            if self.sandbox:
                await self.sandbox.start()
            await self._run_bot(stop)
        finally:
            for _name, server, _sock in listeners:
                server.should_exit = True
            for task in tasks:
                with contextlib.suppress(Exception):
                    await task
            await self.notifications.close()  # writes what is still queued before the engine goes
            if self.sandbox:
                await self.sandbox.stop()
            await self.client.aclose()
            await self.engine.dispose()
            log.info("stopped")

    def _listeners(self) -> list[tuple[str, uvicorn.Server, socket.socket]]:
        """Bind the web port (and METRICS_PORT, if set) and build a uvicorn server for each."""
        sock = bind_socket(self.settings)
        guard = ConnectionGuard(max_connections=connection_cap(), on_drop=metrics.record_connection_drop)
        metrics.HTTP_CONNECTIONS.set_function(guard.open_connections)
        listeners: list[tuple[str, uvicorn.Server, socket.socket]] = [
            ("web", _EmbeddedServer(server_config(self.web, guard)), sock),
        ]
        try:
            metrics_sock = bind_metrics_socket(self.settings)
        except ConfigError:
            sock.close()
            raise
        if metrics_sock is not None:
            metrics_config = server_config(metrics.metrics_app(), ConnectionGuard(max_connections=METRICS_CONNECTIONS))
            listeners.append(("metrics", _EmbeddedServer(metrics_config), metrics_sock))
            log.info("metrics on http://%s:%d/metrics", self.settings.metrics_host, self.settings.metrics_port)
        return listeners

    async def _run_bot(self, stop: asyncio.Event) -> None:
        try:
            await self.application.initialize()
        except InvalidToken:
            raise ConfigError("TELEGRAM_BOT_TOKEN", "Telegram refused this token (check it with BotFather)") from None
        except NetworkError as exc:
            raise telegram_unreachable(self.settings, exc) from None
        try:
            await self.application.start()
            await publish_commands(self.application.bot)  # logs, never raises: the menu is a convenience
            if self.application.updater is not None:
                await self.application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
            else:
                await self.application.bot.set_webhook(
                    url=f"{self.settings.public_base_url}/telegram",
                    secret_token=self.settings.telegram_webhook_secret.get_secret_value(),  # type: ignore[union-attr]
                    allowed_updates=Update.ALL_TYPES,
                )
            workers = [
                asyncio.create_task(self.dispatcher.run(stop), name="outbox"),
                asyncio.create_task(self.reconciler.run(stop), name="reconciler"),
            ]
            log.info("running", extra={"status": self.settings.bot_mode})
            await stop.wait()
            await asyncio.gather(*workers)
        finally:
            if self.application.updater is not None and self.application.updater.running:
                await self.application.updater.stop()
            if self.application.running:
                await self.application.stop()
            with contextlib.suppress(TelegramError):
                await self.application.shutdown()


async def run(settings: Settings) -> None:
    """Run the bot until SIGINT or SIGTERM."""
    configure_logging(settings.log_level, secrets=settings.secret_values())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await PaylinkApp(settings).run(stop)
