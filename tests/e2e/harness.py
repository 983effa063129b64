"""Run ``paylink-bot run`` as a real subprocess against a fake Bot API and inspect its database."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bot.payermax import signing
from bot.sandbox.keys import load_or_create_sandbox_keys
from bot.services.links import new_merchant_link_id
from storage.db import create_engine, session_factory
from storage.models import Link, LinkStatus, OutboxMessage, OutboxStatus, Payment, ProcessedUpdate
from tests.fakes.telegram_api import FakeTelegram, SentMessage

if TYPE_CHECKING:
    from tests.e2e.people import People

# Short enough for tests, same shape as PayerMax's 0/30/300/600/3600/43200 s schedule.
FAST_NOTIFY_SCHEDULE = "0,0.3,0.6,1,2,4"
# TELEGRAM_SEND_LIMITS of a bot whose test is not about pacing: the fake Bot API has no limits unless a
# test turns them on, and Telegram's own (30,1,20: a message a second to a private chat, one every three
# seconds to a group) would make such a test mostly wait. Tests about pacing pass real_pacing=True.
FAST_SEND_LIMITS = "1000,100,6000"
# Set, this runs the tests not about pacing at another pace too, e.g. Telegram's own: 30,1,20.
SEND_LIMITS_VARIABLE = "TEST_TELEGRAM_SEND_LIMITS"
# How long the bot must make no Bot API call to count as idle (wait_until_idle): far longer than the
# gap between two messages it has ready at FAST_SEND_LIMITS.
QUIET_SECONDS = 0.5
IDLE_TIMEOUT = 30.0
START_TIMEOUT = 40.0
PAID_PREFIX = "✅ Paid"
# A failing test's report shows the tail of each bot's log, secrets masked (tests/e2e/conftest.py).
SEE_LOG = "(see the report's bot log section)"
# The bots the running test started, in order, for its failure report (tests/e2e/bot_logs.py).
STARTED_BOTS: list[BotProcess] = []


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BotProcess:
    """The whole application in a child process, configured only through the environment."""

    def __init__(
        self,
        fake: FakeTelegram,
        *,
        database_url: str,
        data_dir: Path,
        admin_ids: str = "",
        file_limit: int | None = None,
        real_pacing: bool = False,
        **env: str,
    ) -> None:
        """``real_pacing``: Telegram's limits, for tests about pacing; otherwise FAST_SEND_LIMITS."""
        self.file_limit = file_limit  # RLIMIT_NOFILE for the child, as a container or systemd would set it
        self.fake = fake
        # The first update sent to this process: one a killed process left half-handled stays so for good.
        self.first_update_id = fake.last_update_id + 1
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = data_dir / "bot.log"
        self.env = {
            **{
                key: value
                for key, value in os.environ.items()
                if not key.startswith(("PAYERMAX_", "TELEGRAM_", "DATABASE_"))
            },
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "HTTP_PORT": str(self.port),
            "PUBLIC_BASE_URL": self.base_url,
            "DATABASE_URL": database_url,
            "DATA_DIR": str(data_dir),
            "ADMIN_USER_IDS": admin_ids,
            "SANDBOX_NOTIFY_SCHEDULE": FAST_NOTIFY_SCHEDULE,
            "LOG_LEVEL": "DEBUG",
            **({} if real_pacing else {"TELEGRAM_SEND_LIMITS": os.environ.get(SEND_LIMITS_VARIABLE, FAST_SEND_LIMITS)}),
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.signs: set[str] = set()  # sign headers made or sent for this bot: masked in a failure report
        self._platform_key: RSAPrivateKey | None = None

    async def start(self) -> None:
        """Start the bot and wait until its web endpoint answers /healthz."""
        self.first_update_id = self.fake.last_update_id + 1
        if self not in STARTED_BOTS:
            STARTED_BOTS.append(self)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=self.data_dir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=self._limit_files if self.file_limit is not None else None,
        )
        log.close()
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"bot exited with {self.process.returncode} {SEE_LOG}")
                try:
                    if (await client.get(f"{self.base_url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"bot did not start {SEE_LOG}")
                await asyncio.sleep(0.1)

    def _limit_files(self) -> None:
        """Runs in the child before exec: cap how many files and sockets it may hold open."""
        assert self.file_limit is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.file_limit, self.file_limit))

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the bot and wait for it to exit; return its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        for _ in range(int(timeout * 10)):
            if self.process.poll() is not None:
                return self.process.returncode
            await asyncio.sleep(0.1)
        self.process.kill()
        raise TimeoutError(f"bot did not stop within {timeout}s {SEE_LOG}")

    def log(self) -> str:
        """Everything the bot wrote to stdout and stderr."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def sandbox_keys(self):
        """The sandbox key pairs the bot made under its data folder."""
        return load_or_create_sandbox_keys(self.data_dir)

    async def post_notification(self, body: bytes, *, sign: str | None) -> httpx.Response:
        """POST raw bytes to /payermax/notify as PayerMax would."""
        headers = {"Content-Type": "application/json"}
        if sign is not None:
            headers["sign"] = sign
            self.signs.add(sign)
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(f"{self.base_url}/payermax/notify", content=body, headers=headers)

    def platform_sign(self, body: bytes) -> str:
        """Sign as the (sandbox) PayerMax platform does."""
        if self._platform_key is None:
            # Loading checks the RSA key, which is slow: once, not per notification.
            self._platform_key = self.sandbox_keys().platform_private_key
        sign = signing.sign(body, self._platform_key)
        self.signs.add(sign)
        return sign

    def kill(self) -> None:
        """SIGKILL the bot now: no shutdown code runs, as in a power cut or an OOM kill."""
        assert self.process is not None
        self.process.kill()

    def sandbox_deliveries_pending(self) -> int:
        """How many payment and refund notifications the embedded sandbox has still to deliver (duplicates included)."""
        state = self.data_dir / "sandbox" / "state.json"
        if not state.exists():
            return 0
        deliveries = json.loads(state.read_text(encoding="utf-8")).get("deliveries", [])
        return sum(1 for delivery in deliveries if not (delivery["delivered"] or delivery["givenUp"]))


def paybylink_notification(
    merchant_link_id: str, *, amount: str, currency: str, trade: str, payermax_link_id: str | None = None
) -> bytes:
    """A PAYBYLINK notification body reporting one successful payment, as PayerMax shapes it."""
    return json.dumps(
        {
            "code": "APPLY_SUCCESS",
            "msg": "Success.",
            "keyVersion": "1",
            "appId": "sandbox-app",
            "merchantNo": "SANDBOX000001",
            "notifyTime": "2026-11-25T10:00:00.000Z",
            "notifyType": "PAYBYLINK",
            "data": {
                "linkId": payermax_link_id or "SBXseeded",
                "merchantLinkId": merchant_link_id,
                "totalAmount": amount,
                "currency": currency,
                "country": "US",
                "linkStatus": "ACTIVE",
                "payByLinkInfo": [{"outTradeNo": trade, "status": "SUCCESS", "completeAt": "2026-11-25T10:00:00.000Z"}],
            },
        },
        separators=(",", ":"),
    ).encode()


def link_paid_notification(link: Link) -> bytes:
    """The notification PayerMax sends when this seeded link is paid in full (one trade per link)."""
    return paybylink_notification(
        link.merchant_link_id,
        amount=f"{link.amount:.2f}",
        currency=link.currency,
        trade=f"T{link.merchant_link_id}",
        payermax_link_id=link.payermax_link_id,
    )


async def post_notifications(
    deliveries: Sequence[tuple[BotProcess, bytes]],
    *,
    concurrency: int = 16,
    on_acknowledged: Callable[[int], None] = lambda count: None,
) -> list[bool]:
    """POST each signed body to its bot, a few at a time; True where the bot answered 200 SUCCESS.

    A body the bot never answered (refused, reset, timed out) counts as not acknowledged, as it
    would for PayerMax, which then delivers it again. ``on_acknowledged`` sees the running count.
    """
    gate = asyncio.Semaphore(concurrency)
    signed = [(bot, body, bot.platform_sign(body)) for bot, body in deliveries]
    acknowledged = [False] * len(signed)
    count = 0

    async def deliver(index: int, client: httpx.AsyncClient) -> None:
        nonlocal count
        bot, body, sign = signed[index]
        async with gate:
            try:
                answer = await client.post(
                    f"{bot.base_url}/payermax/notify",
                    content=body,
                    headers={"Content-Type": "application/json", "sign": sign},
                )
            except httpx.TransportError:
                return
        if answer.status_code == 200 and answer.json().get("code") == "SUCCESS":
            acknowledged[index] = True
            count += 1
            on_acknowledged(count)

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:
        await asyncio.gather(*(deliver(index, client) for index in range(len(signed))))
    return acknowledged


def paid_announcements(fake: FakeTelegram, link: Link) -> list[SentMessage]:
    """The "Paid" messages the bot sent about this link."""
    return [
        m for m in fake.sent(link.chat_id) if (m.text or "").startswith(PAID_PREFIX) and link.merchant_link_id in m.text
    ]


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, timeout: float, describe: Callable[[], Awaitable[str]]
) -> None:
    """Poll ``condition`` until it holds, or fail with ``describe()`` once ``timeout`` seconds have passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout}s: {await describe()}")
        await asyncio.sleep(0.2)


