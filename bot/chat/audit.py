"""/audit: who did what and when (owners only), newest first, a page at a time with Newer/Older buttons."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.botapi import sending
from bot.botapi.markup import Markup
from bot.chat import texts
from bot.chat.context import PaylinkContext, query_of
from bot.chat.guards import refuse_unless
from bot.chat.reply import reply
from bot.services.access import Action
from bot.services.audit import AuditPage
from storage.models import utcnow

# Page buttons: callback data "au:<page>", page 0 the newest.
PREFIX = "au"
PAGE_PATTERN = rf"^{PREFIX}:(\d{{1,6}})$"


def audit_keyboard(page: AuditPage) -> InlineKeyboardMarkup | None:
    """‹ Newer and Older › as the page has neighbours; none for a log that fits one page."""
    row = []
    if page.page > 0:
        row.append(InlineKeyboardButton(texts.audit_newer_button(), callback_data=f"{PREFIX}:{page.page - 1}"))
    if page.page + 1 < page.pages:
        row.append(InlineKeyboardButton(texts.audit_older_button(), callback_data=f"{PREFIX}:{page.page + 1}"))
    return InlineKeyboardMarkup([row]) if row else None


async def _page_view(context: PaylinkContext, number: int) -> tuple[Markup, InlineKeyboardMarkup | None]:
    page = await context.services.audit.page(number)
    if not page.events:
        return texts.audit_empty(), None
    return texts.audit_log(page, now=utcnow()), audit_keyboard(page)


async def audit_command(update: Update, context: PaylinkContext) -> None:
    """Show the newest page of the audit log (/audit 3: the third page)."""
    if await refuse_unless(update, context, Action.READ_AUDIT):
        return
    args = context.args or []
    number = int(args[0]) - 1 if args and args[0].isdigit() and 0 < len(args[0]) <= 6 else 0
    text, buttons = await _page_view(context, max(0, number))
    await reply(update, context, text, buttons=buttons)


async def audit_page(update: Update, context: PaylinkContext) -> None:
    """Show another page in place; the press is checked like the command (a forwarded log opens nothing)."""
    query = query_of(update)
    match = re.match(PAGE_PATTERN, query.data or "")
    if match is None:
        await sending.answer(query)
        return
    if await refuse_unless(update, context, Action.READ_AUDIT):
        return
    await sending.answer(query)
    text, buttons = await _page_view(context, int(match.group(1)))
    if isinstance(query.message, Message):
        await sending.edit_text(context.bot, query.message.chat.id, query.message.message_id, text, buttons=buttons)
