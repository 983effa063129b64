"""SQLModel tables: chats, links, payments, the outbox, and the bookkeeping around them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    inspect,
    text,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table a model maps to, for the statements SQLModel does not type (upserts, bulk writes)."""
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to one table")
    return table


class _Numbered(Protocol):
    id: int | None


def stored_id(row: _Numbered) -> int:
    """The id the database gave this row once it was flushed (or loaded); a row never stored has none."""
    if row.id is None:
        raise ValueError(f"this {type(row).__name__} has no id yet: flush it first")
    return row.id


class DecimalText(TypeDecorator[Decimal]):
    """A Decimal stored as its exact text, so SQLite never turns money into a float."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return format(Decimal(value), "f")

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StrEnumText(TypeDecorator[StrEnum]):
    """A StrEnum stored as its value (plain text, no database enum type), read back as the enum."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Any) -> StrEnum | None:
        return None if value is None else self.enum(value)


def _vocabulary(enum: type[StrEnum], length: int, *, default: StrEnum | None = None, index: bool = False) -> Any:
    column: Column[StrEnum] = Column(StrEnumText(enum, length), nullable=False, index=index)
    return Field(default=default, sa_column=column) if default is not None else Field(sa_column=column)


def _money_column(nullable: bool = False) -> Any:
    return Field(sa_column=Column(DecimalText(), nullable=nullable))


