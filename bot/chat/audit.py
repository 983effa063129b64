"""/audit: who did what and when (owners only), newest first."""

from __future__ import annotations

from telegram import Update

from bot.chat import texts
from bot.chat.context import PaylinkContext
from bot.chat.guards import refuse_unless
from bot.chat.reply import reply
from bot.services.access import Action

AUDIT_DEFAULT_EVENTS = 20


async def audit_command(update: Update, context: PaylinkContext) -> None:
    """Show the latest audit events: /audit or /audit 50 (what does not fit in a message is left out, oldest first)."""
    if await refuse_unless(update, context, Action.READ_AUDIT):
        return
    args = context.args or []
    limit = int(args[0]) if args and args[0].isdigit() else AUDIT_DEFAULT_EVENTS
    events = await context.services.audit.recent(limit)
    await reply(update, context, texts.audit_log(events) if events else texts.audit_empty())
