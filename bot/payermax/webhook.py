"""Verifying PayerMax notifications: signature over the raw body first, then parsing.

One exception type, :class:`NotificationRejected`, covers every reason to refuse a
notification; its ``reason`` is safe to log (it never contains the ``sign`` value).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from bot.payermax import signing
from bot.payermax.models import Notification, NotificationError, parse_notification


class NotificationRejected(Exception):
    """A notification that must not be acted on; ``reason`` says why."""

    def __init__(self, reason: str, *, status_code: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


def verify_notification(body: bytes, signature: str | None, platform_public_key: RSAPublicKey) -> Notification:
    """Check the ``sign`` header against the exact bytes received, then parse them."""
    if not signature:
        raise NotificationRejected("missing sign header", status_code=401)
    if not signing.verify(body, signature, platform_public_key):
        raise NotificationRejected("signature does not match the body", status_code=401)
    try:
        return parse_notification(body)
    except NotificationError as exc:
        raise NotificationRejected(str(exc)) from None
