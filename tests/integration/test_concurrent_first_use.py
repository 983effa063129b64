"""First use at the same moment, on SQLite and PostgreSQL: every get-or-create holds when two requests race.

A chat, a member, a draft, an update id or a lease is created on first sight. Reading first and
inserting after loses on the key when two requests see "nothing yet" together (four messages in
a new group, two replicas, a double tap); each test here starts such requests with
``asyncio.gather`` on a real database and checks that every one succeeds and one row results.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.money import Money
from bot.services.access import AccessService, Role
from bot.services.actors import Actor
from bot.services.chat_defaults import ChatDefaults, ChatDefaultsService, ChatRef
from bot.services.drafts import DraftService, Step
from bot.services.links import LinkOrder
from bot.services.team import TeamService
from storage import repo
from storage.db import create_engine, session_factory
from storage.models import AuditEvent, Chat, Draft, Lease, LinkStatus, Member, ProcessedUpdate, utcnow
from tests.integration.link_stack import LinkStack

OWNER = 1001
NEWCOMER = 7007
NEW_GROUPS = (-100_600_000_001, -100_600_000_002, -100_600_000_003)
MEMBERS = (2001, 2002, 2003, 2004)
DEPLOYMENT = ChatDefaults(
    currency="USD", country="US", language="en", customer_language="en", timezone="UTC", expires_seconds=86400
)
RACERS = 8  # replicas (or handlers) asking at the same moment


@dataclass
class Replicas:
    """Sessions over one fresh database through two engines, as two processes would have."""

    engines: list[AsyncEngine]

    @property
    def sessions(self) -> list[async_sessionmaker[AsyncSession]]:
        return [session_factory(engine) for engine in self.engines]

    async def count(self, model: type, **where: object) -> int:
        async with session_factory(self.engines[0])() as session:
            statement = select(func.count()).select_from(model).filter_by(**where)
            return int((await session.execute(statement)).scalar_one())


async def _warm(engine: AsyncEngine, connections: int) -> None:
    """Open the pool's connections now, so racers are not kept apart by who had to connect first."""

    async def hold(opened: asyncio.Barrier) -> None:
        async with engine.connect() as connection:
            await connection.execute(select(1))
            await opened.wait()

    opened = asyncio.Barrier(connections)
    await asyncio.gather(*(hold(opened) for _ in range(connections)))


@pytest.fixture
async def replicas(migrated_database_url: str) -> AsyncIterator[Replicas]:
    engines = [create_engine(migrated_database_url), create_engine(migrated_database_url)]
    if engines[0].dialect.name == "postgresql":  # SQLite serialises writers on its file lock: no pool to warm
        for engine in engines:
            await _warm(engine, RACERS)
    yield Replicas(engines)
    for engine in engines:
        await engine.dispose()


def _order(group: int, member: int) -> LinkOrder:
    """A member's /link in a group, as the chat handlers build it."""
    return LinkOrder(
        chat_id=group,
        chat_type="group",
        chat_title=f"Shop {-group}",
        user_id=member,
        user_name=f"Member {member}",
        money=Money(Decimal("5"), "USD"),
        description=f"Order {member}",
        country="US",
        language="en",
        expires_seconds=3600,
        request_key=f"msg:{group}:{member}",
    )


async def test_first_links_in_new_chats_at_once(stack: LinkStack) -> None:
    """Four members' first links in each of three unseen groups, all at once: twelve links, three chats."""
    orders = [_order(group, member) for group in NEW_GROUPS for member in MEMBERS]
    results = await asyncio.gather(*(stack.links.create(order) for order in orders), return_exceptions=True)
    failures = [result for result in results if isinstance(result, BaseException)]
    assert failures == [], f"{len(failures)} of {len(orders)} failed, first: {failures[:1]!r}"
    made = [(result.created, result.link.status) for result in results]  # type: ignore[union-attr]
    assert made == [(True, LinkStatus.ACTIVE)] * len(orders)
    links = sorted((link.chat_id, link.creator_user_id) for link in await stack.our_links())
    assert links == sorted((order.chat_id, order.user_id) for order in orders)
    async with stack.sessions() as session:
        chats = list((await session.execute(select(Chat).order_by(col(Chat.id)))).scalars())
    assert [(chat.id, chat.title) for chat in chats] == sorted((group, f"Shop {-group}") for group in NEW_GROUPS)
    assert stack.create_calls() == len(orders)


