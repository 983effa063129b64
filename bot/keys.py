"""``paylink-bot keys``: make the merchant key pair to register with PayerMax."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from bot.config import ConfigError
from bot.payermax import signing

PRIVATE_FILE = "merchant_private_key.pem"
PUBLIC_FILE = "merchant_public_key.txt"
PRIVATE_MODE = 0o600


def write_key_pair(folder: Path, *, force: bool = False) -> tuple[Path, Path]:
    """Write a new 2048-bit pair: private key (PKCS#8, mode 0600) and the public key to upload."""
    private_path, public_path = folder / PRIVATE_FILE, folder / PUBLIC_FILE
    if not force and (private_path.exists() or public_path.exists()):
        raise ConfigError(
            "keys", f"{folder} already holds a key pair; use --force to replace it (the old one stops working)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    key = signing.generate_private_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    _write_private(private_path, pem)
    public_path.write_text(signing.public_key_base64(key.public_key()) + "\n")
    print(f"private key: {private_path} (keep it secret; set PAYERMAX_MERCHANT_PRIVATE_KEY_FILE={private_path})")
    print(f"public key:  {public_path} (upload this line in PayerMax's Developer Center / MMC)")
    return private_path, public_path


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to a fresh 0600 file that then replaces ``path``."""
    # Not rewritten in place: an existing file keeps its mode (O_CREAT's mode only applies to new
    # files), and whoever opened it while it was readable could read the new key through it.
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, PRIVATE_MODE)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
