"""Prometheus metrics the whole process shares, served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HTTP_CONNECTIONS = Gauge("paylink_http_connections", "Client connections open on the web port")
HTTP_CONNECTIONS_DROPPED = Counter(
    "paylink_http_connections_dropped_total",
    "Client connections closed before a complete request: request_timeout (too slow) or evicted (at the cap)",
    ["reason"],
)
DATABASE_UP = Gauge("paylink_database_up", "1 if the last web request that used the database got an answer, else 0")
LINKS_CREATED = Counter("paylink_links_created_total", "Links PayerMax created, by outcome", ["result"])
NOTIFICATIONS = Counter(
    "paylink_notifications_total",
    "PayerMax notifications received, by result (database_unavailable: answered 503 during an outage)",
    ["result"],
)
OUTBOX_BACKLOG = Gauge("paylink_outbox_backlog", "Telegram messages waiting in the outbox")
OUTBOX_DELIVERY = Histogram(
    "paylink_outbox_delivery_seconds",
    "Time from queueing a message to Telegram accepting it",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
OUTBOX_SENT = Counter("paylink_outbox_sent_total", "Outbox messages by final result", ["kind", "result"])
PAYERMAX_CALLS = Histogram(
    "paylink_payermax_call_seconds",
    "PayerMax API call latency, by API and outcome",
    ["api", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20),
)


def record_payermax_call(api_name: str, seconds: float, outcome: str) -> None:
    """The PayerMax client's on_call hook."""
    PAYERMAX_CALLS.labels(api=api_name, outcome=outcome).observe(seconds)


def record_connection_drop(reason: str) -> None:
    """The connection guard's on_drop hook."""
    HTTP_CONNECTIONS_DROPPED.labels(reason=reason).inc()


def record_link_outcome(result: str) -> None:
    """The link service's on_outcome hook: a link PayerMax made ("created") or refused ("refused")."""
    LINKS_CREATED.labels(result=result).inc()


async def metrics_endpoint(_request: Request) -> Response:
    """Serve the metrics in Prometheus' text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def metrics_app() -> Starlette:
    """The app of the METRICS_PORT listener: /metrics and nothing else, to whoever can reach it."""
    return Starlette(routes=[Route("/metrics", metrics_endpoint, methods=["GET"])])
