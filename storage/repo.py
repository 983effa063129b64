"""Plain async data functions; each takes a session and leaves committing to the caller."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from storage import search
from storage.models import (
    AuditAction,
    AuditEvent,
    Chat,
    Draft,
    FailedAttempt,
    Lease,
    Link,
    LinkEvent,
    LinkEventKind,
    LinkStatus,
    Member,
    NotificationEvent,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Payment,
    Person,
    ProcessedUpdate,
    Refund,
    RefundStatus,
    RefusalNotice,
    SharedMessage,
    TeamSettings,
    table_of,
    utcnow,
)


def upsert(session: AsyncSession, model: type[SQLModel]) -> Any:
    """An INSERT for the model's table that takes ON CONFLICT clauses on this session's database.

    Every get-or-create goes through one of these: reading first and inserting after races with a
    concurrent first request (two replicas, four messages in a new group) and loses on the key.
    """
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return builder(table_of(model))


async def get_chat(session: AsyncSession, chat_id: int) -> Chat | None:
    """The chat with this Telegram id, if known."""
    return await session.get(Chat, chat_id)


async def upsert_chat(session: AsyncSession, chat_id: int, chat_type: str, title: str | None) -> Chat:
    """Remember a chat (and its latest title) in one atomic statement, creating it on first sight."""
    statement = upsert(session, Chat).values(id=chat_id, type=chat_type, title=title, created_at=utcnow())
    statement = statement.on_conflict_do_update(
        index_elements=[table_of(Chat).c.id], set_={"type": chat_type, "title": title}
    )
    await session.execute(statement)
    chat = await session.get(Chat, chat_id, populate_existing=True)
    assert chat is not None
    return chat


async def claim_refusal_notice(session: AsyncSession, user_id: int, *, now: datetime, interval: timedelta) -> bool:
    """Take the right to tell this person "not allowed" now; False if they were told within ``interval``."""
    table = table_of(RefusalNotice)
    statement = (
        upsert(session, RefusalNotice)
        .values(user_id=user_id, last_sent_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.user_id],
            set_={"last_sent_at": now},
            where=table.c.last_sent_at <= now - interval,
        )
        .returning(table.c.user_id)
    )
    return (await session.execute(statement)).first() is not None


async def get_link(session: AsyncSession, link_id: int, *, for_update: bool = False) -> Link | None:
    """A link by our row id; ``for_update`` locks it on PostgreSQL."""
    statement = select(Link).where(col(Link.id) == link_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def get_link_by_merchant_id(
    session: AsyncSession, merchant_link_id: str, *, for_update: bool = False
) -> Link | None:
    """A link by the id we gave PayerMax."""
    statement = select(Link).where(col(Link.merchant_link_id) == merchant_link_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def get_link_by_request_key(session: AsyncSession, request_key: str) -> Link | None:
    """The link a given Telegram request already made, if any."""
    return (await session.execute(select(Link).where(col(Link.request_key) == request_key))).scalar_one_or_none()


async def get_payment_by_trade(session: AsyncSession, out_trade_no: str) -> Payment | None:
    """The payment PayerMax knows by this outTradeNo."""
    statement = select(Payment).where(col(Payment.out_trade_no) == out_trade_no).limit(1)
    return (await session.execute(statement)).scalar_one_or_none()


async def get_payment(session: AsyncSession, link_id: int, out_trade_no: str) -> Payment | None:
    """The payment of this attempt on this link."""
    statement = select(Payment).where(col(Payment.link_id) == link_id, col(Payment.out_trade_no) == out_trade_no)
    return (await session.execute(statement)).scalar_one_or_none()


async def payments_of(session: AsyncSession, link_id: int) -> Sequence[Payment]:
    """Payments on a link, oldest first."""
    statement = select(Payment).where(col(Payment.link_id) == link_id).order_by(col(Payment.id))
    return (await session.execute(statement)).scalars().all()


async def get_payment_by_id(session: AsyncSession, payment_id: int, *, for_update: bool = False) -> Payment | None:
    """A payment by our row id; ``for_update`` locks it on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises)."""
    statement = select(Payment).where(col(Payment.id) == payment_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def links_due_for_check(session: AsyncSession, *, now: datetime, limit: int) -> Sequence[Link]:
    """Unfinished links whose next check is due, most overdue first."""
    statement = (
        select(Link)
        .where(col(Link.status).in_([LinkStatus.ACTIVE, LinkStatus.CREATING]))
        .where(col(Link.next_check_at).is_not(None), col(Link.next_check_at) <= now)
        .order_by(col(Link.next_check_at), col(Link.id))
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


async def schedule_check(session: AsyncSession, link_id: int, when: datetime | None) -> None:
    """Set when the reconciler next looks at a link."""
    await session.execute(update(Link).where(col(Link.id) == link_id).values(next_check_at=when))


async def links_due_for_reminder(session: AsyncSession, *, now: datetime, limit: int) -> Sequence[Link]:
    """ACTIVE links whose reminder moment has come, earliest first."""
    statement = (
        select(Link)
        .where(col(Link.status) == LinkStatus.ACTIVE, col(Link.remind_at).is_not(None), col(Link.remind_at) <= now)
        .order_by(col(Link.remind_at), col(Link.id))
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


async def claim_reminder(session: AsyncSession, link_id: int, *, now: datetime) -> bool:
    """Mark a link reminded (its reminder moment cleared) if it is still ACTIVE and due; False if it is not.

    One atomic statement: on PostgreSQL a second transaction waits for the row and then finds the
    moment cleared, so however many try, one wins and queues the reminder.
    """
    claimed = await session.execute(
        update(Link)
        .where(col(Link.id) == link_id, col(Link.status) == LinkStatus.ACTIVE, col(Link.remind_at).is_not(None))
        .values(remind_at=None, reminded_at=now)
        .returning(col(Link.id))
    )
    return claimed.first() is not None


async def links_to_remind_in_chat(session: AsyncSession, chat_id: int) -> Sequence[Link]:
    """A chat's ACTIVE links not reminded yet (their reminder moment follows the chat's setting)."""
    statement = select(Link).where(
        col(Link.chat_id) == chat_id, col(Link.status) == LinkStatus.ACTIVE, col(Link.reminded_at).is_(None)
    )
    return (await session.execute(statement)).scalars().all()


async def feed_chat_id(session: AsyncSession, *, for_update: bool = False) -> int | None:
    """The chat every payment of the team is posted to, if one was named; ``for_update`` locks the setting."""
    statement = select(col(TeamSettings.feed_chat_id)).where(col(TeamSettings.id) == 1)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def set_feed_chat(session: AsyncSession, chat_id: int | None, *, now: datetime) -> int | None:
    """Name the payments feed chat (None: no feed); return the one named before."""
    before = await feed_chat_id(session, for_update=True)
    await session.execute(
        upsert(session, TeamSettings)
        .values(id=1, feed_chat_id=chat_id, updated_at=now)
        .on_conflict_do_update(index_elements=["id"], set_={"feed_chat_id": chat_id, "updated_at": now})
    )
    return before


async def try_lease(session: AsyncSession, name: str, holder: str, *, until: datetime, now: datetime) -> bool:
    """Take or renew the named lease if it is free, expired or already ours (one atomic statement)."""
    table = table_of(Lease)
    statement = (
        upsert(session, Lease)
        .values(name=name, holder=holder, expires_at=until)
        .on_conflict_do_update(
            index_elements=[table.c.name],
            set_={"holder": holder, "expires_at": until},
            where=(table.c.expires_at < now) | (table.c.holder == holder),
        )
        .returning(table.c.name)
    )
    return (await session.execute(statement)).first() is not None


async def claim_update(
    session: AsyncSession, update_id: int, holder: str, *, take_over: Callable[[ProcessedUpdate], bool]
) -> bool:
    """Take on a Telegram update; False if it is done or someone else holds it (``take_over`` decides)."""
    table = table_of(ProcessedUpdate)
    inserted = await session.execute(
        upsert(session, ProcessedUpdate)
        .values(update_id=update_id, holder=holder, done=False, received_at=utcnow())
        .on_conflict_do_nothing(index_elements=[table.c.update_id])
        .returning(table.c.update_id)
    )
    if inserted.first() is not None:
        return True
    claim = await session.get(ProcessedUpdate, update_id, with_for_update=True, populate_existing=True)
    if claim is None or claim.done or claim.holder == holder or not take_over(claim):
        return False
    claim.holder, claim.received_at = holder, utcnow()
    return True


async def finish_update(session: AsyncSession, update_id: int) -> None:
    """Mark an update's handling complete."""
    await session.execute(update(ProcessedUpdate).where(col(ProcessedUpdate.update_id) == update_id).values(done=True))


