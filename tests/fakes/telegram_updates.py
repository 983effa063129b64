"""Updates waiting for the bot, handed out by getUpdates long polling or POSTed to a webhook."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from http import HTTPStatus

import httpx

from bot.tls import client_tls
from tests.fakes.telegram_protocol import ApiError, ApiRequest, JSONDict, bad_request

_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class Signal:
    """Wakes every coroutine waiting for the next change; notify() may be called from sync code."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake everyone waiting now."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float | None) -> None:
        """Wait for the next notify(), or until timeout seconds have passed."""
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


class _Webhook:
    """The webhook the bot registered, and how its last delivery went."""

    def __init__(self, url: str, secret_token: str | None) -> None:
        self.url = url
        self.secret_token = secret_token
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None

    def delivery_failed(self, message: str) -> None:
        self.last_error_date = int(time.time())
        self.last_error_message = message


class UpdateQueue:
    """Pending updates and the getUpdates / setWebhook / deleteWebhook / getWebhookInfo methods.

    An update stays pending until the bot confirms it: by asking getUpdates for a later offset,
    or by answering a webhook POST with a 2xx status. Webhook deliveries go one at a time, in
    order, with the secret in X-Telegram-Bot-Api-Secret-Token, and are retried until accepted.
    """

    # getUpdates holds a long poll at most this long, so the bot and the fake stop quickly.
    LONG_POLL_CAP_SECONDS = 1.0
    MAX_UPDATES_PER_POLL = 100
    WEBHOOK_RETRY_SECONDS = 0.2
    WEBHOOK_TIMEOUT_SECONDS = 10.0
    SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

    def __init__(self) -> None:
        self._pending: list[JSONDict] = []
        self._queued: dict[int, JSONDict] = {}  # every update ever queued, by update_id, for redeliver()
        self._update_ids = itertools.count(1)
        self.last_update_id = 0  # the update_id push() gave out last
        self._allowed_updates: list[str] | None = None
        self._webhook: _Webhook | None = None
        self._poll_generation = 0
        self._closing = False
        self._changed = Signal()  # new update, webhook change, a newer poll, shutdown
        self._http: httpx.AsyncClient | None = None
        self._delivery: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the webhook delivery worker."""
        self._closing = False
        self._http = httpx.AsyncClient(timeout=self.WEBHOOK_TIMEOUT_SECONDS, verify=client_tls())
        self._delivery = asyncio.create_task(self._deliver_to_webhook(self._http), name="fake-telegram-webhook")

    async def stop(self) -> None:
        """End long polls in progress at once and stop delivering to the webhook."""
        self._closing = True
        self._changed.notify()
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
            self._delivery = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def push(self, kind: str, payload: JSONDict) -> int:
        """Queue an update of `kind` ("message", "callback_query"...); return its update_id."""
        update_id = next(self._update_ids)
        self.last_update_id = update_id
        # Telegram does not keep updates of a type the bot opted out of.
        if self._allowed_updates and kind not in self._allowed_updates:
            return update_id
        update = {"update_id": update_id, kind: payload}
        self._queued[update_id] = update
        self._pending.append(update)
        self._changed.notify()
        return update_id

    def redeliver(self, update_id: int) -> None:
        """Queue an update again under the same update_id, as Telegram does when a webhook answer is late.

        A polling bot that already confirmed it (by asking for a later offset) never sees the copy,
        as on Telegram.
        """
        if update_id not in self._queued:
            raise ValueError(f"no update {update_id} was ever queued")
        self._pending.append(dict(self._queued[update_id]))
        self._changed.notify()

    async def get_updates(self, request: ApiRequest) -> list[JSONDict]:
        """getUpdates: confirm by offset, then answer pending updates or long-poll for some."""
        params = request.params
        if self._webhook is not None:
            raise ApiError(
                HTTPStatus.CONFLICT,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._remember_allowed_updates(params)
        offset = params.get("offset")
        if offset:
            # Asking from `offset` confirms every update before it.
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        limit = int(params.get("limit", self.MAX_UPDATES_PER_POLL))
        limit = max(1, min(limit, self.MAX_UPDATES_PER_POLL))
        timeout = min(float(params.get("timeout", 0)), self.LONG_POLL_CAP_SECONDS)

        self._poll_generation += 1
        generation = self._poll_generation
        self._changed.notify()  # an older long poll ends with 409, as on Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._pending and not self._closing and loop.time() < deadline:
            await self._changed.wait(deadline - loop.time())
            if generation != self._poll_generation:
                raise ApiError(
                    HTTPStatus.CONFLICT,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
        return self._pending[:limit]

    async def set_webhook(self, request: ApiRequest) -> bool:
        """setWebhook: from now on pending updates are POSTed to the url."""
        params = request.params
        url = params.get("url", "")
        if not url:
            return await self.delete_webhook(request)
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._remember_allowed_updates(params)
        self._webhook = _Webhook(url, secret)
        self._changed.notify()
        return True

    async def delete_webhook(self, request: ApiRequest) -> bool:
        """deleteWebhook: back to getUpdates, optionally dropping pending updates."""
        if request.params.get("drop_pending_updates"):
            self._pending.clear()
        self._webhook = None
        self._changed.notify()
        return True

    async def get_webhook_info(self, request: ApiRequest) -> JSONDict:
        """getWebhookInfo: url, pending count and the last delivery error."""
        webhook = self._webhook
        info: JSONDict = {
            "url": webhook.url if webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if webhook is not None and webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
        if self._allowed_updates is not None:
            info["allowed_updates"] = self._allowed_updates
        return info

    def _remember_allowed_updates(self, params: JSONDict) -> None:
        allowed = params.get("allowed_updates")
        if allowed is not None:
            self._allowed_updates = list(allowed)

    async def _deliver_to_webhook(self, http: httpx.AsyncClient) -> None:
        while True:
            webhook = self._webhook
            if webhook is None or not self._pending:
                await self._changed.wait(None)
                continue
            update = self._pending[0]
            if await self._post_update(http, webhook, update):
                # deleteWebhook(drop_pending_updates) may have emptied the queue meanwhile.
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
            else:
                await asyncio.sleep(self.WEBHOOK_RETRY_SECONDS)

    async def _post_update(self, http: httpx.AsyncClient, webhook: _Webhook, update: JSONDict) -> bool:
        headers = {self.SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
        try:
            response = await http.post(webhook.url, json=update, headers=headers)
        except httpx.HTTPError as exc:
            webhook.delivery_failed(f"Connection failed: {type(exc).__name__}")
            return False
        if not response.is_success:
            webhook.delivery_failed(f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}")
            return False
        return True
