"""The tail of each bot's log, secrets masked, as sections of a failing end-to-end test's report.

pytest deletes old temporary folders, and with them the bot.log that says why a test failed (a
traceback, "database is locked", a slow send); the report keeps what matters of it. The hooks are
wired in tests/e2e/conftest.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.sandbox.keys import MERCHANT_KEY_FILE, PLATFORM_KEY_FILE, SANDBOX_DIR_NAME
from tests.e2e.harness import STARTED_BOTS, BotProcess

TAIL_LINES = 80
# A line longer than this (a whole update at DEBUG) is cut: the report is read by people.
LINE_CHARS = 2000
SECTION_PREFIX = "bot log"
MASK = "***"
# Environment variables whose values are secrets, by a part of their name.
SECRET_NAMES = ("TOKEN", "SECRET", "PASSWORD", "PRIVATE_KEY")
# Shorter values are not masked where they occur: "1" would mask every digit of the log.
MIN_SECRET_CHARS = 6
# Masked whatever the harness knows: a token in a Bot API URL, and base64 as long as a key or an
# RSA signature (a sign header some test made itself).
TOKEN_IN_URL = re.compile(r"/bot\d+:[^/\s\"']+")
LONG_BASE64 = re.compile(r"[A-Za-z0-9+/]{120,}={0,2}")


def report_sections() -> list[tuple[str, str]]:
    """One (title, text) per log file the running test's bots wrote, oldest bot first."""
    by_log: dict[Path, list[BotProcess]] = {}
    for bot in STARTED_BOTS:
        by_log.setdefault(bot.log_path, []).append(bot)
    sections = []
    for path, bots in by_log.items():
        ports = ", ".join(str(bot.port) for bot in bots)
        title = f"{SECTION_PREFIX} ({_short(path)}, port {ports}, last {TAIL_LINES} lines)"
        sections.append((title, masked(tail(path), secrets_of(bots))))
    return sections


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of the file, each cut to LINE_CHARS; a note if there is no file."""
    if not path.exists():
        return f"(no log at {path})"
    kept = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(line if len(line) <= LINE_CHARS else f"{line[:LINE_CHARS]} …(cut)" for line in kept)


def secrets_of(bots: Iterable[BotProcess]) -> set[str]:
    """Every secret value the harness gave these bots or made for them."""
    found: set[str] = set()
    for bot in bots:
        token = bot.fake.token
        found |= {token, token.split(":", 1)[-1], *bot.signs}
        for name, value in bot.env.items():
            if any(part in name.upper() for part in SECRET_NAMES):
                found |= _pem_parts(value) if "-----BEGIN" in value else {value}
            if name.upper().endswith("PRIVATE_KEY_FILE"):
                found |= _pem_parts(_read(Path(value)))
            if name == "DATABASE_URL":
                found.add(_password(value))
        for key_file in (MERCHANT_KEY_FILE, PLATFORM_KEY_FILE):
            found |= _pem_parts(_read(bot.data_dir / SANDBOX_DIR_NAME / key_file))
    return {value for value in found if len(value) >= MIN_SECRET_CHARS}


def masked(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret (longest first, so a part never leaves the rest) and token-shaped text masked."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = TOKEN_IN_URL.sub(f"/bot{MASK}", text)
    return LONG_BASE64.sub(MASK, text)


def _pem_parts(pem: str) -> set[str]:
    """A PEM key's base64 whole and line by line: logged either way, it is masked."""
    lines = [line.strip() for line in pem.splitlines() if line.strip() and not line.startswith("-----")]
    return {"".join(lines), *lines} if lines else set()


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _password(url: str) -> str:
    try:
        return str(make_url(url).password or "")
    except ArgumentError:
        return ""


def _short(path: Path) -> str:
    """The log's path below the test's temporary folder, e.g. data/bot.log."""
    return os.path.join(path.parent.name, path.name)
