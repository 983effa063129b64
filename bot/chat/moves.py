"""A group became a supergroup: Telegram's service messages about it move the chat to its new id.

Telegram posts two, in either order: ``migrate_to_chat_id`` in the old group and
``migrate_from_chat_id`` in the new supergroup. Either one moves the chat; the other finds the
move made. Nothing is said in the chat: for the people in it, it is the same group.
"""

from __future__ import annotations

from telegram import Update

from bot.chat.context import PaylinkContext


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
