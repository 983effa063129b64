"""Run ``paylink-bot run`` as a real subprocess against a fake Bot API and inspect its database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.payermax import signing
from bot.sandbox.keys import load_or_create_sandbox_keys
from storage.db import create_engine, session_factory
from storage.models import Link, OutboxMessage, Payment
from tests.fakes.telegram_api import FakeTelegram

# Short enough for tests, same shape as PayerMax's 0/30/300/600/3600/43200 s schedule.
FAST_NOTIFY_SCHEDULE = "0,0.3,0.6,1,2,4"
START_TIMEOUT = 40.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BotProcess:
    """The whole application in a child process, configured only through the environment."""

    def __init__(self, fake: FakeTelegram, *, database_url: str, data_dir: Path, admin_ids: str = "", **env: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = data_dir / "bot.log"
        self.env = {
            **{key: value for key, value in os.environ.items() if not key.startswith(("PAYERMAX_", "TELEGRAM_", "DATABASE_"))},
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_BASE_URL": fake.base_url,
            "HTTP_PORT": str(self.port),
            "PUBLIC_BASE_URL": self.base_url,
            "DATABASE_URL": database_url,
            "DATA_DIR": str(data_dir),
            "ADMIN_USER_IDS": admin_ids,
            "SANDBOX_NOTIFY_SCHEDULE": FAST_NOTIFY_SCHEDULE,
            "LOG_LEVEL": "DEBUG",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        """Start the bot and wait until its web endpoint answers /healthz."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=self.data_dir, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"bot exited with {self.process.returncode}:\n{self.log()}")
                try:
                    if (await client.get(f"{self.base_url}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"bot did not start:\n{self.log()}")
                await asyncio.sleep(0.1)

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
        raise TimeoutError(f"bot did not stop within {timeout}s:\n{self.log()}")

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
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(f"{self.base_url}/payermax/notify", content=body, headers=headers)

    def platform_sign(self, body: bytes) -> str:
        """Sign as the (sandbox) PayerMax platform does."""
        return signing.sign(body, self.sandbox_keys().platform_private_key)


class Database:
    """Read-only looks into the bot's database from the test."""

    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_engine(url)
        self.sessions = session_factory(self.engine)

    async def links(self) -> list[Link]:
        async with self.sessions() as session:
            return list((await session.execute(select(Link).order_by(Link.id))).scalars())

    async def payments(self) -> list[Payment]:
        async with self.sessions() as session:
            return list((await session.execute(select(Payment).order_by(Payment.id))).scalars())

    async def outbox_count(self) -> int:
        async with self.sessions() as session:
            return int((await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one())

    async def close(self) -> None:
        await self.engine.dispose()
