"""Roles and what each may do: owner, admin, agent, support.

Owners are named by ``ADMIN_USER_IDS`` (configuration, so nobody can lock them out from chat);
everyone else's role lives in the ``members`` table and takes effect at once when changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Member


class Role(StrEnum):
    """A person's role on the team."""

    OWNER = "owner"
    ADMIN = "admin"
    AGENT = "agent"
    SUPPORT = "support"


class Action(StrEnum):
    """Something a person may or may not do."""

    CREATE_LINK = "create links"
    MANAGE_OWN_LINKS = "manage your own links"
    VIEW_ALL_LINKS = "view all links"
    CANCEL_ANY_LINK = "cancel anyone's links"
    RESEND_LINK = "resend links"
    MANAGE_TEAM = "manage the team"
    CHANGE_SETTINGS = "change chat settings"
    READ_AUDIT = "read the audit log"


PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.ADMIN: frozenset(Action) - {Action.READ_AUDIT},
    Role.AGENT: frozenset({Action.CREATE_LINK, Action.MANAGE_OWN_LINKS, Action.RESEND_LINK}),
    Role.SUPPORT: frozenset({Action.VIEW_ALL_LINKS, Action.RESEND_LINK}),
}
# Who may grant each role: admins add agents and support, only owners add admins.
GRANTORS: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset({Role.OWNER}),
    Role.AGENT: frozenset({Role.OWNER, Role.ADMIN}),
    Role.SUPPORT: frozenset({Role.OWNER, Role.ADMIN}),
}


def roles_allowed(action: Action) -> list[Role]:
    """The roles that may do this, strongest first."""
    return [role for role in Role if action in PERMISSIONS[role]]


@dataclass(frozen=True)
class Refusal:
    """Why someone may not do something, and who can change that."""

    action: Action
    roles: list[Role]

    def text(self, user_id: int) -> str:
        """A sentence for the person refused: the role needed and who grants it."""
        names = [role.value for role in self.roles]
        needed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        grantors = " or ".join(role.value for role in Role if role in GRANTORS.get(self.roles[-1], frozenset({Role.OWNER})))
        return (
            f"Sorry, you are not allowed to {self.action.value}: that needs the {needed} role. "
            f"Ask an {grantors} of this bot to /invite you (your Telegram user id is {user_id})."
        )


class AccessService:
    """Answers "may this person do this?" from configuration and the members table."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, owner_ids: frozenset[int], sandbox: bool) -> None:
        self._sessions = sessions
        self.owner_ids = owner_ids
        # A sandbox with no owners configured is a playground: everyone is an owner there.
        self._open = sandbox and not owner_ids

    async def role_of(self, user_id: int) -> Role | None:
        """The person's role, or None if they are not on the team."""
        if self._open or user_id in self.owner_ids:
            return Role.OWNER
        async with self._sessions() as session:
            member = await session.get(Member, user_id)
        return Role(member.role) if member else None

    async def may(self, user_id: int, action: Action) -> bool:
        """Tell whether the person may do this."""
        role = await self.role_of(user_id)
        return role is not None and action in PERMISSIONS[role]

    async def check(self, user_id: int, action: Action) -> Refusal | None:
        """None if allowed, else the refusal to show."""
        if await self.may(user_id, action):
            return None
        return Refusal(action, roles_allowed(action))
