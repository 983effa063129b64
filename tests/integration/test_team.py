"""Roles, invites, removal, per-chat settings and the private "Paid" copy, on a real database.

The services run against SQLite and PostgreSQL exactly as the bot builds them; only the clock
is moved by hand, to see an invite expire.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.botapi.markup import visible_text
from bot.chat import texts
from bot.i18n.reader import Reader, reading_as
from bot.payermax.models import PaymentAttempt
from bot.services.access import AccessService, Action, Role
from bot.services.actors import Actor
from bot.services.audit import AuditLog
from bot.services.chat_defaults import ChatDefaults, ChatDefaultsService, ChatRef, SettingError
from bot.services.links import new_merchant_link_id
from bot.services.payments import Outcome, PaymentReport, PaymentService
from bot.services.people import PeopleService, Seen
from bot.services.team import TeamError, TeamService
from storage.db import create_engine, session_factory
from storage.models import Link, LinkStatus, OutboxMessage, utcnow

OWNER = 1001
ADMIN = 3003
AGENT = 4004
SUPPORT = 5005
STRANGER = 6006
GROUP = -100_777_000_123
DEPLOYMENT = ChatDefaults(
    currency="USD", country="US", language="en", customer_language="en", timezone="UTC", expires_seconds=86400
)


@contextmanager
def team_refusal(words: str) -> Iterator[None]:
    """The team change is refused, and the person is told these words."""
    with pytest.raises(TeamError) as caught:
        yield
    assert words in visible_text(texts.team_problem(caught.value))


@contextmanager
def setting_refusal(words: str) -> Iterator[None]:
    """The setting is refused, and the person is told these words."""
    with pytest.raises(SettingError) as caught:
        yield
    assert words in texts.setting_problem(caught.value)


class Clock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    access: AccessService
    team: TeamService
    audit: AuditLog
    clock: Clock
    database_file: Path | None

    async def join(self, role: Role, user_id: int, name: str, *, by: int = OWNER) -> None:
        invite = await self.team.invite(Actor(by, "Inviter"), role)
        assert await self.team.accept(invite.code, user_id, name) == role


@pytest.fixture
async def world(migrated_database_url: str) -> AsyncIterator[World]:
    engine = create_engine(migrated_database_url)
    sessions = session_factory(engine)
    access = AccessService(sessions, owner_ids=frozenset({OWNER}), sandbox=False)
    clock = Clock()
    database_file = Path(engine.url.database) if engine.url.get_backend_name() == "sqlite" else None
    yield World(sessions, access, TeamService(sessions, access, clock=clock), AuditLog(sessions), clock, database_file)
    await engine.dispose()


async def test_an_invite_grants_its_role_once(world: World) -> None:
    """The first person to open an invite gets the role; the code is then spent."""
    invite = await world.team.invite(Actor(OWNER, "Olga", chat_id=OWNER), Role.AGENT)
    assert len(invite.code) >= 20 and invite.expires_at - world.clock.now == timedelta(hours=24)
    assert await world.access.role_of(AGENT) is None

    assert await world.team.accept(invite.code, AGENT, "Ali") == Role.AGENT
    assert await world.access.may(AGENT, Action.CREATE_LINK)
    with team_refusal("already been used"):
        await world.team.accept(invite.code, STRANGER, "Sam")
    assert await world.access.role_of(STRANGER) is None

    actions = [(event.action, event.actor_user_id, event.subject) for event in await world.audit.recent()]
    assert actions[:2] == [("join", AGENT, "agent"), ("invite", OWNER, "agent")]
    assert all(invite.code not in event.detail for event in await world.audit.recent())


async def test_the_database_holds_only_a_hash_of_each_invite_code(world: World) -> None:
    """Whoever reads the invites table (or the SQLite file) learns no code they could open."""
    invite = await world.team.invite(Actor(OWNER, "Olga"), Role.ADMIN)
    async with world.sessions() as session:
        rows = [tuple(row) for row in (await session.execute(text("SELECT * FROM invites"))).all()]
    assert len(rows) == 1
    assert not any(invite.code in str(value) for value in rows[0])
    assert hashlib.sha256(invite.code.encode()).hexdigest() in rows[0]
    if world.database_file is not None:
        stored = b"".join(path.read_bytes() for path in world.database_file.parent.glob(f"{world.database_file.name}*"))
        assert invite.code.encode() not in stored

    assert await world.team.accept(invite.code, ADMIN, "Ada") == Role.ADMIN


async def test_expired_and_unknown_invites_are_refused(world: World) -> None:
    """An invite stops working after 24 hours; made-up codes are not found."""
    invite = await world.team.invite(Actor(OWNER), Role.SUPPORT)
    world.clock.now += timedelta(hours=24, seconds=1)
    with team_refusal("expired"):
        await world.team.accept(invite.code, SUPPORT, "Sue")
    for code in ("nope", "../../etc", "x" * 64):
        with team_refusal("don't know this invite"):
            await world.team.accept(code, SUPPORT, "Sue")
    assert await world.access.role_of(SUPPORT) is None


async def test_only_grantors_may_invite(world: World) -> None:
    """Owners invite admins; admins invite agents and support but not admins; nobody invites owners."""
    await world.join(Role.ADMIN, ADMIN, "Ada")
    await world.join(Role.AGENT, AGENT, "Ali", by=ADMIN)
    with team_refusal("Only an owner can invite an admin"):
        await world.team.invite(Actor(ADMIN), Role.ADMIN)
    with team_refusal("Only an owner or an admin can invite someone to support"):
        await world.team.invite(Actor(AGENT), Role.SUPPORT)
    with team_refusal("ADMIN_USER_IDS"):
        await world.team.invite(Actor(OWNER), Role.OWNER)


async def test_a_new_invite_replaces_a_role_but_owners_stay_owners(world: World) -> None:
    """Joining again swaps the role; an owner opening an invite leaves it for its person."""
    await world.join(Role.AGENT, AGENT, "Ali")
    await world.join(Role.SUPPORT, AGENT, "Ali")
    assert await world.access.role_of(AGENT) == Role.SUPPORT
    assert not await world.access.may(AGENT, Action.CREATE_LINK)

    invite = await world.team.invite(Actor(OWNER), Role.ADMIN)
    assert await world.team.accept(invite.code, OWNER, "Olga") == Role.OWNER
    assert await world.team.accept(invite.code, ADMIN, "Ada") == Role.ADMIN


async def test_removal_is_immediate_and_bounded_by_role(world: World) -> None:
    """Admins remove agents but not admins; owners cannot be removed; removed people lose access at once."""
    await world.join(Role.ADMIN, ADMIN, "Ada")
    await world.join(Role.ADMIN, 3004, "Abe")
    await world.join(Role.AGENT, AGENT, "Ali", by=ADMIN)
    pending = await world.team.invite(Actor(ADMIN), Role.SUPPORT)

    with team_refusal("Only an owner can remove an admin"):
        await world.team.remove(Actor(ADMIN), 3004)
    with team_refusal("is an owner"):
        await world.team.remove(Actor(ADMIN), OWNER)
    with team_refusal("not on the team"):
        await world.team.remove(Actor(ADMIN), STRANGER)

    removed = await world.team.remove(Actor(ADMIN, "Ada", chat_id=GROUP), AGENT)
    assert (removed.role, removed.name) == (Role.AGENT, "Ali")
    assert await world.access.role_of(AGENT) is None
    refused = await world.access.check(AGENT, Action.CREATE_LINK)
    assert refused is not None
    refusal = texts.refusal(refused, AGENT)
    assert "needs one of these roles: agent, admin, or owner" in refusal and "Ask an owner or an admin" in refusal

    await world.team.remove(Actor(OWNER), ADMIN)
    with team_refusal("no longer works"):
        await world.team.accept(pending.code, SUPPORT, "Sue")  # its maker may no longer grant roles
    [latest] = await world.audit.recent(1)
    assert "removed Ada (3003): was admin" in visible_text(texts.audit_line(latest))
    with reading_as(Reader("id", "Asia/Jakarta")):  # stored without words: worded in the reader's language
        assert "mengeluarkan Ada (3003)" in visible_text(texts.audit_line(latest))


async def test_members_lists_owners_first_then_by_role(world: World) -> None:
    """/team's data: owners from configuration, then admins, agents, support."""
    await world.join(Role.SUPPORT, SUPPORT, "Sue")
    await world.join(Role.AGENT, AGENT, "Ali")
    await world.join(Role.ADMIN, ADMIN, "Ada")
    members = await world.team.members()
    assert [(m.user_id, m.role) for m in members] == [
        (OWNER, Role.OWNER),
        (ADMIN, Role.ADMIN),
        (AGENT, Role.AGENT),
        (SUPPORT, Role.SUPPORT),
    ]


