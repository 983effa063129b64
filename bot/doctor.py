"""``paylink-bot doctor``: check the configuration and everything it points at.

One check, one line, and a failed line names the variable to change. A problem found in the
settings is reported once: a probe that would only trip over it again is skipped, and says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import Bot
from telegram.error import InvalidToken, NetworkError
from telegram.request import HTTPXRequest

from bot.config import ConfigError, Settings, read_settings, telegram_unreachable
from bot.payermax.errors import ApiError, SignatureError, TransportError
from bot.tls import client_tls

Check = Callable[[Settings], Awaitable[str]]
T = TypeVar("T")
PROBE_LINK_ID = "PLDOCTORPROBE0"  # a merchantLinkId that never exists: any signed answer proves the keys
PROBE_TIMEOUT = 30.0
# Settings the PayerMax probe signs and verifies with: if one is already reported, the probe would only repeat it.
PAYERMAX_PROBE_VARIABLES = frozenset(
    {
        "PAYERMAX_APP_ID",
        "PAYERMAX_MERCHANT_NO",
        "PAYERMAX_MERCHANT_PRIVATE_KEY",
        "PAYERMAX_MERCHANT_PRIVATE_KEY_FILE",
        "PAYERMAX_PLATFORM_PUBLIC_KEY",
        "PAYERMAX_PLATFORM_PUBLIC_KEY_FILE",
    }
)


class Skipped(Exception):
    """A check that was not run; str() says why."""


async def _within(work: Awaitable[T], variable: str, what: str) -> T:
    """Await ``work``, turning a hang into a ConfigError naming ``variable``."""
    try:
        return await asyncio.wait_for(work, timeout=PROBE_TIMEOUT)
    except TimeoutError:
        raise ConfigError(variable, f"no answer from {what} within {PROBE_TIMEOUT:.0f} s") from None


async def _database(settings: Settings) -> str:
    from bot.database import check_reachable, database_variable, describe, open_engine

    engine = open_engine(settings)
    try:
        await _within(check_reachable(engine, settings), database_variable(settings), describe(engine))
    finally:
        await engine.dispose()
    return f"database reachable ({engine.url.get_backend_name()})"


async def _telegram(settings: Settings) -> str:
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_api_base_url,
        # PTB's own defaults, with the process's one TLS context.
        request=HTTPXRequest(httpx_kwargs={"verify": client_tls()}),
        get_updates_request=HTTPXRequest(connection_pool_size=1, httpx_kwargs={"verify": client_tls()}),
    )
    try:
        async with bot:
            api = f"the Telegram Bot API at {settings.telegram_api_base_url}"
            me = await _within(bot.get_me(), "TELEGRAM_API_BASE_URL", api)
    except InvalidToken:
        raise ConfigError("TELEGRAM_BOT_TOKEN", "Telegram refused this token (check it with BotFather)") from None
    except NetworkError as exc:
        raise telegram_unreachable(settings, exc) from None
    return f"Telegram knows the bot as @{me.username}"


async def _payermax(settings: Settings) -> str:
    if settings.is_sandbox:
        return "PayerMax: embedded sandbox gateway (no real money); set PAYERMAX_ENV=uat to go live"
    from bot.gateway_setup import configured_keys
    from bot.payermax.client import PayerMaxClient

    keys = configured_keys(settings)
    address = "PAYERMAX_BASE_URL" if settings.payermax_base_url else "PAYERMAX_ENV"
    client = PayerMaxClient(
        base_url=settings.gateway_base_url,
        app_id=settings.payermax_app_id or "",
        merchant_no=settings.payermax_merchant_no or "",
        merchant_private_key=keys.merchant_private_key,
        platform_public_key=keys.platform_public_key,
        timeout=settings.payermax_timeout,
    )
    async with client:
        try:
            await _within(client.query_paybylink(PROBE_LINK_ID), address, f"PayerMax at {settings.gateway_base_url}")
        except ApiError as exc:
            refused = _refusal(settings, exc)
            if refused:
                raise refused from None
            return (
                f"PayerMax {settings.payermax_env} reachable at {settings.gateway_base_url}, "
                f"keys accepted ({exc.code} for a probe link)"
            )
        except SignatureError:
            raise ConfigError(
                settings.key_variable("PAYERMAX_PLATFORM_PUBLIC_KEY"),
                "PayerMax's answer does not verify with this key "
                f"(use the platform public key of the {settings.payermax_env} app)",
            ) from None
        except TransportError as exc:
            raise ConfigError(address, f"cannot reach PayerMax at {settings.gateway_base_url} ({exc})") from None
    return f"PayerMax {settings.payermax_env} reachable at {settings.gateway_base_url}"


def _refusal(settings: Settings, exc: ApiError) -> ConfigError | None:
    """The setting PayerMax's refusal points at (contract §7 validation codes), or None for a harmless answer."""
    said = f"PayerMax answered {exc.code}" + (f": {exc.msg}" if exc.msg else "")
    if exc.code == "SIGN_VERIFY_FAILED":
        variable = settings.key_variable("PAYERMAX_MERCHANT_PRIVATE_KEY")
        return ConfigError(variable, f"{said} (is this key's public half uploaded for PAYERMAX_APP_ID in MMC?)")
    if exc.code == "MERCHANT_APP_INVALID":
        hint = f"is it the {settings.payermax_env} app, with its public key uploaded?"
        return ConfigError("PAYERMAX_APP_ID", f"{said} ({hint})")
    if exc.code == "MERCHANT_INVALID":
        return ConfigError("PAYERMAX_MERCHANT_NO", said)
    return None


def _skip_payermax(problems: list[ConfigError]) -> Check | None:
    """A stand-in for the PayerMax probe when its settings are already reported, or None to run it."""
    reported = sorted({problem.variable for problem in problems} & PAYERMAX_PROBE_VARIABLES)
    if not reported:
        return None

    async def skipped(_settings: Settings) -> str:
        raise Skipped(f"PayerMax probe skipped: fix {', '.join(reported)} above first")

    return skipped


async def check() -> int:
    """Run every check, print one line each, and return 0 only if all passed."""
    settings, problems = read_settings()
    for problem in problems:
        print(f"✖ {problem}")
    if settings is None:
        print(f"{len(problems)} problem(s) found")
        return 1
    if not problems:
        print(f"✔ settings read (PAYERMAX_ENV={settings.payermax_env}, BOT_MODE={settings.bot_mode})")
    failures = len(problems)
    checks: tuple[tuple[str, Check], ...] = (
        ("database", _database),
        ("telegram", _telegram),
        ("payermax", _skip_payermax(problems) or _payermax),
    )
    for name, probe in checks:
        try:
            print(f"✔ {await probe(settings)}")
        except Skipped as exc:
            print(f"– {exc}")
        except ConfigError as exc:
            print(f"✖ {exc}")
            failures += 1
        except Exception as exc:  # doctor must report, not crash
            print(f"✖ {name}: {type(exc).__name__}: {exc}")
            failures += 1
    print("all checks passed" if not failures else f"{failures} problem(s) found")
    return 0 if not failures else 1
