"""Exceptions raised by the PayerMax gateway client.

Hierarchy::

    PayerMaxError                  base class; messages never carry keys or signatures
    ├── TransportError             no usable answer; .outcome_unknown says whether PayerMax may have acted
    │   ├── ConnectError           the request never reached PayerMax (refused, DNS, connect timeout)
    │   ├── PayerMaxTimeout        PayerMax did not answer in time
    │   └── ServerError            HTTP 5xx, another non-2xx, or an answer that cannot be read; .status_code
    ├── ApiError                   PayerMax answered with a code other than APPLY_SUCCESS; .code, .msg
    ├── SignatureError             the answer's ``sign`` header is missing or does not verify
    └── ProtocolError              a well-signed answer that lacks required fields or has wrong types

Callers deciding whether a create may be retried with the same ``merchantLinkId`` look at
``TransportError.outcome_unknown`` (True: PayerMax may have created the link, so query before
giving up) and ``ApiError.retryable``. The same holds for a refund and its ``outRefundNo``
(contract §11.2): ask ``refundQuery`` before trying again, never mint a new ``outRefundNo``.

Refund refusals: :func:`classify_refund_refusal` turns an ``ApiError.code`` from ``refund`` into a
:class:`RefundRefusal` the bot can explain. "PayerMax" codes are ones PayerMax documents for refunds;
"PayerMax code" ones are its documented general codes (§7) that our sandbox gateway also uses for a
refund case PayerMax leaves open; "sandbox" codes are our sandbox's own spelling for a rule PayerMax
states (§11.1) without naming its code, so real PayerMax may answer those cases differently (any
code not listed classifies as ``RefundRefusal.OTHER``):

=============================  ==============  ===================================================================
code                           source          meaning
=============================  ==============  ===================================================================
REFUND_INSUFFICIENT_BALANCE    PayerMax        pending-settlement balance too low
ORDER_NOT_EXIST                PayerMax        no such order; from refundQuery, no such refund (sandbox's choice)
PARAMS_INVALID                 PayerMax        a field is missing or wrong
SYSTEM_ERROR, REQUEST_TIMEOUT  PayerMax        transient: ask refundQuery, then retry
UNEXPECTED_ERROR               PayerMax        transient, as above
AMOUNT_INVALID                 PayerMax code   amount not a positive number or too many decimals
CURRENCY_INVALID               PayerMax code   not a known currency
ORDER_CLOSED                   PayerMax code   the order was not paid (its status is not SUCCESS)
ORDER_REPEAT                   PayerMax code   outRefundNo already used for a different refund
REFUND_EXPIRED                 sandbox         paid more than 180 days ago
REFUND_PROCESSING              sandbox         another refund of the order is still pending
REFUND_NOT_ALLOWED             sandbox         the payment method refunds only the full amount
REFUND_AMOUNT_INVALID          sandbox         more than the order has left to refund
=============================  ==============  ===================================================================
"""

from __future__ import annotations

from enum import StrEnum


class PayerMaxError(Exception):
    """Base class for every failure talking to PayerMax."""

    def __init__(self, message: str, *, api_name: str | None = None) -> None:
        super().__init__(message)
        self.api_name = api_name


class TransportError(PayerMaxError):
    """No usable answer came back from PayerMax."""

    #: Whether PayerMax may have received and acted on the request.
    outcome_unknown: bool = True

    def __init__(self, message: str, *, api_name: str | None = None, outcome_unknown: bool | None = None) -> None:
        super().__init__(message, api_name=api_name)
        if outcome_unknown is not None:
            self.outcome_unknown = outcome_unknown


class ConnectError(TransportError):
    """The request never reached PayerMax, so it cannot have been acted on."""

    outcome_unknown = False


class PayerMaxTimeout(TransportError):
    """PayerMax did not answer in time; it may still have acted on the request."""

    outcome_unknown = True


