"""SHA256withRSA signing and verification over exact bytes, as PayerMax does it.

PayerMax signs the raw body bytes (no canonicalisation), with RSASSA-PKCS1-v1_5 and SHA-256,
and carries the standard-base64 signature in the ``sign`` header. Keys arrive as PEM or as
bare base64 DER (PKCS#8 / PKCS#1 private, SubjectPublicKeyInfo public).
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_PEM_ARMOUR = re.compile(r"-----(BEGIN|END)[^-]*-----")
_WHITESPACE = re.compile(r"\s+")


class KeyFormatError(ValueError):
    """A key text is neither PEM nor base64 DER of an RSA key."""


def _der_from_text(text: str) -> bytes:
    """Strip PEM armour and whitespace, then base64-decode."""
    bare = _WHITESPACE.sub("", _PEM_ARMOUR.sub("", text))
    if not bare:
        raise KeyFormatError("the key is empty")
    try:
        return base64.b64decode(bare, validate=True)
    except binascii.Error as exc:
        raise KeyFormatError("the key is not valid base64 or PEM") from exc


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    """Load an RSA private key from PEM or bare base64 (PKCS#8 or PKCS#1 DER)."""
    der = _der_from_text(text)
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError("the private key could not be read (expected unencrypted PKCS#8 or PKCS#1)") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFormatError("the private key is not an RSA key")
    return key


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """Load an RSA public key from PEM or bare base64 SubjectPublicKeyInfo DER."""
    der = _der_from_text(text)
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError("the public key could not be read (expected X.509 SubjectPublicKeyInfo)") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFormatError("the public key is not an RSA key")
    return key


def sign(body: bytes, private_key: rsa.RSAPrivateKey) -> str:
    """Return the base64 SHA256withRSA signature of exactly these bytes."""
    signature = private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify(body: bytes, signature: str | None, public_key: rsa.RSAPublicKey) -> bool:
    """Tell whether ``signature`` is a valid signature of exactly these bytes."""
    if not signature:
        return False
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        public_key.verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def generate_private_key() -> rsa.RSAPrivateKey:
    """Make a new 2048-bit RSA key, the size PayerMax asks for."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_base64(private_key: rsa.RSAPrivateKey) -> str:
    """Single-line base64 PKCS#8 DER, the form PayerMax's tools use."""
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return base64.b64encode(der).decode("ascii")


def public_key_base64(public_key: rsa.RSAPublicKey) -> str:
    """Single-line base64 SubjectPublicKeyInfo DER, the form uploaded to PayerMax."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")
