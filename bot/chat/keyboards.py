"""Inline keyboards: the link card's buttons and the confirmation of a new link."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from storage.models import Link, LinkStatus

CREATE = "create"
ABORT = "abort"


def is_public_url(url: str | None) -> bool:
    """Telegram refuses URL buttons to loopback or private hosts, so only offer public ones."""
    if not url:
        return False
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"} or not host or host == "localhost" or "." not in host:
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return True  # a host name


def card_keyboard(link: Link) -> InlineKeyboardMarkup | None:
    """Buttons under a link card; none once the link can no longer be paid."""
    if link.status != LinkStatus.ACTIVE or not is_public_url(link.link_url):
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton("Open payment page", url=link.link_url)]])


def confirm_keyboard() -> InlineKeyboardMarkup:
    """Create / Cancel under the summary of a new link."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("✅ Create link", callback_data=CREATE), InlineKeyboardButton("✖️ Cancel", callback_data=ABORT)]]
    )
