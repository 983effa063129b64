"""Who reads a message, in which language and time zone: a person, a chat, or a chat's customers.

A person reads their own language in the zone of the chat they write in; a private chat is its
person; a group reads the group's language (set in /settings, at first the language of whoever
brought the bot in); customers read the chat's customer language.
"""

from __future__ import annotations

from bot.i18n.reader import Reader
from bot.services.chat_defaults import ChatDefaultsService
from bot.services.people import PeopleService


class Readers:
    """Works out the reader of a message."""

    def __init__(self, people: PeopleService, chat_defaults: ChatDefaultsService) -> None:
        self._people = people
        self._chats = chat_defaults

    async def person_in_chat(self, user_id: int, chat_id: int, telegram_language: str | None = None) -> Reader:
        """A person reading the bot's answer to them, in the chat they wrote in."""
        defaults = await self._chats.defaults_for(chat_id)
        return Reader(await self._people.language_of(user_id, telegram_language), defaults.timezone)

    async def chat(self, chat_id: int) -> Reader:
        """Everyone in a chat: a private chat's person, or a group's language."""
        defaults = await self._chats.defaults_for(chat_id)
        if chat_id > 0:  # a private chat's id is its person's
            return Reader(await self._people.language_of(chat_id), defaults.timezone)
        return Reader(defaults.language, defaults.timezone)

    async def customers_of(self, chat_id: int) -> Reader:
        """The customers a chat sends links to."""
        defaults = await self._chats.defaults_for(chat_id)
        if chat_id > 0 and not defaults.customer_language_chosen:
            return Reader(await self._people.language_of(chat_id), defaults.timezone)
        return Reader(defaults.customer_language, defaults.timezone)
