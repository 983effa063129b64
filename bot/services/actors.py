"""Who is acting, as the services see a person: no Telegram objects, just what the audit log needs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """A person doing something, and the chat they did it from (None when not from a chat)."""

    user_id: int
    name: str = ""
    chat_id: int | None = None
