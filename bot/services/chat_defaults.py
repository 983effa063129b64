"""Per-chat defaults for new links: the chat's own settings over the deployment's.

Changing one is validated here (PayerMax's bounds, real currency and country codes) and audited
with the old and the new value in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from babel.core import get_global
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import MAX_LINK_EXPIRY, MIN_LINK_EXPIRY
from bot.money import AmountError, normalise_currency
from bot.services.actors import Actor
from storage import repo
from storage.models import AuditAction, Chat

# Cashier page languages PayerMax's examples and tables show; the link page's own list is
# undocumented (contract section 6), so "en" stays the default and the cashier lets payers switch.
PAGE_LANGUAGES = ("en", "ar", "es", "pt", "tr", "zh", "th", "id", "ms", "vi", "ja", "ko")
# Territories with a currency in use today, per Babel's CLDR data; "EU" is a union, not a country.
COUNTRIES = frozenset(
    code
    for code, currencies in get_global("territory_currencies").items()
    if len(code) == 2
    and code.isalpha()
    and code != "EU"
    and any(end is None and tender for _c, _s, end, tender in currencies)
)

# ChatDefaults field -> (chats table column, name in the audit log)
_STORED_AS = {
    "currency": ("default_currency", "currency"),
    "country": ("default_country", "country"),
    "language": ("language", "language"),
    "expires_seconds": ("link_expiry_seconds", "expiry"),
}


class SettingProblem(StrEnum):
    """Why a setting value cannot be used."""

    UNKNOWN_CURRENCY = "unknown_currency"
    UNKNOWN_COUNTRY = "unknown_country"
    EXPIRY_OUT_OF_RANGE = "expiry_out_of_range"
    NOT_A_DURATION = "not_a_duration"
    UNKNOWN_LANGUAGE = "unknown_language"


class SettingError(ValueError):
    """A setting value that cannot be used: the problem, the value given and what would work."""

    def __init__(self, problem: SettingProblem, value: str, choices: tuple[str, ...] = ()) -> None:
        super().__init__(f"{problem.value}: {value!r}")
        self.problem = problem
        self.value = value
        self.choices = choices


@dataclass(frozen=True)
class ChatRef:
    """The chat a setting is for: enough to remember the chat on first sight."""

    id: int
    type: str
    title: str | None = None


def duration_text(seconds: int) -> str:
    """A short duration for the audit log: 1h, 3d, 90m."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class ChatDefaults:
    """What a new link in a chat gets unless the person says otherwise."""

    currency: str
    country: str
    language: str
    expires_seconds: int


class ChatDefaultsService:
    """Reads and changes a chat's defaults."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], deployment: ChatDefaults) -> None:
        self._sessions = sessions
        self._deployment = deployment

    async def defaults_for(self, chat_id: int) -> ChatDefaults:
        """The chat's settings where it has them, the deployment's otherwise."""
        async with self._sessions() as session:
            chat = await repo.get_chat(session, chat_id)
        return self._merge(chat)

    def _merge(self, chat: Chat | None) -> ChatDefaults:
        if chat is None:
            return self._deployment
        base = self._deployment
        return ChatDefaults(
            currency=chat.default_currency or base.currency,
            country=chat.default_country or base.country,
            language=chat.language or base.language,
            expires_seconds=chat.link_expiry_seconds or base.expires_seconds,
        )

    async def set_currency(self, actor: Actor, chat: ChatRef, code: str) -> ChatDefaults:
        """Make ``code`` the chat's currency for amounts typed without one."""
        try:
            currency = normalise_currency(code)
        except AmountError:
            raise SettingError(SettingProblem.UNKNOWN_CURRENCY, code.strip()) from None
        return await self._change(actor, chat, "currency", currency)

    async def set_country(self, actor: Actor, chat: ChatRef, code: str) -> ChatDefaults:
        """Make ``code`` (ISO alpha-2) the country new links are made for."""
        country = code.strip().upper()
        if country not in COUNTRIES:
            raise SettingError(SettingProblem.UNKNOWN_COUNTRY, code.strip())
        return await self._change(actor, chat, "country", country)

    async def set_expiry(self, actor: Actor, chat: ChatRef, seconds: int) -> ChatDefaults:
        """Make new links valid for ``seconds``, within PayerMax's 1 hour to 30 days."""
        if not MIN_LINK_EXPIRY.total_seconds() <= seconds <= MAX_LINK_EXPIRY.total_seconds():
            raise SettingError(SettingProblem.EXPIRY_OUT_OF_RANGE, str(seconds))
        return await self._change(actor, chat, "expires_seconds", int(seconds))

    async def set_language(self, actor: Actor, chat: ChatRef, code: str) -> ChatDefaults:
        """Make ``code`` the language of the payment page for new links."""
        language = code.strip().lower()
        if language not in PAGE_LANGUAGES:
            raise SettingError(SettingProblem.UNKNOWN_LANGUAGE, code.strip(), PAGE_LANGUAGES)
        return await self._change(actor, chat, "language", language)

    async def _change(self, actor: Actor, chat: ChatRef, name: str, value: str | int) -> ChatDefaults:
        """Store one setting and audit old -> new, in one transaction."""
        column, subject = _STORED_AS[name]
        async with self._sessions() as session, session.begin():
            await repo.upsert_chat(session, chat.id, chat.type, chat.title)
            row = await session.get(Chat, chat.id, with_for_update=True, populate_existing=True)
            assert row is not None
            before = self._merge(row)
            setattr(row, column, value)
            after = replace(before, **{name: value})
            old, new = getattr(before, name), getattr(after, name)
            if old != new:
                shown = duration_text if name == "expires_seconds" else str
                await repo.audit(
                    session,
                    actor_user_id=actor.user_id,
                    actor_name=actor.name,
                    chat_id=chat.id,
                    action=AuditAction.SETTINGS,
                    subject=subject,
                    detail=f"{shown(old)} -> {shown(new)}",
                )
        return after