def _time_column(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _telegram_id(index: bool = False, nullable: bool = False) -> Any:
    return Field(sa_column=Column(BigInteger, nullable=nullable, index=index))


class LinkStatus(StrEnum):
    """A link's life: states only move forward (see docs/ARCHITECTURE.md, guarantees)."""

    CREATING = "CREATING"
    ACTIVE = "ACTIVE"
    PAID = "PAID"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


class PaymentSource(StrEnum):
    """Who told us of a payment first."""

    PAYBYLINK = "PAYBYLINK"  # PayerMax's pay-by-link notification
    PAYMENT = "PAYMENT"  # PayerMax's payment notification
    RECONCILE = "RECONCILE"  # the reconciler asked PayerMax


class LinkEventKind(StrEnum):
    """An entry of a link's timeline."""

    REQUESTED = "requested"
    CREATED = "created"
    FAILED = "failed"
    PAID = "paid"
    NOTIFICATION = "notification"  # a notification that repeated what we knew
    MISMATCH = "mismatch"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFRESHED = "refreshed"
    REFUND_REQUESTED = "refund_requested"  # someone confirmed a refund; PayerMax is being asked
    REFUND_ACCEPTED = "refund_accepted"  # PayerMax accepted the application (REFUND_PENDING)
    REFUNDED = "refunded"
    REFUND_FAILED = "refund_failed"  # PayerMax could not complete an accepted refund
    REFUND_REFUSED = "refund_refused"  # PayerMax refused the application
    REFUND_NOTIFICATION = "refund_notification"  # a refund notification that repeated what we knew
    REFUND_MISMATCH = "refund_mismatch"  # a refund notification that does not match our refund


class AuditAction(StrEnum):
    """What the audit log records people doing."""

    CREATE_LINK = "create_link"
    CANCEL_LINK = "cancel_link"
    INVITE = "invite"
    JOIN = "join"
    REMOVE = "remove"
    SETTINGS = "settings"
    REFUND = "refund"
    REFUND_PERMISSION = "refund_permission"  # an owner gave or took someone's refund permission


class Role(StrEnum):
    """A person's role on the team (owners come from configuration, the others from the members table)."""

    OWNER = "owner"
    ADMIN = "admin"
    AGENT = "agent"
    SUPPORT = "support"


class DraftStep(StrEnum):
    """Where a /newlink conversation (or a question before a link) stands."""

    AMOUNT = "AMOUNT"
    DESCRIPTION = "DESCRIPTION"
    CONFIRM = "CONFIRM"
    CHOOSE_CURRENCY = "CHOOSE_CURRENCY"  # the amount had no currency, or one that could be several
    CHOOSE_AMOUNT = "CHOOSE_AMOUNT"  # the number could be read two ways ("1.500")


class OutboxKind(StrEnum):
    """What an outbox message is; each kind has one renderer (bot.announcements)."""

    CARD = "card"  # post a new link's card (QR photo)
    CARD_UPDATE = "card_update"  # edit a card to show its link's current state
    PAID = "paid"  # "Paid" in the link's chat (or the creator's private copy)
    LINK_FAILED = "link_failed"  # a link PayerMax refused after all
    ALERT = "alert"  # a warning for an owner
    NOTICE = "notice"  # a message written when queued (the first-run offer): after what the chat already awaits
    REFUND = "refund"  # a refund's outcome (refunded or failed) in the link's chat
    REMINDER = "reminder"  # "still unpaid" to a link's creator, once, some time before it expires
    FEED = "feed"  # a payment (or refund) of the team, posted in the payments feed chat
    DAILY_SUMMARY = "daily_summary"  # a chat's daily report, written when sent (once a day: summary:<chat>:<date>)
    TEAM = "team"  # team news for one person: their invite was used, they were taken off the team
    SHARED_PAID = "shared_paid"  # edit a customer message the bot posted (Share) to "paid, thank you"


class RefundStatus(StrEnum):
    """A refund's life: proposed, then confirmed and sent to PayerMax, then settled. States only move forward."""

    PROPOSED = "PROPOSED"  # asked for and shown for confirmation; nothing sent to PayerMax
    DISCARDED = "DISCARDED"  # the person said no (or let the confirmation expire)
    REQUESTING = "REQUESTING"  # confirmed and committed; PayerMax's answer is not known yet
    PENDING = "PENDING"  # PayerMax accepted it (REFUND_PENDING)
    SUCCESS = "SUCCESS"  # REFUND_SUCCESS: the money went back to the customer
    FAILED = "FAILED"  # REFUND_FAILED: PayerMax could not complete it; the money stayed with the merchant
    REFUSED = "REFUSED"  # PayerMax refused the application, or never received it

    @property
    def counted(self) -> bool:
        """Whether this refund takes from what is still refundable (it may still move, or it did)."""
        return self in COUNTED_REFUND_STATUSES

    @property
    def open(self) -> bool:
        """Whether PayerMax has yet to settle this refund."""
        return self in OPEN_REFUND_STATUSES


OPEN_REFUND_STATUSES = frozenset({RefundStatus.REQUESTING, RefundStatus.PENDING})
COUNTED_REFUND_STATUSES = OPEN_REFUND_STATUSES | {RefundStatus.SUCCESS}


class OutboxStatus(StrEnum):
    """Where a message to Telegram stands."""

    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class Chat(SQLModel, table=True):
    """A Telegram chat the bot serves, with its own defaults."""

    __tablename__ = "chats"

    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    type: str = Field(max_length=16)
    title: str | None = Field(default=None, max_length=256)
    default_currency: str | None = Field(default=None, max_length=3)
    default_country: str | None = Field(default=None, max_length=2)
    # The bot's language for messages to the whole chat (cards, "Paid"); a private chat follows its person.
    language: str | None = Field(default=None, max_length=16)
    # The customer's side: the message a customer is sent and PayerMax's payment page.
    customer_language: str | None = Field(default=None, max_length=16)
    timezone: str | None = Field(default=None, max_length=64)  # IANA name
    link_expiry_seconds: int | None = None
    # How long before a link expires its creator is reminded it is unpaid: None the default rule, 0 never.
    reminder_seconds: int | None = None
    # When an owner or admin was offered to set the chat up (currency, country, zone, language).
    setup_offered_at: datetime | None = _time_column()
    # The daily summary: minutes after the chat's local midnight (None: off), and when that was chosen
    # (a time already past then waits for the next day).
    daily_summary_minute: int | None = None
    daily_summary_set_at: datetime | None = _time_column()
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Person(SQLModel, table=True):
    """Someone the bot has talked to: how to name them and which language to answer in."""

    __tablename__ = "people"

    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    name: str = Field(default="", max_length=128)
    username: str | None = Field(default=None, max_length=64, index=True)  # without the @, lower case
    telegram_language: str | None = Field(default=None, max_length=16)  # as Telegram last said
    language: str | None = Field(default=None, max_length=16)  # chosen with /language (overrides Telegram's)
    # The command menu last set for this person's private chat ("role:language:digest"); None: the default one.
    menu: str | None = Field(default=None, max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Link(SQLModel, table=True):
    """A payment link: our intent first (CREATING), then what PayerMax answered."""

    __tablename__ = "links"
    # Due reminders are found among ACTIVE links only: the index never walks the paid and expired past.
    # /links pages and their counts: a chat's or a creator's links newest first, all of them or one status.
    # Search by words has its own structures, made by migration 0008 (storage/search.py).
    __table_args__ = (
        Index("ix_links_reminder_due", "status", "remind_at"),
        Index("ix_links_chat_created", "chat_id", "created_at", "id"),
        Index("ix_links_chat_status_created", "chat_id", "status", "created_at", "id"),
        Index("ix_links_creator_created", "creator_user_id", "created_at", "id"),
        Index("ix_links_creator_status_created", "creator_user_id", "status", "created_at", "id"),
        # /report: links that were cancelled, or expired, in a period (migration 0010 adds, on PostgreSQL
        # only, an index of the id carrying what a report reads of a payment's link).
        Index("ix_links_status_updated", "status", "updated_at"),
        Index("ix_links_status_ended", "status", text("coalesce(expires_at, updated_at)")),
        Index("ix_links_amount", "amount"),  # /find by amount looks links up by their exact amount text
    )

    id: int | None = Field(default=None, primary_key=True)
    merchant_link_id: str = Field(max_length=64, unique=True)
    request_key: str | None = Field(default=None, max_length=128, unique=True)
    chat_id: int = _telegram_id(index=True)
    creator_user_id: int = _telegram_id()
    creator_name: str = Field(default="", max_length=128)
    amount: Decimal = _money_column()
    currency: str = Field(max_length=3)
    country: str = Field(max_length=2)
    language: str = Field(default="en", max_length=8)
    description: str = Field(max_length=256)
    expires_seconds: int
    status: LinkStatus = _vocabulary(LinkStatus, 16, default=LinkStatus.CREATING, index=True)
    sandbox: bool = False
    payermax_link_id: str | None = Field(default=None, max_length=64, index=True)
    link_url: str | None = Field(default=None, max_length=256)
    qr_code_url: str | None = Field(default=None, max_length=256)
    expires_at: datetime | None = _time_column()
    card_message_id: int | None = _telegram_id(nullable=True)
    # The chat the card was posted in (None: the link's chat, as before this was recorded). A group
    # upgraded to a supergroup moves its links to the new id, but its cards stay messages of the old group,
    # where the Bot API still lets the bot edit them (only sending there is refused).
    card_chat_id: int | None = _telegram_id(nullable=True)
    failure_code: str | None = Field(default=None, max_length=64)
    failure_message: str | None = Field(default=None, max_length=512)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    paid_at: datetime | None = _time_column()
    # When the reconciler should next ask PayerMax about this link (None: never again).
    next_check_at: datetime | None = _time_column(index=True)
    # When its creator is to be reminded it is unpaid (None: not, or no longer); cleared in the same
    # transaction that queues the reminder, with reminded_at set: the marker that makes it one reminder.
    remind_at: datetime | None = _time_column()
    reminded_at: datetime | None = _time_column()

    @property
    def card_chat(self) -> int:
        """The chat the link's card was posted in (a group's old id after it became a supergroup)."""
        return self.card_chat_id if self.card_chat_id is not None else self.chat_id


class FailedAttempt(SQLModel, table=True):
    """A payment attempt that did not go through (declined, failed, closed), once per order, as PayerMax reported it.

    A PAYMENT notification names only the order: until PayerMax lists that order on one of our links
    (queryPaybylink), the attempt is kept with no link, and links it may belong to are asked about soon.
    """

    __tablename__ = "failed_attempts"

    id: int | None = Field(default=None, primary_key=True)
    out_trade_no: str = Field(max_length=64, unique=True)
    link_id: int | None = Field(default=None, foreign_key="links.id", index=True)
    status: str = Field(max_length=16)  # FAILED or CLOSED (orderQuery's spelling)
    amount: Decimal | None = Field(default=None, sa_column=Column(DecimalText(), nullable=True))
    currency: str | None = Field(default=None, max_length=3)
    payment_method: str | None = Field(default=None, max_length=64)
    target_org: str | None = Field(default=None, max_length=64)
    card_org: str | None = Field(default=None, max_length=32)
    card_number: str | None = Field(default=None, max_length=32)
    result_code: str | None = Field(default=None, max_length=64)
    result_msg: str | None = Field(default=None, max_length=256)
    source: PaymentSource = _vocabulary(PaymentSource, 16)
    attempted_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class SharedMessage(SQLModel, table=True):
    """A customer message the bot posted for a link (Share), edited to "paid, thank you" once the link is paid."""

    __tablename__ = "shared_messages"
    __table_args__ = (UniqueConstraint("chat_id", "message_id", name="uq_shared_messages_chat_message"),)

    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="links.id", index=True)
    chat_id: int = _telegram_id()
    message_id: int = _telegram_id()
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Payment(SQLModel, table=True):
    """A successful payment attempt on a link, recorded once whatever reports it."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("link_id", "out_trade_no", name="uq_payments_link_trade"),)

    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="links.id", index=True)
    out_trade_no: str = Field(max_length=64, index=True)
    trade_token: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=16)  # SUCCESS: only successful attempts are recorded
    amount: Decimal = _money_column()
    currency: str = Field(max_length=3)
    payment_method: str | None = Field(default=None, max_length=64)
    target_org: str | None = Field(default=None, max_length=64)
    card_org: str | None = Field(default=None, max_length=32)
    card_number: str | None = Field(default=None, max_length=32)
    source: PaymentSource = _vocabulary(PaymentSource, 16)
    completed_at: datetime | None = _time_column(index=True)  # today's takings
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class NotificationEvent(SQLModel, table=True):
    """A verified notification that did not simply apply: mismatches, unknown links."""

    __tablename__ = "notification_events"

    id: int | None = Field(default=None, primary_key=True)
    link_id: int | None = Field(default=None, foreign_key="links.id", index=True)
    notify_type: str = Field(max_length=16)
    reference: str = Field(max_length=64)  # merchantLinkId or outTradeNo as PayerMax sent it
    outcome: str = Field(max_length=32)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class OutboxMessage(SQLModel, table=True):
    """A message for Telegram, written in the same transaction as the fact it announces."""

    __tablename__ = "outbox"
    # Claims and the backlog look only at PENDING rows; sent ones pile up and must not be scanned.
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=128, unique=True)
    kind: OutboxKind = _vocabulary(OutboxKind, 32)
    chat_id: int = _telegram_id(index=True)
    link_id: int | None = Field(default=None, foreign_key="links.id")
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: OutboxStatus = _vocabulary(OutboxStatus, 16, default=OutboxStatus.PENDING)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = _time_column()
    last_error: str | None = Field(default=None, max_length=512)


class Refund(SQLModel, table=True):
    """A refund of (part of) a payment: committed before PayerMax is asked, under a unique ``outRefundNo``."""

    __tablename__ = "refunds"

    id: int | None = Field(default=None, primary_key=True)
    out_refund_no: str = Field(max_length=64, unique=True)  # our id at PayerMax, reused on every retry
    request_key: str | None = Field(default=None, max_length=128, unique=True)  # the Telegram request that asked
    link_id: int = Field(foreign_key="links.id", index=True)
    payment_id: int = Field(foreign_key="payments.id", index=True)
    out_trade_no: str = Field(max_length=64)  # the refunded order
    amount: Decimal = _money_column()
    currency: str = Field(max_length=3)
    comments: str | None = Field(default=None, max_length=256)  # the reason, sent to PayerMax
    status: RefundStatus = _vocabulary(RefundStatus, 16, default=RefundStatus.PROPOSED, index=True)
    refund_trade_no: str | None = Field(default=None, max_length=64)  # PayerMax's id for it
    requested_by: int = _telegram_id()
    requested_by_name: str = Field(default="", max_length=128)
    chat_id: int = _telegram_id()  # where it was asked for
    failure_code: str | None = Field(default=None, max_length=64)
    failure_message: str | None = Field(default=None, max_length=512)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    confirmed_at: datetime | None = _time_column()
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = _time_column(index=True)  # when it settled (refundFinishTime when given)
    # When the reconciler should next ask PayerMax about it (None: never again).
    next_check_at: datetime | None = _time_column(index=True)


class Lease(SQLModel, table=True):
    """A named job only one replica may run at a time, held until ``expires_at``."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=64)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ProcessedUpdate(SQLModel, table=True):
    """A Telegram update some process took on (``done`` once its handlers ran): a repeat is dropped."""

    __tablename__ = "processed_updates"

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    holder: str = Field(default="", max_length=64)
    done: bool = False
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))


