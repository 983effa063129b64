"""SHA256withRSA signing as PayerMax does it: the contract's test vector, key formats, openssl interop."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from bot.payermax.signing import (
    KeyFormatError,
    load_private_key,
    load_public_key,
    private_key_base64,
    public_key_base64,
    sign,
    verify,
)
from tests.keys import rsa_key

# Contract §2.6 test vector (public key, exact body bytes, sign header value).
VECTOR_PUBLIC_KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAw7rMBD+2Jps1RkV4tNwmeGFc/TPwjYtjkctl47R3dhPwLyQajLIKCwMLsqNiVBeu"
    "3NTvtGBDFediDIoX/lDEwG1iyFE+zFwea87JBwJ7eu27jSvI4MpInl/XTAOgaJnIchVDhTj9/h8SWi/o1kRY4ziKC0gQOlcE1jUTnjra+MDn"
    "nl6rvzyE3Cu6JWumCjQT5zAWpPy6szfDkiM6Wzl096N2KIn5o+dqJM1zSBX0InFxOkgrsVNCLUVoidG3b191QGnhXcBuWy6Q8KH/YGZ7GrT8"
    "lOit04D+U0vPlFg4Thhmhx5eGSuud+vFKJPh/PgQ4xFXmvlcy9LqnkOR2oar+wIDAQAB"
)
VECTOR_BODY = (
    b'{"code":"APPLY_SUCCESS","msg":"Success.","keyVersion":"1","appId":"testapp","merchantNo":"P01000000000000",'
    b'"notifyTime":"2024-02-27T05:50:00.000Z","notifyType":"PAYBYLINK","data":{"linkId":"BYLqPQaQlD",'
    b'"merchantLinkId":"tg-1-42","totalAmount":"40000","currency":"IDR","country":"ID","linkStatus":"EXPIRED",'
    b'"payByLinkInfo":[{"outTradeNo":"T1","status":"SUCCESS"}]}}'
)
VECTOR_SIGN = (
    "Git9TmX3/LsVQr23ab9Ab0qiYAn59K1LLdlcvPfakbKO+65hu+qetJYRxwGOazJ3/ZgKFjH1dQd78pNFfNtxkdMF0o2H4x6AjOVqc4gpqPmZ"
    "5v6TJtiv/azWvInudZ9TMjm5KSxU8Z+U/T/tdTmzSrdqRTvgdTo1hlYC9iPT5dn6erqnButzX+tl0E5WBnilwTomZyZloFyZfN+9vSM/LWUA"
    "tl7SwqtZjqO5hL3PDmYo/wcJPBM5WRASkgjSF0HnrpGVKMA4hJacdNgKttTHS4gMiZ/CPlTB2S5qiLWrG73ip8XRMrZ7yvwcHB7HTwe1fns+"
    "dgHVqOsKiFwAutvXUQ=="
)

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")


@pytest.fixture(scope="module")
def throwaway_key():
    """One RSA-2048 key for the whole module: generating keys is the slow part."""
    return rsa_key("throwaway")


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the openssl CLI and capture its output as text."""
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)


def test_contract_vector_verifies():
    assert verify(VECTOR_BODY, VECTOR_SIGN, load_public_key(VECTOR_PUBLIC_KEY))


def test_reserialised_body_does_not_verify():
    # The webhook must verify the raw bytes: re-encoding the parsed JSON adds spaces.
    reserialised = json.dumps(json.loads(VECTOR_BODY)).encode()
    assert reserialised != VECTOR_BODY
    assert not verify(reserialised, VECTOR_SIGN, load_public_key(VECTOR_PUBLIC_KEY))


@pytest.mark.parametrize("position", [0, 60, len(VECTOR_BODY) - 1])
def test_flipped_byte_does_not_verify(position):
    tampered = bytearray(VECTOR_BODY)
    tampered[position] ^= 0x01
    assert not verify(bytes(tampered), VECTOR_SIGN, load_public_key(VECTOR_PUBLIC_KEY))


@pytest.mark.parametrize("signature", [None, "", "not base64 at all!", VECTOR_SIGN[:-8] + "AAAAAA=="])
def test_missing_or_broken_signature_does_not_verify(signature):
    assert not verify(VECTOR_BODY, signature, load_public_key(VECTOR_PUBLIC_KEY))


