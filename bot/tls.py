"""The TLS context of the process's HTTP clients, made once instead of once per client."""

from __future__ import annotations

import os
import ssl
from functools import cache

import httpx


def client_tls(*, trust_env: bool = True) -> ssl.SSLContext:
    """The context httpx makes for a client with ``verify=True`` (and this ``trust_env``), shared.

    Each one reads the whole CA bundle, about 20 ms of CPU, and the bot has four clients (two for
    Telegram, PayerMax's, the sandbox's notifier). One context serves any number of connections.
    """
    environment = (os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None)
    return _context(environment if trust_env else (None, None))


@cache
def _context(ca_variables: tuple[str | None, str | None]) -> ssl.SSLContext:
    # httpx takes SSL_CERT_FILE, else SSL_CERT_DIR, when it trusts the environment, else certifi's bundle:
    # one context per CA source: clients that trust the environment share the others' unless it names its own.
    return httpx.create_ssl_context(trust_env=ca_variables != (None, None))
