"""A group upgraded to a supergroup: its settings, links and queued messages move to the new chat id.

Telegram gives the supergroup a new id (``-123`` becomes ``-100…``) and refuses sends to the old
one, naming the new id. The bot hears of it twice, in either order: the service messages
(``migrate_to_chat_id`` in the old chat, ``migrate_from_chat_id`` in the new one) and, for a
message already queued, the refusal of its send. Either calls :meth:`ChatMoves.move`; the first
moves everything in one transaction and records the move, a repeat finds it recorded and moves
only what was written under the old id since (an update from the old chat handled late).

Moved: the chat's settings (merged into a row the new chat may already have), its links (their
history goes with them), /newlink drafts, pending messages, refunds asked there, its audit entries,
the payments feed group. Not moved: messages the bot already posted. They stay in the old group,
where the Bot API still lets the bot edit them (only sending there is refused), so a link keeps the
chat its card is in, and a customer message its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.chat_defaults import setting_columns
from storage import chat_moves
from storage.db import read_session
from storage.models import utcnow

log = logging.getLogger("paylink.chat_moves")

SUPERGROUP = "supergroup"
_LONGEST_CHAIN = 4  # a supergroup never moves again; a longer chain of records would be a loop


class Refused(StrEnum):
    """Why a move was not made."""

    SAME_CHAT = "same_chat"
    PRIVATE_CHAT = "private_chat"  # only groups are upgraded; a private chat's id never changes
    MOVED_ELSEWHERE = "moved_elsewhere"  # the old chat was recorded as moved to another chat
    LOOP = "loop"


@dataclass(frozen=True)
class Moved:
    """What a move did: ``first`` for the move itself, not a repeat; ``refused`` when nothing was done."""

    old_chat_id: int
    new_chat_id: int
    first: bool = False
    links: int = 0
    messages: int = 0
    refused: Refused | None = None


def merged_chat(
    old: Mapping[str, Any], new: Mapping[str, Any] | None, *, new_chat_id: int, first: bool, chosen_there: set[str]
) -> dict[str, Any]:
    """The new chat's row after the move.

    On the first move the group's settings win: the supergroup's row is days old at most, made when
    the bot first heard from it (its language is whoever spoke first). A setting someone changed in
    the supergroup (audited there) stays, even when it was turned off. On a repeat the old id's row
    is one written late, so the new chat's settings win and it only fills gaps.
    """
    if new is None:
        return {**old, "id": new_chat_id, "type": SUPERGROUP}
    merged = {**new, "id": new_chat_id, "type": new.get("type") or SUPERGROUP}
    for subject, columns in setting_columns().items():
        if subject in chosen_there:
            continue
        source = old if first else new
        if source[columns[0]] is None:
            source = new if source is old else old
        merged.update({column: source[column] for column in columns})
    merged["title"] = new.get("title") or old.get("title")
    for earliest in ("setup_offered_at", "created_at"):
        known = [value for value in (old.get(earliest), new.get(earliest)) if value is not None]
        merged[earliest] = min(known) if known else None
    return merged


class ChatMoves:
    """Moves a chat's rows from its old id to its new one, once and idempotently."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, on_moved: Callable[[], None] = lambda: None
    ) -> None:
        self._sessions = sessions
        self._on_moved = on_moved  # messages now due to the new chat: the outbox may look at once
        self._moved: dict[int, int] = {}  # old chat id -> where its rows are now; a move is never undone

    async def where_now(self, chat_id: int) -> int:
        """The chat id a chat's rows are kept under now: its new id if it moved, else its own."""
        known = self._moved.get(chat_id)
        if known is not None:
            return known
        # A read: asked once per update from a basic group, it must not queue behind SQLite's writer.
        async with read_session(self._sessions) as session:
            now = await self._destination(session, chat_id)
        if now is None or now == chat_id:
            return chat_id  # not moved (yet): asked again next time, it may move later
        self._moved[chat_id] = now
        return now

    async def move(self, old_chat_id: int, new_chat_id: int) -> Moved:
        """Move everything kept under ``old_chat_id`` to ``new_chat_id`` in one transaction; harmless to repeat."""
        if old_chat_id == new_chat_id:
            return Moved(old_chat_id, new_chat_id, refused=Refused.SAME_CHAT)
        if old_chat_id > 0 or new_chat_id > 0:
            return Moved(old_chat_id, new_chat_id, refused=Refused.PRIVATE_CHAT)
        async with self._sessions() as session, session.begin():
            moved = await self._move(session, old_chat_id, new_chat_id)
        if moved.refused is not None:
            log.warning("chat %s not moved to %s: %s", old_chat_id, new_chat_id, moved.refused.value)
            return moved
        self._moved[old_chat_id] = moved.new_chat_id
        if moved.first or moved.links or moved.messages:
            log.info(
                "chat %s moved to %s: %d links, %d queued messages%s",
                old_chat_id,
                moved.new_chat_id,
                moved.links,
                moved.messages,
                "" if moved.first else " (written late under the old id)",
            )
            self._on_moved()
        return moved

    async def _move(self, session: AsyncSession, old_chat_id: int, new_chat_id: int) -> Moved:
        target = await self._destination(session, new_chat_id)
        if target is None or target == old_chat_id:
            return Moved(old_chat_id, new_chat_id, refused=Refused.LOOP)
        # The record is the lock: a racing move of the same chat (the service message and a refused
        # send at once) waits on this insert on PostgreSQL, and SQLite runs one writer at a time.
        first = await chat_moves.record_move(session, old_chat_id, target, now=utcnow())
        if not first and await chat_moves.moved_to(session, old_chat_id) != target:
            return Moved(old_chat_id, target, refused=Refused.MOVED_ELSEWHERE)
        await self._merge_chat(session, old_chat_id, target, first=first)
        links = await chat_moves.move_links(session, old_chat_id, target)
        await chat_moves.move_drafts(session, old_chat_id, target)
        messages = await chat_moves.move_outbox(session, old_chat_id, target)
        await chat_moves.move_the_rest(session, old_chat_id, target)
        return Moved(old_chat_id, target, first=first, links=links, messages=messages)

    @staticmethod
    async def _destination(session: AsyncSession, chat_id: int) -> int | None:
        """Where a chat's rows belong: the chat itself, or the chat it was moved to (None: a loop)."""
        for _ in range(_LONGEST_CHAIN):
            further = await chat_moves.moved_to(session, chat_id)
            if further is None:
                return chat_id
            chat_id = further
        return None

    @staticmethod
    async def _merge_chat(session: AsyncSession, old_chat_id: int, new_chat_id: int, *, first: bool) -> None:
        rows = await chat_moves.chat_rows(session, (old_chat_id, new_chat_id))
        old = rows.get(old_chat_id)
        if old is None:
            return  # moved before, and nothing written under the old id since
        chosen_there = await chat_moves.settings_chosen_in(session, new_chat_id)
        merged = merged_chat(
            old, rows.get(new_chat_id), new_chat_id=new_chat_id, first=first, chosen_there=chosen_there
        )
        await chat_moves.replace_chat(session, old_chat_id, merged)
