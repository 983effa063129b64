"""``paylink-bot keys``: make the merchant key pair to register with PayerMax."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from bot.config import ConfigError
from bot.payermax import signing

PRIVATE_FILE = "merchant_private_key.pem"
PUBLIC_FILE = "merchant_public_key.txt"


def write_key_pair(folder: Path, *, force: bool = False) -> tuple[Path, Path]:
    """Write a new 2048-bit pair: private key (PKCS#8, mode 0600) and the public key to upload."""
    private_path, public_path = folder / PRIVATE_FILE, folder / PUBLIC_FILE
    if not force and (private_path.exists() or public_path.exists()):
        raise ConfigError("keys", f"{folder} already holds a key pair; use --force to replace it (the old one stops working)")
    folder.mkdir(parents=True, exist_ok=True)
    key = signing.generate_private_key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode("ascii")
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(pem)
    public_path.write_text(signing.public_key_base64(key.public_key()) + "\n")
    print(f"private key: {private_path} (keep it secret; set PAYERMAX_MERCHANT_PRIVATE_KEY_FILE={private_path})")
    print(f"public key:  {public_path} (upload this line in PayerMax's Developer Center / MMC)")
    return private_path, public_path
