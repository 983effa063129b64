"""/start and /help (who you are here and what you can do), and what an unknown command hears."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType

from bot.botapi.markup import Markup, join
from bot.chat import menus, texts
from bot.chat.context import PaylinkContext, chat_of, sender
from bot.chat.reply import reply
from bot.chat.team import accept_invite
from storage.models import Role


async def start(update: Update, context: PaylinkContext) -> None:
    """Welcome the person for who they are, or join the team with the code of a t.me/<bot>?start=<code> link."""
    if context.args:
        await accept_invite(update, context)
        return
    await help_command(update, context)


async def help_command(update: Update, context: PaylinkContext) -> None:
    """Say who the person is here (role, team, sandbox or live) and list what they can do, one example each."""
    await reply(update, context, await _welcome(update, context))
    if chat_of(update).type == ChatType.PRIVATE:
        await menus.fit_menu(context.bot, context.services, sender(update).id)


async def unknown_command(update: Update, context: PaylinkContext) -> None:
    """Answer a command we do not know with what the person can do."""
    await reply(update, context, join([texts.unknown_command(), await _welcome(update, context)], "\n\n"))


async def _welcome(update: Update, context: PaylinkContext) -> Markup:
    services, user, chat = context.services, sender(update), chat_of(update)
    role = await services.access.role_of(user.id)
    in_group = chat.type != ChatType.PRIVATE
    # Owners and admins are named to team members only: a stranger learns how to join, not who runs the team.
    leaders = (
        [member for member in await services.team.members() if member.role in (Role.OWNER, Role.ADMIN)]
        if role is not None
        else []
    )
    defaults = await services.chat_defaults.defaults_for(chat.id)
    return texts.welcome(
        first_name=user.first_name,
        user_id=user.id,
        role=role,
        bot_name=context.bot.first_name,
        environment=services.environment,
        leaders=leaders,
        commands=[
            command.name
            for command in menus.usable_commands(role, await services.access.allowed(user.id), in_group=in_group)
        ],
        currency=defaults.currency,
        everyone_owns=services.access.everyone_owns,
    )
