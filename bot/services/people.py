"""The people the bot talks to: how to name them (and find them by @username), and their language.

A person's language is the one they chose with /language, else the one their Telegram app says
(``language_code``, mapped onto the languages the bot speaks), else the deployment's default.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n.locales import from_telegram, supported
from storage import repo
from storage.db import read_session
from storage.models import Person, utcnow

# People whose details are already stored as seen: most updates then cost no write at all.
_REMEMBERED = 20_000


@dataclass(frozen=True)
class Seen:
    """What an update tells about its sender."""

    user_id: int
    name: str
    username: str | None
    language_code: str | None


class PeopleService:
    """Remembers people and answers which language each reads."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, default_language: str) -> None:
        self._sessions = sessions
        self._default = default_language
        self._stored: dict[int, Seen] = {}
        self._chosen: dict[int, str | None] = {}

    async def seen(self, person: Seen) -> None:
        """Store what an update says about its sender, when it changed."""
        username = person.username.lower() if person.username else None
        seen = Seen(person.user_id, person.name, username, person.language_code)
        if self._stored.get(person.user_id) == seen:
            return
        async with self._sessions() as session, session.begin():
            await repo.upsert_person(
                session,
                seen.user_id,
                name=seen.name,
                username=username,
                telegram_language=seen.language_code,
                now=utcnow(),
            )
        if len(self._stored) > _REMEMBERED:
            self._stored.clear()
        self._stored[person.user_id] = seen

    async def language_of(self, user_id: int, telegram_language: str | None = None) -> str:
        """The language to answer this person in."""
        chosen = await self._chosen_language(user_id)
        if chosen:
            return chosen
        if telegram_language is None:
            stored = self._stored.get(user_id)
            telegram_language = stored.language_code if stored else await self._telegram_language(user_id)
        return from_telegram(telegram_language) or self._default

    async def choose_language(self, user_id: int, code: str) -> str:
        """Remember the language a person chose; return it."""
        language = supported(code) or from_telegram(code) or self._default
        async with self._sessions() as session, session.begin():
            await repo.set_person_language(session, user_id, language, now=utcnow())
        self._chosen[user_id] = language
        return language

    async def by_username(self, username: str) -> Person | None:
        """The person last seen with this @username, if any."""
        async with read_session(self._sessions) as session:
            return await repo.person_by_username(session, username)

    async def menu_of(self, user_id: int) -> str | None:
        """The command menu last given to this person's private chat (None: the default one)."""
        async with read_session(self._sessions) as session:
            person = await repo.get_person(session, user_id)
        return person.menu if person else None

    async def set_menu(self, user_id: int, menu: str | None) -> None:
        """Remember the command menu given to this person's private chat."""
        async with self._sessions() as session, session.begin():
            await repo.set_person_menu(session, user_id, menu)

    async def with_menus(self) -> list[int]:
        """Everyone whose private chat has a command menu of their own."""
        async with read_session(self._sessions) as session:
            return await repo.people_with_menus(session)

    async def _chosen_language(self, user_id: int) -> str | None:
        if user_id not in self._chosen:
            async with read_session(self._sessions) as session:
                person = await repo.get_person(session, user_id)
            if len(self._chosen) > _REMEMBERED:
                self._chosen.clear()
            self._chosen[user_id] = supported(person.language) if person else None
        return self._chosen[user_id]

    async def _telegram_language(self, user_id: int) -> str | None:
        async with read_session(self._sessions) as session:
            person = await repo.get_person(session, user_id)
        return person.telegram_language if person else None
