"""Wiring: build every part from Settings and run them in one event loop.

uvicorn (notifications, webhook, health, metrics, sandbox), the python-telegram-bot
``Application`` and the background workers (outbox dispatcher, reconciler) share one loop.
PTB's ``run_polling()`` would own the loop, so PTB is started beside uvicorn instead.

:class:`PaylinkApp` builds the parts in the order they depend on each other, one named step
each; :meth:`PaylinkApp.run` starts them and, on SIGTERM, winds them down within Docker's 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from telegram import Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, Defaults

from bot.botapi.budget import Limits, LocalBudget, SendBudget
from bot.botapi.pacing import BudgetRateLimiter
from bot.botapi.requests import send_request, updates_request
from bot.botapi.shared_budget import SharedBudget
from bot.chat import router
from bot.chat.context import CONTEXT_TYPES, PaylinkApplication, Services
from bot.chat.menus import fit_everyones_menus, publish_commands
from bot.config import ConfigError, Settings, live_problems, telegram_unreachable
from bot.database import open_engine, prepare_schema
from bot.gateway_setup import connect_payermax
from bot.logs import configure_logging
from bot.outbox import OutboxDispatcher
from bot.services.access import AccessService
from bot.services.attempts import FailedAttempts
from bot.services.audit import AuditLog
from bot.services.chat_defaults import ChatDefaults, ChatDefaultsService
from bot.services.chat_moves import ChatMoves
from bot.services.daily_summary import DailySummaries
from bot.services.drafts import DraftService
from bot.services.exports import ExportService
from bot.services.feed import PaymentsFeed
from bot.services.link_access import LinkAccess
from bot.services.link_actions import LinkActions
from bot.services.link_queries import LinkQueries
from bot.services.links import LinkService
from bot.services.notices import RefusalNotices
from bot.services.notification_writer import NotificationWriter
from bot.services.payments import PaymentService
from bot.services.people import PeopleService
from bot.services.readers import Readers
from bot.services.reconcile import Reconciler
from bot.services.refunds import RefundService
from bot.services.reminders import Reminders
from bot.services.reports import ReportService
from bot.services.retention import Retention
from bot.services.shared import SharedMessages
from bot.services.team import TeamService
from bot.services.update_claims import UpdateClaims
from bot.startup_gc import freeze_startup_objects
from bot.startup_report import report_start
from bot.tls import client_tls
from bot.web import metrics
from bot.web.app import build_web_app
from bot.web.connections import deepen_listen_queue
from bot.web.listeners import Listener, bind_listeners
from storage.db import is_sqlite, session_factory

log = logging.getLogger("paylink.app")

# After SIGTERM, how long updates, workers and handlers in flight may take to finish before they are
# cancelled; with the web server's own grace the process exits well within Docker's 10 s.
STOP_GRACE_SECONDS = 4.0
# Updates handled at once: enough that a few slow PayerMax calls do not hold up every other chat,
# few enough that a flood (strangers sending hundreds of commands) waits in PTB's queue instead of
# queueing on the database, where the outbox's claims and sends of "Paid" would wait behind it.
UPDATES_AT_ONCE = 32


def send_budget(engine: AsyncEngine, limits: Limits) -> SendBudget:
    """Telegram's limits are per bot: replicas sharing PostgreSQL share one budget there; SQLite has one process."""
    if is_sqlite(engine):
        return LocalBudget(limits)
    return SharedBudget(session_factory(engine), limits)


def deployment_defaults(settings: Settings) -> ChatDefaults:
    """What a chat gets before anyone chooses: the DEFAULT_* settings."""
    return ChatDefaults(
        currency=settings.default_currency,
        country=settings.default_country,
        language=settings.default_language,
        customer_language=settings.default_language,
        timezone=settings.default_timezone,
        expires_seconds=settings.link_expiry_seconds,
    )


