"""``paylink-bot doctor``: check the configuration and everything it points at, one line each."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot.config import ConfigError, Settings, live_problems, load_settings
from bot.payermax.errors import ApiError, PayerMaxError

Check = Callable[[Settings], Awaitable[str]]
PROBE_LINK_ID = "PLDOCTORPROBE0"  # a merchantLinkId that never exists: any signed answer proves the keys


async def _database(settings: Settings) -> str:
    from storage.db import create_engine

    engine = create_engine(settings.resolved_database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    return f"database reachable ({engine.url.get_backend_name()})"


async def _telegram(settings: Settings) -> str:
    bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=settings.telegram_api_base_url)
    try:
        async with bot:
            me = await bot.get_me()
    except InvalidToken:
        raise ConfigError("TELEGRAM_BOT_TOKEN", "Telegram refused this token") from None
    return f"Telegram knows the bot as @{me.username}"


async def _payermax(settings: Settings) -> str:
    if settings.is_sandbox:
        return "PayerMax: embedded sandbox gateway (no real money); set PAYERMAX_ENV=uat to go live"
    from bot.app import configured_keys
    from bot.payermax.client import PayerMaxClient

    keys = configured_keys(settings)
    client = PayerMaxClient(
        base_url=settings.gateway_base_url, app_id=settings.payermax_app_id or "", merchant_no=settings.payermax_merchant_no or "",
        merchant_private_key=keys.merchant_private_key, platform_public_key=keys.platform_public_key, timeout=settings.payermax_timeout,
    )
    async with client:
        try:
            await client.query_paybylink(PROBE_LINK_ID)
        except ApiError as exc:
            if exc.code in {"SIGN_VERIFY_FAILED", "MERCHANT_APP_INVALID", "MERCHANT_INVALID"}:
                raise ConfigError("PAYERMAX_MERCHANT_PRIVATE_KEY", f"PayerMax answered {exc.code}: {exc.msg} (is the public key uploaded for this appId?)") from None
            return f"PayerMax {settings.payermax_env} reachable at {settings.gateway_base_url}, keys accepted ({exc.code} for a probe link)"
    return f"PayerMax {settings.payermax_env} reachable at {settings.gateway_base_url}"


async def check() -> int:
    """Run every check, print one line each, and return 0 only if all passed."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"✖ {exc}")
        return 1
    failures = 0
    print(f"✔ settings read (PAYERMAX_ENV={settings.payermax_env}, BOT_MODE={settings.bot_mode})")
    for problem in live_problems(settings):
        print(f"✖ {problem}")
        failures += 1
    for name, probe in (("database", _database), ("telegram", _telegram), ("payermax", _payermax)):
        try:
            print(f"✔ {await asyncio.wait_for(probe(settings), timeout=30)}")
        except ConfigError as exc:
            print(f"✖ {exc}")
            failures += 1
        except (PayerMaxError, TelegramError, OSError, asyncio.TimeoutError) as exc:
            print(f"✖ {name}: {type(exc).__name__}: {exc}")
            failures += 1
        except Exception as exc:  # doctor must report, not crash
            print(f"✖ {name}: {type(exc).__name__}: {exc}")
            failures += 1
    print("all checks passed" if not failures else f"{failures} problem(s) found")
    return 0 if not failures else 1
