"""RSA keys for tests, made once per process: generating a 2048-bit key takes 50-100 ms of CPU."""

from __future__ import annotations

from functools import cache

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bot.payermax.signing import generate_private_key


@cache
def rsa_key(role: str) -> RSAPrivateKey:
    """This process's key for ``role`` ("platform", "stranger", ...): one key per role, a different one for each."""
    return generate_private_key()