class Draft(SQLModel, table=True):
    """A /newlink conversation in progress, in the database so any replica can continue it."""

    __tablename__ = "drafts"

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    step: DraftStep = _vocabulary(DraftStep, 16)
    amount: Decimal | None = Field(default=None, sa_column=Column(DecimalText(), nullable=True))
    currency: str | None = Field(default=None, max_length=3)
    description: str | None = Field(default=None, max_length=256)
    summary_message_id: int | None = _telegram_id(nullable=True)
    # A question the bot asked before making a link (which currency? which amount?): the message that
    # asked for it (its request key makes one link however often it is answered) and the choices offered.
    request_key: str | None = Field(default=None, max_length=128)
    choices: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Member(SQLModel, table=True):
    """A person on the team and their role (owners come from ADMIN_USER_IDS, not from here)."""

    __tablename__ = "members"

    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    role: Role = _vocabulary(Role, 16)  # admin, agent or support
    name: str = Field(default="", max_length=128)
    notify_private: bool = False  # also send "Paid" for my links to my private chat
    can_refund: bool = False  # an owner let this agent or support person refund (admins may by role)
    added_by: int = _telegram_id()
    added_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Invite(SQLModel, table=True):
    """A single-use, expiring deep-link code that grants a role, kept only as the code's SHA-256."""

    __tablename__ = "invites"

    # Hex SHA-256 of the code: whoever reads the database cannot use an invite that is still open.
    code_hash: str = Field(primary_key=True, max_length=64)
    role: Role = _vocabulary(Role, 16)
    created_by: int = _telegram_id()
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_by: int | None = _telegram_id(nullable=True)
    used_at: datetime | None = _time_column()


