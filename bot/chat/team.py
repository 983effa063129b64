"""Team commands: /team, /invite <role>, joining by /start <code>, /remove, /notifyme.

Roles are read from the database on every action, so a removal or a new role takes effect at
the person's very next message; nothing here caches who may do what.
"""

from __future__ import annotations

import logging
import re

from telegram import Update

from bot.chat import menus, texts
from bot.chat.context import PaylinkContext, actor, chat_of, message_of, sender
from bot.chat.guards import refuse_unless
from bot.chat.reply import reply
from bot.services.access import GRANTORS, Action
from bot.services.team import TeamError
from storage.models import Role

log = logging.getLogger("paylink.chat.team")

INVITABLE = (Role.ADMIN, Role.AGENT, Role.SUPPORT)


async def team_command(update: Update, context: PaylinkContext) -> None:
    """List everyone on the team with their role."""
    if await refuse_unless(update, context, Action.MANAGE_TEAM):
        return
    await reply(update, context, texts.team_list(await context.services.team.members()))


async def invite_command(update: Update, context: PaylinkContext) -> None:
    """Make a single-use t.me deep link that grants a role: /invite agent."""
    if await refuse_unless(update, context, Action.MANAGE_TEAM):
        return
    wanted = context.args[0].lower() if context.args else ""
    if wanted not in {role.value for role in INVITABLE}:
        mine = await context.services.access.role_of(sender(update).id)
        await reply(update, context, texts.invite_usage([role for role in INVITABLE if mine in GRANTORS[role]]))
        return
    try:
        invite = await context.services.team.invite(actor(update), Role(wanted))
    except TeamError as exc:
        await reply(update, context, texts.team_problem(exc))
        return
    url = f"https://t.me/{context.bot.username}?start={invite.code}"
    log.info("invite made", extra={"chat": chat_of(update).id, "user": sender(update).id, "status": invite.role.value})
    made = texts.invite_made(invite.role, url, invite.expires_at)
    await reply(update, context, made, preview=False)


async def accept_invite(update: Update, context: PaylinkContext) -> None:
    """Join the team with the code a t.me/<bot>?start=<code> link carries."""
    user = sender(update)
    code = context.args[0] if context.args else ""
    try:
        role = await context.services.team.accept(code, user.id, user.full_name)
    except TeamError as exc:
        log.info("invite refused: %s", exc.problem.value, extra={"user": user.id})
        await reply(update, context, texts.team_problem(exc))
        return
    if role == Role.OWNER:
        await reply(update, context, texts.already_owner())
        return
    log.info("joined the team", extra={"user": user.id, "status": role.value})
    await reply(update, context, texts.joined(role))
    await menus.fit_menu(context.bot, context.services, user.id)


# A Telegram @username: 5 to 32 letters, digits and underscores (shorter ones are Telegram's collectibles).
_USERNAME = re.compile(r"@?([A-Za-z][A-Za-z0-9_]{3,31})")


async def _removal_target(update: Update, context: PaylinkContext) -> int | str | None:
    """Whom /remove means: a reply's author, a user id, or a seen @username (an unseen one comes back as text)."""
    replied = message_of(update).reply_to_message
    if replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
        return replied.from_user.id
    given = context.args[0] if context.args else ""
    if given.lstrip("-").isdigit() and len(given) <= 20:
        return int(given)
    named = _USERNAME.fullmatch(given) if given.startswith("@") else None
    if named is None:
        return None
    person = await context.services.people.by_username(named.group(1))
    return person.user_id if person is not None else named.group(1)


async def remove_command(update: Update, context: PaylinkContext) -> None:
    """Take someone off the team, effective at their next message: /remove @username or /remove 123456789."""
    if await refuse_unless(update, context, Action.MANAGE_TEAM):
        return
    target = await _removal_target(update, context)
    if target is None:
        await reply(update, context, texts.remove_usage())
        return
    if isinstance(target, str):
        await reply(update, context, texts.unknown_username(target))
        return
    try:
        removed = await context.services.team.remove(actor(update), target)
    except TeamError as exc:
        await reply(update, context, texts.team_problem(exc))
        return
    log.info("removed from the team", extra={"chat": chat_of(update).id, "user": target, "status": removed.role.value})
    await reply(update, context, texts.removed(removed.name, removed.user_id, removed.role, removed.username))
    await menus.fit_menu(context.bot, context.services, target)


async def notifyme_command(update: Update, context: PaylinkContext) -> None:
    """Show or switch private "Paid" messages for one's own group links: /notifyme on|off."""
    team, user_id = context.services.team, sender(update).id
    choice = context.args[0].lower() if context.args else ""
    try:
        if not choice:
            state = await team.notify_private(user_id)
            await reply(update, context, texts.notify_state(state))
        elif choice in {"on", "off"}:
            await team.set_notify_private(user_id, choice == "on")
            await reply(update, context, texts.notify_on() if choice == "on" else texts.notify_off())
        else:
            await reply(update, context, texts.notify_usage())
    except TeamError as exc:
        await reply(update, context, texts.team_problem(exc))
