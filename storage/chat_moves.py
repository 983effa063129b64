"""Re-keying a chat's rows from its old Telegram id to its new one (a group upgraded to a supergroup).

Set-based statements in the caller's transaction; the rules (which settings win, what a repeat
does) are :mod:`bot.services.chat_moves`'. Messages the bot already posted stay where they are:
a card's chat is kept on its link, and a customer message (Share) keeps its chat and its edit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import (
    AuditAction,
    AuditEvent,
    Chat,
    ChatMove,
    Draft,
    Link,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Refund,
    TeamSettings,
    table_of,
)
from storage.repo import upsert

SUMMARY_PREFIX = "summary:"  # bot.services.daily_summary.dedupe_key: summary:<chat>:<local date>


async def record_move(session: AsyncSession, old_chat_id: int, new_chat_id: int, *, now: datetime) -> bool:
    """Record that the old chat became the new one; False if it was recorded before (atomic: one first move)."""
    table = table_of(ChatMove)
    statement = (
        upsert(session, ChatMove)
        .values(old_chat_id=old_chat_id, new_chat_id=new_chat_id, moved_at=now)
        .on_conflict_do_nothing(index_elements=[table.c.old_chat_id])
        .returning(table.c.old_chat_id)
    )
    return (await session.execute(statement)).first() is not None


async def moved_to(session: AsyncSession, chat_id: int) -> int | None:
    """The chat this one was moved to, if it was."""
    return (
        await session.execute(select(col(ChatMove.new_chat_id)).where(col(ChatMove.old_chat_id) == chat_id))
    ).scalar_one_or_none()


async def chat_rows(session: AsyncSession, chat_ids: tuple[int, ...]) -> dict[int, dict[str, Any]]:
    """These chats' rows as column values, locked until the transaction ends (in id order: no deadlock)."""
    table = table_of(Chat)
    statement = select(table).where(table.c.id.in_(chat_ids)).order_by(table.c.id).with_for_update()
    return {row["id"]: dict(row) for row in (await session.execute(statement)).mappings()}


async def settings_chosen_in(session: AsyncSession, chat_id: int) -> set[str]:
    """The settings (audit subjects) someone changed in this chat."""
    statement = select(col(AuditEvent.subject)).where(
        col(AuditEvent.chat_id) == chat_id, col(AuditEvent.action) == AuditAction.SETTINGS
    )
    return set((await session.execute(statement.distinct())).scalars())


async def replace_chat(session: AsyncSession, old_chat_id: int, values: Mapping[str, Any]) -> None:
    """Write the new chat's row with these values (atomically, whoever wrote it first), and drop the old chat's."""
    table = table_of(Chat)
    changes = {name: value for name, value in values.items() if name != "id"}
    await session.execute(
        upsert(session, Chat).values(**values).on_conflict_do_update(index_elements=[table.c.id], set_=changes)
    )
    await session.execute(delete(table).where(table.c.id == old_chat_id))


async def move_links(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> int:
    """Give the old chat's links the new chat (their cards stay where they were posted); how many moved.

    ``updated_at`` is left alone: reports read it as when a link expired or was cancelled.
    """
    table = table_of(Link)
    await session.execute(
        update(table)
        .where(table.c.chat_id == old_chat_id, table.c.card_message_id.is_not(None), table.c.card_chat_id.is_(None))
        .values(card_chat_id=old_chat_id)
    )
    moved = await session.execute(
        update(table).where(table.c.chat_id == old_chat_id).values(chat_id=new_chat_id).returning(table.c.id)
    )
    return len(moved.all())


async def move_drafts(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> None:
    """Move /newlink drafts; a person who already started one in the new chat keeps that one."""
    table = table_of(Draft)
    started_there = select(table.c.user_id).where(table.c.chat_id == new_chat_id)
    await session.execute(delete(table).where(table.c.chat_id == old_chat_id, table.c.user_id.in_(started_there)))
    await session.execute(update(table).where(table.c.chat_id == old_chat_id).values(chat_id=new_chat_id))


async def move_outbox(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> int:
    """Address the old chat's pending messages to the new chat; how many.

    Edits of customer messages (Share) stay: those messages are in the old group. A daily summary
    keeps its once-a-day key under the new chat's id, so the new chat is not sent that day's again.
    """
    await _move_summaries(session, old_chat_id, new_chat_id)
    table = table_of(OutboxMessage)
    moved = await session.execute(
        update(table)
        .where(
            table.c.chat_id == old_chat_id,
            table.c.status == OutboxStatus.PENDING,
            table.c.kind != OutboxKind.SHARED_PAID,
        )
        .values(chat_id=new_chat_id)
        .returning(table.c.id)
    )
    return len(moved.all())


async def _move_summaries(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> None:
    table = table_of(OutboxMessage)
    old_prefix, new_prefix = f"{SUMMARY_PREFIX}{old_chat_id}:", f"{SUMMARY_PREFIX}{new_chat_id}:"
    rows = (
        await session.execute(
            select(table.c.id, table.c.dedupe_key, table.c.status, table.c.payload).where(
                table.c.kind == OutboxKind.DAILY_SUMMARY, table.c.dedupe_key.startswith(old_prefix, autoescape=True)
            )
        )
    ).all()
    for row_id, key, status, payload in rows:
        new_key = new_prefix + key.removeprefix(old_prefix)
        taken = (await session.execute(select(table.c.id).where(table.c.dedupe_key == new_key))).first()
        if taken is not None:
            if status == OutboxStatus.PENDING:
                # The new chat has that day's summary already: this one would be a second.
                await session.execute(
                    update(table)
                    .where(table.c.id == row_id)
                    .values(status=OutboxStatus.FAILED, last_error=f"the chat moved; {new_key} is sent instead")
                )
            continue
        values: dict[str, Any] = {"dedupe_key": new_key}
        loaded = json.loads(payload)
        if status == OutboxStatus.PENDING and isinstance(loaded, dict) and loaded.get("chat_id") == old_chat_id:
            values["payload"] = json.dumps({**loaded, "chat_id": new_chat_id})  # whose links it counts
        await session.execute(update(table).where(table.c.id == row_id).values(**values))


async def move_the_rest(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> None:
    """Where refunds were asked for, the audit log's chat, and the payments feed group."""
    for model, column in ((Refund, "chat_id"), (AuditEvent, "chat_id"), (TeamSettings, "feed_chat_id")):
        table = table_of(model)
        await session.execute(update(table).where(table.c[column] == old_chat_id).values({column: new_chat_id}))
