"""Per-chat defaults for new links and the chat's languages and clock: the chat's own choices over the deployment's.

Changing one is validated here (PayerMax's bounds, real currency, country and zone codes, the
languages the bot speaks) and audited with the old and the new value in the same transaction.
A private chat's bot language is its person's (see ``people``); a group has its own.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from babel.core import get_global
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import MAX_LINK_EXPIRY, MIN_LINK_EXPIRY
from bot.i18n.clock import is_zone
from bot.i18n.locales import SUPPORTED, from_telegram
from bot.i18n.regions import currency_of, markets, zones_of
from bot.money import AmountError, normalise_currency
from bot.services import reminders
from bot.services.actors import Actor
from storage import repo
from storage.db import read_session
from storage.details import DetailKind, detail
from storage.models import AuditAction, Chat, OutboxKind, utcnow

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
    "customer_language": ("customer_language", "customer language"),
    "timezone": ("timezone", "time zone"),
    "expires_seconds": ("link_expiry_seconds", "expiry"),
    "reminder_seconds": ("reminder_seconds", "reminders"),
    "summary_minute": ("daily_summary_minute", "daily summary"),
}
_STORED_WITH = {"summary_minute": ("daily_summary_set_at",)}  # written together with the setting's own column
MINUTES_A_DAY = 24 * 60
OFF_WORDS = frozenset({"off", "no", "none", "-"})
_TIME_OF_DAY = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?$")


class SettingProblem(StrEnum):
    """Why a setting value cannot be used."""

    UNKNOWN_CURRENCY = "unknown_currency"
    UNKNOWN_COUNTRY = "unknown_country"
    EXPIRY_OUT_OF_RANGE = "expiry_out_of_range"
    NOT_A_DURATION = "not_a_duration"
    UNKNOWN_LANGUAGE = "unknown_language"
    UNKNOWN_ZONE = "unknown_zone"
    REMINDER_OUT_OF_RANGE = "reminder_out_of_range"
    NOT_A_TIME = "not_a_time"


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


def setting_columns() -> dict[str, tuple[str, ...]]:
    """Each chat setting as the audit log names it, and the chat columns that hold it."""
    return {subject: (column, *_STORED_WITH.get(name, ())) for name, (column, subject) in _STORED_AS.items()}


def minute_text(minute: int) -> str:
    """A time of day for the audit log: 09:00, 18:30."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_time_of_day(text: str) -> int | None:
    """Minutes after midnight for "9", "09:30", "18.30" or "18h30"; None for "off"; SettingError otherwise."""
    typed = text.strip().lower()
    if typed in OFF_WORDS:
        return None
    match = _TIME_OF_DAY.match(typed)
    if match is None:
        raise SettingError(SettingProblem.NOT_A_TIME, text.strip())
    hours, minutes = int(match.group(1)), int(match.group(2) or 0)
    if hours > 23 or minutes > 59:
        raise SettingError(SettingProblem.NOT_A_TIME, text.strip())
    return hours * 60 + minutes


def duration_text(seconds: int) -> str:
    """A short duration for the audit log: 1h, 3d, 90m."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class ChatDefaults:
    """What a new link in a chat gets unless the person says otherwise, and how the chat reads."""

    currency: str | None  # None: nobody chose one and the deployment has none: the bot asks
    country: str | None  # None: a link's country follows its currency (see link_country)
    language: str  # the bot's language for the whole chat (a group's cards, "Paid")
    customer_language: str  # the customer's message and PayerMax's payment page
    timezone: str  # IANA name
    expires_seconds: int
    setup_offered: bool = False
    customer_language_chosen: bool = False  # False: customers read the chat's (or its person's) language
    timezone_chosen: bool = False  # False: the deployment's DEFAULT_TIMEZONE
    # How long before expiry a link's creator is reminded: None the default rule (bot.services.reminders), 0 never.
    reminder_seconds: int | None = None
    summary_minute: int | None = None  # the daily summary's local time, in minutes after midnight (None: off)


FALLBACK_COUNTRY = "US"  # PayerMax needs a country; only a currency with no country of its own (EUR) comes here


def link_country(defaults: ChatDefaults, currency: str) -> str:
    """The country a link is made for: the chat's, else the currency's own (ISO 4217 codes start with it), else US."""
    if defaults.country:
        return defaults.country
    issuer = currency[:2]
    return issuer if issuer in COUNTRIES else FALLBACK_COUNTRY


def market_country(defaults: ChatDefaults) -> str | None:
    """Where the chat sells: its country, else its currency's own (COP: CO); None if neither says (EUR, none)."""
    if defaults.country:
        return defaults.country
    issuer = (defaults.currency or "")[:2]
    return issuer if issuer in COUNTRIES else None


