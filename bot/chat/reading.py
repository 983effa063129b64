"""Before any handler: remember who wrote, and write everything for this update in their language and zone."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType

from bot.chat.context import PaylinkContext, where
from bot.i18n.reader import Reader, reading_as, set_reader
from bot.services.people import Seen


async def meet_the_reader(update: Update, context: PaylinkContext) -> None:
    """Store the sender's name and language, and set the reader for the rest of this update's handlers."""
    user, chat = update.effective_user, where(update)
    if user is None or user.is_bot:
        return
    services = context.services
    await services.people.seen(Seen(user.id, user.full_name, user.username, user.language_code))
    chat_id = chat.id if chat is not None else user.id
    reader = await services.readers.person_in_chat(user.id, chat_id, user.language_code)
    if chat is not None and chat.type != ChatType.PRIVATE:
        # A group reads the language of whoever brought the bot in (or first spoke to it), until /settings says.
        await services.chat_defaults.remember_language(chat.id, chat.type, chat.title, reader.locale)
    set_reader(reader)


async def chat_reader(context: PaylinkContext, chat_id: int) -> Reader:
    """The reader of a message to a whole chat (a group's language, or the private chat's person)."""
    return await context.services.readers.chat(chat_id)


__all__ = ["chat_reader", "meet_the_reader", "reading_as"]