async def get_draft(session: AsyncSession, chat_id: int, user_id: int) -> Draft | None:
    """The /newlink draft of this person in this chat."""
    return await session.get(Draft, (chat_id, user_id))


async def restart_draft(
    session: AsyncSession,
    chat_id: int,
    user_id: int,
    *,
    step: str,
    now: datetime,
    request_key: str | None = None,
    choices: str | None = None,
    description: str | None = None,
) -> None:
    """Start this person's draft in this chat afresh at ``step``, replacing any they had (one atomic statement)."""
    table = table_of(Draft)
    fresh = {
        "step": step,
        "amount": None,
        "currency": None,
        "description": description,
        "summary_message_id": None,
        "request_key": request_key,
        "choices": choices,
        "updated_at": now,
    }
    await session.execute(
        upsert(session, Draft)
        .values(chat_id=chat_id, user_id=user_id, **fresh)
        .on_conflict_do_update(index_elements=[table.c.chat_id, table.c.user_id], set_=fresh)
    )


async def delete_draft(session: AsyncSession, chat_id: int, user_id: int) -> bool:
    """Drop a draft; tell whether there was one."""
    statement = delete(Draft).where(col(Draft.chat_id) == chat_id, col(Draft.user_id) == user_id)
    return (await session.execute(statement.returning(col(Draft.chat_id)))).first() is not None


