"""A group became a supergroup: Telegram's service messages about it move the chat to its new id.

Telegram posts two, in either order: ``migrate_to_chat_id`` in the old group and
``migrate_from_chat_id`` in the new supergroup. Either one moves the chat; the other finds the
move made. Nothing is said in the chat: for the people in it, it is the same group.
"""

from __future__ import annotations

from telegram import Chat, Update
from telegram.constants import ChatType

from bot.chat.context import PaylinkContext, moved_here


async def chat_migrated(update: Update, context: PaylinkContext) -> None:
    """Move the group's settings, links and queued messages from its old chat id to the new one."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old_chat_id, new_chat_id = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old_chat_id, new_chat_id = message.migrate_from_chat_id, message.chat.id
    else:
        return
    await context.services.chat_moves.move(old_chat_id, new_chat_id)


async def find_the_chat(update: Update, context: PaylinkContext) -> None:
    """Read an update from a group that became a supergroup (a button on an old message) as the supergroup's.

    Only a basic group is ever upgraded, so other chats cost nothing; a move found is cached for good.
    """
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.GROUP:
        return
    now = await context.services.chat_moves.where_now(chat.id)
    if now != chat.id:
        moved_here(update, Chat(id=now, type=ChatType.SUPERGROUP, title=chat.title))