def suggested(defaults: ChatDefaults, language: str) -> ChatDefaults:
    """What the first-run offer proposes: for a language sold in one country only, that country's
    currency, country and main time zone wherever the chat has none yet. Nothing is stored until
    the person keeps it; for languages of many countries (English, Arabic, Spanish) nothing is guessed."""
    countries = markets(language)
    if len(countries) != 1:
        return defaults
    country = defaults.country or countries[0]
    currency = defaults.currency or currency_of(country)
    zones = zones_of(country)
    zone = defaults.timezone if defaults.timezone_chosen or not zones else zones[0]
    return replace(defaults, country=country, currency=currency, timezone=zone)


class ChatDefaultsService:
    """Reads and changes a chat's defaults."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        deployment: ChatDefaults,
        *,
        on_enqueued: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._deployment = deployment
        self._on_enqueued = on_enqueued  # wakes the outbox when the first-run offer is queued
        self._languages_known: set[int] = set()  # groups whose language is stored: no write needed again

    @property
    def deployment(self) -> ChatDefaults:
        """The deployment's own defaults (DEFAULT_* settings)."""
        return self._deployment

    async def defaults_for(self, chat_id: int) -> ChatDefaults:
        """The chat's settings where it has them, the deployment's otherwise."""
        async with read_session(self._sessions) as session:
            chat = await repo.get_chat(session, chat_id)
        return self.merge(chat)

    async def title_of(self, chat_id: int) -> str | None:
        """The chat's title as last seen (a group's name; None for a private chat or a chat not yet seen)."""
        async with read_session(self._sessions) as session:
            chat = await repo.get_chat(session, chat_id)
        return chat.title if chat is not None and chat.title else None

    def merge(self, chat: Chat | None) -> ChatDefaults:
        """A chat's row over the deployment's defaults."""
        base = self._deployment
        if chat is None:
            return base
        language = chat.language or base.language
        return ChatDefaults(
            currency=chat.default_currency or base.currency,
            country=chat.default_country or base.country,
            language=language,
            customer_language=chat.customer_language or language,
            timezone=chat.timezone or base.timezone,
            expires_seconds=chat.link_expiry_seconds or base.expires_seconds,
            setup_offered=chat.setup_offered_at is not None,
            customer_language_chosen=chat.customer_language is not None,
            timezone_chosen=chat.timezone is not None,
            reminder_seconds=chat.reminder_seconds,
            summary_minute=chat.daily_summary_minute,
        )

    async def keep_suggestions(self, actor: Actor, chat: ChatRef, kept: ChatDefaults) -> ChatDefaults:
        """Store what the first-run offer proposed, for each of currency, country and zone still unset."""
        now = await self.defaults_for(chat.id)
        if kept.currency and not now.currency:
            now = await self.set_currency(actor, chat, kept.currency)
        if kept.country and not now.country:
            now = await self.set_country(actor, chat, kept.country)
        if kept.timezone and not now.timezone_chosen and kept.timezone != now.timezone:
            now = await self.set_timezone(actor, chat, kept.timezone)
        return now

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

    async def set_reminder(self, actor: Actor, chat: ChatRef, seconds: int | None) -> ChatDefaults:
        """Remind a link's creator this long before it expires (None: the default rule, 0: never).

        The chat's links not reminded yet follow the new setting.
        """
        if seconds not in (None, reminders.OFF) and not (
            reminders.MIN_LEAD.total_seconds() <= seconds <= reminders.MAX_LEAD.total_seconds()
        ):
            raise SettingError(SettingProblem.REMINDER_OUT_OF_RANGE, str(seconds))

        async def follow(session: AsyncSession, row: Chat) -> None:
            await reminders.reschedule_chat(session, row.id, row.reminder_seconds)

        return await self._change(actor, chat, "reminder_seconds", seconds, after=follow)

    async def set_language(self, actor: Actor, chat: ChatRef, code: str) -> ChatDefaults:
        """Make ``code`` the bot's language for the whole chat."""
        return await self._change(actor, chat, "language", _language(code))

    async def set_customer_language(self, actor: Actor, chat: ChatRef, code: str) -> ChatDefaults:
        """Make ``code`` the language of the customer's message and of PayerMax's payment page."""
        return await self._change(actor, chat, "customer_language", _language(code))

    async def set_timezone(self, actor: Actor, chat: ChatRef, name: str) -> ChatDefaults:
        """Make ``name`` (IANA, e.g. Asia/Jakarta) the chat's time zone."""
        zone = name.strip()
        if not is_zone(zone):
            raise SettingError(SettingProblem.UNKNOWN_ZONE, zone)
        return await self._change(actor, chat, "timezone", zone)

    async def set_daily_summary(self, actor: Actor, chat: ChatRef, text: str) -> ChatDefaults:
        """Send the chat a summary every day at this local time ("18:30"), or stop ("off")."""
        minute = parse_time_of_day(text)
        # A time already past today starts tomorrow: the summary is due only at moments after this one.
        return await self._change(actor, chat, "summary_minute", minute, also={"daily_summary_set_at": utcnow()})

    async def offer_setup(
        self, chat: ChatRef, *, language: str | None, write: Callable[[ChatDefaults], tuple[str, dict[str, Any] | None]]
    ) -> bool:
        """Queue the chat's first-run offer, once ever (atomic); False if it was offered before.

        ``write`` turns the chat's defaults into the offer's text and buttons. The offer goes through
        the outbox, so it follows the card of a link the same command made instead of overtaking it.
        """
        async with self._sessions() as session, session.begin():
            now = utcnow()
            if not await repo.claim_setup_offer(session, chat.id, chat.type, chat.title, now=now, language=language):
                return False
            text, buttons = write(self.merge(await session.get(Chat, chat.id, populate_existing=True)))
            await repo.enqueue(
                session,
                dedupe_key=f"setup:{chat.id}",
                kind=OutboxKind.NOTICE,
                chat_id=chat.id,
                payload={"text": text, "buttons": buttons},
            )
        self._on_enqueued()
        return True

    async def remember_language(self, chat_id: int, chat_type: str, title: str | None, language: str) -> None:
        """Give a group the first language it meets, unless it has one (only the first sight writes)."""
        if chat_id in self._languages_known:
            return
        async with self._sessions() as session, session.begin():
            await repo.remember_chat_language(session, chat_id, chat_type, title, language)
        self._languages_known.add(chat_id)

    async def _change(
        self,
        actor: Actor,
        chat: ChatRef,
        name: str,
        value: str | int | None,
        *,
        also: dict[str, Any] | None = None,
        after: Callable[[AsyncSession, Chat], Awaitable[None]] | None = None,
    ) -> ChatDefaults:
        """Store one setting (and the ``also`` columns that go with it) and audit old -> new, in one transaction.

        With ``after``, what follows from it is done in the same transaction.
        """
        column, subject = _STORED_AS[name]
        async with self._sessions() as session, session.begin():
            await repo.upsert_chat(session, chat.id, chat.type, chat.title)
            row = await session.get(Chat, chat.id, with_for_update=True, populate_existing=True)
            assert row is not None
            before = self.merge(row)
            setattr(row, column, value)
            for other, other_value in (also or {}).items():
                setattr(row, other, other_value)
            changed = self.merge(row)
            old, new = getattr(before, name), getattr(changed, name)
            if old != new:
                await repo.audit(
                    session,
                    actor_user_id=actor.user_id,
                    actor_name=actor.name,
                    chat_id=chat.id,
                    action=AuditAction.SETTINGS,
                    subject=subject,
                    detail=detail(DetailKind.SETTING, old=old, new=new),
                )
            if after is not None:
                await after(session, row)
        return replace(changed)


def _language(code: str) -> str:
    """A language the bot speaks, as stored ("pt_BR"); accepts "pt-br", "pt", "zh"..."""
    cleaned = code.strip()
    language = cleaned if cleaned in SUPPORTED else from_telegram(cleaned)
    if language is None:
        raise SettingError(SettingProblem.UNKNOWN_LANGUAGE, cleaned, SUPPORTED)
    return language