async def record_event(
    session: AsyncSession, *, notify_type: str, reference: str, outcome: str, detail: str, link_id: int | None = None
) -> None:
    """Keep a note of a notification that did not simply apply."""
    session.add(
        NotificationEvent(
            link_id=link_id, notify_type=notify_type, reference=reference[:64], outcome=outcome, detail=detail
        )
    )
    await session.flush()


async def enqueue(
    session: AsyncSession,
    *,
    dedupe_key: str,
    kind: OutboxKind,
    chat_id: int,
    payload: dict[str, Any],
    link_id: int | None = None,
) -> bool:
    """Add an outbox message unless one with this dedupe key exists (atomically); tell whether it was added."""
    table = table_of(OutboxMessage)
    now = utcnow()
    statement = (
        upsert(session, OutboxMessage)
        .values(
            dedupe_key=dedupe_key,
            kind=kind,
            chat_id=chat_id,
            link_id=link_id,
            payload=json.dumps(payload, default=str),
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[table.c.dedupe_key])
        .returning(table.c.id)
    )
    return (await session.execute(statement)).first() is not None


async def alert_owners(
    session: AsyncSession,
    owners: Iterable[int],
    *,
    dedupe_key: str,
    payload: dict[str, Any],
    link_id: int | None = None,
    skip_chat: int | None = None,
) -> None:
    """Queue one alert per owner (``<dedupe_key>:<owner>``), in the caller's transaction; ``skip_chat`` hears none."""
    for owner in owners:
        if owner != skip_chat:
            await enqueue(
                session,
                dedupe_key=f"{dedupe_key}:{owner}",
                kind=OutboxKind.ALERT,
                chat_id=owner,
                link_id=link_id,
                payload=payload,
            )


async def due_outbox(session: AsyncSession, *, now: datetime, limit: int, skip_locked: bool) -> Sequence[OutboxMessage]:
    """Pending outbox messages that are due, oldest first; locked rows are skipped on PostgreSQL."""
    statement = (
        select(OutboxMessage)
        .where(col(OutboxMessage.status) == OutboxStatus.PENDING, col(OutboxMessage.next_attempt_at) <= now)
        .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
        .limit(limit)
    )
    if skip_locked:
        statement = statement.with_for_update(skip_locked=True)
    return (await session.execute(statement)).scalars().all()


async def postpone_outbox(session: AsyncSession, message_ids: Sequence[int], until: datetime) -> None:
    """Push claimed messages into the future so no other worker takes them meanwhile (a lease)."""
    if message_ids:
        await session.execute(
            update(OutboxMessage).where(col(OutboxMessage.id).in_(message_ids)).values(next_attempt_at=until)
        )


async def renew_outbox_leases(
    session: AsyncSession, message_ids: Sequence[int], *, held_until: datetime, until: datetime
) -> list[int]:
    """Move the lease of messages still pending under ``held_until`` (ours) to ``until``; return those renewed.

    A message finished, rescheduled or claimed by another worker meanwhile has another status or
    ``next_attempt_at`` and is left alone (compare and set: on PostgreSQL a racing update is
    waited for and the condition checked again).
    """
    if not message_ids:
        return []
    statement = (
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id).in_(message_ids),
            col(OutboxMessage.status) == OutboxStatus.PENDING,
            col(OutboxMessage.next_attempt_at) == held_until,
        )
        .values(next_attempt_at=until)
        .returning(col(OutboxMessage.id))
    )
    return [row_id for row_id in (await session.execute(statement)).scalars() if row_id is not None]