async def _seen(world: World, user_id: int, name: str, username: str | None) -> None:
    """The bot met this person (as it does with every update's sender)."""
    people = PeopleService(world.sessions, default_language="en")
    await people.seen(Seen(user_id, name, username, "en"))


async def _team_news(world: World) -> list[tuple[int, dict[str, object]]]:
    """The team news queued so far: (whose private chat, what), oldest first."""
    async with world.sessions() as session:
        statement = select(OutboxMessage).where(OutboxMessage.kind == "team").order_by(OutboxMessage.id)
        return [(row.chat_id, json.loads(row.payload)) for row in (await session.execute(statement)).scalars()]


async def test_the_team_is_named_with_usernames_owners_too(world: World) -> None:
    """/team's data names everyone as last seen (owners from configuration included), with @usernames when known."""
    await _seen(world, OWNER, "Olga Owner", "Olga_Shop")
    await world.join(Role.AGENT, AGENT, "Ali")
    await _seen(world, AGENT, "Ali Agent", None)
    await world.join(Role.SUPPORT, SUPPORT, "Sue")
    named = [(m.user_id, m.name, m.username) for m in await world.team.members()]
    assert named == [
        (OWNER, "Olga Owner", "olga_shop"),
        (AGENT, "Ali Agent", None),
        (SUPPORT, "Sue", None),  # never seen since joining: the name she joined with
    ]


