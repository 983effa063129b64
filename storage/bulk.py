"""Set-based reads and writes for applying many payment reports in one transaction.

Synchronous on purpose: a whole batch runs in one go wherever its connection lives (see
:class:`storage.db.BatchTransactions`). Each function is one statement, however many rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypedDict

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel, col

from storage.models import (
    Link,
    LinkEvent,
    LinkEventKind,
    Member,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Payment,
    SharedMessage,
    TeamSettings,
    table_of,
    utcnow,
)


class OutboxEntry(TypedDict):
    """One outbox message to queue: also the keyword arguments of :func:`storage.repo.enqueue`."""

    dedupe_key: str
    kind: OutboxKind
    chat_id: int
    link_id: int | None
    payload: dict[str, Any]


def _insert_skipping_conflicts(connection: Connection, model: type[SQLModel]) -> Any:
    """An INSERT into the model's table that can take ON CONFLICT DO NOTHING on this database."""
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    return dialect_insert(table_of(model))


# What deciding about a payment reads of its link (bot.services.payments.LinkFacts).
PAYMENT_LINK_COLUMNS = (
    "id",
    "merchant_link_id",
    "chat_id",
    "creator_user_id",
    "amount",
    "currency",
    "status",
    "payermax_link_id",
)


def links_by_merchant_ids(
    connection: Connection, merchant_link_ids: Sequence[str], *, for_update: bool = False
) -> dict[str, Row[Any]]:
    """Links by the ids we gave PayerMax, as plain rows of PAYMENT_LINK_COLUMNS.

    ``for_update`` locks them on PostgreSQL, in id order.
    """
    if not merchant_link_ids:
        return {}
    table = table_of(Link)
    columns = [table.c[name] for name in PAYMENT_LINK_COLUMNS]
    statement = select(*columns).where(table.c.merchant_link_id.in_(list(merchant_link_ids))).order_by(table.c.id)
    if for_update:
        statement = statement.with_for_update()
    return {row.merchant_link_id: row for row in connection.execute(statement)}


def recorded_payments(connection: Connection, link_ids: Sequence[int]) -> set[tuple[int, str]]:
    """The (link id, outTradeNo) of every payment already recorded on these links."""
    if not link_ids:
        return set()
    statement = select(col(Payment.link_id), col(Payment.out_trade_no)).where(col(Payment.link_id).in_(list(link_ids)))
    return {(row.link_id, row.out_trade_no) for row in connection.execute(statement)}


def members_notified_privately(connection: Connection, user_ids: Sequence[int]) -> set[int]:
    """Which of these people asked to hear about their links in their private chat too."""
    if not user_ids:
        return set()
    statement = select(col(Member.user_id)).where(
        col(Member.user_id).in_(list(user_ids)), col(Member.notify_private).is_(True)
    )
    return set(connection.execute(statement).scalars())


def shared_messages(connection: Connection, link_ids: Sequence[int]) -> dict[int, list[tuple[int, int]]]:
    """The (chat id, message id) of each customer message posted for these links, by link."""
    if not link_ids:
        return {}
    statement = (
        select(col(SharedMessage.link_id), col(SharedMessage.chat_id), col(SharedMessage.message_id))
        .where(col(SharedMessage.link_id).in_(list(link_ids)))
        .order_by(col(SharedMessage.id))
    )
    found: dict[int, list[tuple[int, int]]] = {}
    for row in connection.execute(statement):
        found.setdefault(row.link_id, []).append((row.chat_id, row.message_id))
    return found


def feed_chat_id(connection: Connection) -> int | None:
    """The payments feed chat, if one was named (as :func:`storage.repo.feed_chat_id`)."""
    statement = select(col(TeamSettings.feed_chat_id)).where(col(TeamSettings.id) == 1)
    return connection.execute(statement).scalar_one_or_none()


def insert_new_payments(connection: Connection, rows: Sequence[dict[str, Any]]) -> dict[tuple[int, str], int]:
    """Insert payments, skipping any another transaction recorded first; map new (link id, outTradeNo) pairs to ids."""
    if not rows:
        return {}
    table = table_of(Payment)
    now = utcnow()
    statement = (
        _insert_skipping_conflicts(connection, Payment)
        .on_conflict_do_nothing(index_elements=[table.c.link_id, table.c.out_trade_no])
        .returning(table.c.id, table.c.link_id, table.c.out_trade_no)
    )
    result = connection.execute(statement, [{"created_at": now, **row} for row in rows])
    return {(row.link_id, row.out_trade_no): row.id for row in result}


def update_links(connection: Connection, changes: dict[int, dict[str, Any]]) -> None:
    """Change links by id; every link's changes must name the same columns."""
    if not changes:
        return
    table = table_of(Link)
    statement = update(table).where(table.c.id == bindparam("changed_link_id"))
    connection.execute(statement, [{"changed_link_id": link_id, **values} for link_id, values in changes.items()])


def add_link_events(connection: Connection, events: Sequence[tuple[int, LinkEventKind, str]]) -> None:
    """Append (link id, kind, detail) entries to links' timelines."""
    if not events:
        return
    now = utcnow()
    rows = [
        {"link_id": link_id, "kind": kind, "detail": detail, "actor_user_id": None, "created_at": now}
        for link_id, kind, detail in events
    ]
    connection.execute(insert(table_of(LinkEvent)), rows)


def enqueue_many(connection: Connection, entries: Sequence[OutboxEntry]) -> None:
    """Queue outbox messages, skipping any whose dedupe key is already queued (as :func:`storage.repo.enqueue` does)."""
    if not entries:
        return
    now = utcnow()
    # The defaults an OutboxMessage gets when repo.enqueue builds one.
    rows = [
        {
            **entry,
            "payload": json.dumps(entry["payload"], default=str),
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for entry in entries
    ]
    table = table_of(OutboxMessage)
    connection.execute(
        _insert_skipping_conflicts(connection, OutboxMessage).on_conflict_do_nothing(
            index_elements=[table.c.dedupe_key]
        ),
        rows,
    )
