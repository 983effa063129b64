"""Team commands: /team, /invite <role>, joining by /start <code>, /remove, /notifyme.

Roles are read from the database on every action, so a removal or a new role takes effect at
the person's very next message; nothing here caches who may do what.
"""

from __future__ import annotations

import logging
from html import escape

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, ContextTypes

# The module, not its names: handlers imports this module too, and registers it.
from bot.chat import handlers, texts
from bot.services.access import PERMISSIONS, Action, Role
from bot.services.actors import Actor
from bot.services.team import TeamError, TeamService

log = logging.getLogger("paylink.chat.team")

INVITABLE = (Role.ADMIN, Role.AGENT, Role.SUPPORT)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def _team(context: ContextTypes.DEFAULT_TYPE) -> TeamService:
    return context.application.bot_data["services"].team


async def _reply(update: Update, text: str, **kwargs: object) -> None:
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, **kwargs)


def actor_of(update: Update) -> Actor:
    """The person behind an update, as the services record them."""
    user = update.effective_user
    return Actor(user.id, user.full_name, update.effective_chat.id)


def abilities(role: Role) -> str:
    """What a role may do, in words: 'create links, manage your own links, resend links'."""
    return ", ".join(action.value for action in Action if action in PERMISSIONS[role])


async def team_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List everyone on the team with their role."""
    if await handlers.refuse_unless(update, context, Action.MANAGE_TEAM):
        return
    await _reply(update, texts.team_list(await _team(context).members()))


async def invite_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Make a single-use t.me deep link that grants a role: /invite agent."""
    if await handlers.refuse_unless(update, context, Action.MANAGE_TEAM):
        return
    wanted = context.args[0].lower() if context.args else ""
    if wanted not in {role.value for role in INVITABLE}:
        await _reply(update, texts.INVITE_USAGE.format(**texts.ROLE_DUTIES))
        return
    try:
        invite = await _team(context).invite(actor_of(update), Role(wanted))
    except TeamError as exc:
        await _reply(update, escape(str(exc)))
        return
    url = f"https://t.me/{context.bot.username}?start={invite.code}"
    log.info("invite made", extra={"chat": update.effective_chat.id, "user": update.effective_user.id, "status": invite.role.value})
    await _reply(
        update, texts.INVITE_MADE.format(role=invite.role.value, url=escape(url), until=texts.when(invite.expires_at)),
        link_preview_options=NO_PREVIEW,
    )


async def accept_invite(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Join the team with the code a t.me/<bot>?start=<code> link carries."""
    user = update.effective_user
    try:
        role = await _team(context).accept(context.args[0], user.id, user.full_name)
    except TeamError as exc:
        log.info("invite refused: %s", exc, extra={"user": user.id})
        await _reply(update, escape(str(exc)))
        return
    if role == Role.OWNER:
        await _reply(update, texts.ALREADY_OWNER)
        return
    log.info("joined the team", extra={"user": user.id, "status": role.value})
    await _reply(update, texts.JOINED.format(role=role.value, abilities=abilities(role)))


def _removal_target(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    """Whom /remove means: the author of the message it replies to, or the user id given."""
    replied = update.effective_message.reply_to_message
    if replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        return replied.from_user.id
    if context.args and context.args[0].lstrip("-").isdigit():
        return int(context.args[0])
    return None


async def remove_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Take someone off the team, effective at their next message: /remove 123456789."""
    if await handlers.refuse_unless(update, context, Action.MANAGE_TEAM):
        return
    target = _removal_target(update, context)
    if target is None:
        await _reply(update, texts.REMOVE_USAGE)
        return
    try:
        removed = await _team(context).remove(actor_of(update), target)
    except TeamError as exc:
        await _reply(update, escape(str(exc)))
        return
    log.info("removed from the team", extra={"chat": update.effective_chat.id, "user": target, "status": removed.role.value})
    await _reply(update, texts.REMOVED.format(name=texts.person(removed.name, removed.user_id), role=removed.role.value))


async def notifyme_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show or switch private "Paid" messages for one's own group links: /notifyme on|off."""
    team, user_id = _team(context), update.effective_user.id
    choice = context.args[0].lower() if context.args else ""
    try:
        if not choice:
            state = await team.notify_private(user_id)
            await _reply(update, texts.NOTIFY_STATE.format(state="on" if state else "off"))
        elif choice in {"on", "off"}:
            await team.set_notify_private(user_id, choice == "on")
            await _reply(update, texts.NOTIFY_ON if choice == "on" else texts.NOTIFY_OFF)
        else:
            await _reply(update, texts.NOTIFY_USAGE)
    except TeamError as exc:
        await _reply(update, escape(str(exc)))


def register(application: Application) -> None:
    """Register the team commands (/start <code> reaches accept_invite through handlers.start)."""
    application.add_handler(CommandHandler("team", team_command))
    application.add_handler(CommandHandler("invite", invite_command))
    application.add_handler(CommandHandler("remove", remove_command))
    application.add_handler(CommandHandler("notifyme", notifyme_command))