async def outbox_chat_id(session: AsyncSession, message_id: int) -> int | None:
    """The chat an outbox message is addressed to now."""
    statement = select(col(OutboxMessage.chat_id)).where(col(OutboxMessage.id) == message_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def outbox_backlog(session: AsyncSession) -> int:
    """How many messages wait to be sent."""
    statement = select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.status) == OutboxStatus.PENDING)
    return int((await session.execute(statement)).scalar_one())


async def finish_outbox(
    session: AsyncSession, message_id: int, *, status: OutboxStatus, error: str | None = None
) -> None:
    """Mark a message sent or given up."""
    values: dict[str, Any] = {"status": status, "last_error": error[:512] if error else None}
    if status == OutboxStatus.SENT:
        values["sent_at"] = utcnow()
    await session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == message_id).values(**values))


async def retry_outbox(
    session: AsyncSession, message_id: int, *, delay: timedelta, error: str, count_attempt: bool = True
) -> datetime:
    """Try a message again later; return when."""
    when = utcnow() + delay
    values: dict[str, Any] = {"next_attempt_at": when, "last_error": error[:512]}
    if count_attempt:
        values["attempts"] = col(OutboxMessage.attempts) + 1
    await session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == message_id).values(**values))
    return when


async def bring_forward(session: AsyncSession, waiting: dict[int, datetime]) -> None:
    """Make these waiting messages due now, unless they were taken or rescheduled meanwhile."""
    now = utcnow()
    for message_id, when in waiting.items():
        await session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == message_id,
                col(OutboxMessage.next_attempt_at) == when,
                col(OutboxMessage.status) == OutboxStatus.PENDING,
            )
            .values(next_attempt_at=now)
        )


async def add_link_event(
    session: AsyncSession, link_id: int, kind: LinkEventKind, detail: str = "", *, actor_user_id: int | None = None
) -> None:
    """Append an entry to a link's timeline."""
    session.add(LinkEvent(link_id=link_id, kind=kind, detail=detail, actor_user_id=actor_user_id))
    await session.flush()


async def link_events(session: AsyncSession, link_id: int) -> Sequence[LinkEvent]:
    """A link's timeline, oldest first."""
    statement = (
        select(LinkEvent)
        .where(col(LinkEvent.link_id) == link_id)
        .order_by(col(LinkEvent.created_at), col(LinkEvent.id))
    )
    return (await session.execute(statement)).scalars().all()


async def audit(
    session: AsyncSession,
    *,
    actor_user_id: int,
    action: AuditAction,
    subject: str = "",
    detail: str = "",
    actor_name: str = "",
    chat_id: int | None = None,
) -> None:
    """Record who did what."""
    session.add(
        AuditEvent(
            actor_user_id=actor_user_id,
            actor_name=actor_name[:128],
            chat_id=chat_id,
            action=action,
            subject=subject[:128],
            detail=detail,
        )
    )
    await session.flush()


async def record_link_action(
    session: AsyncSession,
    link: Link,
    *,
    actor_user_id: int,
    actor_name: str,
    chat_id: int | None,
    kind: LinkEventKind,
    action: AuditAction,
    timeline_detail: str,
    audit_detail: str,
) -> None:
    """A person's doing on a link, in the caller's transaction: its timeline entry and its audit entry."""
    assert link.id is not None  # a link stored or flushed already
    await add_link_event(session, link.id, kind, timeline_detail, actor_user_id=actor_user_id)
    await audit(
        session,
        actor_user_id=actor_user_id,
        actor_name=actor_name,
        chat_id=chat_id,
        action=action,
        subject=link.merchant_link_id,
        detail=audit_detail,
    )


# --- looking links up for people (lists, search, timelines) ---------------------------------


def _links_in_scope(statement: Any, *, chat_id: int | None, creator_user_id: int | None) -> Any:
    """Narrow a links query to one chat and/or one creator (None: no narrowing)."""
    if chat_id is not None:
        statement = statement.where(col(Link.chat_id) == chat_id)
    if creator_user_id is not None:
        statement = statement.where(col(Link.creator_user_id) == creator_user_id)
    return statement