async def wait_until_idle(
    bot: BotProcess, db: Database, *, quiet: float = QUIET_SECONDS, timeout: float = IDLE_TIMEOUT
) -> None:
    """Wait until the bot has finished all it was given, so that a check that something did not happen is fair.

    Idle means: every update sent since the bot (last) started handled, no outbox message pending
    (a retry waiting out its backoff counts as pending), every notification of the sandbox
    delivered with its duplicates, and no Bot API call but polling for ``quiet`` seconds.
    """
    fake = bot.fake
    first_update, last_update = bot.first_update_id, fake.last_update_id

    def last_call_at() -> float:
        return max((call.at for call in fake.calls if call.method != "getUpdates"), default=0.0)

    async def busy() -> list[str]:
        unhandled = last_update - first_update + 1 - await db.updates_handled(first_update, last_update)
        pending = await db.outbox_count_by(OutboxStatus.PENDING)
        undelivered = bot.sandbox_deliveries_pending()
        silent = time.monotonic() - last_call_at()  # the fake stamps calls with time.monotonic()
        return [
            what
            for what, holds in (
                (f"{unhandled} updates not handled", unhandled > 0),
                (f"{pending} outbox messages pending", pending > 0),
                (f"{undelivered} sandbox notifications undelivered", undelivered > 0),
                (f"a Bot API call {silent:.2f}s ago", silent < quiet),
            )
            if holds
        ]

    async def idle() -> bool:
        return not await busy()

    async def describe() -> str:
        return f"the bot is busy: {', '.join(await busy())}"

    await wait_until(idle, timeout=timeout, describe=describe)


