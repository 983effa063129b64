"""A link card's caption as it should read now, with the facts only the database has.

Used by the outbox (the card in the link's chat) and, through the link queries, by the card
buttons (a card opened again elsewhere), so every copy of a card says the same thing.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.botapi.markup import Markup
from bot.chat import texts
from bot.services.link_queries import CardFacts, load_card_facts
from storage.models import Link


def render_caption(link: Link, facts: CardFacts) -> Markup:
    """The caption for this link and its facts."""
    return texts.link_card(link, facts.payment, facts.cancelled_by)


async def card_caption(sessions: async_sessionmaker[AsyncSession], link: Link) -> Markup:
    """The card's caption: a PAID card names the payment method, a CANCELLED one who cancelled."""
    async with sessions() as session:
        facts = await load_card_facts(session, link)
    return render_caption(link, facts)
