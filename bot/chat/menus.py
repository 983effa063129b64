"""The command menu Telegram shows under "/": one list for private chats, one for groups.

Team management and the audit log are private-chat matters (invite links and the log should not
be posted where a whole group reads them), so groups see only what a group works with.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats
from telegram.error import TelegramError

log = logging.getLogger("paylink.chat.menus")

_LINKS = (
    BotCommand("link", "Make a payment link: /link 150000 IDR Winter shoes"),
    BotCommand("newlink", "Make a payment link step by step"),
    BotCommand("links", "Recent links and their status"),
    BotCommand("find", "Find a link by id, order number or description"),
    BotCommand("status", "Show one link's status"),
)
GROUP_COMMANDS = (
    *_LINKS,
    BotCommand("settings", "This chat's currency, country, validity, page language"),
    BotCommand("cancel", "Stop what we are doing"),
    BotCommand("help", "What I can do"),
)
PRIVATE_COMMANDS = (
    *_LINKS,
    BotCommand("team", "Who may use the bot, and their roles"),
    BotCommand("invite", "A one-time join link: /invite agent"),
    BotCommand("remove", "Take someone off the team: /remove 123456789"),
    BotCommand("settings", "Currency, country, validity, page language"),
    BotCommand("notifyme", "Also get Paid for your group links here: on or off"),
    BotCommand("audit", "Who did what and when (owners)"),
    BotCommand("cancel", "Stop what we are doing"),
    BotCommand("help", "What I can do"),
)


async def publish_commands(bot: Bot) -> None:
    """Set both command lists; a refusal only costs the menu, so it is logged, not raised."""
    for scope, commands in (
        (BotCommandScopeAllPrivateChats(), PRIVATE_COMMANDS),
        (BotCommandScopeAllGroupChats(), GROUP_COMMANDS),
    ):
        try:
            await bot.set_my_commands(commands, scope=scope)
        except TelegramError as exc:
            log.warning("could not set the %s command menu: %s", scope.type, exc)
