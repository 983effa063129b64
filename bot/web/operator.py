"""Who may call operator endpoints (/metrics, the sandbox's controls) on the port PayerMax and the internet reach.

Two ways in: a request made on this host straight to the bot (a loopback client address and no
proxy forwarding header, so a reverse proxy on the same host does not open the endpoint to the
world), or, for /metrics, the bearer token METRICS_TOKEN. Everyone else is told the endpoint does
not exist (404), or, when a token is configured, that it needs one (401).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

# What reverse proxies add; a loopback request carrying one came from elsewhere through the proxy.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")

Endpoint = Callable[[Request], Awaitable[Response]]


def is_local_request(request: Request) -> bool:
    """Whether the request comes from this host directly: a loopback client address and no forwarding header."""
    if request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback and not any(name in request.headers for name in FORWARDING_HEADERS)


def bearer_matches(request: Request, token: str) -> bool:
    """Whether the request carries ``Authorization: Bearer <token>`` (compared in constant time)."""
    scheme, _, offered = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode())


def local_only(endpoint: Endpoint) -> Endpoint:
    """Serve ``endpoint`` to local requests only; anyone else gets 404."""

    async def guarded(request: Request) -> Response:
        if not is_local_request(request):
            return Response(status_code=404)
        return await endpoint(request)

    guarded.__doc__ = endpoint.__doc__
    return guarded


def token_only(endpoint: Endpoint, token: str) -> Endpoint:
    """Serve ``endpoint`` only to requests bearing ``token``; anyone else gets 401."""

    async def guarded(request: Request) -> Response:
        if not bearer_matches(request, token):
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return await endpoint(request)

    guarded.__doc__ = endpoint.__doc__
    return guarded