def test_public_key_loads_as_pem_and_bare_base64():
    pem = (
        "-----BEGIN PUBLIC KEY-----\n"
        + "\n".join(VECTOR_PUBLIC_KEY[i : i + 64] for i in range(0, len(VECTOR_PUBLIC_KEY), 64))
        + "\n-----END PUBLIC KEY-----\n"
    )
    for text in (pem, VECTOR_PUBLIC_KEY, f"  {VECTOR_PUBLIC_KEY}\n"):
        assert verify(VECTOR_BODY, VECTOR_SIGN, load_public_key(text))


def test_private_key_loads_as_pem_and_bare_base64(throwaway_key):
    pem = throwaway_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    body = b'{"hello":"world"}'
    expected = sign(body, throwaway_key)
    assert sign(body, load_private_key(pem)) == expected
    assert sign(body, load_private_key(private_key_base64(throwaway_key))) == expected


def test_sign_is_deterministic_and_verifies_with_the_public_key(throwaway_key):
    body = '{"totalAmount":"150000","description":"Sepatu musim dingin ❄"}'.encode()
    signature = sign(body, throwaway_key)
    assert sign(body, throwaway_key) == signature
    # Standard base64 on one line: 256 signature bytes become 344 characters.
    assert len(signature) == 344 and len(base64.b64decode(signature, validate=True)) == 256
    public_key = load_public_key(public_key_base64(throwaway_key.public_key()))
    assert verify(body, signature, public_key)
    assert not verify(body + b" ", signature, public_key)


def test_signature_from_another_key_does_not_verify(throwaway_key):
    body = b'{"a":1}'
    assert not verify(body, sign(body, throwaway_key), load_public_key(VECTOR_PUBLIC_KEY))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----", "empty"),
        ("this is not a key!", "base64"),
        ("aGVsbG8gd29ybGQ=", "could not be read"),
    ],
)
def test_garbage_private_key_text_raises_clear_error(text, expected):
    with pytest.raises(KeyFormatError, match=expected):
        load_private_key(text)


def test_public_key_given_as_private_key_is_refused():
    with pytest.raises(KeyFormatError, match="private key could not be read"):
        load_private_key(VECTOR_PUBLIC_KEY)


def test_garbage_public_key_text_raises_clear_error():
    with pytest.raises(KeyFormatError, match="public key could not be read"):
        load_public_key("aGVsbG8gd29ybGQ=")


@needs_openssl
def test_openssl_verifies_our_signature(tmp_path: Path, throwaway_key):
    body = '{"merchantLinkId":"tg-7-1","totalAmount":"9.99","description":"café"}'.encode()
    (tmp_path / "body").write_bytes(body)
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(sign(body, throwaway_key)))
    (tmp_path / "pub.pem").write_bytes(
        throwaway_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    result = _openssl(
        "dgst",
        "-sha256",
        "-verify",
        str(tmp_path / "pub.pem"),
        "-signature",
        str(tmp_path / "sig.bin"),
        str(tmp_path / "body"),
    )
    assert result.returncode == 0, result.stderr
    assert "Verified OK" in result.stdout


@needs_openssl
def test_we_verify_openssl_signature_and_read_its_key_formats(tmp_path: Path):
    key_pem = tmp_path / "private.pem"
    generated = _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key_pem))
    assert generated.returncode == 0, generated.stderr
    pub_pem = tmp_path / "pub.pem"
    assert _openssl("pkey", "-in", str(key_pem), "-pubout", "-out", str(pub_pem)).returncode == 0
    pkcs1_pem = tmp_path / "private-pkcs1.pem"
    assert _openssl("rsa", "-in", str(key_pem), "-traditional", "-out", str(pkcs1_pem)).returncode == 0
    body_path = tmp_path / "body"
    body = b'{"code":"APPLY_SUCCESS","data":{"linkId":"BYL1"}}'
    body_path.write_bytes(body)
    sig_path = tmp_path / "sig.bin"
    signed = _openssl("dgst", "-sha256", "-sign", str(key_pem), "-out", str(sig_path), str(body_path))
    assert signed.returncode == 0, signed.stderr
    openssl_signature = base64.b64encode(sig_path.read_bytes()).decode()

    assert verify(body, openssl_signature, load_public_key(pub_pem.read_text()))

    assert "BEGIN RSA PRIVATE KEY" in pkcs1_pem.read_text()
    # PKCS#1 v1.5 is deterministic, so the same key must produce openssl's exact signature.
    assert sign(body, load_private_key(key_pem.read_text())) == openssl_signature
    assert sign(body, load_private_key(pkcs1_pem.read_text())) == openssl_signature
