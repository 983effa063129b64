"""/links (a chat's recent links, paginated and filtered), /find and /status for support look-ups.

What each person sees is their scope: everything for owners, admins and support, their own
links for agents. In a group /links lists that chat's links within the scope; in a private chat
it lists the links the person made. Opening a link posts its card as a new QR photo message
(the card buttons module handles that press).
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType

from bot.botapi import sending
from bot.botapi.markup import Markup
from bot.chat import keyboards, texts
from bot.chat.context import PaylinkContext, arguments, chat_of, query_of, sender
from bot.chat.guards import refuse, refuse_unless
from bot.chat.reply import reply
from bot.i18n.clock import today_starts
from bot.i18n.reader import current
from bot.services.access import Action
from bot.services.link_access import LinkScope
from bot.services.link_queries import StatusFilter
from bot.services.link_search import search_terms
from storage.models import utcnow

PAGE_SIZE = 5  # fits a phone screen with one button per link
LIST_PATTERN = rf"^{keyboards.LIST_PREFIX}:({'|'.join(f.value for f in StatusFilter)}):(\d+)$"


async def _scope_here(update: Update, context: PaylinkContext) -> tuple[LinkScope, bool] | None:
    """The links /links shows here, and whether the person may see everyone's; None if they may see none."""
    scope = await context.services.link_access.scope_for(sender(update).id)
    if scope is None:
        return None
    chat = chat_of(update)
    if chat.type == ChatType.PRIVATE:
        return scope.own_only(), scope.all_links
    return scope.in_chat(chat.id), scope.all_links


async def _links_view(
    update: Update, context: PaylinkContext, status: StatusFilter, page: int
) -> tuple[Markup, InlineKeyboardMarkup] | None:
    """The text and buttons of one /links page for the person who asked; None if they may see no links."""
    here = await _scope_here(update, context)
    if here is None:
        return None
    scope, sees_all = here
    services = context.services
    listing = await services.link_queries.list_links(scope, status, page, PAGE_SIZE)
    now = utcnow()
    totals = await services.link_queries.paid_totals_since(scope, today_starts(now))
    in_group = chat_of(update).type != ChatType.PRIVATE
    text = texts.links_page(
        listing,
        in_group=in_group,
        own_only=not scope.all_links,
        status_filter=status.value,
        totals=totals,
        viewer=sees_all,
        now=now,
    )
    markup = keyboards.links_keyboard(listing.links, status_filter=status.value, page=listing.page, pages=listing.pages)
    return text, markup


async def links_command(update: Update, context: PaylinkContext) -> None:
    """List this chat's recent links (in a private chat: mine), newest first."""
    view = await _links_view(update, context, StatusFilter.ALL, 0)
    if view is None:
        await refuse_unless(update, context, Action.MANAGE_OWN_LINKS)
        return
    text, markup = view
    await reply(update, context, text, buttons=markup)


async def links_page(update: Update, context: PaylinkContext) -> None:
    """Show another page or another status filter of /links, in place."""
    query = query_of(update)
    match = re.match(LIST_PATTERN, query.data or "")
    if match is None:
        await sending.answer(query)
        return
    view = await _links_view(update, context, StatusFilter(match.group(1)), int(match.group(2)))
    if view is None:
        await refuse_unless(update, context, Action.MANAGE_OWN_LINKS)
        return
    await sending.answer(query)
    text, markup = view
    if isinstance(query.message, Message):
        await sending.edit_text(context.bot, query.message.chat.id, query.message.message_id, text, buttons=markup)


async def find_command(update: Update, context: PaylinkContext) -> None:
    """Find links by an amount, an id or order number (or 6 characters of one), or words of the description."""
    text = arguments(update)
    if not text:
        await reply(update, context, texts.find_usage())
        return
    services = context.services
    scope = await services.link_access.scope_for(sender(update).id)
    if scope is None:
        await refuse_unless(update, context, Action.VIEW_ALL_LINKS)
        return
    defaults = await services.chat_defaults.defaults_for(chat_of(update).id)
    terms = search_terms(text, locale=current().locale, chat_currency=defaults.currency)
    found = await services.link_queries.find(terms, scope)
    if not found:
        await reply(update, context, texts.find_none(text, own_only=not scope.all_links, short_id=terms.short_id))
        return
    await reply(
        update, context, texts.found_links(text, found), buttons=keyboards.open_keyboard([item.link for item in found])
    )


async def status_command(update: Update, context: PaylinkContext) -> None:
    """Show one link's timeline: who made it, where and when, payments, notifications, status changes."""
    reference = arguments(update)
    if not reference:
        await reply(update, context, texts.status_usage())
        return
    services = context.services
    user_id = sender(update).id
    if await services.link_access.scope_for(user_id) is None:
        await refuse_unless(update, context, Action.VIEW_ALL_LINKS)
        return
    link = await services.link_queries.lookup(reference)
    if link is None or link.id is None:
        await reply(update, context, texts.status_none(reference))
        return
    refused = await services.link_access.view_refusal(link, user_id)
    if refused is not None:
        await refuse(update, context, refused)
        return
    timeline = await services.link_queries.timeline(link.id)
    if timeline is None:
        return  # deleted meanwhile: nothing to show
    await reply(update, context, texts.timeline(timeline), buttons=keyboards.open_keyboard([link]))
