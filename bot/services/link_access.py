"""Who may see, resend, re-issue, cancel and refund which link: owners, admins and support all, an agent their own.

A person's view of links is a :class:`LinkScope`; the refusal checks here are the one place the
link buttons, /links, /find, /status and inline sharing ask.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.access import PERMISSIONS, AccessService, Action, Refusal, refusal_of
from storage.models import Link


@dataclass(frozen=True)
class LinkScope:
    """Which links a person may see: all of them or only their own, optionally within one chat."""

    user_id: int
    all_links: bool
    chat_id: int | None = None

    @property
    def creator_user_id(self) -> int | None:
        """The creator every link in scope has, or None when anyone's links are in scope."""
        return None if self.all_links else self.user_id

    def covers(self, link: Link) -> bool:
        """Tell whether this link is in scope."""
        if self.chat_id is not None and link.chat_id != self.chat_id:
            return False
        return self.all_links or link.creator_user_id == self.user_id

    def in_chat(self, chat_id: int) -> LinkScope:
        """The same person's view, narrowed to one chat's links."""
        return LinkScope(self.user_id, self.all_links, chat_id)

    def own_only(self) -> LinkScope:
        """The same person's view, narrowed to the links they created."""
        return LinkScope(self.user_id, False, self.chat_id)


class LinkAccess:
    """Answers "may this person do this with this link?"."""

    def __init__(self, access: AccessService) -> None:
        self._access = access

    async def scope_for(self, user_id: int) -> LinkScope | None:
        """The links this person may see, or None if they may see none."""
        allowed = await self._allowed(user_id)
        if Action.VIEW_ALL_LINKS in allowed:
            return LinkScope(user_id, all_links=True)
        if Action.MANAGE_OWN_LINKS in allowed:
            return LinkScope(user_id, all_links=False)
        return None

    async def view_refusal(self, link: Link, user_id: int) -> Refusal | None:
        """None if this person may see this link, else why not."""
        scope = await self.scope_for(user_id)
        if scope is not None and scope.covers(link):
            return None
        return refusal_of(Action.VIEW_ALL_LINKS)

    async def resend_refusal(self, link: Link, user_id: int) -> Refusal | None:
        """None if this person may send this link (Share, QR) again, else why not."""
        refusal = await self._access.check(user_id, Action.RESEND_LINK)
        return refusal or await self.view_refusal(link, user_id)

    async def reissue_refusal(self, link: Link, user_id: int) -> Refusal | None:
        """None if this person may make a fresh link in this link's place: they make links and may see this one."""
        refusal = await self._access.check(user_id, Action.CREATE_LINK)
        return refusal or await self.view_refusal(link, user_id)

    async def cancel_refusal(self, link: Link, user_id: int) -> Refusal | None:
        """None if this person may cancel this link: anyone's for owners and admins, their own for agents."""
        allowed = await self._allowed(user_id)
        if Action.CANCEL_ANY_LINK in allowed:
            return None
        if link.creator_user_id == user_id and Action.MANAGE_OWN_LINKS in allowed:
            return None
        return refusal_of(Action.CANCEL_ANY_LINK)

    async def refund_refusal(self, link: Link, user_id: int) -> Refusal | None:
        """None if this person may refund this link's payment: the refund permission, and the link in their view."""
        refusal = await self._access.check(user_id, Action.REFUND)
        return refusal or await self.view_refusal(link, user_id)

    async def _allowed(self, user_id: int) -> frozenset[Action]:
        """What this person's role lets them do (nothing without a role)."""
        role = await self._access.role_of(user_id)
        return PERMISSIONS[role] if role is not None else frozenset()
