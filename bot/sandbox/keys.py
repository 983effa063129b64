"""The sandbox's two RSA key pairs, made once and kept under the data directory.

The sandbox plays both sides of PayerMax's key exchange: the merchant pair (the bot signs
requests, the sandbox verifies them) and the platform pair (the sandbox signs answers and
notifications, the bot verifies them). Only the private keys are stored; public keys are
derived from them.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from bot.payermax.signing import KeyFormatError, generate_private_key, load_private_key

SANDBOX_DIR_NAME = "sandbox"
MERCHANT_KEY_FILE = "merchant_private.pem"
PLATFORM_KEY_FILE = "platform_private.pem"
# Private keys are secrets even in the sandbox: owner-only access.
DIRECTORY_MODE = 0o700
KEY_FILE_MODE = 0o600


class SandboxKeyError(RuntimeError):
    """A stored sandbox key file cannot be read."""


@dataclass(frozen=True)
class SandboxKeys:
    """The merchant and platform key pairs the sandbox and the bot share."""

    merchant_private_key: RSAPrivateKey
    merchant_public_key: RSAPublicKey
    platform_private_key: RSAPrivateKey
    platform_public_key: RSAPublicKey


def load_or_create_sandbox_keys(data_dir: Path) -> SandboxKeys:
    """Load the sandbox key pairs from ``data_dir/sandbox``, creating them on first run."""
    key_dir = Path(data_dir) / SANDBOX_DIR_NAME
    key_dir.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    os.chmod(key_dir, DIRECTORY_MODE)
    merchant = _load_or_create_private_key(key_dir / MERCHANT_KEY_FILE)
    platform = _load_or_create_private_key(key_dir / PLATFORM_KEY_FILE)
    return SandboxKeys(
        merchant_private_key=merchant,
        merchant_public_key=merchant.public_key(),
        platform_private_key=platform,
        platform_public_key=platform.public_key(),
    )


def _load_or_create_private_key(path: Path) -> RSAPrivateKey:
    """Read the PEM key at ``path``, or generate and store one if the file does not exist."""
    if path.exists():
        try:
            return load_private_key(path.read_text(encoding="ascii"))
        except (KeyFormatError, UnicodeDecodeError) as exc:
            raise SandboxKeyError(
                f"the sandbox key file {path} is corrupt ({exc}); delete it to make a new key pair"
            ) from exc
    key = generate_private_key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write_private_file(path, pem)
    return key


def _write_private_file(path: Path, content: bytes) -> None:
    """Write ``content`` with owner-only permissions, atomically so no half-written key is left."""
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        # mkstemp already creates the file 0600; chmod makes that explicit and umask-proof.
        os.fchmod(handle, KEY_FILE_MODE)
        with os.fdopen(handle, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
