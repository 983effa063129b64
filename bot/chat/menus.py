"""The command menu Telegram shows under "/": one list for private chats, one for groups, in every language.

Team management and the audit log are private-chat matters (invite links and the log should not
be posted where a whole group reads them), so groups see only what a group works with. Each list
is published once per language with ``language_code``, so Telegram shows a person the menu in the
language of their app; the English one is also the default for everyone else.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats
from telegram.error import TelegramError

from bot.i18n.locales import FALLBACK, SUPPORTED, telegram_code
from bot.i18n.reader import N_, Reader, gettext, reading_as

log = logging.getLogger("paylink.chat.menus")

# (command, description); the descriptions are translated when the menu is published.
_LINKS = (
    ("link", N_("Make a payment link: /link 150000 IDR Winter shoes")),
    ("newlink", N_("Make a payment link step by step")),
    ("links", N_("Recent links and today's takings")),
    ("find", N_("Find a link by id, order number or words")),
    ("status", N_("One link's status")),
    ("refund", N_("Refund a paid link: /refund PL… 50000 reason")),
    ("report", N_("Takings and links of a period, with a chart: /report month")),
    ("export", N_("A period's links as a spreadsheet file: /export month")),
)
GROUP_COMMANDS = (
    *_LINKS,
    ("settings", N_("This chat's currency, time zone, language")),
    ("cancel", N_("Stop what we are doing")),
    ("help", N_("What I can do")),
)
PRIVATE_COMMANDS = (
    *_LINKS,
    ("team", N_("Who may use the bot, and their roles")),
    ("invite", N_("A one-time join link: /invite agent")),
    ("remove", N_("Take someone off the team: /remove 123456789")),
    ("settings", N_("Currency, time zone, language, validity")),
    ("language", N_("The language I write to you in")),
    ("notifyme", N_("Also get “Paid” for your group links here")),
    ("audit", N_("Who did what and when (owners)")),
    ("cancel", N_("Stop what we are doing")),
    ("help", N_("What I can do")),
)


def commands_in(language: str, commands: tuple[tuple[str, str], ...]) -> list[BotCommand]:
    """A command list with its descriptions in ``language``."""
    with reading_as(Reader(locale=language)):
        return [BotCommand(command, gettext(description)) for command, description in commands]


async def publish_commands(bot: Bot) -> None:
    """Set both command lists in every language; a refusal only costs that menu, so it is logged, not raised."""
    for scope, commands in (
        (BotCommandScopeAllPrivateChats(), PRIVATE_COMMANDS),
        (BotCommandScopeAllGroupChats(), GROUP_COMMANDS),
    ):
        for language in SUPPORTED:
            # The fallback language is also the menu of every app language the bot does not speak.
            code = None if language == FALLBACK else telegram_code(language)
            try:
                await bot.set_my_commands(commands_in(language, commands), scope=scope, language_code=code)
            except TelegramError as exc:
                log.warning("could not set the %s command menu for %s: %s", scope.type, language, exc)
