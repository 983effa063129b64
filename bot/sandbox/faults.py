"""Faults the sandbox can be told to inject, so tests can see how the bot copes with a bad gateway."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Faults:
    """Switches for misbehaviour; all off by default. Settable in-process or over ``/_faults``."""

    # Sleep before answering createPaybylink (the link IS created), to push a client past its timeout.
    create_delay: float = 0.0
    # Answer createPaybylink with this HTTP status (e.g. 503) WITHOUT creating the link.
    create_status: int | None = None
    # With create_status set: only the next N creates get it, then it switches off (0: every create).
    create_status_count: int = 0
    # For the next N creates: create the link, then drop the connection without an answer.
    drop_after_create: int = 0
    # Answer a repeated merchantLinkId with ORDER_REPEAT even when the data is identical.
    refuse_duplicate: bool = False
    # Sleep before answering queryPaybylink and orderQuery (a slow PayerMax for the reconciler).
    query_delay: float = 0.0
    # Send every notification this many times per attempt (replay testing).
    notify_duplicates: int = 1
    # Answer refund with this HTTP status (e.g. 503) WITHOUT applying the refund.
    refund_status: int | None = None
    # With refund_status set: only the next N refunds get it, then it switches off (0: every refund).
    refund_status_count: int = 0
    # Sleep before answering refund (the refund IS applied), to push a client past its timeout.
    refund_delay: float = 0.0
    # For the next N refunds: apply the refund, then drop the connection without an answer.
    drop_after_refund: int = 0
    # The next N refunds accepted settle as REFUND_FAILED instead of REFUND_SUCCESS.
    refund_fail_next: int = 0
    # Refuse every refund with REFUND_INSUFFICIENT_BALANCE (the merchant's balance is too low).
    insufficient_balance: bool = False

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply the given fields after checking names and types; nothing changes on error."""
        unknown = sorted(set(changes) - set(_VALIDATORS))
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(_VALIDATORS)}")
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            try:
                checked[name] = _VALIDATORS[name](value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from exc
        for name, value in checked.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        """The current switches as plain JSON-ready values."""
        return asdict(self)

    def take_create_status(self) -> int | None:
        """The HTTP status to refuse this create with, if any, counting ``create_status_count`` down."""
        return self._take_status("create_status")

    def take_refund_status(self) -> int | None:
        """The HTTP status to refuse this refund with, if any, counting ``refund_status_count`` down."""
        return self._take_status("refund_status")

    def take_drop_after_create(self) -> bool:
        """Tell whether this create should drop its connection, counting it down if so."""
        return self._take_one("drop_after_create")

    def take_drop_after_refund(self) -> bool:
        """Tell whether this refund should drop its connection, counting it down if so."""
        return self._take_one("drop_after_refund")

    def take_refund_failure(self) -> bool:
        """Tell whether the refund being accepted should settle as failed, counting it down if so."""
        return self._take_one("refund_fail_next")

    def _take_status(self, name: str) -> int | None:
        """Read an HTTP-status switch, counting its ``<name>_count`` down and switching it off at zero."""
        status: int | None = getattr(self, name)
        count_name = f"{name}_count"
        count: int = getattr(self, count_name)
        if status is not None and count > 0:
            setattr(self, count_name, count - 1)
            if count == 1:
                setattr(self, name, None)
        return status

    def _take_one(self, name: str) -> bool:
        """Use up one of a counted fault; False once none are left."""
        left: int = getattr(self, name)
        if left <= 0:
            return False
        setattr(self, name, left - 1)
        return True


def _seconds(value: Any) -> float:
    """A delay in seconds >= 0; JSON true/false is not a number here."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _http_status_or_none(value: Any) -> int | None:
    """An HTTP status code, or None to switch the fault off."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise ValueError(f"must be an HTTP status code (100-599) or null, got {value!r}")
    return value


def _count_at_least(minimum: int) -> Callable[[Any], int]:
    """A validator for an integer count of at least ``minimum``."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"must be an integer >= {minimum}, got {value!r}")
        return value

    return check


def _flag(value: Any) -> bool:
    """A JSON boolean."""
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "create_delay": _seconds,
    "query_delay": _seconds,
    "create_status": _http_status_or_none,
    "create_status_count": _count_at_least(0),
    "drop_after_create": _count_at_least(0),
    "refuse_duplicate": _flag,
    "notify_duplicates": _count_at_least(1),
    "refund_status": _http_status_or_none,
    "refund_status_count": _count_at_least(0),
    "refund_delay": _seconds,
    "drop_after_refund": _count_at_least(0),
    "refund_fail_next": _count_at_least(0),
    "insufficient_balance": _flag,
}
