"""Saying no: the role check before an action, and refusals that cost the bot almost nothing.

A refusal is a courtesy. A button press always gets its answer (Telegram wants one, and it is
not a message), but a typed command is refused in words at most once a minute per person, at
the lowest sending priority, so strangers hammering the bot cannot delay a seller's "Paid".
"""

from __future__ import annotations

import logging

from telegram import Update

from bot.botapi import sending
from bot.botapi.markup import Markup
from bot.chat import texts
from bot.chat.context import PaylinkContext, chat_of, sender
from bot.services.access import Action, Refusal

log = logging.getLogger("paylink.chat")


async def refuse(update: Update, context: PaylinkContext, refused: Refusal) -> None:
    """Tell the person what role this needs and who grants it (paced for typed commands)."""
    user, chat = sender(update), chat_of(update)
    log.info("refused: %s", refused.action.value, extra={"chat": chat.id, "user": user.id})
    sentence = texts.refusal(refused, user.id)
    if update.callback_query is not None:
        await sending.answer(update.callback_query, sentence, alert=True)
        return
    if not await context.services.notices.may_tell(user.id):
        log.info("refusal not repeated within a minute", extra={"chat": chat.id, "user": user.id})
        return
    message = update.effective_message
    await sending.send_courtesy(
        context.bot, chat.id, Markup("{sentence}").format(sentence=sentence),
        reply_to=message.message_id if message else None,
    )


async def refuse_unless(update: Update, context: PaylinkContext, action: Action) -> bool:
    """Refuse (see :func:`refuse`) unless the person's role allows ``action``; True if refused."""
    refused = await context.services.access.check(sender(update).id, action)
    if refused is None:
        return False
    await refuse(update, context, refused)
    return True
