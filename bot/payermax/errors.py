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
giving up) and ``ApiError.retryable``.
"""

from __future__ import annotations


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