async def test_one_newcomer_accepts_invites_at_once(replicas: Replicas) -> None:
    """Invites opened by the same new person at the same moment (two tabs, two replicas): all work, one member row."""
    access = [AccessService(sessions, owner_ids=frozenset({OWNER}), sandbox=False) for sessions in replicas.sessions]
    teams = [TeamService(sessions, checker) for sessions, checker in zip(replicas.sessions, access, strict=True)]
    owner = Actor(OWNER, "Olga")
    granted = [Role.AGENT, Role.SUPPORT] * (RACERS // 2)
    invites = [await teams[0].invite(owner, role) for role in granted]

    joins = [teams[index % 2].accept(invite.code, NEWCOMER, "Nia") for index, invite in enumerate(invites)]
    roles = await asyncio.gather(*joins, return_exceptions=True)
    assert roles == granted
    assert await replicas.count(Member, user_id=NEWCOMER) == 1
    assert await access[0].role_of(NEWCOMER) in (Role.AGENT, Role.SUPPORT)
    assert await replicas.count(AuditEvent, action="join") == len(invites)


async def test_first_settings_of_a_new_chat_at_once(replicas: Replicas) -> None:
    """Currency, country, language and validity set at the same moment for a chat never seen before: all kept."""
    first, second = (ChatDefaultsService(sessions, DEPLOYMENT) for sessions in replicas.sessions)
    chat = ChatRef(NEW_GROUPS[0], "group", "New shop")
    admin = Actor(OWNER, "Olga", chat_id=chat.id)
    changes = await asyncio.gather(
        first.set_currency(admin, chat, "idr"),
        second.set_country(admin, chat, "id"),
        second.set_language(admin, chat, "es"),
        first.set_expiry(admin, chat, 7200),
        return_exceptions=True,
    )
    assert [error for error in changes if isinstance(error, BaseException)] == []

    expected = ChatDefaults(
        currency="IDR", country="ID", language="es", customer_language="es", timezone="UTC", expires_seconds=7200
    )
    assert await first.defaults_for(chat.id) == expected
    assert await replicas.count(Chat, id=chat.id) == 1
    assert await replicas.count(AuditEvent, action="settings") == 4


async def test_one_person_starts_two_drafts_at_once(replicas: Replicas) -> None:
    """/newlink twice at the same moment (a double tap, or two replicas): one draft, at the amount step, no error."""
    drafts = [DraftService(sessions) for sessions in replicas.sessions]
    starts = await asyncio.gather(
        *(drafts[index % 2].start(NEW_GROUPS[0], NEWCOMER) for index in range(RACERS)), return_exceptions=True
    )
    assert [error for error in starts if isinstance(error, BaseException)] == []

    assert await replicas.count(Draft, chat_id=NEW_GROUPS[0], user_id=NEWCOMER) == 1
    draft = await drafts[0].get(NEW_GROUPS[0], NEWCOMER)
    assert draft is not None and draft.step == Step.AMOUNT and draft.money is None


async def test_one_update_is_claimed_once(replicas: Replicas) -> None:
    """The same Telegram update reaching several replicas at once is taken on by exactly one."""
    sessions = replicas.sessions

    async def claim(index: int) -> bool:
        async with sessions[index % 2]() as session, session.begin():
            return await repo.claim_update(session, 424242, f"replica-{index}", take_over=lambda _claim: False)

    claimed = await asyncio.gather(*(claim(index) for index in range(RACERS)))
    assert sorted(claimed) == [False] * (RACERS - 1) + [True]
    assert await replicas.count(ProcessedUpdate, update_id=424242) == 1


async def test_one_lease_has_one_holder(replicas: Replicas) -> None:
    """Replicas asking for a lease nobody has held yet, at once: exactly one gets it, and keeps it."""
    sessions = replicas.sessions
    now = utcnow()

    async def take(index: int) -> bool:
        async with sessions[index % 2]() as session, session.begin():
            until = now + timedelta(minutes=1)
            return await repo.try_lease(session, "reconciler", f"replica-{index}", until=until, now=now)

    taken = await asyncio.gather(*(take(index) for index in range(RACERS)))
    assert sorted(taken) == [False] * (RACERS - 1) + [True]
    winner = f"replica-{taken.index(True)}"
    async with sessions[0]() as session:
        lease = await session.get(Lease, "reconciler")
    assert lease is not None and lease.holder == winner