async def list_links(
    session: AsyncSession,
    *,
    chat_id: int | None,
    creator_user_id: int | None,
    statuses: Sequence[str] | None,
    offset: int,
    limit: int,
) -> Sequence[Link]:
    """Links in scope with one of these statuses (None: any), newest first."""
    statement = _links_in_scope(select(Link), chat_id=chat_id, creator_user_id=creator_user_id)
    if statuses is not None:
        statement = statement.where(col(Link.status).in_(list(statuses)))
    statement = statement.order_by(col(Link.created_at).desc(), col(Link.id).desc()).offset(offset).limit(limit)
    return (await session.execute(statement)).scalars().all()


async def count_links(
    session: AsyncSession, *, chat_id: int | None, creator_user_id: int | None, statuses: Sequence[str] | None
) -> int:
    """How many links in scope have one of these statuses (None: any)."""
    statement = _links_in_scope(
        select(func.count()).select_from(Link), chat_id=chat_id, creator_user_id=creator_user_id
    )
    if statuses is not None:
        statement = statement.where(col(Link.status).in_(list(statuses)))
    return int((await session.execute(statement)).scalar_one())


async def payments_completed_since(
    session: AsyncSession, since: datetime, *, chat_id: int | None, creator_user_id: int | None
) -> Sequence[Payment]:
    """Payments completed at or after ``since`` on links in scope (summed by the caller: amounts are exact text)."""
    # The day's payments, each link looked up by id: with a join, both planners hash a big chat's every link.
    statement = select(Payment).where(col(Payment.completed_at) >= since)
    if chat_id is not None:
        statement = statement.where(_of_payment_link(col(Link.chat_id)) == chat_id)
    if creator_user_id is not None:
        statement = statement.where(_of_payment_link(col(Link.creator_user_id)) == creator_user_id)
    return (await session.execute(statement)).scalars().all()


def _of_payment_link(column: Any) -> Any:
    """This column of the payment's link, as a per-row look-up."""
    return select(column).where(col(Link.id) == col(Payment.link_id)).scalar_subquery()


def _links_named(reference: str) -> Any:
    """The ids of links this reference names: our link id (any case), PayerMax's link id, an order's outTradeNo.

    A UNION of index look-ups (the order of a payment or of a failed attempt): the same conditions
    joined by OR make PostgreSQL scan every link.
    """
    named = union_all(
        select(col(Link.id)).where(col(Link.merchant_link_id).in_({reference, reference.upper()})),
        select(col(Link.id)).where(col(Link.payermax_link_id) == reference),
        select(col(Payment.link_id)).where(col(Payment.out_trade_no) == reference),
        select(col(FailedAttempt.link_id)).where(
            col(FailedAttempt.out_trade_no) == reference, col(FailedAttempt.link_id).is_not(None)
        ),
    ).subquery()
    return select(named.c.id)


async def find_links(
    session: AsyncSession,
    *,
    reference: str,
    words: Sequence[str],
    chat_id: int | None,
    creator_user_id: int | None,
    limit: int,
    fragment: str | None = None,
    amounts: Sequence[str] = (),
    currencies: Sequence[str] = (),
) -> Sequence[Link]:
    """Links a search names, newest first.

    By ``reference``: the link id, PayerMax's link id, or the outTradeNo of a payment or failed
    attempt; by ``fragment``: part of any of these (upper case, compared in upper case); by
    ``amounts``: the link's amount as stored text, in one of ``currencies`` (none: any); by ``words``:
    every word in the description.
    """
    scoped = _links_in_scope(select(Link), chat_id=chat_id, creator_user_id=creator_user_id)
    newest_first = (col(Link.created_at).desc(), col(Link.id).desc())
    named = scoped.where(col(Link.id).in_(_links_named(reference))).order_by(*newest_first)
    found = {link.id: link for link in (await session.execute(named.limit(limit))).scalars()}
    others: list[Any] = []  # the slower ways in, each its own query so the look-up by id keeps its indexes
    if fragment:
        pattern = search.like_anywhere(fragment.upper())
        others += [
            func.upper(Link.merchant_link_id).like(pattern, escape="\\"),
            func.upper(Link.payermax_link_id).like(pattern, escape="\\"),
            col(Link.id).in_(_links_with_order(func.upper(Payment.out_trade_no).like(pattern, escape="\\"), Payment)),
            col(Link.id).in_(
                _links_with_order(func.upper(FailedAttempt.out_trade_no).like(pattern, escape="\\"), FailedAttempt)
            ),
        ]
    if amounts:
        by_amount = col(Link.amount).in_(list(amounts))
        others.append(and_(by_amount, col(Link.currency).in_(list(currencies))) if currencies else by_amount)
    for condition in others:
        for link in (await session.execute(scoped.where(condition).order_by(*newest_first).limit(limit))).scalars():
            found.setdefault(link.id, link)
    if words:
        for link in await search.links_described(session, scoped, words, limit=limit):
            found.setdefault(link.id, link)
    return sorted(found.values(), key=lambda link: (link.created_at, link.id or 0), reverse=True)[:limit]


