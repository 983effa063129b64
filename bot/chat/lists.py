"""/links (a chat's recent links, paginated and filtered), /find and /status for support look-ups.

What each person sees is their scope: everything for owners, admins and support, their own
links for agents. In a group /links lists that chat's links within the scope; in a private chat
it lists the links the person made. Opening a link posts its card as a new QR photo message
(the card buttons module handles that press).
"""

from __future__ import annotations

import re
from html import escape

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.chat import handlers, keyboards, texts
from bot.services.access import Action
from bot.services.manage import LinkManager, LinkScope, StatusFilter

PAGE_SIZE = 5  # fits a phone screen with one button per link
_LIST_PATTERN = rf"^{keyboards.LIST_PREFIX}:({'|'.join(f.value for f in StatusFilter)}):(\d+)$"


def _manager(context: ContextTypes.DEFAULT_TYPE) -> LinkManager:
    return context.application.bot_data["services"].manage


def _argument(update: Update) -> str:
    """Everything after the command, as typed."""
    parts = (update.effective_message.text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


async def _scope_here(update: Update, context: ContextTypes.DEFAULT_TYPE) -> tuple[LinkScope, bool] | None:
    """The links /links shows here, and whether the person may see everyone's; None if they may see none."""
    scope = await _manager(context).scope_for(update.effective_user.id)
    if scope is None:
        return None
    if update.effective_chat.type == ChatType.PRIVATE:
        return scope.own_only(), scope.all_links
    return scope.in_chat(update.effective_chat.id), scope.all_links


async def _links_view(update: Update, context: ContextTypes.DEFAULT_TYPE, status: StatusFilter, page: int) -> tuple[str, InlineKeyboardMarkup] | None:
    """The text and buttons of one /links page for the person who asked; None if they may see no links."""
    here = await _scope_here(update, context)
    if here is None:
        return None
    scope, sees_all = here
    manager = _manager(context)
    listing = await manager.list_links(scope, status, page, PAGE_SIZE)
    totals = await manager.paid_totals_today(scope)
    in_group = update.effective_chat.type != ChatType.PRIVATE
    text = texts.links_page(
        listing, in_group=in_group, own_only=not scope.all_links, status_filter=status.value, totals=totals, viewer=sees_all
    )
    markup = keyboards.links_keyboard(listing.links, status_filter=status.value, page=listing.page, pages=listing.pages)
    return text, markup


async def links_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List this chat's recent links (in a private chat: mine), newest first."""
    view = await _links_view(update, context, StatusFilter.ALL, 0)
    if view is None:
        await handlers.refuse_unless(update, context, Action.MANAGE_OWN_LINKS)
        return
    text, markup = view
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def links_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show another page or another status filter of /links, in place."""
    query = update.callback_query
    match = re.match(_LIST_PATTERN, query.data or "")
    assert match is not None  # the handler's pattern guarantees it
    view = await _links_view(update, context, StatusFilter(match.group(1)), int(match.group(2)))
    if view is None:
        await handlers.refuse_unless(update, context, Action.MANAGE_OWN_LINKS)
        return
    await query.answer()
    text, markup = view
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():  # the same page pressed again
            raise


async def find_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Find links by our link id, PayerMax's link id, an order's outTradeNo, or words of the description."""
    text = _argument(update)
    if not text:
        await update.effective_message.reply_text(texts.FIND_USAGE, parse_mode=ParseMode.HTML)
        return
    scope = await _manager(context).scope_for(update.effective_user.id)
    if scope is None:
        await handlers.refuse_unless(update, context, Action.VIEW_ALL_LINKS)
        return
    found = await _manager(context).find(text, scope)
    if not found:
        note = "" if scope.all_links else texts.FIND_SCOPE_OWN
        await update.effective_message.reply_text(texts.FIND_NONE.format(text=escape(text), scope=note), parse_mode=ParseMode.HTML)
        return
    await update.effective_message.reply_text(
        texts.found_links(text, found), parse_mode=ParseMode.HTML, reply_markup=keyboards.open_keyboard([item.link for item in found])
    )


async def status_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show one link's timeline: who made it, where and when, payments, notifications, status changes."""
    reference = _argument(update)
    if not reference:
        await update.effective_message.reply_text(texts.STATUS_USAGE, parse_mode=ParseMode.HTML)
        return
    manager = _manager(context)
    user_id = update.effective_user.id
    if await manager.scope_for(user_id) is None:
        await handlers.refuse_unless(update, context, Action.VIEW_ALL_LINKS)
        return
    link = await manager.lookup(reference)
    if link is None:
        await update.effective_message.reply_text(texts.STATUS_NONE.format(text=escape(reference)), parse_mode=ParseMode.HTML)
        return
    refusal = await manager.view_refusal(link, user_id)
    if refusal is not None:
        await update.effective_message.reply_text(escape(refusal.text(user_id)), parse_mode=ParseMode.HTML)
        return
    timeline = await manager.timeline(link.id)
    assert timeline is not None
    await update.effective_message.reply_text(
        texts.timeline(timeline), parse_mode=ParseMode.HTML, reply_markup=keyboards.open_keyboard([link])
    )


def register(application: Application) -> None:
    """Register /links (with its buttons), /find and /status."""
    application.add_handler(CommandHandler("links", links_command))
    application.add_handler(CommandHandler("find", find_command))
    application.add_handler(CommandHandler("status", status_command))
    application.add_handler(CallbackQueryHandler(links_page, pattern=_LIST_PATTERN))