async def test_whom_to_ask_is_whoever_may_grant_a_role_that_would_do(world: World) -> None:
    """Seeing all links takes support (owners and admins grant it); cancelling others' links, admin (owners only)."""
    await _seen(world, OWNER, "Olga", "olga")
    await world.join(Role.ADMIN, ADMIN, "Ada")
    await world.join(Role.AGENT, AGENT, "Ali")
    view_all = await world.access.check(AGENT, Action.VIEW_ALL_LINKS)
    cancel_any = await world.access.check(AGENT, Action.CANCEL_ANY_LINK)
    assert view_all is not None and cancel_any is not None
    assert [m.user_id for m in await world.team.who_grants(view_all.roles)] == [OWNER, ADMIN]
    assert [m.user_id for m in await world.team.who_grants(cancel_any.roles)] == [OWNER]

    asked = await world.team.who_grants(view_all.roles)
    refusal = texts.refusal(view_all, AGENT, role=Role.AGENT, asked=asked)
    assert refusal.splitlines() == [
        "Sorry, seeing all links needs one of these roles: support, admin, or owner.",
        "You are an agent here.",
        "An owner or an admin can give you that role: Olga (@olga) or Ada.",
    ]
    assert "/invite" not in refusal  # already on the team: nobody tells them to get invited


async def test_the_inviter_and_the_removed_are_told_once(world: World) -> None:
    """A used invite queues news for its maker; a removal queues news for the removed person, once per membership."""
    await world.join(Role.ADMIN, ADMIN, "Ada")
    await world.join(Role.AGENT, AGENT, "Ali", by=ADMIN)
    assert await _team_news(world) == [
        (OWNER, {"news": "joined", "user_id": ADMIN, "name": "Ada", "role": "admin", "was": None}),
        (ADMIN, {"news": "joined", "user_id": AGENT, "name": "Ali", "role": "agent", "was": None}),
    ]
    await world.team.remove(Actor(ADMIN, "Ada"), AGENT)
    with team_refusal("not on the team"):
        await world.team.remove(Actor(ADMIN, "Ada"), AGENT)  # a repeated /remove tells nobody again
    removed = [(chat, news) for chat, news in await _team_news(world) if news["news"] == "removed"]
    assert removed == [(AGENT, {"news": "removed", "user_id": AGENT, "name": "Ada", "role": "agent"})]

    world.clock.now += timedelta(seconds=5)
    await world.join(Role.SUPPORT, AGENT, "Ali", by=ADMIN)  # back on the team, then out again: told again
    await world.team.remove(Actor(OWNER, "Olga"), AGENT)
    assert len([news for _chat, news in await _team_news(world) if news["news"] == "removed"]) == 2


async def test_notify_private_is_for_members(world: World) -> None:
    """Members switch the private copy on and off; owners and strangers are told why they cannot."""
    await world.join(Role.AGENT, AGENT, "Ali")
    assert await world.team.notify_private(AGENT) is False
    await world.team.set_notify_private(AGENT, True)
    assert await world.team.notify_private(AGENT) is True
    for user_id in (OWNER, STRANGER):
        with team_refusal("team members"):
            await world.team.set_notify_private(user_id, True)


