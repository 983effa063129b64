"""Saying no: the role check before an action, and refusals that cost the bot almost nothing.

A refusal names what would do: the roles that may, and for a team member their own role and
who can give them another, by name (strangers learn how to be invited, not who runs the team).
A refusal is a courtesy. A button press always gets its answer (Telegram wants one, and it is
not a message), but a typed command is refused in words at most once a minute per person, at
the lowest sending priority and beside the update rather than in it, so strangers hammering the
bot cannot delay a seller's "Paid" or hold up the seller's own commands.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError

from bot.botapi import sending
from bot.botapi.markup import Markup
from bot.chat import texts
from bot.chat.context import PaylinkContext, chat_of, reply_target, sender
from bot.services.access import Action, Refusal

log = logging.getLogger("paylink.chat")


async def refuse(update: Update, context: PaylinkContext, refused: Refusal) -> None:
    """Tell the person what role this needs and who grants it (paced for typed commands)."""
    user, chat = sender(update), chat_of(update)
    log.info("refused: %s", refused.action.value, extra={"chat": chat.id, "user": user.id})
    if update.callback_query is not None:
        await sending.answer(update.callback_query, await _refusal_for(context, refused, user.id), alert=True)
        return
    if not await context.services.notices.may_tell(user.id):
        log.info("refusal not repeated within a minute", extra={"chat": chat.id, "user": user.id})
        return
    sentence = await _refusal_for(context, refused, user.id)
    # Off the update's path: a refusal may wait seconds for a courtesy slot, and the update must not
    # hold one of the places where updates are handled meanwhile (the seller's commands need them).
    text = Markup("{sentence}").format(sentence=sentence)
    reply_to = reply_target(update)
    context.application.create_task(_tell(context.bot, chat.id, text, reply_to), name=f"refusal-{user.id}")


async def _refusal_for(context: PaylinkContext, refused: Refusal, user_id: int) -> str:
    """The refusal worded for this person: a member hears their own role and whom to ask by name."""
    services = context.services
    role = await services.access.role_of(user_id)
    asked = await services.team.who_grants(refused.roles) if role is not None else []
    return texts.refusal(refused, user_id, role=role, asked=asked)


async def _tell(bot: sending.Bot, chat_id: int, sentence: Markup, reply_to: int | None) -> None:
    """Send a refusal as a courtesy; one Telegram will not take is logged, never answered with another message."""
    try:
        await sending.send_courtesy(bot, chat_id, sentence, reply_to=reply_to)
    except TelegramError as exc:
        log.warning("refusal to chat %s not sent: %s", chat_id, exc)


async def refuse_unless(update: Update, context: PaylinkContext, action: Action) -> bool:
    """Refuse (see :func:`refuse`) unless the person's role allows ``action``; True if refused."""
    refused = await context.services.access.check(sender(update).id, action)
    if refused is None:
        return False
    await refuse(update, context, refused)
    return True
