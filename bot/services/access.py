"""Roles and what each may do: owner, admin, agent, support.

Owners are named by ``ADMIN_USER_IDS`` (configuration, so nobody can lock them out from chat);
everyone else's role lives in the ``members`` table and takes effect at once when changed.
Refunding is a permission of its own (as in PayerMax's portal): owners and admins have it by
role, and an owner can give it to an agent or a support person (``members.can_refund``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import read_session
from storage.models import Member
from storage.models import Role as Role  # re-exported: roles are what this module is about


class Action(StrEnum):
    """Something a person may or may not do."""

    CREATE_LINK = "create_link"
    MANAGE_OWN_LINKS = "manage_own_links"
    VIEW_ALL_LINKS = "view_all_links"
    CANCEL_ANY_LINK = "cancel_any_link"
    RESEND_LINK = "resend_link"
    MANAGE_TEAM = "manage_team"
    CHANGE_SETTINGS = "change_settings"
    READ_AUDIT = "read_audit"
    REFUND = "refund"
    CHOOSE_FEED = "choose_feed"  # name (or stop) the group every payment of the team is posted to
    # /report and the daily summary: of every link (or a chat's) with VIEW_ALL_LINKS, else one's own
    VIEW_REPORTS = "view_reports"
    EXPORT_LINKS = "export_links"  # /export: every link (or a chat's) for owners and admins, one's own for agents


PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.ADMIN: frozenset(Action) - {Action.READ_AUDIT, Action.CHOOSE_FEED},
    Role.AGENT: frozenset(
        {Action.CREATE_LINK, Action.MANAGE_OWN_LINKS, Action.RESEND_LINK, Action.VIEW_REPORTS, Action.EXPORT_LINKS}
    ),
    # Support sees every link one at a time, and so the team's figures, but no bulk copy of customers' payments.
    Role.SUPPORT: frozenset({Action.VIEW_ALL_LINKS, Action.RESEND_LINK, Action.VIEW_REPORTS}),
}
# Roles an owner may give the refund permission to, person by person (the others have it by role, or are owners).
REFUND_GRANTABLE: frozenset[Role] = frozenset({Role.AGENT, Role.SUPPORT})
# Who may give or take someone's refund permission.
REFUND_GRANTORS: frozenset[Role] = frozenset({Role.OWNER})
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
    """Why someone may not do something: the action and the roles that may (texts words it)."""

    action: Action
    roles: list[Role]


def refusal_of(action: Action) -> Refusal:
    """The refusal for a person whose role does not allow ``action``."""
    return Refusal(action, roles_allowed(action))


class AccessService:
    """Answers "may this person do this?" from configuration and the members table."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, owner_ids: frozenset[int], sandbox: bool) -> None:
        self._sessions = sessions
        self.owner_ids = owner_ids
        # A sandbox with no owners configured is a playground: everyone is an owner there.
        self._open = sandbox and not owner_ids

    async def role_of(self, user_id: int) -> Role | None:
        """The person's role, or None if they are not on the team."""
        role, _member = await self._standing(user_id)
        return role

    async def may(self, user_id: int, action: Action) -> bool:
        """Tell whether the person may do this: by their role, or (refunds) by an owner's grant."""
        role, member = await self._standing(user_id)
        if role is None:
            return False
        if action in PERMISSIONS[role]:
            return True
        return action == Action.REFUND and role in REFUND_GRANTABLE and member is not None and member.can_refund

    async def _standing(self, user_id: int) -> tuple[Role | None, Member | None]:
        """The person's role and their members row (owners from configuration have none)."""
        if self._open or user_id in self.owner_ids:
            return Role.OWNER, None
        async with read_session(self._sessions) as session:
            member = await session.get(Member, user_id)
        return (Role(member.role), member) if member else (None, None)

    async def check(self, user_id: int, action: Action) -> Refusal | None:
        """None if allowed, else the refusal to show."""
        if await self.may(user_id, action):
            return None
        return refusal_of(action)

    async def allowed(self, user_id: int) -> frozenset[Action]:
        """Everything this person may do (asked action by action, so every rule of ``may`` counts)."""
        return frozenset([action for action in Action if await self.may(user_id, action)])

    @property
    def everyone_owns(self) -> bool:
        """True in a sandbox with no owners configured, where everyone is an owner."""
        return self._open
