"""A link card's caption as it should read now, with the facts only the database has.

Used by the outbox (the card in the link's chat) and, through the link queries, by the card
buttons (a card opened again elsewhere), so every copy of a card says the same thing.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import InlineKeyboardMarkup

from bot.botapi.markup import Markup
from bot.chat import keyboards, texts
from bot.services.link_queries import CardFacts, load_card_facts
from storage.db import read_session
from storage.models import Link


def render_caption(link: Link, facts: CardFacts) -> Markup:
    """The caption for this link and its facts."""
    refund_line = texts.card_refund_line(facts.refunds) if facts.refunds is not None else None
    return texts.link_card(link, facts.payment, facts.cancelled_by, refund_line)


def card_buttons(link: Link, facts: CardFacts) -> InlineKeyboardMarkup | None:
    """The card's buttons for this link and its facts (Refund while something paid is left to refund)."""
    return keyboards.card_keyboard(link, refundable=facts.refundable)


async def card_view(
    sessions: async_sessionmaker[AsyncSession], link: Link
) -> tuple[Markup, InlineKeyboardMarkup | None]:
    """The card's caption and buttons: a PAID card names the method and refunds, a CANCELLED one who cancelled."""
    async with read_session(sessions) as session:
        facts = await load_card_facts(session, link)
    return render_caption(link, facts), card_buttons(link, facts)


async def card_caption(sessions: async_sessionmaker[AsyncSession], link: Link) -> Markup:
    """The card's caption alone."""
    caption, _buttons = await card_view(sessions, link)
    return caption
