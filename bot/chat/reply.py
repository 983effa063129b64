"""Answering the message a handler is handling, as PTB's ``reply_text`` does, through the one sending path."""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import ChatType

from bot.botapi import sending
from bot.botapi.markup import Markup
from bot.chat.context import PaylinkContext, chat_of


async def reply(
    update: Update, context: PaylinkContext, text: Markup, *, buttons: sending.Keyboard = None, preview: bool = True
) -> Message:
    """Answer in the update's chat; in a group, as a reply to the person's message so they see it is for them."""
    chat = chat_of(update)
    message = update.effective_message
    quote = message is not None and chat.type != ChatType.PRIVATE
    return await sending.send_text(
        context.bot,
        chat.id,
        text,
        buttons=buttons,
        reply_to=message.message_id if quote and message else None,
        preview=preview,
    )
