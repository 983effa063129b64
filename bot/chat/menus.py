"""Which commands each person is offered: the menu Telegram shows under "/", and the list /help gives.

One table says who may use each command and where (a private chat, a group, or both). From it:

- groups get one menu (what a group works with: making and finding links, its settings);
- a private chat gets the menu of its person's role, so /invite, /team and /audit are offered
  only to those who can use them. Telegram lets a bot set a menu for one chat
  (``BotCommandScopeChat``): each team member's private chat gets their role's menu in their
  language, and everyone else (strangers, removed members) sees the default private menu: how
  to start. In a sandbox with no owners everyone is an owner, so the default is the owner's menu.

Per-person menus are set when someone joins, is removed, changes language or asks for /start
or /help, and checked at start-up; ``people.menu`` remembers what was set, so an unchanged menu
costs no call to Telegram. Team commands and the audit log stay out of groups (invite links and
the log should not be posted where a whole group reads them). Groups share one menu: a menu per
member of a group (``BotCommandScopeChatMember``) would need a record of every group each member
was given one in, to take it back when they leave the team; there a refusal explains instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Bot, BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats, BotCommandScopeChat
from telegram.error import TelegramError

from bot.chat.context import Services
from bot.i18n.locales import FALLBACK, SUPPORTED, telegram_code
from bot.i18n.reader import N_, Reader, gettext, reading_as
from bot.services.access import PERMISSIONS, Action
from storage.models import Role

log = logging.getLogger("paylink.chat.menus")


# Who may use a command, from the person's role (None: not on the team) and everything they may do.
Usable = Callable[[Role | None, frozenset[Action]], bool]


def _may(*actions: Action) -> Usable:
    """Anyone who may do one of these actions."""
    return lambda role, allowed: bool(allowed & set(actions))


def _anyone(role: Role | None, allowed: frozenset[Action]) -> bool:
    return True


def _stranger(role: Role | None, allowed: frozenset[Action]) -> bool:
    return role is None


def _member_making_links(role: Role | None, allowed: frozenset[Action]) -> bool:
    # Private "Paid" copies are kept on members rows; owners (from configuration) have none.
    return role is not None and role != Role.OWNER and Action.CREATE_LINK in allowed


_LINKS = _may(Action.MANAGE_OWN_LINKS, Action.VIEW_ALL_LINKS)


@dataclass(frozen=True)
class Command:
    """A command, its menu description, who may use it, and where it is offered."""

    name: str
    description: str  # N_(): translated when a menu is made
    usable: Usable
    private: bool = True
    group: bool = False
    group_description: str | None = None


COMMANDS = (
    Command("start", N_("Who I am and how to join"), _stranger),
    Command("link", N_("Make a payment link: /link 150000 IDR Winter shoes"), _may(Action.CREATE_LINK), group=True),
    Command("newlink", N_("Make a payment link step by step"), _may(Action.CREATE_LINK), group=True),
    Command("links", N_("Recent links and today's takings"), _LINKS, group=True),
    Command("find", N_("Find a link by id, order number or words"), _LINKS, group=True),
    Command("status", N_("One link's status"), _LINKS, group=True),
    Command("refund", N_("Refund a paid link: /refund PL… 50000 reason"), _may(Action.REFUND), group=True),
    Command(
        "report",
        N_("Takings and links of a period, with a chart: /report month"),
        _may(Action.VIEW_REPORTS),
        group=True,
    ),
    Command(
        "export",
        N_("A period's links as a spreadsheet file: /export month"),
        _may(Action.EXPORT_LINKS),
        group=True,
    ),
    Command("team", N_("Who may use the bot, and their roles"), _may(Action.MANAGE_TEAM)),
    Command("invite", N_("A one-time join link: /invite agent"), _may(Action.MANAGE_TEAM)),
    Command("remove", N_("Take someone off the team: /remove @username"), _may(Action.MANAGE_TEAM)),
    Command(
        "settings",
        N_("Currency, time zone, language, validity"),
        _may(Action.CHANGE_SETTINGS),
        group=True,
        group_description=N_("This chat's currency, time zone, language"),
    ),
    Command("language", N_("The language I answer you in"), _anyone),
    Command("notifyme", N_("Also get “Paid” for your group links here"), _member_making_links),
    Command("audit", N_("Who did what and when (owners)"), _may(Action.READ_AUDIT)),
    Command("cancel", N_("Stop what we are doing"), _may(Action.CREATE_LINK), group=True),
    Command("help", N_("What I can do"), _anyone, group=True),
)


def usable_commands(role: Role | None, allowed: frozenset[Action], *, in_group: bool) -> list[Command]:
    """The commands someone with this role, who may do ``allowed``, may use in this kind of chat, in menu order."""
    return [
        command
        for command in COMMANDS
        if (command.group if in_group else command.private) and command.usable(role, allowed)
    ]


def group_commands() -> list[Command]:
    """The one menu of every group: whatever a team member may use there."""
    return [command for command in COMMANDS if command.group]


def commands_in(language: str, commands: list[Command], *, in_group: bool = False) -> list[BotCommand]:
    """A command list with its descriptions in ``language``."""
    with reading_as(Reader(locale=language)):
        return [
            BotCommand(command.name, gettext((command.group_description if in_group else None) or command.description))
            for command in commands
        ]


def _default_role(services: Services) -> Role | None:
    """Whose menu a private chat shows when it has none of its own."""
    return Role.OWNER if services.access.everyone_owns else None


async def publish_commands(bot: Bot, services: Services) -> None:
    """Set the group menu and the default private menu in every language; a refusal only costs that menu."""
    role = _default_role(services)
    default = usable_commands(role, PERMISSIONS[role] if role else frozenset(), in_group=False)
    for scope, commands, in_group in (
        (BotCommandScopeAllPrivateChats(), default, False),
        (BotCommandScopeAllGroupChats(), group_commands(), True),
    ):
        for language in SUPPORTED:
            # The fallback language is also the menu of every app language the bot does not speak.
            code = None if language == FALLBACK else telegram_code(language)
            try:
                await bot.set_my_commands(
                    commands_in(language, commands, in_group=in_group), scope=scope, language_code=code
                )
            except TelegramError as exc:
                log.warning("could not set the %s command menu for %s: %s", scope.type, language, exc)


async def fit_menu(bot: Bot, services: Services, user_id: int) -> None:
    """Give this person's private chat their role's menu in their language (or the default one), if it changed."""
    role = await services.access.role_of(user_id)
    wanted: str | None = None
    commands: list[BotCommand] = []
    if role != _default_role(services):
        language = await services.people.language_of(user_id)
        allowed = await services.access.allowed(user_id)
        commands = commands_in(language, usable_commands(role, allowed, in_group=False))
        listed = json.dumps([(command.command, command.description) for command in commands], ensure_ascii=False)
        wanted = f"{role}:{language}:{hashlib.sha256(listed.encode()).hexdigest()[:16]}"
    if await services.people.menu_of(user_id) == wanted:
        return
    scope = BotCommandScopeChat(user_id)
    try:
        if wanted is None:
            await bot.delete_my_commands(scope=scope)
        else:
            await bot.set_my_commands(commands, scope=scope)
    except TelegramError as exc:
        # E.g. an owner who never opened a chat with the bot: tried again at the next start or change.
        log.warning("could not set the command menu of %s: %s", user_id, exc)
        return
    await services.people.set_menu(user_id, wanted)


async def fit_everyones_menus(bot: Bot, services: Services) -> None:
    """At start-up: every owner's and member's menu as their role and language want it, and none for the rest."""
    people = set(services.access.owner_ids) | {member.user_id for member in await services.team.members()}
    people |= set(await services.people.with_menus())
    for user_id in sorted(people):
        try:
            await fit_menu(bot, services, user_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # a convenience: one person's menu must not stop the others'
            log.exception("command menu of %s not checked", user_id)
