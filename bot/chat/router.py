"""Every handler, registered in one place, in the order Telegram updates should meet them.

Group -1 claims the update (a redelivered update stops there), the default group holds the
commands, buttons and messages, and a last group marks the update done once its handler ran.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.botapi import sending
from bot.chat import (
    audit,
    cards,
    creation,
    keyboards,
    language,
    lists,
    moves,
    reading,
    refunds,
    reports,
    settings_menu,
    team,
    texts,
    welcome,
)
from bot.chat.context import PaylinkApplication, PaylinkContext, where

log = logging.getLogger("paylink.chat")

CLAIM_GROUP = -3
PLACE_GROUP = -2  # which chat the update is about (an old group's button: the supergroup it became)
READER_GROUP = -1  # after the claim: a repeated update stops before anything is written for it
SETUP_GROUP = 1
# Commands that are themselves the set-up: no offer after them.
NOT_BEFORE_SETUP = filters.Regex(r"^/(settings|language)(@\w+)?(\s|$)")
HANDLED_GROUP = 1000  # runs after every other handler group


async def drop_repeated_update(update: Update, context: PaylinkContext) -> None:
    """Stop an update that is done or being handled elsewhere (Telegram redelivers after timeouts and restarts)."""
    if not await context.services.update_claims.claim(update.update_id):
        log.info("dropped a repeated update %s", update.update_id)
        raise ApplicationHandlerStop


async def remember_update(update: Update, context: PaylinkContext) -> None:
    """Mark the update done after its handlers ran: a crash mid-way lets its redelivery run it."""
    await context.services.update_claims.done(update.update_id)


async def on_error(update: object, context: PaylinkContext) -> None:
    """Log the failure and tell the person nothing was created."""
    log.error("handler failed: %s", context.error, exc_info=context.error)
    chat = where(update) if isinstance(update, Update) else None
    if isinstance(update, Update) and chat is not None and update.effective_message is not None:
        try:
            await sending.send_text(context.bot, chat.id, texts.internal_error())
        except Exception:  # the reply is a courtesy; the failure is already logged
            log.warning("could not tell the user about the failure")


COMMANDS = {
    "start": welcome.start,
    "help": welcome.help_command,
    "link": creation.link_command,
    "newlink": creation.new_link,
    "cancel": creation.cancel,
    "links": lists.links_command,
    "find": lists.find_command,
    "status": lists.status_command,
    "refund": refunds.refund_command,
    "report": reports.report_command,
    "export": reports.export_command,
    "settings": settings_menu.settings_command,
    "audit": audit.audit_command,
    "team": team.team_command,
    "invite": team.invite_command,
    "remove": team.remove_command,
    "notifyme": team.notifyme_command,
    "language": language.language_command,
}


def register(application: PaylinkApplication) -> None:
    """Register every handler of the bot."""
    application.add_handler(TypeHandler(Update, drop_repeated_update), group=CLAIM_GROUP)
    application.add_handler(TypeHandler(Update, moves.find_the_chat), group=PLACE_GROUP)
    application.add_handler(TypeHandler(Update, reading.meet_the_reader), group=READER_GROUP)
    application.add_handler(TypeHandler(Update, remember_update), group=HANDLED_GROUP)
    for command, callback in COMMANDS.items():
        application.add_handler(CommandHandler(command, callback))
    application.add_handler(
        CallbackQueryHandler(creation.confirm_create, pattern=keyboards.summary_pattern(keyboards.CREATE))
    )
    application.add_handler(
        CallbackQueryHandler(creation.abort_create, pattern=keyboards.summary_pattern(keyboards.ABORT))
    )
    application.add_handler(CallbackQueryHandler(cards.card_pressed, pattern=f"^{keyboards.CARD_PREFIX}:"))
    application.add_handler(CallbackQueryHandler(lists.links_page, pattern=lists.LIST_PATTERN))
    application.add_handler(CallbackQueryHandler(refunds.refund_pressed, pattern=f"^{keyboards.REFUND_PREFIX}:"))
    application.add_handler(CallbackQueryHandler(team.grant_pressed, pattern=f"^{team.GRANT_PREFIX}:"))
    application.add_handler(
        CallbackQueryHandler(
            settings_menu.settings_button, pattern=f"^({settings_menu.PREFIX}|{settings_menu.SETUP_PREFIX}):"
        )
    )
    application.add_handler(CallbackQueryHandler(language.language_button, pattern=f"^{language.PREFIX}:"))
    application.add_handler(CallbackQueryHandler(audit.audit_page, pattern=audit.PAGE_PATTERN))
    application.add_handler(CallbackQueryHandler(creation.question_answered, pattern=f"^{keyboards.QUESTION_PREFIX}:"))
    application.add_handler(InlineQueryHandler(cards.share_inline))
    # A group upgraded to a supergroup: Telegram's service messages (either one) move it to its new id.
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, moves.chat_migrated))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, creation.draft_step))
    application.add_handler(MessageHandler(filters.COMMAND, welcome.unknown_command))
    # After the command's own answer: a new chat's owner or admin is offered its set-up once.
    application.add_handler(
        MessageHandler(filters.COMMAND & ~NOT_BEFORE_SETUP, settings_menu.offer_setup), group=SETUP_GROUP
    )
    application.add_error_handler(on_error)