class AuditEvent(SQLModel, table=True):
    """Who did what and when: creates, cancels, role and settings changes."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    actor_user_id: int = _telegram_id(index=True)
    actor_name: str = Field(default="", max_length=128)
    chat_id: int | None = _telegram_id(nullable=True)
    action: AuditAction = _vocabulary(AuditAction, 32)
    subject: str = Field(default="", max_length=128)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))


class LinkEvent(SQLModel, table=True):
    """One entry of a link's timeline: created, each notification, each status change."""

    __tablename__ = "link_events"

    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="links.id", index=True)
    kind: LinkEventKind = _vocabulary(LinkEventKind, 32)
    actor_user_id: int | None = _telegram_id(nullable=True)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class RefusalNotice(SQLModel, table=True):
    """When a person was last told they may not do something: at most one such message a minute."""

    __tablename__ = "refusal_notices"

    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    last_sent_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SendSlot(SQLModel, table=True):
    """One booked moment to send a Telegram message (slot = epoch seconds × sends per second), bot-wide."""

    __tablename__ = "send_slots"

    slot: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    chat_id: int = _telegram_id()


class SendChatPace(SQLModel, table=True):
    """The earliest moment (epoch seconds) the next message may go to a chat; chat 0 holds a bot-wide 429 pause."""

    __tablename__ = "send_chat_pace"

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    next_at: float = Field(sa_column=Column(Float(precision=53), nullable=False))


class TeamSettings(SQLModel, table=True):
    """Settings of the whole team rather than of one chat: a single row (id 1)."""

    __tablename__ = "team_settings"

    id: int = Field(default=1, primary_key=True)
    # The group every payment of the team is also posted to (None: no payments feed).
    feed_chat_id: int | None = _telegram_id(nullable=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class ChatMove(SQLModel, table=True):
    """A group that became a supergroup: its rows were moved from the old chat id to the new one, once."""

    __tablename__ = "chat_moves"

    old_chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    new_chat_id: int = _telegram_id()
    moved_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