class Database:
    """Looks into the bot's database from the test, and links seeded straight into it."""

    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_engine(url)
        self.sessions = session_factory(self.engine)

    async def links(self) -> list[Link]:
        async with self.sessions() as session:
            return list((await session.execute(select(Link).order_by(Link.id))).scalars())

    async def payments(self) -> list[Payment]:
        async with self.sessions() as session:
            return list((await session.execute(select(Payment).order_by(Payment.id))).scalars())

    async def add_active_links(
        self,
        chat_ids: Sequence[int],
        *,
        amount: Decimal = Decimal("10.00"),
        currency: str = "USD",
        creator_user_id: int = 1,
    ) -> list[Link]:
        """Seed one ACTIVE (sandbox) link per chat id, as if PayerMax had made them; the reconciler skips them."""
        links = [
            Link(
                merchant_link_id=new_merchant_link_id(),
                chat_id=chat_id,
                creator_user_id=creator_user_id,
                creator_name="Seeded",
                amount=amount,
                currency=currency,
                country="US",
                description=f"Order for chat {chat_id}",
                expires_seconds=86400,
                status=LinkStatus.ACTIVE,
                sandbox=True,
                link_url=f"http://127.0.0.1/pay/{index}",
                next_check_at=None,
            )
            for index, chat_id in enumerate(chat_ids)
        ]
        async with self.sessions() as session, session.begin():
            session.add_all(links)
        return links

    async def outbox_count(self) -> int:
        async with self.sessions() as session:
            return int((await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one())

    async def outbox_count_by(self, status: OutboxStatus, kind: str | None = None) -> int:
        """How many outbox messages are in this state (of this kind, if given)."""
        statement = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == status)
        if kind is not None:
            statement = statement.where(OutboxMessage.kind == kind)
        async with self.sessions() as session:
            return int((await session.execute(statement)).scalar_one())

    async def updates_handled(self, first: int, last: int) -> int:
        """How many Telegram updates with ids from ``first`` to ``last`` some process has finished handling."""
        statement = (
            select(func.count())
            .select_from(ProcessedUpdate)
            .where(col(ProcessedUpdate.update_id).between(first, last), col(ProcessedUpdate.done).is_(True))
        )
        async with self.sessions() as session:
            return int((await session.execute(statement)).scalar_one())

    async def update_handled(self, update_id: int) -> bool:
        """Whether some process has finished handling this Telegram update."""
        async with self.sessions() as session:
            claim = await session.get(ProcessedUpdate, update_id)
            return claim is not None and claim.done

    async def close(self) -> None:
        await self.engine.dispose()


