"""A group upgraded to a supergroup: its rows move to the new chat id once, on SQLite and PostgreSQL.

The real services and database: the group's settings are chosen through ChatDefaultsService (audited
as /settings does), its links, drafts, queued messages, refunds and feed are rows as the bot writes
them; then ChatMoves.move runs, once, twice, twice at once, and after a late write under the old id.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.services.actors import Actor
from bot.services.chat_defaults import ChatDefaults, ChatDefaultsService, ChatRef
from bot.services.chat_moves import ChatMoves, Refused
from bot.services.daily_summary import dedupe_key
from bot.services.feed import PaymentsFeed
from storage import repo
from storage.db import create_engine, session_factory
from storage.models import (
    AuditEvent,
    Chat,
    ChatMove,
    Draft,
    DraftStep,
    Link,
    LinkStatus,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Payment,
    PaymentSource,
    Refund,
    SharedMessage,
)

OLD = -4_500_600  # a basic group
NEW = -100_4_500_600  # the supergroup it became
OTHER = -4_700_800  # another group of the team, which must not move
OWNER = Actor(1001, "Olga")
AGENT = 2001
TODAY = date(2026, 12, 7)


@pytest.fixture
async def sessions(migrated_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(migrated_database_url)
    yield session_factory(engine)
    await engine.dispose()


def _defaults(sessions: async_sessionmaker[AsyncSession]) -> ChatDefaultsService:
    deployment = ChatDefaults(
        currency=None, country=None, language="en", customer_language="en", timezone="UTC", expires_seconds=86400
    )
    return ChatDefaultsService(sessions, deployment)


def _link(number: int, chat_id: int, *, card_message_id: int | None) -> Link:
    return Link(
        merchant_link_id=f"PLMOVE{number:04d}",
        chat_id=chat_id,
        creator_user_id=AGENT,
        creator_name="Ann",
        amount=Decimal("150000"),
        currency="IDR",
        country="ID",
        description=f"Item {number}",
        expires_seconds=86400,
        status=LinkStatus.ACTIVE,
        link_url=f"https://pay.example/{number}",
        card_message_id=card_message_id,
    )


async def _the_group_at_work(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """The old group as a team leaves it: settings, links, a paid one with a refund, queued messages, a draft."""
    defaults = _defaults(sessions)
    group = ChatRef(OLD, "group", "Shoe shop")
    await defaults.set_currency(OWNER, group, "IDR")
    await defaults.set_timezone(OWNER, group, "Asia/Jakarta")
    await defaults.set_language(OWNER, group, "id")
    await defaults.set_daily_summary(OWNER, group, "18:00")
    await PaymentsFeed(sessions).use(OWNER, group)
    ids: dict[str, int] = {}
    async with sessions() as session, session.begin():
        carded, pending, elsewhere = (
            _link(1, OLD, card_message_id=41),
            _link(2, OLD, card_message_id=None),
            _link(3, OTHER, card_message_id=7),
        )
        session.add_all([carded, pending, elsewhere])
        await session.flush()
        payment = Payment(
            link_id=carded.id or 0,
            out_trade_no="TRADEMOVE1",
            status="SUCCESS",
            amount=Decimal("150000"),
            currency="IDR",
            source=PaymentSource.PAYBYLINK,
        )
        session.add(payment)
        await session.flush()
        session.add(
            Refund(
                out_refund_no="RMOVE1",
                link_id=carded.id or 0,
                payment_id=payment.id or 0,
                out_trade_no="TRADEMOVE1",
                amount=Decimal("1000"),
                currency="IDR",
                requested_by=OWNER.user_id,
                chat_id=OLD,
            )
        )
        session.add(SharedMessage(link_id=carded.id or 0, chat_id=OLD, message_id=43))
        session.add(Draft(chat_id=OLD, user_id=AGENT, step=DraftStep.DESCRIPTION, amount=Decimal("5")))
        session.add(Draft(chat_id=OLD, user_id=OWNER.user_id, step=DraftStep.AMOUNT))
        queue = {
            "paid": (OutboxKind.PAID, f"paid:{carded.id}:TRADEMOVE1", carded.id, {"payment_id": payment.id}),
            "card": (OutboxKind.CARD_UPDATE, f"card-paid:{carded.id}", carded.id, {}),
            "shared": (OutboxKind.SHARED_PAID, f"shared-paid:{carded.id}:{OLD}:43", carded.id, {"message_id": 43}),
            "summary": (OutboxKind.DAILY_SUMMARY, dedupe_key(OLD, TODAY), None, {"chat_id": OLD, "kind": "today"}),
        }
        for name, (kind, key, link_id, payload) in queue.items():
            await repo.enqueue(session, dedupe_key=key, kind=kind, chat_id=OLD, link_id=link_id, payload=payload)
            ids[name] = await _outbox_id(session, key)
        await repo.enqueue(session, dedupe_key="card:other", kind=OutboxKind.CARD, chat_id=OTHER, payload={})
        # Yesterday's summary went out already: its key must follow the chat, or the new id would get it again.
        sent_key = dedupe_key(OLD, date(2026, 12, 6))
        await repo.enqueue(session, dedupe_key=sent_key, kind=OutboxKind.DAILY_SUMMARY, chat_id=OLD, payload={})
        await repo.finish_outbox(session, await _outbox_id(session, sent_key), status=OutboxStatus.SENT)
        ids.update(carded=carded.id or 0, pending=pending.id or 0, elsewhere=elsewhere.id or 0)
    return ids


async def _outbox_id(session: AsyncSession, key: str) -> int:
    found = (await session.execute(select(col(OutboxMessage.id)).where(col(OutboxMessage.dedupe_key) == key))).scalar()
    assert found is not None
    return found


async def _rows(sessions: async_sessionmaker[AsyncSession], model: Any, *conditions: Any) -> list[Any]:
    async with sessions() as session:
        return list((await session.execute(select(model).where(*conditions))).scalars())


async def _supergroup_first_seen(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The service message in the supergroup came first: the bot met the new chat (first sight: English)."""
    await _defaults(sessions).remember_language(NEW, "supergroup", "Shoe shop", "en")
    async with sessions() as session, session.begin():
        session.add(Draft(chat_id=NEW, user_id=AGENT, step=DraftStep.AMOUNT))  # Ann started again there


