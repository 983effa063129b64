"""Team commands: /team (and who may refund), /invite <role>, joining by /start <code>, /remove, /notifyme.

Roles are read from the database on every action, so a removal or a new role takes effect at
the person's very next message; nothing here caches who may do what.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.botapi import sending
from bot.botapi.markup import visible_text
from bot.chat import menus, texts
from bot.chat.context import PaylinkContext, actor, chat_of, message_of, query_of, sender
from bot.chat.guards import refuse_unless
from bot.chat.reply import reply
from bot.services.access import GRANTORS, REFUND_GRANTABLE, REFUND_GRANTORS, Action
from bot.services.team import TeamError, TeamMember
from storage.models import Role

log = logging.getLogger("paylink.chat.team")

INVITABLE = (Role.ADMIN, Role.AGENT, Role.SUPPORT)
# /team buttons that give or take the refund permission: "tm:rf:<user id>:<1 give | 0 take>".
GRANT_PREFIX = "tm"
GRANT_PATTERN = rf"^{GRANT_PREFIX}:rf:(\d+):([01])$"
MAX_GRANT_BUTTONS = 20  # more people than that: /team refund <user id> on|off


async def team_command(update: Update, context: PaylinkContext) -> None:
    """List the team with their roles; ``/team refund <user id> on|off`` gives or takes the refund permission."""
    if await refuse_unless(update, context, Action.MANAGE_TEAM):
        return
    args = [arg.lower() for arg in context.args or []]
    if args and args[0] == "refund":
        await _grant_command(update, context, args[1:])
        return
    members = await context.services.team.members()
    await reply(
        update, context, texts.team_list(members), buttons=await _grant_buttons(context, sender(update).id, members)
    )


async def _grant_command(update: Update, context: PaylinkContext, args: Sequence[str]) -> None:
    """/team refund 123456789 on|off."""
    if len(args) != 2 or not args[0].isdigit() or len(args[0]) > 20 or args[1] not in {"on", "off"}:
        await reply(update, context, texts.refund_grant_usage())
        return
    try:
        member = await context.services.team.set_can_refund(actor(update), int(args[0]), args[1] == "on")
    except TeamError as exc:
        await reply(update, context, texts.team_problem(exc))
        return
    log.info("refund permission", extra={"user": member.user_id, "status": "on" if member.can_refund else "off"})
    await reply(update, context, texts.refund_granted(member.name, member.user_id, member.can_refund))
    await menus.fit_menu(context.bot, context.services, member.user_id)  # /refund joins or leaves their menu


async def _grant_buttons(
    context: PaylinkContext, viewer: int, members: Sequence[TeamMember]
) -> InlineKeyboardMarkup | None:
    """For an owner: one button per agent or support person, giving or taking their refund permission."""
    if await context.services.access.role_of(viewer) not in REFUND_GRANTORS:
        return None
    rows = [
        [
            InlineKeyboardButton(
                texts.grant_button(member.name, member.user_id, member.can_refund),
                callback_data=f"{GRANT_PREFIX}:rf:{member.user_id}:{0 if member.can_refund else 1}",
            )
        ]
        for member in members
        if member.role in REFUND_GRANTABLE
    ]
    return InlineKeyboardMarkup(rows[:MAX_GRANT_BUTTONS]) if rows else None


async def grant_pressed(update: Update, context: PaylinkContext) -> None:
    """A /team button: give or take someone's refund permission (owners only), then show the list as it is now."""
    query = query_of(update)
    match = re.match(GRANT_PATTERN, query.data or "")
    if match is None:
        await sending.answer(query)
        return
    if await refuse_unless(update, context, Action.MANAGE_TEAM):
        return
    try:
        member = await context.services.team.set_can_refund(actor(update), int(match.group(1)), match.group(2) == "1")
    except TeamError as exc:
        await sending.answer(query, visible_text(texts.team_problem(exc)), alert=True)
        return
    await sending.answer(query, visible_text(texts.refund_granted(member.name, member.user_id, member.can_refund)))
    await menus.fit_menu(context.bot, context.services, member.user_id)  # /refund joins or leaves their menu
    if isinstance(query.message, Message):
        members = await context.services.team.members()
        buttons = await _grant_buttons(context, sender(update).id, members)
        await sending.edit_text(
            context.bot, query.message.chat.id, query.message.message_id, texts.team_list(members), buttons=buttons
        )


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
