"""Per-chat defaults for new links: the chat's own settings over the deployment's."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import repo


@dataclass(frozen=True)
class ChatDefaults:
    """What a new link in a chat gets unless the person says otherwise."""

    currency: str
    country: str
    language: str
    expires_seconds: int


class ChatSettingsService:
    """Reads a chat's defaults."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], deployment: ChatDefaults) -> None:
        self._sessions = sessions
        self._deployment = deployment

    async def defaults_for(self, chat_id: int) -> ChatDefaults:
        """The chat's settings where it has them, the deployment's otherwise."""
        async with self._sessions() as session:
            chat = await repo.get_chat(session, chat_id)
        if chat is None:
            return self._deployment
        base = self._deployment
        return ChatDefaults(
            currency=chat.default_currency or base.currency,
            country=chat.default_country or base.country,
            language=chat.language or base.language,
            expires_seconds=chat.link_expiry_seconds or base.expires_seconds,
        )