def _links_with_order(condition: Any, model: type[Payment] | type[FailedAttempt]) -> Any:
    """The ids of links with a payment (or failed attempt) whose order meets ``condition``."""
    link_id = col(Payment.link_id) if model is Payment else col(FailedAttempt.link_id)
    return select(link_id).where(condition, link_id.is_not(None))


async def orders_of_links(session: AsyncSession, link_ids: Sequence[int]) -> dict[int, list[str]]:
    """The outTradeNo of every payment and placed failed attempt of these links."""
    if not link_ids:
        return {}
    orders: dict[int, list[str]] = {}
    for link_column, order_column in (
        (col(Payment.link_id), col(Payment.out_trade_no)),
        (col(FailedAttempt.link_id), col(FailedAttempt.out_trade_no)),
    ):
        statement = select(link_column, order_column).where(link_column.in_(list(link_ids)))
        for link_id, out_trade_no in (await session.execute(statement)).all():
            if link_id is not None:
                orders.setdefault(link_id, []).append(out_trade_no)
    return orders


async def link_by_reference(session: AsyncSession, reference: str) -> Link | None:
    """The one link this id names: our link id, PayerMax's link id, or the outTradeNo of a payment or failed attempt."""
    statement = select(Link).where(col(Link.id).in_(_links_named(reference))).order_by(col(Link.id)).limit(1)
    return (await session.execute(statement)).scalar_one_or_none()


async def latest_payments(session: AsyncSession, link_ids: Sequence[int]) -> dict[int, Payment]:
    """The most recent payment of each of these links (links without one are left out)."""
    if not link_ids:
        return {}
    statement = select(Payment).where(col(Payment.link_id).in_(list(link_ids))).order_by(col(Payment.id))
    return {payment.link_id: payment for payment in (await session.execute(statement)).scalars()}


async def latest_audit(session: AsyncSession, *, action: AuditAction, subject: str) -> AuditEvent | None:
    """The newest audit entry of this action on this subject."""
    statement = (
        select(AuditEvent)
        .where(col(AuditEvent.action) == action, col(AuditEvent.subject) == subject)
        .order_by(col(AuditEvent.id).desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def payments_of_trade(session: AsyncSession, out_trade_no: str) -> Sequence[Payment]:
    """Every payment recorded under this outTradeNo."""
    return (await session.execute(select(Payment).where(col(Payment.out_trade_no) == out_trade_no))).scalars().all()


async def ensure_member(
    session: AsyncSession, user_id: int, *, role: str, name: str, added_by: int, now: datetime
) -> Member | None:
    """Lock this person's member row, creating it with these values on first sight; None if it already existed.

    The existing row (when there was one) is then read with ``get_member(..., for_update=True)``.
    """
    table = table_of(Member)
    created = await session.execute(
        upsert(session, Member)
        .values(user_id=user_id, role=role, name=name, notify_private=False, added_by=added_by, added_at=now)
        .on_conflict_do_nothing(index_elements=[table.c.user_id])
        .returning(table.c.user_id)
    )
    if created.first() is None:
        return None
    return await session.get(Member, user_id, populate_existing=True)


async def latest_pending_card_update(session: AsyncSession, link_id: int) -> int | None:
    """The id of the newest card edit still waiting for this link."""
    statement = select(func.max(col(OutboxMessage.id))).where(
        col(OutboxMessage.link_id) == link_id,
        col(OutboxMessage.kind) == OutboxKind.CARD_UPDATE,
        col(OutboxMessage.status) == OutboxStatus.PENDING,
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def coalesce_card_updates(session: AsyncSession, link_id: int, *, up_to: int, sent: int) -> None:
    """Mark this link's card edits queued up to ``up_to`` as done by the edit ``sent`` just made."""
    await session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.link_id) == link_id,
            col(OutboxMessage.kind) == OutboxKind.CARD_UPDATE,
            col(OutboxMessage.status) == OutboxStatus.PENDING,
            col(OutboxMessage.id) <= up_to,
            col(OutboxMessage.id) != sent,
        )
        .values(status=OutboxStatus.SENT, sent_at=utcnow(), last_error=f"coalesced into {sent}")
    )