class ServerError(TransportError):
    """PayerMax (or something in front of it) answered, but not with a usable result."""

    outcome_unknown = True

    def __init__(self, message: str, *, status_code: int, api_name: str | None = None) -> None:
        super().__init__(message, api_name=api_name)
        self.status_code = status_code


class ApiError(PayerMaxError):
    """PayerMax refused the call with an error code (contract §7)."""

    #: Codes PayerMax documents as transient ("busy", "timed out", "unknown"): worth retrying later.
    RETRYABLE_CODES = frozenset({"SYSTEM_ERROR", "REQUEST_TIMEOUT", "UNEXPECTED_ERROR"})

    def __init__(self, *, api_name: str, code: str, msg: str = "", authenticated: bool = False) -> None:
        detail = f" ({msg})" if msg else ""
        super().__init__(f"PayerMax {api_name} refused: {code}{detail}", api_name=api_name)
        self.code = code
        self.msg = msg
        # Error answers are not always signed (contract §9.9); an unsigned one proves nothing.
        self.authenticated = authenticated

    @property
    def retryable(self) -> bool:
        """Whether the code means a transient PayerMax problem rather than a refusal."""
        return self.code in self.RETRYABLE_CODES


class SignatureError(PayerMaxError):
    """The answer's ``sign`` header is missing or does not match the PayerMax public key."""


class ProtocolError(PayerMaxError):
    """A correctly signed answer that does not have the shape the contract promises."""


class RefundRefusal(StrEnum):
    """Why PayerMax refused a refund, in terms the bot can explain to a person."""

    INSUFFICIENT_BALANCE = "insufficient_balance"  # the merchant's PayerMax balance is too low
    TOO_OLD = "too_old"  # paid more than 180 days ago
    IN_PROGRESS = "in_progress"  # another refund of the order is still pending: wait for it
    FULL_REFUND_ONLY = "full_refund_only"  # the payment method cannot refund part of the amount
    EXCEEDS_REFUNDABLE = "exceeds_refundable"  # more than what is left to refund
    ORDER_NOT_FOUND = "order_not_found"  # PayerMax does not know the order (or, for refundQuery, the refund)
    ORDER_NOT_PAID = "order_not_paid"  # only a SUCCESS order can be refunded
    REFUND_NO_REUSED = "refund_no_reused"  # the outRefundNo belongs to a different refund
    INVALID_REQUEST = "invalid_request"  # a field PayerMax finds wrong: a bug on our side
    TEMPORARY = "temporary"  # PayerMax is busy: query, then retry with the same outRefundNo
    OTHER = "other"  # a code not listed above; show PayerMax's code and msg


_REFUND_REFUSALS = {
    "REFUND_INSUFFICIENT_BALANCE": RefundRefusal.INSUFFICIENT_BALANCE,
    "REFUND_EXPIRED": RefundRefusal.TOO_OLD,
    "REFUND_PROCESSING": RefundRefusal.IN_PROGRESS,
    "REFUND_NOT_ALLOWED": RefundRefusal.FULL_REFUND_ONLY,
    "REFUND_AMOUNT_INVALID": RefundRefusal.EXCEEDS_REFUNDABLE,
    "ORDER_NOT_EXIST": RefundRefusal.ORDER_NOT_FOUND,
    "ORDER_CLOSED": RefundRefusal.ORDER_NOT_PAID,
    "ORDER_REPEAT": RefundRefusal.REFUND_NO_REUSED,
    "PARAMS_INVALID": RefundRefusal.INVALID_REQUEST,
    "AMOUNT_INVALID": RefundRefusal.INVALID_REQUEST,
    "CURRENCY_INVALID": RefundRefusal.INVALID_REQUEST,
    **dict.fromkeys(ApiError.RETRYABLE_CODES, RefundRefusal.TEMPORARY),
}


def classify_refund_refusal(code: str) -> RefundRefusal:
    """Map a refund's error code (``ApiError.code``) to the reason the bot explains; unknown codes are OTHER."""
    return _REFUND_REFUSALS.get(code.strip().upper(), RefundRefusal.OTHER)