class PaylinkApp:
    """Every long-lived part of the bot, built from Settings."""

    def __init__(self, settings: Settings) -> None:
        problems = live_problems(settings)
        if problems:
            raise problems[0]
        self.settings = settings
        self.engine = open_engine(settings)
        self.sessions = session_factory(self.engine)
        self.payermax = connect_payermax(settings)
        self.budget = send_budget(self.engine, settings.send_limits)
        self._build_readers()
        self.application = self._telegram_application()
        self.dispatcher = self._outbox_dispatcher()
        self._build_money_services()
        self.reconciler = self._reconciler()
        self.application.bot_data.services = self._chat_services()
        router.register(self.application)
        self.web = self._web_app()

    def _build_readers(self) -> None:
        """Chat defaults and people: whose language, money and clock each message is written in."""
        settings = self.settings
        self.chat_defaults = ChatDefaultsService(
            self.sessions, deployment_defaults(settings), on_enqueued=lambda: self.dispatcher.wake()
        )
        self.people = PeopleService(self.sessions, default_language=settings.default_language)
        self.readers = Readers(self.people, self.chat_defaults)
        # A group upgraded to a supergroup, heard of in an update or in a refused send; its messages go at once.
        self.chat_moves = ChatMoves(self.sessions, on_moved=lambda: self.dispatcher.wake())

    def _outbox_dispatcher(self) -> OutboxDispatcher:
        """The worker that delivers every queued message through PTB's bot, paced by the send budget."""
        settings = self.settings
        return OutboxDispatcher(
            self.sessions,
            self.application.bot,
            budget=self.budget,
            skip_locked=not is_sqlite(self.engine),
            owner_chat_ids=settings.admin_user_ids,
            lease=timedelta(seconds=settings.outbox_lease_seconds),
            readers=self.readers,
            moves=self.chat_moves,
        )

    def _build_money_services(self) -> None:
        """Who may do what, and the services that move money: links, payments, refunds."""
        settings, wake = self.settings, self.dispatcher.wake
        self.access = AccessService(
            self.sessions, owner_ids=frozenset(settings.admin_user_ids), sandbox=settings.is_sandbox
        )
        self.link_access = LinkAccess(self.access)
        # An attempt whose link is not known yet has its candidate links asked about in the next round, at once.
        self.attempts = FailedAttempts(self.sessions, on_unplaced=lambda: self.reconciler.wake())
        self.payments = PaymentService(
            self.sessions, owner_chat_ids=settings.admin_user_ids, on_enqueued=wake, attempts=self.attempts
        )
        self.notifications = NotificationWriter(self.payments, self.engine)
        self.refunds = RefundService(
            self.sessions,
            self.payermax.client,
            self.link_access,
            notify_url=settings.refund_notify_url,
            owner_chat_ids=settings.admin_user_ids,
            on_enqueued=wake,
        )
        self.links = LinkService(
            self.sessions,
            self.payermax.client,
            notify_url=settings.notify_url,
            contact_email=settings.contact_email,
            logo_url=settings.payermax_logo_url,
            sandbox=settings.is_sandbox,
            on_enqueued=wake,
            on_outcome=metrics.record_link_outcome,
        )

    def _reconciler(self) -> Reconciler:
        """The lease holder's worker: late payments and refunds, expiry, reminders, summaries, retention."""
        wake = self.dispatcher.wake
        return Reconciler(
            self.sessions,
            self.payermax.client,
            self.links,
            self.payments,
            on_enqueued=wake,
            retention=Retention(self.sessions, timedelta(days=self.settings.retention_days)),
            refunds=self.refunds,
            reminders=Reminders(self.sessions, on_enqueued=wake),
            summaries=DailySummaries(self.sessions, self.chat_defaults, self.access, on_enqueued=wake),
            attempts=self.attempts,
        )

    def _telegram_application(self) -> PaylinkApplication:
        """PTB's Application: typed context, HTML by default, every send paced by the budget."""
        builder = (
            Application.builder()
            .token(self.settings.telegram_bot_token.get_secret_value())
            .base_url(self.settings.telegram_api_base_url)
            .context_types(CONTEXT_TYPES)
            .defaults(Defaults(parse_mode=ParseMode.HTML))  # every text the bot sends is Telegram HTML
            .rate_limiter(BudgetRateLimiter(self.budget))  # every send and edit waits for its slot
            .concurrent_updates(UPDATES_AT_ONCE)
            # Sends wait 30 s for a slow answer, getUpdates keeps PTB's timeouts; one TLS context for both.
            .request(send_request(client_tls()))
            .get_updates_request(updates_request(client_tls()))
        )
        if self.settings.bot_mode == "webhook":
            builder = builder.updater(None)
        return builder.build()

    def _chat_services(self) -> Services:
        """What the handlers use."""
        settings = self.settings
        access, link_access, link_queries = self.access, self.link_access, LinkQueries(self.sessions)
        link_actions = LinkActions(
            self.sessions,
            self.payermax.client,
            self.reconciler,
            link_access,
            link_queries,
            on_enqueued=self.dispatcher.wake,
        )
        return Services(
            links=self.links,
            chat_defaults=self.chat_defaults,
            drafts=DraftService(self.sessions),
            update_claims=UpdateClaims(self.sessions, sole_receiver=settings.bot_mode == "polling"),
            access=access,
            team=TeamService(self.sessions, access),
            audit=AuditLog(self.sessions),
            link_access=link_access,
            link_queries=link_queries,
            link_actions=link_actions,
            notices=RefusalNotices(self.sessions),
            people=self.people,
            readers=self.readers,
            refunds=self.refunds,
            feed=PaymentsFeed(self.sessions),
            reports=ReportService(self.sessions),
            exports=ExportService(self.sessions),
            environment=settings.payermax_env,
            shared=SharedMessages(self.sessions, on_enqueued=self.dispatcher.wake),
            chat_moves=self.chat_moves,
        )

    def _web_app(self) -> Starlette:
        """The routes this process serves."""
        settings = self.settings
        webhook = settings.bot_mode == "webhook" and settings.telegram_webhook_secret is not None
        return build_web_app(
            engine=self.engine,
            payments=self.payments,
            notifications=self.notifications,
            refunds=self.refunds,
            platform_public_key=self.payermax.platform_public_key,
            merchant=self.payermax.merchant,
            sandbox_app=self.payermax.sandbox.app if self.payermax.sandbox else None,
            telegram_secret=settings.telegram_webhook_secret.get_secret_value()
            if webhook and settings.telegram_webhook_secret
            else None,
            submit_update=self._submit_update if webhook else None,
            metrics_token=settings.metrics_token.get_secret_value() if settings.metrics_token else None,
            metrics_elsewhere=settings.metrics_port is not None,
        )

    async def _submit_update(self, data: dict[str, Any]) -> None:
        await self.application.update_queue.put(Update.de_json(data, self.application.bot))

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut everything down in reverse order."""
        await prepare_schema(self.engine, self.settings)
        if self.settings.is_sandbox and not self.settings.admin_user_ids:
            log.warning("sandbox with no ADMIN_USER_IDS: anyone who finds this bot can create (test) links")
        listeners = bind_listeners(self.settings, self.web)
        freeze_startup_objects()
        # The writer outlives the web server on both ends: requests in flight at shutdown wait on it.
        self.notifications.start()
        tasks = [
            asyncio.create_task(listener.server.serve(sockets=[listener.sock]), name=listener.name)
            for listener in listeners
        ]
        sandbox = self.payermax.sandbox
        try:
            await _until_serving(listeners, tasks)
            if sandbox:
                await sandbox.start()
            await self._run_bot(stop)
        finally:
            if sandbox:
                await sandbox.stop()  # answers its own slow requests at once: they would hold the web server
            for listener in listeners:
                listener.server.should_exit = True
            for task in tasks:
                with contextlib.suppress(Exception):
                    await task
            await self.notifications.close()  # writes what is still queued before the engine goes
            await self.payermax.client.aclose()
            await self.engine.dispose()
            log.info("stopped")

    async def _run_bot(self, stop: asyncio.Event) -> None:
        try:
            await self.application.initialize()
        except InvalidToken:
            raise ConfigError("TELEGRAM_BOT_TOKEN", "Telegram refused this token (check it with BotFather)") from None
        except NetworkError as exc:
            raise telegram_unreachable(self.settings, exc) from None
        workers: list[asyncio.Task[None]] = []
        try:
            await self.application.start()
            services = self.application.bot_data.services
            assert services is not None
            await publish_commands(self.application.bot, services)  # logs, never raises: the menu is a convenience
            # Each team member's own menu, off the start-up path (usually nothing changed: no call at all).
            self.application.create_task(fit_everyones_menus(self.application.bot, services), name="menus")
            if self.application.updater is not None:
                await self.application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
            else:
                assert self.settings.telegram_webhook_secret is not None  # Settings requires it in webhook mode
                await self.application.bot.set_webhook(
                    url=f"{self.settings.public_base_url}/telegram",
                    secret_token=self.settings.telegram_webhook_secret.get_secret_value(),
                    allowed_updates=Update.ALL_TYPES,
                )
            workers = [
                asyncio.create_task(self.dispatcher.run(stop), name="outbox"),
                asyncio.create_task(self.reconciler.run(stop), name="reconciler"),
            ]
            await report_start(self.settings, self.application.bot.username, self.engine)
            await stop.wait()
            log.info("stopping")
        finally:
            await self._wind_down(workers)

    async def _wind_down(self, workers: list[asyncio.Task[None]]) -> None:
        """Stop taking updates and let work in flight finish, within STOP_GRACE_SECONDS.

        Docker gives a container 10 s and Kubernetes 30 s between SIGTERM and SIGKILL. The workers
        start no PayerMax call after the stop signal; a call or handler still running when the grace
        ends is cancelled (its transaction rolls back; a link left CREATING is settled by the
        reconciler after the restart), so the process always exits in time with nothing half-written.
        """
        application, updater = self.application, self.application.updater
        steps: list[asyncio.Future[Any]] = list(workers)
        if updater is not None and updater.running:
            steps.append(asyncio.ensure_future(updater.stop()))
        if application.running:
            steps.append(asyncio.ensure_future(application.stop()))
        if steps:
            _done, late = await asyncio.wait(steps, timeout=STOP_GRACE_SECONDS)
            for step in late:
                step.cancel()
            if late:
                log.warning(
                    "cut short %d step(s) still running after %.0f s (a slow PayerMax or Telegram)",
                    len(late),
                    STOP_GRACE_SECONDS,
                )
                await asyncio.gather(*late, return_exceptions=True)
                return  # handlers may still be running: PTB cannot shut down under them; the process exits anyway
        with contextlib.suppress(TelegramError, RuntimeError):
            await application.shutdown()


async def _until_serving(listeners: list[Listener], tasks: list[asyncio.Task[None]]) -> None:
    """Wait until every listener's server has started (or fail with the reason one did not)."""
    for listener, task in zip(listeners, tasks, strict=True):
        while not listener.server.started:
            if task.done():
                task.result()
                raise RuntimeError(f"{listener.name} server stopped during start-up")
            await asyncio.sleep(0.02)
        deepen_listen_queue(listener.sock)  # uvicorn listened with a small backlog: see bot.web.connections


async def run(settings: Settings) -> None:
    """Run the bot until SIGINT or SIGTERM."""
    configure_logging(settings.log_level, secrets=settings.secret_values())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await PaylinkApp(settings).run(stop)
