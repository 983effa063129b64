"""Result codes the sandbox answers with, and the exceptions that carry them.

SandboxError
 ├── GatewayError        an API call is refused; carries a PayerMax result code (contract §7)
 └── CheckoutRefused     the customer cannot pay this link (unknown, paid, expired, cancelled)
"""

from __future__ import annotations


class ResultCode:
    """Result codes the sandbox answers with: PayerMax's (contract §7, §11.1) and a few of its own.

    PayerMax states four refund rules without naming their codes (§11.1); for those the sandbox
    uses the REFUND_* spellings marked below, which ``bot.payermax.errors`` classifies too.
    """

    APPLY_SUCCESS = "APPLY_SUCCESS"
    SYSTEM_ERROR = "SYSTEM_ERROR"
    SIGN_VERIFY_FAILED = "SIGN_VERIFY_FAILED"
    PARAMS_INVALID = "PARAMS_INVALID"
    CURRENCY_INVALID = "CURRENCY_INVALID"
    AMOUNT_INVALID = "AMOUNT_INVALID"
    ORDER_NOT_EXIST = "ORDER_NOT_EXIST"
    ORDER_CLOSED = "ORDER_CLOSED"
    ORDER_REPEAT = "ORDER_REPEAT"
    REFUND_INSUFFICIENT_BALANCE = "REFUND_INSUFFICIENT_BALANCE"
    REFUND_EXPIRED = "REFUND_EXPIRED"  # sandbox spelling: paid more than 180 days ago
    REFUND_PROCESSING = "REFUND_PROCESSING"  # sandbox spelling: another refund of the order is pending
    REFUND_NOT_ALLOWED = "REFUND_NOT_ALLOWED"  # sandbox spelling: the method refunds only in full
    REFUND_AMOUNT_INVALID = "REFUND_AMOUNT_INVALID"  # sandbox spelling: more than is left to refund


class SandboxError(Exception):
    """Base class of everything the sandbox raises on purpose."""


class GatewayError(SandboxError):
    """An API request refused with a PayerMax result code and a message for the developer."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


class CheckoutRefused(SandboxError):
    """The checkout cannot take a payment for this link; ``reason`` says why (the page words it per language)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason
