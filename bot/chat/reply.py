"""Answering the message a handler is handling, as PTB's ``reply_text`` does, through the one sending path."""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import ChatType

from bot.botapi import sending
from bot.botapi.markup import Markup
from bot.chat.context import PaylinkContext, chat_of, reply_target


async def reply(
    update: Update, context: PaylinkContext, text: Markup, *, buttons: sending.Keyboard = None, preview: bool = True
) -> Message:
    """Answer in the update's chat; in a group, as a reply to the person's message so they see it is for them."""
    chat = chat_of(update)
    return await sending.send_text(
        context.bot,
        chat.id,
        text,
        buttons=buttons,
        reply_to=reply_target(update) if chat.type != ChatType.PRIVATE else None,
        preview=preview,
    )
