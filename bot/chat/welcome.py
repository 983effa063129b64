"""/start and /help, and what an unknown command hears."""

from __future__ import annotations

from telegram import Update

from bot.botapi.markup import join
from bot.chat import texts
from bot.chat.context import PaylinkContext, chat_of
from bot.chat.reply import reply
from bot.chat.team import accept_invite


async def start(update: Update, context: PaylinkContext) -> None:
    """Greet and explain, or join the team with the invite code a t.me/<bot>?start=<code> link carries."""
    if context.args:
        await accept_invite(update, context)
        return
    await help_command(update, context)


async def help_command(update: Update, context: PaylinkContext) -> None:
    """Show what the bot can do."""
    defaults = await context.services.chat_defaults.defaults_for(chat_of(update).id)
    await reply(update, context, texts.help_text(defaults.currency))


async def unknown_command(update: Update, context: PaylinkContext) -> None:
    """Answer a command we do not know with the help."""
    defaults = await context.services.chat_defaults.defaults_for(chat_of(update).id)
    await reply(update, context, join([texts.unknown_command(), texts.help_text(defaults.currency)], "\n\n"))