async def claim_setup_offer(
    session: AsyncSession, chat_id: int, chat_type: str, title: str | None, *, now: datetime, language: str | None
) -> bool:
    """Mark a chat offered its set-up (first sight remembers it, and its language if it has none); False if it was."""
    await upsert_chat(session, chat_id, chat_type, title)
    table = table_of(Chat)
    claimed = await session.execute(
        update(table)
        .where(table.c.id == chat_id, table.c.setup_offered_at.is_(None))
        .values(setup_offered_at=now, language=func.coalesce(table.c.language, language))
        .returning(table.c.id)
    )
    return claimed.first() is not None


async def remember_chat_language(
    session: AsyncSession, chat_id: int, chat_type: str, title: str | None, language: str
) -> None:
    """Remember a chat, and give it this language if it has none yet (the first person's, or whoever added the bot)."""
    await upsert_chat(session, chat_id, chat_type, title)
    table = table_of(Chat)
    await session.execute(
        update(table).where(table.c.id == chat_id, table.c.language.is_(None)).values(language=language)
    )


async def upsert_person(
    session: AsyncSession,
    user_id: int,
    *,
    name: str,
    username: str | None,
    telegram_language: str | None,
    now: datetime,
) -> None:
    """Remember how to name a person and the language Telegram says they use."""
    table = table_of(Person)
    values = {"name": name[:128], "username": username, "telegram_language": telegram_language, "updated_at": now}
    await session.execute(
        upsert(session, Person)
        .values(user_id=user_id, **values)
        .on_conflict_do_update(index_elements=[table.c.user_id], set_=values)
    )


async def get_person(session: AsyncSession, user_id: int) -> Person | None:
    """What the bot knows of a person."""
    return await session.get(Person, user_id)


async def person_by_username(session: AsyncSession, username: str) -> Person | None:
    """The person the bot last saw with this @username."""
    statement = (
        select(Person)
        .where(col(Person.username) == username.lower().lstrip("@"))
        .order_by(col(Person.updated_at).desc())
    )
    return (await session.execute(statement.limit(1))).scalar_one_or_none()


async def set_person_menu(session: AsyncSession, user_id: int, menu: str | None) -> None:
    """Remember which command menu this person's private chat was given (None: the default one)."""
    await session.execute(
        upsert(session, Person)
        .values(user_id=user_id, name="", menu=menu, updated_at=utcnow())
        .on_conflict_do_update(index_elements=["user_id"], set_={"menu": menu})
    )


async def people_with_menus(session: AsyncSession) -> list[int]:
    """Everyone whose private chat was given a command menu of their own."""
    statement = select(col(Person.user_id)).where(col(Person.menu).is_not(None))
    return list((await session.execute(statement)).scalars())


async def set_person_language(session: AsyncSession, user_id: int, language: str, *, now: datetime) -> None:
    """Remember the language a person chose with /language."""
    table = table_of(Person)
    await session.execute(
        upsert(session, Person)
        .values(user_id=user_id, name="", language=language, updated_at=now)
        .on_conflict_do_update(index_elements=[table.c.user_id], set_={"language": language, "updated_at": now})
    )


# --- refunds ----------------------------------------------------------------------------------


async def get_refund(session: AsyncSession, refund_id: int, *, for_update: bool = False) -> Refund | None:
    """A refund by our row id; ``for_update`` locks it on PostgreSQL."""
    statement = select(Refund).where(col(Refund.id) == refund_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement.execution_options(populate_existing=True))).scalar_one_or_none()


async def get_refund_by_out_refund_no(
    session: AsyncSession, out_refund_no: str, *, for_update: bool = False
) -> Refund | None:
    """The refund PayerMax knows by this outRefundNo."""
    statement = select(Refund).where(col(Refund.out_refund_no) == out_refund_no)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement.execution_options(populate_existing=True))).scalar_one_or_none()


async def get_refund_by_request_key(session: AsyncSession, request_key: str) -> Refund | None:
    """The refund a given Telegram request already proposed, if any."""
    return (await session.execute(select(Refund).where(col(Refund.request_key) == request_key))).scalar_one_or_none()