async def test_the_group_moves_whole_to_its_new_id(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Settings, links, drafts, queued messages, refunds, audit, feed: all under the new id; cards stay put."""
    ids = await _the_group_at_work(sessions)
    await _supergroup_first_seen(sessions)

    moved = await ChatMoves(sessions).move(OLD, NEW)

    assert (moved.first, moved.links, moved.refused) == (True, 2, None)
    assert moved.messages == 3  # Paid, the card edit and today's summary; the Share edit stays with its message
    # The group's settings, not the supergroup's first-sight language; the old row is gone.
    defaults = await _defaults(sessions).defaults_for(NEW)
    assert (defaults.currency, defaults.timezone, defaults.language, defaults.summary_minute) == (
        "IDR",
        "Asia/Jakarta",
        "id",
        18 * 60,
    )
    [chat] = await _rows(sessions, Chat, col(Chat.id).in_([OLD, NEW]))
    assert (chat.id, chat.type, chat.title) == (NEW, "supergroup", "Shoe shop")
    # Links and their cards: the chat is the new one, the card is where it was posted.
    links = {link.id: link for link in await _rows(sessions, Link)}
    carded, pending, elsewhere = links[ids["carded"]], links[ids["pending"]], links[ids["elsewhere"]]
    assert (carded.chat_id, carded.card_chat_id, carded.card_message_id) == (NEW, OLD, 41)
    assert (pending.chat_id, pending.card_chat_id) == (NEW, None)  # its card will be posted in the supergroup
    assert (elsewhere.chat_id, elsewhere.card_chat_id) == (OTHER, None)
    # Queued messages: sends to the new id; the customer message's edit where that message is.
    outbox = {message.id: message for message in await _rows(sessions, OutboxMessage)}
    assert outbox[ids["paid"]].chat_id == outbox[ids["card"]].chat_id == NEW
    assert (outbox[ids["paid"]].attempts, outbox[ids["paid"]].status) == (0, OutboxStatus.PENDING)
    assert outbox[ids["shared"]].chat_id == OLD
    summary = outbox[ids["summary"]]
    assert (summary.chat_id, summary.dedupe_key) == (NEW, dedupe_key(NEW, TODAY))
    assert json.loads(summary.payload)["chat_id"] == NEW  # it counts the links now under the new id
    keys = {message.dedupe_key for message in outbox.values()}
    assert dedupe_key(NEW, date(2026, 12, 6)) in keys and dedupe_key(OLD, date(2026, 12, 6)) not in keys
    assert [m.chat_id for m in outbox.values() if m.dedupe_key == "card:other"] == [OTHER]
    # Drafts: Owner's moved; Ann keeps the one she started in the supergroup.
    drafts = {(draft.chat_id, draft.user_id): draft.step for draft in await _rows(sessions, Draft)}
    assert drafts == {(NEW, OWNER.user_id): DraftStep.AMOUNT, (NEW, AGENT): DraftStep.AMOUNT}
    [refund] = await _rows(sessions, Refund)
    assert refund.chat_id == NEW
    assert {event.chat_id for event in await _rows(sessions, AuditEvent)} == {NEW}
    feed = await PaymentsFeed(sessions).current()
    assert feed is not None and feed.chat_id == NEW
    [shared] = await _rows(sessions, SharedMessage)
    assert (shared.chat_id, shared.message_id) == (OLD, 43)
    [record] = await _rows(sessions, ChatMove)
    assert (record.old_chat_id, record.new_chat_id) == (OLD, NEW)


async def test_a_second_move_and_two_at_once_change_nothing_more(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The service message and a refused send race: one move is made, the other finds it made; then a repeat."""
    ids = await _the_group_at_work(sessions)
    moves = ChatMoves(sessions)

    racing = await asyncio.gather(moves.move(OLD, NEW), moves.move(OLD, NEW))
    again = await moves.move(OLD, NEW)

    assert sorted(move.first for move in racing) == [False, True]
    assert sum(move.links for move in racing) == 2 and all(move.refused is None for move in racing)
    assert (again.first, again.links, again.messages, again.refused) == (False, 0, 0, None)
    links = {link.id: link for link in await _rows(sessions, Link)}
    assert (links[ids["carded"]].chat_id, links[ids["carded"]].card_chat_id) == (NEW, OLD)
    assert [chat.id for chat in await _rows(sessions, Chat, col(Chat.id).in_([OLD, NEW]))] == [NEW]
    assert len(await _rows(sessions, ChatMove)) == 1
    assert (await _defaults(sessions).defaults_for(NEW)).currency == "IDR"


async def test_what_was_written_late_under_the_old_id_follows(sessions: async_sessionmaker[AsyncSession]) -> None:
    """An update from the old group handled after the move: its link and chat row move on the next move, no loss."""
    await _the_group_at_work(sessions)
    moves = ChatMoves(sessions)
    await moves.move(OLD, NEW)
    defaults = _defaults(sessions)
    await defaults.set_customer_language(OWNER, ChatRef(NEW, "supergroup", "Shoe shop"), "en")
    # Late: the old group's row written again on first sight (someone else's language), and a link there.
    await _defaults(sessions).remember_language(OLD, "group", "Shoe shop", "pt")
    async with sessions() as session, session.begin():
        session.add(_link(9, OLD, card_message_id=None))

    late = await moves.move(OLD, NEW)

    assert (late.first, late.links) == (False, 1)
    assert {link.chat_id for link in await _rows(sessions, Link, col(Link.chat_id) != OTHER)} == {NEW}
    after = await defaults.defaults_for(NEW)
    assert (after.language, after.customer_language, after.currency) == ("id", "en", "IDR")
    assert [chat.id for chat in await _rows(sessions, Chat, col(Chat.id).in_([OLD, NEW]))] == [NEW]


async def test_a_setting_chosen_in_the_supergroup_stays(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Heard of late (a refused send days after): what someone set in the supergroup meanwhile is kept."""
    await _the_group_at_work(sessions)
    defaults = _defaults(sessions)
    supergroup = ChatRef(NEW, "supergroup", "Shoe shop (new)")
    await defaults.set_currency(OWNER, supergroup, "USD")
    await defaults.set_daily_summary(OWNER, supergroup, "09:00")
    await defaults.set_daily_summary(OWNER, supergroup, "off")  # tried, and turned off again
    async with sessions() as session, session.begin():
        session.add(_link(5, NEW, card_message_id=1))

    moved = await ChatMoves(sessions).move(OLD, NEW)

    assert (moved.first, moved.links) == (True, 2)
    after = await defaults.defaults_for(NEW)
    assert (after.currency, after.summary_minute) == ("USD", None)  # chosen there, even turned off
    assert (after.timezone, after.language) == ("Asia/Jakarta", "id")  # the group's, nobody chose otherwise
    assert len(await _rows(sessions, Link, col(Link.chat_id) == NEW)) == 3
    assert (await defaults.title_of(NEW)) == "Shoe shop (new)"


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [(OLD, OLD, Refused.SAME_CHAT), (AGENT, NEW, Refused.PRIVATE_CHAT), (OLD, AGENT, Refused.PRIVATE_CHAT)],
)
async def test_a_move_that_cannot_be_is_refused_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], old: int, new: int, why: Refused
) -> None:
    await _the_group_at_work(sessions)
    moved = await ChatMoves(sessions).move(old, new)
    assert moved.refused == why and not moved.first
    assert {link.chat_id for link in await _rows(sessions, Link)} == {OLD, OTHER}
    assert await _rows(sessions, ChatMove) == []


async def test_a_move_back_is_refused_as_a_loop(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Telegram never sends a supergroup back; a message claiming so must not bounce the rows."""
    await _the_group_at_work(sessions)
    moves = ChatMoves(sessions)
    await moves.move(OLD, NEW)
    back = await moves.move(NEW, OLD)
    assert back.refused == Refused.LOOP
    assert {link.chat_id for link in await _rows(sessions, Link)} == {NEW, OTHER}


async def test_where_a_chat_is_now_is_read_from_the_moves_recorded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A chat not moved is itself; once moved (here or by another process), its new id, for good."""
    here, elsewhere = ChatMoves(sessions), ChatMoves(sessions)
    assert (await here.where_now(OLD), await elsewhere.where_now(OLD)) == (OLD, OLD)
    await here.move(OLD, NEW)
    # The other process learns it from the database; a chat never moved is still itself.
    assert (await here.where_now(OLD), await elsewhere.where_now(OLD)) == (NEW, NEW)
    assert (await elsewhere.where_now(OTHER), await elsewhere.where_now(NEW)) == (OTHER, NEW)
