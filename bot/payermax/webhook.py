"""Verifying PayerMax notifications: signature over the raw body first, then parsing.

One exception type, :class:`NotificationRejected`, covers every reason to refuse a
notification; its ``reason`` is safe to log (it never contains the ``sign`` value).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from bot.payermax import signing
from bot.payermax.models import (
    NOTIFY_TYPE_PAYBYLINK,
    NOTIFY_TYPE_PAYMENT,
    Notification,
    NotificationError,
    parse_notification,
)

# What the payment endpoint takes; a refund endpoint passes accept=(NOTIFY_TYPE_REFUND,).
PAYMENT_NOTIFY_TYPES = (NOTIFY_TYPE_PAYBYLINK, NOTIFY_TYPE_PAYMENT)


class NotificationRejected(Exception):
    """A notification that must not be acted on; ``reason`` says why."""

    def __init__(self, reason: str, *, status_code: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


def verify_notification(
    body: bytes,
    signature: str | None,
    platform_public_key: RSAPublicKey,
    *,
    accept: Collection[str] = PAYMENT_NOTIFY_TYPES,
) -> Notification:
    """Check the ``sign`` header against the exact bytes received, then parse them.

    ``accept`` names the ``notifyType``s this endpoint handles; any other (a REFUND sent to the
    payment endpoint, say) is refused, so it is never mistaken for what the endpoint expects.
    """
    if not signature:
        raise NotificationRejected("missing sign header", status_code=401)
    if not signing.verify(body, signature, platform_public_key):
        raise NotificationRejected("signature does not match the body", status_code=401)
    try:
        notification = parse_notification(body)
    except NotificationError as exc:
        raise NotificationRejected(str(exc)) from None
    if notification.notify_type not in accept:
        raise NotificationRejected(
            f"{notification.notify_type} notifications are not accepted here (this endpoint takes {', '.join(accept)})"
        )
    return notification


@dataclass(frozen=True)
class MerchantIdentity:
    """Who we are at PayerMax: every notification must be addressed to this app and merchant."""

    app_id: str
    merchant_no: str


def check_recipient(notification: Notification, merchant: MerchantIdentity) -> None:
    """Refuse a notification addressed to another merchant or app (contract §12), naming what differed."""
    if notification.merchant_no != merchant.merchant_no:
        raise NotificationRejected(
            f"merchantNo {notification.merchant_no!r} is not ours ({merchant.merchant_no!r})", status_code=403
        )
    if notification.app_id is not None and notification.app_id != merchant.app_id:
        raise NotificationRejected(f"appId {notification.app_id!r} is not ours ({merchant.app_id!r})", status_code=403)
