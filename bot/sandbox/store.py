"""The sandbox's state: links, payment attempts, refunds and notification deliveries, persisted as JSON.

Every change goes through a ``SandboxStore`` method that saves the whole state atomically
(temp file + ``os.replace``), so a restarted sandbox knows every link and resumes every
undelivered notification. The state is small (a developer's test links), so rewriting the
file on each change is cheap and keeps the format trivially inspectable.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.payermax.jsontext import dumps

# Version 2 added refunds; a version-1 file (no refunds yet) is still read.
STATE_FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)
LINK_ID_PREFIX = "SBX"
LINK_ID_LENGTH = 10
OUT_TRADE_NO_PREFIX = "SBXT"
TRADE_TOKEN_PREFIX = "TSBX"
REFUND_TRADE_NO_PREFIX = "RSBX"
REFERENCE_DIGITS = 16
_ALPHANUMERIC = string.ascii_letters + string.digits


class SandboxStateError(RuntimeError):
    """The persisted sandbox state file cannot be read."""


class LinkState:
    """What the checkout page shows for a link (richer than PayerMax's ACTIVE/EXPIRED)."""

    ACTIVE = "ACTIVE"
    PAID = "PAID"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


class AttemptStatus:
    """Status of one payment attempt, in orderQuery's spelling (contract §5.3)."""

    SUCCESS = "SUCCESS"
    FAILED = "FAILED"  # declined (the checkout's Decline)
    CLOSED = "CLOSED"  # left unpaid (kept for state files written before declines were FAILED)


@dataclass
class PaymentAttempt:
    """One try by the customer to pay a link (a PayerMax trade order)."""

    out_trade_no: str
    trade_token: str
    status: str
    method: str
    created_at: datetime
    complete_at: datetime | None = None
    card_org: str | None = None
    card_number: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for the state file."""
        return {
            "outTradeNo": self.out_trade_no,
            "tradeToken": self.trade_token,
            "status": self.status,
            "method": self.method,
            "createdAt": self.created_at.isoformat(),
            "completeAt": self.complete_at.isoformat() if self.complete_at else None,
            "cardOrg": self.card_org,
            "cardNumber": self.card_number,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PaymentAttempt:
        """Rebuild an attempt from the state file."""
        return cls(
            out_trade_no=raw["outTradeNo"],
            trade_token=raw["tradeToken"],
            status=raw["status"],
            method=raw["method"],
            created_at=datetime.fromisoformat(raw["createdAt"]),
            complete_at=datetime.fromisoformat(raw["completeAt"]) if raw["completeAt"] else None,
            card_org=raw["cardOrg"],
            card_number=raw["cardNumber"],
        )


@dataclass
class PaymentLink:
    """A pay-by-link link: the create request as received, its lifetime and its attempts."""

    link_id: str
    merchant_link_id: str
    # createPaybylink ``data`` exactly as received: the source of every echoed field, and what a
    # repeated create is compared with.
    request: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    cancelled: bool = False
    attempts: list[PaymentAttempt] = field(default_factory=list)

    @property
    def total_amount(self) -> str:
        """The amount as the merchant sent it (a decimal string)."""
        return str(self.request["totalAmount"])

    @property
    def currency(self) -> str:
        """ISO 4217 currency code."""
        return str(self.request["currency"])

    @property
    def country(self) -> str:
        """ISO 3166 alpha-2 country code."""
        return str(self.request["country"])

    @property
    def description(self) -> str:
        """The description shown to the payer."""
        return str(self.request["description"])

    @property
    def notify_url(self) -> str:
        """Where the payment notification goes."""
        return str(self.request["notifyUrl"])

    @property
    def paid_attempt(self) -> PaymentAttempt | None:
        """The successful attempt, if the link has been paid."""
        return next((a for a in self.attempts if a.status == AttemptStatus.SUCCESS), None)

    def state(self, now: datetime) -> str:
        """The link's state for the checkout page."""
        if self.paid_attempt is not None:
            return LinkState.PAID
        if self.cancelled:
            return LinkState.CANCELLED
        if now >= self.expires_at:
            return LinkState.EXPIRED
        return LinkState.ACTIVE

    def link_status(self, now: datetime) -> str:
        """PayerMax's ``linkStatus``: EXPIRED once expired early or past ``expiresAt``, else ACTIVE.

        Whether a paid ONETIME link reports ACTIVE or EXPIRED is undocumented (contract §9.7);
        the sandbox keeps it ACTIVE until ``expiresAt``, so "paid" must be read from
        ``payByLinkInfo``, never from ``linkStatus``.
        """
        if self.cancelled or now >= self.expires_at:
            return LinkState.EXPIRED
        return LinkState.ACTIVE

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for the state file."""
        return {
            "linkId": self.link_id,
            "merchantLinkId": self.merchant_link_id,
            "request": self.request,
            "createdAt": self.created_at.isoformat(),
            "expiresAt": self.expires_at.isoformat(),
            "cancelled": self.cancelled,
            "attempts": [attempt.to_json() for attempt in self.attempts],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PaymentLink:
        """Rebuild a link from the state file."""
        return cls(
            link_id=raw["linkId"],
            merchant_link_id=raw["merchantLinkId"],
            request=raw["request"],
            created_at=datetime.fromisoformat(raw["createdAt"]),
            expires_at=datetime.fromisoformat(raw["expiresAt"]),
            cancelled=raw["cancelled"],
            attempts=[PaymentAttempt.from_json(item) for item in raw["attempts"]],
        )


class RefundStatus:
    """Status of a refund (contract §11.3)."""

    PENDING = "REFUND_PENDING"
    SUCCESS = "REFUND_SUCCESS"
    FAILED = "REFUND_FAILED"


@dataclass
class Refund:
    """One refund application on a paid order, as accepted by the refund API."""

    out_refund_no: str
    refund_trade_no: str
    out_trade_no: str
    amount: Decimal
    currency: str
    comments: str | None
    notify_url: str | None
    created_at: datetime
    # Decided when the refund is accepted (the refund_fail_next fault), applied when it settles.
    settles_as: str
    status: str = RefundStatus.PENDING
    finished_at: datetime | None = None

    @property
    def pending(self) -> bool:
        """Whether the refund has yet to settle."""
        return self.status == RefundStatus.PENDING

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for the state file; the amount is kept as exact decimal text."""
        return {
            "outRefundNo": self.out_refund_no,
            "refundTradeNo": self.refund_trade_no,
            "outTradeNo": self.out_trade_no,
            "amount": format(self.amount, "f"),
            "currency": self.currency,
            "comments": self.comments,
            "notifyUrl": self.notify_url,
            "createdAt": self.created_at.isoformat(),
            "settlesAs": self.settles_as,
            "status": self.status,
            "finishedAt": self.finished_at.isoformat() if self.finished_at else None,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Refund:
        """Rebuild a refund from the state file."""
        return cls(
            out_refund_no=raw["outRefundNo"],
            refund_trade_no=raw["refundTradeNo"],
            out_trade_no=raw["outTradeNo"],
            amount=Decimal(raw["amount"]),
            currency=raw["currency"],
            comments=raw["comments"],
            notify_url=raw["notifyUrl"],
            created_at=datetime.fromisoformat(raw["createdAt"]),
            settles_as=raw["settlesAs"],
            status=raw["status"],
            finished_at=datetime.fromisoformat(raw["finishedAt"]) if raw["finishedAt"] else None,
        )


@dataclass
class Delivery:
    """One notification to deliver: the exact body, and how far its retry schedule has got."""

    delivery_id: str
    link_id: str
    notify_url: str
    # The exact JSON text; every attempt sends (and signs) these same bytes.
    body: str
    # Epoch seconds of the first attempt; retry delays are counted from here, like PayerMax.
    first_attempt_at: float
    attempts: int = 0
    delivered: bool = False
    given_up: bool = False

    @property
    def pending(self) -> bool:
        """Whether more attempts are due."""
        return not (self.delivered or self.given_up)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict for the state file."""
        return {
            "deliveryId": self.delivery_id,
            "linkId": self.link_id,
            "notifyUrl": self.notify_url,
            "body": self.body,
            "firstAttemptAt": self.first_attempt_at,
            "attempts": self.attempts,
            "delivered": self.delivered,
            "givenUp": self.given_up,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Delivery:
        """Rebuild a delivery from the state file."""
        return cls(
            delivery_id=raw["deliveryId"],
            link_id=raw["linkId"],
            notify_url=raw["notifyUrl"],
            body=raw["body"],
            first_attempt_at=float(raw["firstAttemptAt"]),  # the file is read with exact decimals
            attempts=raw["attempts"],
            delivered=raw["delivered"],
            given_up=raw["givenUp"],
        )


def new_link_id() -> str:
    """A fresh PayerMax-style link id, e.g. ``SBXa8Kd02LmQz``."""
    return LINK_ID_PREFIX + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(LINK_ID_LENGTH))


def new_out_trade_no() -> str:
    """A fresh trade order number, e.g. ``SBXT4821...``."""
    return OUT_TRADE_NO_PREFIX + _random_digits(REFERENCE_DIGITS)


def new_trade_token() -> str:
    """A fresh PayerMax transaction serial."""
    return TRADE_TOKEN_PREFIX + _random_digits(REFERENCE_DIGITS)


def new_refund_trade_no() -> str:
    """A fresh PayerMax refund id (``refundTradeNo``)."""
    return REFUND_TRADE_NO_PREFIX + _random_digits(REFERENCE_DIGITS)


def _random_digits(count: int) -> str:
    """``count`` random decimal digits."""
    return "".join(secrets.choice(string.digits) for _ in range(count))


class SandboxStore:
    """Links, refunds and deliveries in memory, mirrored to a JSON file when a path is given."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._links: dict[str, PaymentLink] = {}
        self._refunds: dict[str, Refund] = {}
        self._deliveries: dict[str, Delivery] = {}
        if path is not None and path.exists():
            self._load(path)

    # --- reading -------------------------------------------------------------------------

    def link_by_merchant_id(self, merchant_link_id: str) -> PaymentLink | None:
        """The link created with this ``merchantLinkId``, if any."""
        return self._links.get(merchant_link_id)

    def link_by_id(self, link_id: str) -> PaymentLink | None:
        """The link with this sandbox ``linkId``, if any."""
        return next((link for link in self._links.values() if link.link_id == link_id), None)

    def attempt_by_out_trade_no(self, out_trade_no: str) -> tuple[PaymentLink, PaymentAttempt] | None:
        """The attempt with this ``outTradeNo`` and its link, if any."""
        for link in self._links.values():
            for attempt in link.attempts:
                if attempt.out_trade_no == out_trade_no:
                    return link, attempt
        return None

    def refund(self, out_refund_no: str) -> Refund | None:
        """The refund applied for with this ``outRefundNo``, if any."""
        return self._refunds.get(out_refund_no)

    def refund_by_trade_no(self, refund_trade_no: str) -> Refund | None:
        """The refund with this PayerMax ``refundTradeNo``, if any."""
        return next((r for r in self._refunds.values() if r.refund_trade_no == refund_trade_no), None)

    def refunds_of(self, out_trade_no: str) -> list[Refund]:
        """Every refund applied for on one order, oldest first."""
        return [refund for refund in self._refunds.values() if refund.out_trade_no == out_trade_no]

    def pending_refunds(self) -> list[Refund]:
        """Refunds that have yet to settle, oldest first."""
        return [refund for refund in self._refunds.values() if refund.pending]

    def pending_deliveries(self) -> Iterator[Delivery]:
        """Deliveries that still have attempts due."""
        return (delivery for delivery in self._deliveries.values() if delivery.pending)

    def delivery(self, delivery_id: str) -> Delivery:
        """The delivery with this id."""
        return self._deliveries[delivery_id]

    # --- changing (each change is saved) -------------------------------------------------

    def add_link(self, link: PaymentLink) -> None:
        """Record a newly created link."""
        self._links[link.merchant_link_id] = link
        self._save()

    def cancel_link(self, link: PaymentLink) -> None:
        """Mark a link expired early (expirePaybylink)."""
        link.cancelled = True
        self._save()

    def run_out(self, link: PaymentLink, now: datetime) -> None:
        """Bring a link's expiry forward to ``now``, as if its time had passed (an operator control for tests)."""
        link.expires_at = min(link.expires_at, now)
        self._save()

    def add_attempt(self, link: PaymentLink, attempt: PaymentAttempt) -> None:
        """Record a payment attempt on a link."""
        link.attempts.append(attempt)
        self._save()

    def add_refund(self, refund: Refund) -> None:
        """Record a newly accepted refund."""
        self._refunds[refund.out_refund_no] = refund
        self._save()

    def settle_refund(self, refund: Refund, finished_at: datetime) -> None:
        """Give a pending refund its final status."""
        refund.status = refund.settles_as
        refund.finished_at = finished_at
        self._save()

    def add_delivery(self, delivery: Delivery) -> None:
        """Record a notification to deliver."""
        self._deliveries[delivery.delivery_id] = delivery
        self._save()

    def record_delivery_attempt(self, delivery: Delivery, *, delivered: bool, last_attempt: bool) -> None:
        """Count one delivery attempt; it ends the delivery when it succeeded or was the last."""
        delivery.attempts += 1
        delivery.delivered = delivered
        delivery.given_up = not delivered and last_attempt
        self._save()

    def give_up_delivery(self, delivery: Delivery) -> None:
        """End a delivery that has no attempts left."""
        delivery.given_up = True
        self._save()

    # --- persistence ---------------------------------------------------------------------

    def _load(self, path: Path) -> None:
        """Read the state file, refusing a file that is not ours with a message naming it."""
        try:
            # parse_float=Decimal: numbers in a saved request come back exactly as they were received.
            raw = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
            version = raw.get("version")
            if version not in READABLE_FORMAT_VERSIONS:
                raise ValueError(f"unsupported state version {version!r}")
            links = [PaymentLink.from_json(item) for item in raw["links"]]
            refunds = [Refund.from_json(item) for item in raw["refunds"]] if version >= 2 else []
            deliveries = [Delivery.from_json(item) for item in raw["deliveries"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError) as exc:
            raise SandboxStateError(f"the sandbox state file {path} cannot be read: {exc}") from exc
        self._links = {link.merchant_link_id: link for link in links}
        self._refunds = {refund.out_refund_no: refund for refund in refunds}
        self._deliveries = {delivery.delivery_id: delivery for delivery in deliveries}

    def _save(self) -> None:
        """Write the whole state atomically, so a crash never leaves a half-written file."""
        if self._path is None:
            return
        state = {
            "version": STATE_FORMAT_VERSION,
            "links": [link.to_json() for link in self._links.values()],
            "refunds": [refund.to_json() for refund in self._refunds.values()],
            "deliveries": [delivery.to_json() for delivery in self._deliveries.values()],
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=self._path.parent, prefix=f".{self._path.name}.")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(dumps(state, indent=1))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp_name, self._path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
