"""What start-up says: one INFO line naming where this process is, and hints when a phone could not reach it.

The line answers what an operator (or a developer trying the sandbox) asks first: which bot,
polling or webhook, which PayerMax, which database (never its password), the public address,
and where customers pay. The hints explain why a payment link would not open on a phone; a
warning says when the bot would send faster than Telegram allows.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.botapi.budget import TELEGRAM_LIMITS
from bot.config import Settings
from bot.database import describe
from bot.sandbox.payloads import SandboxUrls

log = logging.getLogger("paylink.app")

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
ALL_INTERFACES = frozenset({"0.0.0.0", "::", ""})


def checkout_base(settings: Settings) -> str:
    """Where customers pay: the embedded sandbox's pages, or PayerMax's own."""
    if settings.is_sandbox:
        return SandboxUrls(settings.public_base_url).checkout_base
    return f"PayerMax's payment pages ({settings.payermax_env})"


def started_line(settings: Settings, username: str | None, engine: AsyncEngine) -> str:
    """The one start-up line: bot, mode, PayerMax, database (no password), public URL, checkout."""
    payermax = "sandbox (embedded, no real money)" if settings.is_sandbox else settings.payermax_env
    return (
        f"started: bot @{username or '?'}, {settings.bot_mode}, PayerMax {payermax}, "
        f"database {describe(engine)}, public URL {settings.public_base_url}, "
        f"customers pay at {checkout_base(settings)}"
    )


def phone_hint(settings: Settings) -> str | None:
    """In the sandbox on loopback: how to open the payment links from a phone instead."""
    host = urlsplit(settings.public_base_url).hostname or ""
    if not settings.is_sandbox or not _is_loopback(host):
        return None
    return (
        f"payment links point at {host}, so only this computer can open them. To pay from a phone on the same "
        "network, set HTTP_HOST=0.0.0.0 and PUBLIC_BASE_URL=http://<this computer's LAN address>:"
        f"{settings.http_port} (README: trying it from a phone)"
    )


def unreachable_warning(settings: Settings) -> str | None:
    """Links at a LAN address the server does not listen on (a reverse proxy uses a name, and is left alone)."""
    host = urlsplit(settings.public_base_url).hostname or ""
    if not (_is_private_address(host) and _is_loopback(settings.http_host)):
        return None
    return (
        f"payment links point at {host} but the server listens on {settings.http_host} only, so nobody else "
        "can open them: set HTTP_HOST=0.0.0.0"
    )


def pace_warning(settings: Settings) -> str | None:
    """Send limits above Telegram's published ones: fine against a test Bot API, 429s from Telegram itself."""
    limits = settings.telegram_send_limits
    if all(mine <= telegram for mine, telegram in zip(limits, TELEGRAM_LIMITS, strict=True)):
        return None
    return (
        f"TELEGRAM_SEND_LIMITS={','.join(map(str, limits))} is above Telegram's published limits "
        f"({','.join(map(str, TELEGRAM_LIMITS))}): Telegram will answer 429 and hold every message back; "
        "raise it only for a test Bot API"
    )


def label_problems() -> list[str]:
    """What the printable QR labels lack on this machine (they are still sent, with plainer text)."""
    from bot.label.fonts import (
        DEBIAN_PACKAGES,
        missing_families,
        shaping_available,
    )  # Pillow and fontTools, off the loop

    problems = []
    missing = missing_families()
    if missing:
        problems.append(f"QR labels lack the fonts {', '.join(missing)}")
    if not shaping_available():
        problems.append("QR labels cannot shape Arabic or Thai (Pillow finds no FriBiDi for libraqm)")
    if problems:
        problems.append(f"install the Debian packages {' '.join(DEBIAN_PACKAGES)}")
    return problems


async def report_start(settings: Settings, username: str | None, engine: AsyncEngine) -> None:
    """Log the start-up line, then any hint about reaching the links and any gap in the label's fonts."""
    log.info(started_line(settings, username, engine))
    if hint := phone_hint(settings):
        log.info(hint)
    if warning := unreachable_warning(settings):
        log.warning(warning)
    if warning := pace_warning(settings):
        log.warning(warning)
    # Reading the fonts' character maps takes a moment (the Chinese face has 45,000): off the event loop,
    # and it readies them for the first QR label.
    problems = await asyncio.to_thread(label_problems)
    if problems:
        log.warning("; ".join(problems))


def _is_private_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private and not address.is_loopback


def _is_loopback(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    if host in ALL_INTERFACES:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: assume it resolves elsewhere
