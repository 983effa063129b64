"""Signed notification delivery with PayerMax's retry schedule (contract §5.4).

Each notification is delivered by its own task: attempt ``i`` is due ``schedule[i]`` seconds
after the first attempt, and delivery ends at the first answer that is HTTP 200 with JSON
``code == "SUCCESS"`` or after the last attempt. Progress is saved in the store after every
attempt, so a restarted sandbox resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bot.payermax.jsontext import dumps
from bot.payermax.signing import sign
from bot.sandbox.faults import Faults
from bot.sandbox.store import Delivery, SandboxStore
from bot.tls import client_tls

logger = logging.getLogger(__name__)

PAYERMAX_NOTIFY_SCHEDULE: tuple[float, ...] = (0, 30, 300, 600, 3600, 43200)
NOTIFY_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
ACKNOWLEDGED_CODE = "SUCCESS"
USER_AGENT = "PayerMax-SANDBOX-notifier"


def is_acknowledged(response: httpx.Response) -> bool:
    """Whether the merchant accepted the notification: HTTP 200 and JSON ``code == "SUCCESS"``."""
    if response.status_code != 200:
        return False
    try:
        answer = response.json()
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("code") == ACKNOWLEDGED_CODE


class Notifier:
    """Delivers the store's pending notifications, signed with the platform key, with retries."""

    def __init__(
        self,
        *,
        store: SandboxStore,
        platform_private_key: RSAPrivateKey,
        faults: Faults,
        schedule: Sequence[float] = PAYERMAX_NOTIFY_SCHEDULE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not schedule or any(delay < 0 for delay in schedule) or list(schedule) != sorted(schedule):
            raise ValueError("the notify schedule must be a non-empty, non-decreasing list of delays >= 0")
        self._store = store
        self._key = platform_private_key
        self._faults = faults
        self._schedule = tuple(schedule)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        """Open the HTTP client and resume every pending delivery."""
        if self._client is not None:
            return
        # trust_env=False: the sandbox posts straight to notifyUrl, as PayerMax would, whatever
        # proxy settings the developer's shell has.
        self._client = httpx.AsyncClient(
            transport=self._transport,
            timeout=NOTIFY_TIMEOUT,
            trust_env=False,
            verify=client_tls(trust_env=False),
            headers={"User-Agent": USER_AGENT},
        )
        for delivery in list(self._store.pending_deliveries()):
            self._spawn(delivery)

    def submit(self, delivery: Delivery) -> None:
        """Record a new notification and deliver it now if running (else at ``start``)."""
        self._store.add_delivery(delivery)
        if self._client is not None:
            self._spawn(delivery)

    async def stop(self) -> None:
        """Cancel delivery tasks and close the client; pending deliveries stay saved."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _spawn(self, delivery: Delivery) -> None:
        """Start the task that delivers one notification."""
        task = asyncio.create_task(self._deliver(delivery), name=f"sandbox-notify-{delivery.delivery_id}")
        self._tasks[delivery.delivery_id] = task
        task.add_done_callback(lambda done: self._forget(delivery.delivery_id, done))

    def _forget(self, delivery_id: str, task: asyncio.Task[None]) -> None:
        """Drop a finished task, logging it if it crashed."""
        self._tasks.pop(delivery_id, None)
        if not task.cancelled() and task.exception() is not None:
            logger.error("SANDBOX notification %s crashed", delivery_id, exc_info=task.exception())

    async def _deliver(self, delivery: Delivery) -> None:
        """Attempt delivery on schedule until acknowledged or out of attempts."""
        while delivery.pending:
            if delivery.attempts >= len(self._schedule):
                # The schedule may have been shortened since this delivery was saved.
                self._store.give_up_delivery(delivery)
                break
            due = delivery.first_attempt_at + self._schedule[delivery.attempts]
            await asyncio.sleep(max(0.0, due - time.time()))
            acknowledged = await self._attempt(delivery)
            last_attempt = delivery.attempts + 1 >= len(self._schedule)
            self._store.record_delivery_attempt(delivery, delivered=acknowledged, last_attempt=last_attempt)
        if delivery.delivered:
            logger.info(
                "SANDBOX notification %s delivered after %d attempt(s)", delivery.delivery_id, delivery.attempts
            )
        else:
            logger.warning(
                "SANDBOX notification %s to %s given up after %d attempt(s)",
                delivery.delivery_id,
                delivery.notify_url,
                delivery.attempts,
            )

    async def _attempt(self, delivery: Delivery) -> bool:
        """POST the signed body (``notify_duplicates`` times); True if any copy was acknowledged."""
        assert self._client is not None, "start() opens the client before any delivery task runs"
        body = delivery.body.encode("utf-8")
        headers = {"Content-Type": "application/json", "sign": sign(body, self._key)}
        acknowledged = False
        for _ in range(self._faults.notify_duplicates):
            try:
                response = await self._client.post(delivery.notify_url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                logger.info("SANDBOX notification %s to %s failed: %r", delivery.delivery_id, delivery.notify_url, exc)
                continue
            if is_acknowledged(response):
                acknowledged = True
            else:
                logger.info(
                    "SANDBOX notification %s to %s not acknowledged (HTTP %d)",
                    delivery.delivery_id,
                    delivery.notify_url,
                    response.status_code,
                )
        return acknowledged


def new_delivery(*, delivery_id: str, link_id: str, notify_url: str, body: dict[str, Any]) -> Delivery:
    """A delivery whose first attempt is due now, carrying the body serialized once for good."""
    return Delivery(
        delivery_id=delivery_id,
        link_id=link_id,
        notify_url=notify_url,
        body=dumps(body).decode("utf-8"),
        first_attempt_at=time.time(),
    )