async def test_settings_are_validated_stored_and_audited(world: World) -> None:
    """Each setting refuses what PayerMax would, changes the chat's defaults, and logs old -> new."""
    chats = ChatDefaultsService(world.sessions, DEPLOYMENT)
    actor, group = Actor(ADMIN, "Ada", chat_id=GROUP), ChatRef(GROUP, "supergroup", "Shop")

    for setter, bad, reason in (
        (chats.set_currency, "XYZ", "not a currency"),
        (chats.set_country, "USA", "not a country"),
        (chats.set_country, "ZZ", "not a country"),
        (chats.set_language, "xx", "not a language I speak"),
    ):
        with setting_refusal(reason):
            await setter(actor, group, bad)
    for seconds in (1800, 30 * 86400 + 1):
        with setting_refusal("1 hour to 30 days"):
            await chats.set_expiry(actor, group, seconds)
    assert await chats.defaults_for(GROUP) == DEPLOYMENT

    await chats.set_currency(actor, group, "eur")
    await chats.set_country(actor, group, "id")
    await chats.set_language(actor, group, "ES")
    await chats.set_expiry(actor, group, 3 * 86400)
    await chats.set_expiry(actor, group, 3 * 86400)  # no change, no audit entry
    assert await chats.defaults_for(GROUP) == ChatDefaults("EUR", "ID", "es", "es", "UTC", 3 * 86400)
    assert await chats.defaults_for(OWNER) == DEPLOYMENT  # other chats keep the deployment's

    changes = [e for e in await world.audit.recent() if e.action == "settings"]
    assert [(e.subject, e.actor_user_id, e.chat_id) for e in changes] == [
        ("expiry", ADMIN, GROUP),
        ("language", ADMIN, GROUP),
        ("country", ADMIN, GROUP),
        ("currency", ADMIN, GROUP),
    ]
    # Each change is worded when it is read: old -> new in the reader's words.
    worded = [visible_text(texts.audit_line(e)).split(": ", 1)[1] for e in changes]
    assert worded == [
        "changed validity: 1 day → 3 days",
        "changed language: English → Español (Latinoamérica)",
        "changed country: US → ID",
        "changed currency: USD → EUR",
    ]
    with reading_as(Reader("id", "Asia/Jakarta")):
        assert "1 hari → 3 hari" in visible_text(texts.audit_line(changes[0]))


async def _link(world: World, *, chat_id: int, creator: int) -> Link:
    link = Link(
        merchant_link_id=new_merchant_link_id(),
        chat_id=chat_id,
        creator_user_id=creator,
        creator_name="Ali",
        amount=Decimal("10.00"),
        currency="USD",
        country="US",
        description="Tea",
        expires_seconds=3600,
        status=LinkStatus.ACTIVE,
        card_message_id=7,
    )
    async with world.sessions() as session, session.begin():
        session.add(link)
    return link


async def _pay(payments: PaymentService, link: Link, trade: str) -> Outcome:
    attempt = PaymentAttempt(trade, "SUCCESS", utcnow(), "CARD", None, "VISA", "411111******1111")
    return await payments.apply_to_link(
        link.merchant_link_id,
        [PaymentReport(attempt, link.amount, link.currency, "PAYBYLINK")],
        notify_type="PAYBYLINK",
    )


async def _paid_chats(world: World, link: Link) -> list[int]:
    async with world.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.chat_id).where(OutboxMessage.link_id == link.id, OutboxMessage.kind == "paid")
        )
        return sorted(rows.scalars())


async def test_paid_goes_privately_too_when_the_agent_asked(world: World) -> None:
    """A group link's Paid also goes to its agent's private chat if they turned it on; once per payment."""
    payments = PaymentService(world.sessions, owner_chat_ids=[OWNER])
    await world.join(Role.AGENT, AGENT, "Ali")
    await world.join(Role.AGENT, 4005, "Bea")
    await world.team.set_notify_private(AGENT, True)

    in_group = await _link(world, chat_id=GROUP, creator=AGENT)
    assert await _pay(payments, in_group, "T1") == Outcome.APPLIED
    assert await _pay(payments, in_group, "T1") == Outcome.DUPLICATE
    assert await _paid_chats(world, in_group) == [GROUP, AGENT]

    in_private = await _link(world, chat_id=AGENT, creator=AGENT)
    await _pay(payments, in_private, "T2")
    assert await _paid_chats(world, in_private) == [AGENT]  # already there: no second copy

    not_asked = await _link(world, chat_id=GROUP, creator=4005)
    await _pay(payments, not_asked, "T3")
    assert await _paid_chats(world, not_asked) == [GROUP]
