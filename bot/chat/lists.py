"""/links (a chat's recent links, paginated and filtered), /find and /status for support look-ups.

What each person sees is their scope: everything for owners, admins and support, their own
links for agents. In a group /links lists that chat's links within the scope, and each list is
its person's: a filter pressed on someone else's list sends the presser a list of their own. In a
private chat it lists the links the person made, or the team's for support, who make none. A list
is sized for a phone: one numbered line per link, its number the button that posts the link's card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType

from bot.botapi import sending
from bot.botapi.markup import Markup
from bot.chat import keyboards, texts
from bot.chat.context import PaylinkContext, actor, arguments, chat_of, query_of, reply_target, sender
from bot.chat.guards import refuse, refuse_unless
from bot.chat.reply import reply
from bot.i18n.clock import today_starts
from bot.i18n.reader import current
from bot.services.access import Action
from bot.services.link_access import LinkScope
from bot.services.link_queries import StatusFilter
from bot.services.link_search import search_terms
from storage.models import utcnow

PAGE_SIZE = 5  # fits a phone screen, one line per link
LIST_PATTERN = rf"^{keyboards.LIST_PREFIX}:({'|'.join(f.value for f in StatusFilter)}):(\d+)(?::(\d+))?$"


@dataclass(frozen=True)
class _Here:
    """Which links /links shows a person in this chat."""

    scope: LinkScope
    in_group: bool
    team: bool  # a private list of the whole team's links (for people who see all and make none)
    sees_all: bool  # the person may see everyone's links (whether or not this list shows them)


async def _scope_here(update: Update, context: PaylinkContext) -> _Here | None:
    """The links /links shows the person here; None if they may see none.

    In a group: that chat's links within their view. In a private chat: the links they made, or,
    for someone who sees every link but makes none (support), the whole team's.
    """
    user_id = sender(update).id
    services = context.services
    scope = await services.link_access.scope_for(user_id)
    if scope is None:
        return None
    chat = chat_of(update)
    if chat.type != ChatType.PRIVATE:
        return _Here(scope.in_chat(chat.id), in_group=True, team=False, sees_all=scope.all_links)
    if scope.all_links and not await services.access.may(user_id, Action.CREATE_LINK):
        return _Here(scope, in_group=False, team=True, sees_all=True)
    return _Here(scope.own_only(), in_group=False, team=False, sees_all=scope.all_links)


async def _links_view(
    update: Update, context: PaylinkContext, status: StatusFilter, page: int
) -> tuple[Markup, InlineKeyboardMarkup] | None:
    """The text and buttons of one /links page for the person behind the update; None if they may see no links."""
    here = await _scope_here(update, context)
    if here is None:
        return None
    scope, services, person = here.scope, context.services, actor(update)
    listing = await services.link_queries.list_links(scope, status, page, PAGE_SIZE)
    now = utcnow()
    totals = await services.link_queries.paid_totals_since(scope, today_starts(now))
    title = texts.links_title(in_group=here.in_group, own_only=not scope.all_links, team=here.team, name=person.name)
    text = texts.links_page(
        listing,
        title=title,
        status_filter=status.value,
        totals=totals,
        with_creators=scope.all_links,
        none_made_yet=here.sees_all and not here.in_group and not here.team,
        now=now,
    )
    markup = keyboards.links_keyboard(
        listing.links,
        status_filter=status.value,
        page=listing.page,
        pages=listing.pages,
        first_number=listing.page * listing.size + 1,
        owner=person.user_id,
    )
    return text, markup


async def links_command(update: Update, context: PaylinkContext) -> None:
    """List this chat's recent links (in a private chat: mine, or the team's for support), newest first."""
    view = await _links_view(update, context, StatusFilter.ALL, 0)
    if view is None:
        await refuse_unless(update, context, Action.MANAGE_OWN_LINKS)
        return
    text, markup = view
    await reply(update, context, text, buttons=markup)


async def links_page(update: Update, context: PaylinkContext) -> None:
    """Another page or filter of /links: in place on one's own list, as a new list of one's own on another's."""
    query = query_of(update)
    match = re.match(LIST_PATTERN, query.data or "")
    if match is None:
        await sending.answer(query)
        return
    view = await _links_view(update, context, StatusFilter(match.group(1)), int(match.group(2)))
    if view is None:
        await refuse_unless(update, context, Action.MANAGE_OWN_LINKS)
        return
    text, markup = view
    message = query.message
    presser = sender(update).id
    owner = int(match.group(3)) if match.group(3) else presser  # a list from before lists named their person
    if owner != presser and chat_of(update).type != ChatType.PRIVATE:
        # Someone else's list in a group: theirs stays as it is; the presser gets their own.
        await sending.answer(query, texts.list_for_you())
        await sending.send_text(context.bot, chat_of(update).id, text, buttons=markup, reply_to=reply_target(update))
        return
    await sending.answer(query)
    if isinstance(message, Message):
        await sending.edit_text(context.bot, message.chat.id, message.message_id, text, buttons=markup)


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