def is_setup_offer(message: SentMessage) -> bool:
    """The first-run "Set up this chat?" offer (it follows a new chat's first command, so a reply check skips it)."""
    rows = (message.reply_markup or {}).get("inline_keyboard") or []
    return any(str(button.get("callback_data", "")).startswith("setup:") for row in rows for button in row)


class RunningBot(NamedTuple):
    """A started bot, its fake Bot API, a look into its database and the people talking to it."""

    fake: FakeTelegram
    bot: BotProcess
    db: Database
    people: People


@asynccontextmanager
async def running_bot(
    database_url: str,
    tmp_path: Path,
    *,
    admin_ids: str = "",
    names: Mapping[int, str] | None = None,
    usernames: Mapping[int, str] | None = None,
    languages: Mapping[int, str] | None = None,
    fake: FakeTelegram | None = None,
    real_pacing: bool = False,
    clean_exit: bool = True,
    **env: str,
) -> AsyncIterator[RunningBot]:
    """Start the bot (data in tmp_path / "data"); stop it and close the database however the block ends.

    ``fake``: a fake Bot API the caller made and closes (e.g. with its limits on); otherwise a new one.
    ``clean_exit``: when the block ends without an error, assert the bot exited with 0.
    """
    from tests.e2e.people import People  # people.py builds on this module

    async with AsyncExitStack() as stack:
        if fake is None:
            fake = await stack.enter_async_context(FakeTelegram())
        bot = BotProcess(
            fake,
            database_url=database_url,
            data_dir=tmp_path / "data",
            admin_ids=admin_ids,
            real_pacing=real_pacing,
            **env,
        )
        db = Database(database_url)
        stack.push_async_callback(db.close)
        try:
            await bot.start()
            yield RunningBot(fake, bot, db, People(fake, db, names or {}, usernames=usernames, languages=languages))
        finally:
            exit_code = await bot.stop() if bot.process is not None else None
        if clean_exit:
            assert exit_code == 0, f"the bot exited with {exit_code} {SEE_LOG}"
