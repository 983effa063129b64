"""What an audit or timeline entry says, stored without words: a kind and its fields, as JSON.

The services write facts (amounts as exact text, moments as ISO 8601, roles and statuses as their
values, people's names as they were); the chat texts word them when someone reads the entry, in
that reader's language, money format and time zone. Entries written before this (English
sentences) read back as None and are shown as they were written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any


class DetailKind(StrEnum):
    """The shape of an entry's fields (the entry's own action or kind says what happened)."""

    INVITE = "invite"  # until
    JOIN = "join"  # invited_by, invited_by_name, was (the role before, if any)
    REMOVE = "remove"  # name, was
    LINK = "link"  # amount, currency, description: a link made or cancelled
    SETTING = "setting"  # setting, old, new (stored values; None when unset)
    REQUESTED = "requested"  # amount, currency, by, chat_title (None: a private chat)
    CREATED = "created"  # payermax_link_id, status
    REFUSED = "refused"  # code, message: PayerMax's refusal, as PayerMax worded it
    PAID = "paid"  # amount, currency, method, trade, source
    REPEATED = "repeated"  # notify_type, trade: a notification of what we already knew
    MISMATCH = "mismatch"  # expected_amount, expected_currency, reported_amount, reported_currency, trade
    EXPIRED = "expired"  # PayerMax said the link expired
    BY = "by"  # name: who did it (cancelled, refreshed)
    REFUND = "refund"  # amount, currency, trade, refund (our outRefundNo), reason, by: a refund confirmed
    REFUND_ACCEPTED = "refund_accepted"  # amount, currency, refund, payermax_refund (PayerMax's refundTradeNo)
    REFUND_RESULT = "refund_result"  # amount, currency, refund, status, source (RefundSource): refunded or failed
    REFUND_REFUSED = "refund_refused"  # amount, currency, refund, code, message: PayerMax's refusal, as worded
    REFUND_REPEATED = "refund_repeated"  # refund, status: a refund notification of what we already knew
    # refund, status (PayerMax's), expected_amount, expected_currency, expected_trade,
    # reported_amount, reported_currency, reported_trade: a refund report that is not about our refund
    REFUND_MISMATCH = "refund_mismatch"
    PERMISSION = "permission"  # allowed, name, role: an owner gave or took someone's refund permission


class RefundSource(StrEnum):
    """Who told us first how a refund ended (a REFUND_RESULT's source)."""

    ANSWER = "answer"  # PayerMax's answer to the refund, or to refundQuery
    NOTIFICATION = "notification"  # a REFUND notification


Value = str | int | bool | None


def detail(kind: DetailKind, **fields: Value | Decimal | datetime) -> str:
    """An entry's detail as stored: ``{"kind": ..., field: value}``, compact, names kept as typed."""
    values: dict[str, Value] = {"kind": kind.value}
    for name, value in fields.items():
        if isinstance(value, Decimal):
            values[name] = format(value, "f")
        elif isinstance(value, datetime):
            values[name] = value.isoformat()
        else:
            values[name] = value
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Detail:
    """A stored detail read back: its kind and fields, with typed accessors that never raise."""

    kind: DetailKind
    fields: Mapping[str, Any] = field(default_factory=dict)

    def text(self, name: str) -> str:
        """A field as text ("" when missing)."""
        value = self.fields.get(name)
        return "" if value is None else str(value)

    def optional(self, name: str) -> str | None:
        """A field as text, or None when missing or empty."""
        return self.text(name) or None

    def number(self, name: str) -> int | None:
        """A whole-number field, or None."""
        value = self.fields.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def amount(self, name: str) -> Decimal | None:
        """A money field (stored as exact text), or None."""
        try:
            return Decimal(self.text(name)) if self.text(name) else None
        except InvalidOperation:
            return None

    def moment(self, name: str) -> datetime | None:
        """A moment field (ISO 8601 with its offset), or None."""
        try:
            moment = datetime.fromisoformat(self.text(name))
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else None


def read_detail(stored: str) -> Detail | None:
    """The structured detail, or None for an old free-text one (or none at all)."""
    if not stored.startswith("{"):
        return None
    try:
        loaded = json.loads(stored)
    except ValueError:
        return None
    if not isinstance(loaded, dict):
        return None
    try:
        kind = DetailKind(loaded.pop("kind", None))
    except ValueError:
        return None
    return Detail(kind, loaded)
