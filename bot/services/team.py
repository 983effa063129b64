"""The team: invites that grant a role, joining by deep link, removal, the refund permission, a personal preference.

Owners come from ``ADMIN_USER_IDS`` and never from here; everyone else is a row in ``members``
whose role takes effect (or ends) at the next thing they try. An invite is a random code for
``t.me/<bot>?start=<code>``: single use, claimed with a conditional UPDATE so two people racing
for one code cannot both win, and valid for 24 hours. The database keeps only the code's SHA-256,
so reading it does not hand out the open invites; 128 random bits need no salt or slow hash.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypedDict

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot.services.access import GRANTORS, REFUND_GRANTABLE, REFUND_GRANTORS, AccessService, Role
from bot.services.actors import Actor
from storage import repo
from storage.db import read_session
from storage.details import DetailKind, detail
from storage.models import AuditAction, Invite, Member, OutboxKind, Person, utcnow

INVITE_LIFETIME = timedelta(hours=24)
CODE_BYTES = 16  # 22 url-safe characters: well inside Telegram's 64-character start parameter
_CODE_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,32}")  # what an invite code can look like at all


class TeamProblem(StrEnum):
    """Why a team change cannot be made."""

    OWNER_NOT_INVITABLE = "owner_not_invitable"
    MAY_NOT_INVITE = "may_not_invite"  # .role, .grantors
    INVITER_LOST_RIGHTS = "inviter_lost_rights"
    INVITE_USED = "invite_used"
    INVITE_UNKNOWN = "invite_unknown"
    INVITE_EXPIRED = "invite_expired"
    OWNER_NOT_REMOVABLE = "owner_not_removable"  # .user_id
    NOT_ON_TEAM = "not_on_team"  # .user_id
    MAY_NOT_REMOVE = "may_not_remove"  # .role, .grantors
    # Owners have no members row to keep a preference in (their role comes from configuration).
    NOT_A_MEMBER = "not_a_member"
    MAY_NOT_GRANT_REFUNDS = "may_not_grant_refunds"  # only owners give or take the refund permission
    REFUNDS_BY_ROLE = "refunds_by_role"  # .user_id, .role: owners and admins refund by their role


class TeamError(Exception):
    """A team change that cannot be made: the problem and the facts a sentence about it needs."""

    def __init__(
        self,
        problem: TeamProblem,
        *,
        role: Role | None = None,
        grantors: frozenset[Role] = frozenset(),
        user_id: int | None = None,
    ) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.role = role
        self.grantors = grantors
        self.user_id = user_id


@dataclass(frozen=True)
class InviteCode:
    """A fresh invite: the code for the deep link, the role it grants, and when it stops working."""

    code: str
    role: Role
    expires_at: datetime


@dataclass(frozen=True)
class TeamMember:
    """One person on the team as /team lists them."""

    user_id: int
    role: Role
    name: str
    notify_private: bool
    can_refund: bool = False  # by their role (owners, admins) or by an owner's grant
    username: str | None = None  # without the @, when the bot has seen it


class TeamNews(TypedDict, total=False):
    """A team change told to a person (outbox kind "team"): "joined" to the inviter, "removed" to the removed.

    ``user_id`` and ``name`` are the person who joined (for "joined") or who removed them (for
    "removed": ``name`` only); ``role`` is the role joined or lost, ``was`` the role before a join.
    """

    news: str
    user_id: int
    name: str
    role: str
    was: str | None


def code_hash(code: str) -> str:
    """The hex SHA-256 under which an invite code is stored."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class TeamService:
    """Invites, joins and removals, each recorded in the audit log."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        access: AccessService,
        *,
        invite_lifetime: timedelta = INVITE_LIFETIME,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._access = access
        self._lifetime = invite_lifetime
        self._clock = clock

    async def invite(self, actor: Actor, role: Role) -> InviteCode:
        """Make a single-use code granting ``role``; only the role's grantors may."""
        if role == Role.OWNER:
            raise TeamError(TeamProblem.OWNER_NOT_INVITABLE)
        if await self._access.role_of(actor.user_id) not in GRANTORS[role]:
            raise TeamError(TeamProblem.MAY_NOT_INVITE, role=role, grantors=GRANTORS[role])
        code = secrets.token_urlsafe(CODE_BYTES)
        expires_at = self._clock() + self._lifetime
        async with self._sessions() as session, session.begin():
            row = Invite(code_hash=code_hash(code), role=role, created_by=actor.user_id, expires_at=expires_at)
            session.add(row)
            # The code itself stays out of the log: whoever reads the log must not be able to use it.
            await repo.audit(
                session,
                actor_user_id=actor.user_id,
                actor_name=actor.name,
                chat_id=actor.chat_id,
                action=AuditAction.INVITE,
                subject=role.value,
                detail=detail(DetailKind.INVITE, until=expires_at),
            )
        return InviteCode(code, role, expires_at)

    async def accept(self, code: str, user_id: int, name: str) -> Role:
        """Give the person the invite's role (replacing any role they had) and use the code up."""
        invite = await self._usable_invite(code)
        role = Role(invite.role)
        if user_id in self._access.owner_ids:
            return Role.OWNER  # owners stay owners, and the code stays for the person it was meant for
        if await self._access.role_of(invite.created_by) not in GRANTORS[role]:
            raise TeamError(TeamProblem.INVITER_LOST_RIGHTS, role=role)
        now = self._clock()
        async with self._sessions() as session, session.begin():
            claimed = await session.execute(
                update(Invite)
                .where(
                    col(Invite.code_hash) == invite.code_hash,
                    col(Invite.used_by).is_(None),
                    col(Invite.expires_at) > now,
                )
                .values(used_by=user_id, used_at=now)
                .returning(col(Invite.code_hash))
            )
            if claimed.first() is None:
                raise TeamError(TeamProblem.INVITE_USED)
            created = await repo.ensure_member(
                session, user_id, role=role.value, name=name[:128], added_by=invite.created_by, now=now
            )
            previous = None
            if created is None:
                member = await session.get(Member, user_id, with_for_update=True, populate_existing=True)
                assert member is not None
                previous = Role(member.role)
                member.role, member.added_by, member.added_at = role, invite.created_by, now
                member.name = name[:128] or member.name
                if previous != role:
                    member.can_refund = False  # a grant was for the old role: an owner gives it again if meant
            inviter = await _name_of(session, invite.created_by)
            await repo.audit(
                session,
                actor_user_id=user_id,
                actor_name=name,
                action=AuditAction.JOIN,
                subject=role.value,
                detail=detail(
                    DetailKind.JOIN,
                    invited_by=invite.created_by,
                    invited_by_name=inviter,
                    was=previous.value if previous else None,
                ),
            )
            if invite.created_by != user_id:
                # The inviter hears who used their invite, in the same transaction as the join.
                news: TeamNews = {
                    "news": "joined",
                    "user_id": user_id,
                    "name": name[:128],
                    "role": role.value,
                    "was": previous.value if previous else None,
                }
                await repo.enqueue(
                    session,
                    dedupe_key=f"team-joined:{invite.code_hash[:32]}",
                    kind=OutboxKind.TEAM,
                    chat_id=invite.created_by,
                    payload=dict(news),
                )
        return role

    async def _usable_invite(self, code: str) -> Invite:
        """The invite behind a code, or a TeamError saying why it cannot be used."""
        invite = None
        if _CODE_SHAPE.fullmatch(code):
            async with read_session(self._sessions) as session:
                invite = await session.get(Invite, code_hash(code))
        if invite is None:
            raise TeamError(TeamProblem.INVITE_UNKNOWN)
        if invite.used_by is not None:
            raise TeamError(TeamProblem.INVITE_USED)
        if invite.expires_at <= self._clock():
            raise TeamError(TeamProblem.INVITE_EXPIRED)
        return invite

    async def members(self) -> list[TeamMember]:
        """Everyone on the team: owners from configuration first, then members by role and name.

        Names and @usernames come from what the bot last saw of each person (owners too), falling
        back to the name a member joined with.
        """
        async with read_session(self._sessions) as session:
            rows = list((await session.execute(select(Member))).scalars())
            ids = sorted({row.user_id for row in rows} | self._access.owner_ids)
            people = {
                person.user_id: person
                for person in (await session.execute(select(Person).where(col(Person.user_id).in_(ids)))).scalars()
            }
        by_id = {row.user_id: row for row in rows}

        def seen(user_id: int, role: Role, joined_as: str, notify_private: bool, can_refund: bool) -> TeamMember:
            person = people.get(user_id)
            name = (person.name if person else "") or joined_as
            username = person.username if person else None
            return TeamMember(user_id, role, name, notify_private, can_refund, username=username)

        owners = [
            seen(user_id, Role.OWNER, by_id[user_id].name if user_id in by_id else "", False, True)
            for user_id in sorted(self._access.owner_ids)
        ]
        others = [
            seen(
                row.user_id,
                Role(row.role),
                row.name,
                row.notify_private,
                Role(row.role) == Role.ADMIN or (Role(row.role) in REFUND_GRANTABLE and row.can_refund),
            )
            for row in rows
            if row.user_id not in self._access.owner_ids
        ]
        rank = list(Role)
        return owners + sorted(others, key=lambda m: (rank.index(m.role), m.name.lower(), m.user_id))

    async def who_grants(self, roles: Sequence[Role]) -> list[TeamMember]:
        """Whom to ask for a role among ``roles`` (strongest first): those who may grant the weakest of them.

        Only owners can be asked for the owner role itself (they are named in the configuration).
        """
        weakest = roles[-1] if roles else Role.OWNER
        asked = GRANTORS.get(weakest, frozenset({Role.OWNER}))
        return [member for member in await self.members() if member.role in asked]

    async def remove(self, actor: Actor, user_id: int) -> TeamMember:
        """Take a member off the team at once; only those who may grant their role may remove them."""
        if user_id in self._access.owner_ids:
            raise TeamError(TeamProblem.OWNER_NOT_REMOVABLE, user_id=user_id)
        actor_role = await self._access.role_of(actor.user_id)
        async with self._sessions() as session, session.begin():
            member = await session.get(Member, user_id, with_for_update=True)
            if member is None:
                raise TeamError(TeamProblem.NOT_ON_TEAM, user_id=user_id)
            role = Role(member.role)
            if actor_role not in GRANTORS[role]:
                raise TeamError(TeamProblem.MAY_NOT_REMOVE, role=role, grantors=GRANTORS[role])
            person = await session.get(Person, user_id)
            removed = TeamMember(
                member.user_id,
                role,
                (person.name if person else "") or member.name,
                member.notify_private,
                member.can_refund,
                username=person.username if person else None,
            )
            joined_at = member.added_at
            await session.delete(member)
            await repo.audit(
                session,
                actor_user_id=actor.user_id,
                actor_name=actor.name,
                chat_id=actor.chat_id,
                action=AuditAction.REMOVE,
                subject=str(user_id),
                detail=detail(DetailKind.REMOVE, name=removed.name, was=role.value),
            )
            # Told once: one message per membership, however often the removal is retried or repeated.
            news: TeamNews = {"news": "removed", "user_id": user_id, "name": actor.name[:128], "role": role.value}
            await repo.enqueue(
                session,
                dedupe_key=f"team-removed:{user_id}:{int(joined_at.timestamp())}",
                kind=OutboxKind.TEAM,
                chat_id=user_id,
                payload=dict(news),
            )
        return removed

    async def set_can_refund(self, actor: Actor, user_id: int, allowed: bool) -> TeamMember:
        """Give or take an agent's or support person's refund permission; only owners may, and it is audited."""
        if await self._access.role_of(actor.user_id) not in REFUND_GRANTORS:
            raise TeamError(TeamProblem.MAY_NOT_GRANT_REFUNDS, grantors=REFUND_GRANTORS)
        if user_id in self._access.owner_ids:
            raise TeamError(TeamProblem.REFUNDS_BY_ROLE, role=Role.OWNER, user_id=user_id)
        async with self._sessions() as session, session.begin():
            member = await session.get(Member, user_id, with_for_update=True)
            if member is None:
                raise TeamError(TeamProblem.NOT_ON_TEAM, user_id=user_id)
            role = Role(member.role)
            if role not in REFUND_GRANTABLE:
                raise TeamError(TeamProblem.REFUNDS_BY_ROLE, role=role, user_id=user_id)
            if member.can_refund != allowed:
                member.can_refund = allowed
                await repo.audit(
                    session,
                    actor_user_id=actor.user_id,
                    actor_name=actor.name,
                    chat_id=actor.chat_id,
                    action=AuditAction.REFUND_PERMISSION,
                    subject=str(user_id),
                    detail=detail(DetailKind.PERMISSION, allowed=allowed, name=member.name, role=role.value),
                )
            return TeamMember(member.user_id, role, member.name, member.notify_private, member.can_refund)

    async def notify_private(self, user_id: int) -> bool:
        """Whether the member also gets "Paid" privately for links they made in groups."""
        async with read_session(self._sessions) as session:
            member = await session.get(Member, user_id)
        if member is None:
            raise TeamError(TeamProblem.NOT_A_MEMBER)
        return member.notify_private

    async def set_notify_private(self, user_id: int, on: bool) -> None:
        """Turn private "Paid" messages for the member's group links on or off."""
        async with self._sessions() as session, session.begin():
            member = await session.get(Member, user_id, with_for_update=True)
            if member is None:
                raise TeamError(TeamProblem.NOT_A_MEMBER)
            member.notify_private = on


async def _name_of(session: AsyncSession, user_id: int) -> str:
    """How the bot last saw this person named ("" if never)."""
    person = await session.get(Person, user_id)
    if person is not None and person.name:
        return person.name
    member = await session.get(Member, user_id)
    return member.name if member is not None else ""
