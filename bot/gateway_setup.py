"""Which PayerMax this process talks to: the embedded sandbox gateway, or the real one with the configured keys."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from bot.config import ConfigError, Settings
from bot.payermax import signing
from bot.payermax.client import PayerMaxClient
from bot.payermax.webhook import MerchantIdentity
from bot.sandbox.gateway import SandboxGateway
from bot.sandbox.keys import load_or_create_sandbox_keys
from bot.web import metrics


@dataclass(frozen=True)
class MerchantKeys:
    """The keys the client signs and verifies with."""

    merchant_private_key: RSAPrivateKey
    platform_public_key: RSAPublicKey


@dataclass(frozen=True)
class PayerMaxSide:
    """Everything about PayerMax a running bot needs: the client, the key notifications are signed with, who we are."""

    client: PayerMaxClient
    platform_public_key: RSAPublicKey
    merchant: MerchantIdentity
    sandbox: SandboxGateway | None  # the embedded gateway, when it plays PayerMax


def configured_keys(settings: Settings) -> MerchantKeys:
    """Load the merchant key and PayerMax's public key from the settings."""
    try:
        private = signing.load_private_key(settings.merchant_private_key_text() or "")
    except signing.KeyFormatError as exc:
        raise ConfigError(settings.key_variable("PAYERMAX_MERCHANT_PRIVATE_KEY"), str(exc)) from None
    try:
        public = signing.load_public_key(settings.platform_public_key_text() or "")
    except signing.KeyFormatError as exc:
        raise ConfigError(settings.key_variable("PAYERMAX_PLATFORM_PUBLIC_KEY"), str(exc)) from None
    return MerchantKeys(private, public)


def sandbox_gateway(settings: Settings) -> tuple[SandboxGateway, MerchantKeys]:
    """The embedded gateway with its own key pairs (made on first run under DATA_DIR) and any preset faults."""
    keys = load_or_create_sandbox_keys(settings.data_dir)
    gateway = SandboxGateway(
        keys=keys,
        public_base_url=settings.public_base_url,
        state_path=settings.data_dir / "sandbox" / "state.json",
        notify_schedule=settings.sandbox_notify_schedule,
        refund_settle_seconds=settings.sandbox_refund_settle_seconds,
        app_id=settings.app_id,
        merchant_no=settings.merchant_no,
    )
    gateway.faults.update(settings.sandbox_faults)
    return gateway, MerchantKeys(keys.merchant_private_key, keys.platform_public_key)


def connect_payermax(settings: Settings) -> PayerMaxSide:
    """The PayerMax client (not yet connected: httpx connects on the first call) and what goes with it."""
    sandbox: SandboxGateway | None = None
    if settings.is_sandbox:
        sandbox, keys = sandbox_gateway(settings)
    else:
        keys = configured_keys(settings)
    client = PayerMaxClient(
        base_url=settings.gateway_base_url,
        app_id=settings.app_id,
        merchant_no=settings.merchant_no,
        merchant_private_key=keys.merchant_private_key,
        platform_public_key=keys.platform_public_key,
        timeout=settings.payermax_timeout,
        on_call=metrics.record_payermax_call,
    )
    return PayerMaxSide(
        client, keys.platform_public_key, MerchantIdentity(settings.app_id, settings.merchant_no), sandbox
    )