async def refunds_of_payment(session: AsyncSession, payment_id: int) -> Sequence[Refund]:
    """Every refund of a payment, oldest first."""
    statement = select(Refund).where(col(Refund.payment_id) == payment_id).order_by(col(Refund.id))
    return (await session.execute(statement)).scalars().all()


async def refunds_of_link(session: AsyncSession, link_id: int) -> Sequence[Refund]:
    """Every refund of a link's payments, oldest first."""
    statement = select(Refund).where(col(Refund.link_id) == link_id).order_by(col(Refund.id))
    return (await session.execute(statement)).scalars().all()


async def refunds_due_for_check(session: AsyncSession, *, now: datetime, limit: int) -> Sequence[Refund]:
    """Refunds PayerMax has yet to settle whose next check is due, most overdue first."""
    statement = (
        select(Refund)
        .where(col(Refund.status).in_([RefundStatus.REQUESTING, RefundStatus.PENDING]))
        .where(col(Refund.next_check_at).is_not(None), col(Refund.next_check_at) <= now)
        .order_by(col(Refund.next_check_at), col(Refund.id))
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


async def failed_attempts_of(session: AsyncSession, link_id: int) -> Sequence[FailedAttempt]:
    """A link's declined and failed attempts, oldest first."""
    statement = (
        select(FailedAttempt)
        .where(col(FailedAttempt.link_id) == link_id)
        .order_by(col(FailedAttempt.attempted_at), col(FailedAttempt.id))
    )
    return (await session.execute(statement)).scalars().all()


async def failed_attempts_by_order(session: AsyncSession, out_trade_nos: Sequence[str]) -> dict[str, FailedAttempt]:
    """The failed attempts recorded under these outTradeNos, by outTradeNo."""
    if not out_trade_nos:
        return {}
    statement = select(FailedAttempt).where(col(FailedAttempt.out_trade_no).in_(list(out_trade_nos)))
    return {attempt.out_trade_no: attempt for attempt in (await session.execute(statement)).scalars()}


async def add_failed_attempt(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Record a failed attempt once per outTradeNo (atomic); True if this call recorded it."""
    statement = upsert(session, FailedAttempt).values(**values).on_conflict_do_nothing(index_elements=["out_trade_no"])
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def place_failed_attempt(session: AsyncSession, out_trade_no: str, link_id: int) -> bool:
    """Put an attempt recorded without a link on the link PayerMax lists it on; True if it had none before."""
    result = await session.execute(
        update(FailedAttempt)
        .where(col(FailedAttempt.out_trade_no) == out_trade_no, col(FailedAttempt.link_id).is_(None))
        .values(link_id=link_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def link_of_order(session: AsyncSession, out_trade_no: str) -> int | None:
    """The link an order is known to belong to (by a payment or a placed failed attempt), if any."""
    for link_column, order_column in (
        (col(Payment.link_id), col(Payment.out_trade_no)),
        (col(FailedAttempt.link_id), col(FailedAttempt.out_trade_no)),
    ):
        statement = select(link_column).where(order_column == out_trade_no, link_column.is_not(None)).limit(1)
        link_id = (await session.execute(statement)).scalar_one_or_none()
        if link_id is not None:
            return int(link_id)
    return None


async def active_links_costing(
    session: AsyncSession, amounts: Sequence[str], currency: str, *, limit: int
) -> Sequence[Link]:
    """ACTIVE links of one of these amounts (stored text) in this currency, newest first."""
    statement = (
        select(Link)
        .where(
            col(Link.status) == LinkStatus.ACTIVE,
            col(Link.amount).in_(list(amounts)),
            col(Link.currency) == currency,
        )
        .order_by(col(Link.created_at).desc(), col(Link.id).desc())
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


# --- customer messages the bot posted ----------------------------------------------------------


async def remember_shared_message(session: AsyncSession, link_id: int, chat_id: int, message_id: int) -> None:
    """Remember a customer message posted for a link (once per message)."""
    statement = (
        upsert(session, SharedMessage)
        .values(link_id=link_id, chat_id=chat_id, message_id=message_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["chat_id", "message_id"])
    )
    await session.execute(statement)


async def shared_messages_of(session: AsyncSession, link_id: int) -> Sequence[SharedMessage]:
    """The customer messages posted for a link, oldest first."""
    statement = select(SharedMessage).where(col(SharedMessage.link_id) == link_id).order_by(col(SharedMessage.id))
    return (await session.execute(statement)).scalars().all()
