"""Result codes the sandbox answers with, and the exceptions that carry them.

    SandboxError
     ├── GatewayError        an API call is refused; carries a PayerMax result code (contract §7)
     └── CheckoutRefused     the customer cannot pay this link (unknown, paid, expired, cancelled)
"""

from __future__ import annotations


class ResultCode:
    """PayerMax result codes used by the sandbox (contract §7)."""

    APPLY_SUCCESS = "APPLY_SUCCESS"
    SIGN_VERIFY_FAILED = "SIGN_VERIFY_FAILED"
    PARAMS_INVALID = "PARAMS_INVALID"
    CURRENCY_INVALID = "CURRENCY_INVALID"
    AMOUNT_INVALID = "AMOUNT_INVALID"
    ORDER_NOT_EXIST = "ORDER_NOT_EXIST"
    ORDER_CLOSED = "ORDER_CLOSED"
    ORDER_REPEAT = "ORDER_REPEAT"


class SandboxError(Exception):
    """Base class of everything the sandbox raises on purpose."""


class GatewayError(SandboxError):
    """An API request refused with a PayerMax result code and a message for the developer."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


class CheckoutRefused(SandboxError):
    """The checkout cannot take a payment for this link; the message is shown to the customer."""
