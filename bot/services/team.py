"""The team: invites that grant a role, joining by deep link, removal, and a personal preference.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.access import GRANTORS, AccessService, Role
from bot.services.actors import Actor
from storage import repo
from storage.models import Invite, Member, utcnow

INVITE_LIFETIME = timedelta(hours=24)
CODE_BYTES = 16  # 22 url-safe characters: well inside Telegram's 64-character start parameter
_CODE_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,32}")  # what an invite code can look like at all
# Owners have no members row to keep the preference in (their role comes from configuration).
NOT_A_MEMBER = (
    "Private Paid messages are for team members who joined by invite; owners named in "
    "ADMIN_USER_IDS and people not on the team cannot turn them on."
)


class TeamError(Exception):
    """A team change that cannot be made; str() is a sentence for the person who asked."""


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


def code_hash(code: str) -> str:
    """The hex SHA-256 under which an invite code is stored."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def _a(role: Role) -> str:
    return ("an " if role.value[0] in "aeiou" else "a ") + role.value


def who_grants(roles: Iterable[Role]) -> str:
    """'an owner' or 'an owner or an admin': the people who may grant or remove a role."""
    return " or ".join(_a(role) for role in Role if role in set(roles))


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
            raise TeamError("Owners are named in the bot's configuration (ADMIN_USER_IDS), not invited.")
        if await self._access.role_of(actor.user_id) not in GRANTORS[role]:
            raise TeamError(f"Only {who_grants(GRANTORS[role])} can invite {_a(role)}.")
        code = secrets.token_urlsafe(CODE_BYTES)
        expires_at = self._clock() + self._lifetime
        async with self._sessions() as session, session.begin():
            row = Invite(code_hash=code_hash(code), role=role.value, created_by=actor.user_id, expires_at=expires_at)
            session.add(row)
            # The code itself stays out of the log: whoever reads the log must not be able to use it.
            await repo.audit(
                session, actor_user_id=actor.user_id, actor_name=actor.name, chat_id=actor.chat_id, action="invite",
                subject=role.value, detail=f"single-use invite valid until {expires_at:%Y-%m-%d %H:%M} UTC",
            )
        return InviteCode(code, role, expires_at)

    async def accept(self, code: str, user_id: int, name: str) -> Role:
        """Give the person the invite's role (replacing any role they had) and use the code up."""
        invite = await self._usable_invite(code)
        role = Role(invite.role)
        if user_id in self._access.owner_ids:
            return Role.OWNER  # owners stay owners, and the code stays for the person it was meant for
        if await self._access.role_of(invite.created_by) not in GRANTORS[role]:
            raise TeamError("This invite no longer works: the person who made it can no longer grant that role. Ask for a new one.")
        now = self._clock()
        async with self._sessions() as session, session.begin():
            claimed = await session.execute(
                update(Invite)
                .where(Invite.code_hash == invite.code_hash, Invite.used_by.is_(None), Invite.expires_at > now)
                .values(used_by=user_id, used_at=now)
            )
            if not claimed.rowcount:
                raise TeamError("This invite has already been used. Ask for a new one.")
            member = await session.get(Member, user_id, with_for_update=True)
            previous = Role(member.role) if member else None
            if member is None:
                session.add(Member(user_id=user_id, role=role.value, name=name[:128], added_by=invite.created_by, added_at=now))
            else:
                member.role, member.added_by, member.added_at = role.value, invite.created_by, now
                member.name = name[:128] or member.name
            detail = f"invited by {invite.created_by}" + (f"; was {previous.value}" if previous else "")
            await repo.audit(session, actor_user_id=user_id, actor_name=name, action="join", subject=role.value, detail=detail)
        return role

    async def _usable_invite(self, code: str) -> Invite:
        """The invite behind a code, or a TeamError saying why it cannot be used."""
        invite = None
        if _CODE_SHAPE.fullmatch(code):
            async with self._sessions() as session:
                invite = await session.get(Invite, code_hash(code))
        if invite is None:
            raise TeamError("I don't know this invite. Check the link, or ask for a new one.")
        if invite.used_by is not None:
            raise TeamError("This invite has already been used. Ask for a new one.")
        if invite.expires_at <= self._clock():
            raise TeamError("This invite has expired (invites work for 24 hours). Ask for a new one.")
        return invite

    async def members(self) -> list[TeamMember]:
        """Everyone on the team: owners from configuration first, then members by role and name."""
        async with self._sessions() as session:
            rows = list((await session.execute(select(Member))).scalars())
        by_id = {row.user_id: row for row in rows}
        owners = [
            TeamMember(user_id, Role.OWNER, by_id[user_id].name if user_id in by_id else "", False)
            for user_id in sorted(self._access.owner_ids)
        ]
        others = [
            TeamMember(row.user_id, Role(row.role), row.name, row.notify_private)
            for row in rows
            if row.user_id not in self._access.owner_ids
        ]
        rank = list(Role)
        return owners + sorted(others, key=lambda m: (rank.index(m.role), m.name.lower(), m.user_id))

    async def remove(self, actor: Actor, user_id: int) -> TeamMember:
        """Take a member off the team at once; only those who may grant their role may remove them."""
        if user_id in self._access.owner_ids:
            raise TeamError(f"{user_id} is an owner. Owners are named in ADMIN_USER_IDS and cannot be removed from chat.")
        actor_role = await self._access.role_of(actor.user_id)
        async with self._sessions() as session, session.begin():
            member = await session.get(Member, user_id, with_for_update=True)
            if member is None:
                raise TeamError(f"{user_id} is not on the team. /team lists who is.")
            role = Role(member.role)
            if actor_role not in GRANTORS[role]:
                raise TeamError(f"Only {who_grants(GRANTORS[role])} can remove {_a(role)}.")
            removed = TeamMember(member.user_id, role, member.name, member.notify_private)
            await session.delete(member)
            await repo.audit(
                session, actor_user_id=actor.user_id, actor_name=actor.name, chat_id=actor.chat_id, action="remove",
                subject=str(user_id), detail=f"{member.name or user_id} was {role.value}",
            )
        return removed

    async def notify_private(self, user_id: int) -> bool:
        """Whether the member also gets "Paid" privately for links they made in groups."""
        async with self._sessions() as session:
            member = await session.get(Member, user_id)
        if member is None:
            raise TeamError(NOT_A_MEMBER)
        return member.notify_private

    async def set_notify_private(self, user_id: int, on: bool) -> None:
        """Turn private "Paid" messages for the member's group links on or off."""
        async with self._sessions() as session, session.begin():
            member = await session.get(Member, user_id, with_for_update=True)
            if member is None:
                raise TeamError(NOT_A_MEMBER)
            member.notify_private = on
