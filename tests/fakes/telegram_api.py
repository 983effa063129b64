"""A fake Telegram Bot API server on loopback, for integration and end-to-end tests.

It speaks the HTTP protocol python-telegram-bot uses (``POST {base_url}{token}/{method}`` with a
form-encoded or multipart body whose nested values are JSON strings; answers
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": ...}``),
records what the bot does (every call, the messages it sent and their edits), feeds it updates
by long polling or webhook, and produces the failures Telegram produces: 5xx, 429 flood waits,
403 from users who blocked the bot, and rate limits.

Typical use::

    async with FakeTelegram() as fake:
        app = Application.builder().token(fake.token).base_url(fake.base_url).build()
        ...
        fake.send_text("/start", user_id=7)
        reply = await fake.wait_for_message(lambda m: m.chat_id == 7)
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, TypeVar

import httpx
from PIL import Image, UnidentifiedImageError
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer
from tests.fakes.telegram_markup import MarkupError, parse_text, utf16_length

JSONDict = dict[str, Any]
_Found = TypeVar("_Found")


@dataclass
class Call:
    """One Bot API request as the fake decoded it; `at` is time.monotonic() on arrival."""

    method: str
    params: JSONDict
    files: dict[str, bytes]
    at: float
    status: int = HTTPStatus.OK


@dataclass
class SentMessage:
    """A message the bot created, in its current state (edits applied).

    `text` is what the user sees: the text, or the caption of a photo or document, with
    parse_mode markup already turned into `entities`. `edits` lists (method, params) in order.
    """

    message_id: int
    chat_id: int
    kind: str  # "text", "photo" or "document"
    text: str | None
    entities: list[JSONDict] = field(default_factory=list)
    parse_mode: str | None = None
    photo: bytes | None = None
    document: bytes | None = None
    file_name: str | None = None
    file_id: str | None = None
    reply_markup: JSONDict | None = None
    reply_to_message_id: int | None = None
    date: int = 0
    edit_date: int | None = None
    edits: list[tuple[str, JSONDict]] = field(default_factory=list)
    # Every callback_data this message has ever shown: a user may press a button that an edit
    # removed a moment later, so press_button accepts those too.
    offered_callback_data: set[str] = field(default_factory=set, repr=False)

    @property
    def buttons(self) -> list[JSONDict]:
        """The inline keyboard buttons currently shown, row by row, flattened."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]


@dataclass
class _Upload:
    """A file part of a multipart request."""

    content: bytes
    filename: str | None
    content_type: str | None


@dataclass
class _StoredFile:
    """A file Telegram keeps after an upload, reusable by its file_id."""

    file_id: str
    file_unique_id: str
    content: bytes
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0


@dataclass
class _ApiRequest:
    """A decoded Bot API request: parameters and uploaded file parts."""

    params: JSONDict
    uploads: dict[str, _Upload]


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    last_error_date: int | None = None
    last_error_message: str | None = None


class _ApiError(Exception):
    """A Bot API error answer: HTTP status = error_code, and an optional retry_after."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad_request(reason: str) -> _ApiError:
    return _ApiError(HTTPStatus.BAD_REQUEST, f"Bad Request: {reason}")


def _flood_wait(seconds: int) -> _ApiError:
    return _ApiError(
        HTTPStatus.TOO_MANY_REQUESTS, f"Too Many Requests: retry after {seconds}", seconds
    )


class _Signal:
    """Wakes every coroutine waiting for the next change; notify() may be called from sync code."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float | None) -> None:
        """Wait for the next notify(), or until timeout seconds have passed."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass


class _TokenBucket:
    """A flood limit: a sustained rate with a small burst allowance."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def seconds_until_free(self, now: float) -> float:
        """Refill by the time passed; 0 if a message may go now, else how long to wait."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.per_second

    def take(self) -> None:
        self.tokens -= 1


# Parameters whose form value is a plain string even when it looks like JSON ("123", "true").
_STRING_PARAMS = frozenset(
    {
        "action", "animation", "audio", "business_connection_id", "callback_query_id",
        "caption", "description", "document", "inline_message_id", "inline_query_id",
        "ip_address", "language_code", "message_effect_id", "next_offset", "parse_mode",
        "photo", "query", "secret_token", "short_description", "text", "thumbnail", "url",
        "video", "voice",
    }
)
_BUTTON_ACTIONS = frozenset(
    {
        "url", "callback_data", "web_app", "login_url", "switch_inline_query",
        "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
        "callback_game", "pay",
    }
)
_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note",
        "upload_video_note",
    }
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_COMMAND_AT_START = re.compile(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]+)?")


def _decode_form_value(name: str, raw: str) -> Any:
    """PTB sends nested objects, numbers and booleans as JSON text, and strings as they are."""
    if name in _STRING_PARAMS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


async def _read_request(request: Request) -> _ApiRequest:
    params: JSONDict = {
        name: _decode_form_value(name, value) for name, value in request.query_params.items()
    }
    uploads: dict[str, _Upload] = {}
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if body:
            params.update(json.loads(body))
    elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        async with request.form() as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    uploads[name] = _Upload(await value.read(), value.filename, value.content_type)
                else:
                    params[name] = _decode_form_value(name, value)
    return _ApiRequest(params, uploads)


def _now() -> int:
    return int(time.time())


class FakeTelegram:
    """A Bot API server on loopback that records what the bot sends and feeds it updates.

    Fault and limit controls apply to calls that create a message (sendMessage, sendPhoto,
    sendDocument) or edit one (editMessage*); block_chat also covers sendChatAction.
    With `enforce_limits` on, message sends (not edits) are held to Telegram's documented flood
    limits and answered 429 when they break them, counted in `limit_violations`.
    """

    BOT_FIRST_NAME = "Paylink Test Bot"
    GROUP_TITLE = "Test group"
    # getUpdates holds a long poll at most this long, so the bot and the fake stop quickly.
    LONG_POLL_CAP_SECONDS = 1.0
    MAX_UPDATES_PER_POLL = 100
    WEBHOOK_RETRY_SECONDS = 0.2
    WEBHOOK_TIMEOUT_SECONDS = 10.0
    MAX_TEXT_LENGTH = 4096
    MAX_CAPTION_LENGTH = 1024
    MAX_CALLBACK_DATA_BYTES = 64
    THUMBNAIL_SIDE = 90
    LARGEST_PHOTO_SIDE = 1280
    OVERALL_PER_SECOND, OVERALL_BURST = 30.0, 30
    PRIVATE_CHAT_PER_SECOND, PRIVATE_CHAT_BURST = 1.0, 3
    GROUP_CHAT_PER_SECOND, GROUP_CHAT_BURST = 20 / 60, 20

    MESSAGE_SENDS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
    MESSAGE_EDITS = frozenset(
        {"editMessageText", "editMessageCaption", "editMessageMedia", "editMessageReplyMarkup"}
    )
    NOT_MODIFIED = (
        "message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )

    def __init__(self, token: str = "123456:TEST-token", bot_username: str = "paylink_test_bot"):
        self.token = token
        self.bot_username = bot_username
        self.bot_id = int(token.split(":", 1)[0])
        self.calls: list[Call] = []
        self.enforce_limits = False
        self.limit_violations = 0

        self._server: LoopbackServer | None = None
        self._http: httpx.AsyncClient | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._closing = False
        self._updates_changed = _Signal()  # new update, webhook change, a newer poll, shutdown
        self._record_changed = _Signal()  # a call or a message was recorded

        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(4_000_000_001)
        self._file_ids = itertools.count(1)
        self._pending: list[JSONDict] = []
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._webhook: _Webhook | None = None

        self._chats: dict[int, JSONDict] = {}
        self._last_message_id: dict[int, int] = {}
        self._user_messages: dict[tuple[int, int], JSONDict] = {}
        self._sent: list[SentMessage] = []
        self._sent_by_key: dict[tuple[int, int], SentMessage] = {}
        self._files: dict[str, _StoredFile] = {}
        self._open_callback_queries: set[str] = set()
        self._open_inline_queries: set[str] = set()
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}

        self._fail_next_left = 0
        self._fail_next_status = HTTPStatus.BAD_GATEWAY
        self._fail_until = 0.0
        self._fail_for_status = HTTPStatus.BAD_GATEWAY
        self._retry_after_left = 0
        self._retry_after_seconds = 0
        self._blocked_chats: set[int] = set()
        self._overall_bucket = _TokenBucket(self.OVERALL_PER_SECOND, self.OVERALL_BURST)
        self._chat_buckets: dict[int, _TokenBucket] = {}

        self._handlers: dict[str, Callable[[_ApiRequest], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageMedia": self._edit_message_media,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendChatAction": self._send_chat_action,
            "close": self._return_true,
            "logOut": self._return_true,
        }
        # Telegram matches method names case-insensitively.
        self._methods_by_lower_name = {name.lower(): name for name in self._handlers}

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Bot API base for PTB's base_url, e.g. http://127.0.0.1:PORT/bot (token not included)."""
        if self._server is None:
            raise RuntimeError("FakeTelegram is not running; call start() first")
        return f"{self._server.url}/bot"

    async def start(self) -> None:
        """Start serving on 127.0.0.1 with a free port."""
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._handle, methods=["GET", "POST"]),
                Route("/{path:path}", self._not_found, methods=["GET", "POST"]),
            ]
        )
        self._closing = False
        self._http = httpx.AsyncClient(timeout=self.WEBHOOK_TIMEOUT_SECONDS)
        server = LoopbackServer(app)
        await server.start()
        self._server = server
        self._webhook_task = asyncio.create_task(
            self._deliver_to_webhook(self._http), name="fake-telegram-webhook"
        )

    async def stop(self) -> None:
        """Stop serving; long polls in progress return at once."""
        self._closing = True
        self._updates_changed.notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            try:
                await self._webhook_task
            except asyncio.CancelledError:
                pass
            self._webhook_task = None
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- feeding updates ------------------------------------------------------------------------

    def send_text(
        self,
        text: str,
        *,
        user_id: int,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Ann",
        username: str | None = None,
        reply_to_message_id: int | None = None,
        language_code: str = "en",
    ) -> int:
        """A user writes text in a chat; returns the update_id. "/cmd ..." is a bot command."""
        if chat_id is None:
            if chat_type != "private":
                raise ValueError("a group message needs a chat_id (negative, like Telegram's)")
            chat_id = user_id
        sender = self._user(user_id, first_name, username, language_code)
        chat = self._remember_chat(chat_id, chat_type, sender)
        message: JSONDict = {
            "message_id": self._next_message_id(chat_id),
            "from": sender,
            "chat": chat,
            "date": _now(),
            "text": text,
        }
        command = _COMMAND_AT_START.match(text)
        if command:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_length(command.group(0))}
            ]
        if reply_to_message_id is not None:
            replied = self._message_json_by_key(chat_id, reply_to_message_id)
            if replied is None:
                raise ValueError(f"chat {chat_id} has no message {reply_to_message_id} to reply to")
            message["reply_to_message"] = replied
        self._user_messages[(chat_id, message["message_id"])] = message
        return self._enqueue("message", message)

    def press_button(
        self,
        message: SentMessage,
        data: str,
        *,
        user_id: int,
        first_name: str = "Ann",
        username: str | None = None,
        language_code: str = "en",
    ) -> str:
        """A user presses an inline button of a message the bot sent; returns the query id."""
        current = self._sent_by_key.get((message.chat_id, message.message_id))
        if current is None:
            raise ValueError(f"the bot sent no message {message.message_id} to {message.chat_id}")
        if data not in current.offered_callback_data:
            offered = sorted(current.offered_callback_data)
            raise ValueError(f"message never offered a button with data {data!r}: {offered}")
        query_id = str(next(self._query_ids))
        self._open_callback_queries.add(query_id)
        self._enqueue(
            "callback_query",
            {
                "id": query_id,
                "from": self._user(user_id, first_name, username, language_code),
                "message": self._message_json(current),
                "chat_instance": str(current.chat_id),
                "data": data,
            },
        )
        return query_id

    def inline_query(
        self, query: str, *, user_id: int, first_name: str = "Ann", language_code: str = "en"
    ) -> str:
        """A user types "@bot query" in any chat; returns the inline query id."""
        query_id = str(next(self._query_ids))
        self._open_inline_queries.add(query_id)
        self._enqueue(
            "inline_query",
            {
                "id": query_id,
                "from": self._user(user_id, first_name, None, language_code),
                "query": query,
                "offset": "",
                "chat_type": "sender",
            },
        )
        return query_id

    # --- what the bot did -----------------------------------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        """Messages the bot created (optionally in one chat), in order, as they are now."""
        return [m for m in self._sent if chat_id is None or m.chat_id == chat_id]

    @property
    def callback_answers(self) -> list[JSONDict]:
        """Parameters of every accepted answerCallbackQuery, in order."""
        return self._accepted_params("answerCallbackQuery")

    @property
    def inline_answers(self) -> list[JSONDict]:
        """Parameters of every accepted answerInlineQuery, in order."""
        return self._accepted_params("answerInlineQuery")

    async def wait_for_message(
        self, predicate: Callable[[SentMessage], bool], timeout: float = 10.0
    ) -> SentMessage:
        """The first sent message (current state) matching predicate, waiting for it if needed."""
        return await self._wait_until(
            lambda: next((m for m in self._sent if predicate(m)), None),
            timeout,
            lambda: f"no sent message matched within {timeout}s; sent: {self._sent!r}",
        )

    async def wait_for_call(
        self, method: str, predicate: Callable[[Call], bool] | None = None, timeout: float = 10.0
    ) -> Call:
        """The first call of method (matching predicate, if given), waiting for it if needed."""

        def find() -> Call | None:
            return next(
                (
                    c
                    for c in self.calls
                    if c.method == method and (predicate is None or predicate(c))
                ),
                None,
            )

        def describe_failure() -> str:
            recent = [(c.method, int(c.status)) for c in self.calls[-20:]]
            return f"no {method} call matched within {timeout}s; last calls: {recent}"

        return await self._wait_until(find, timeout, describe_failure)

    # --- faults and limits ----------------------------------------------------------------------

    def fail_next(self, n: int, status: int = HTTPStatus.BAD_GATEWAY) -> None:
        """The next n send/edit calls answer `status` and change nothing."""
        self._fail_next_left, self._fail_next_status = n, status

    def fail_for(self, seconds: float, status: int = HTTPStatus.BAD_GATEWAY) -> None:
        """Every send/edit call answers `status` for the next `seconds`."""
        self._fail_until, self._fail_for_status = time.monotonic() + seconds, status

    def retry_after(self, seconds: int, n: int = 1) -> None:
        """The next n send/edit calls answer 429 with parameters.retry_after = seconds."""
        self._retry_after_left, self._retry_after_seconds = n, seconds

    def block_chat(self, chat_id: int) -> None:
        """The user blocked the bot (or a group removed it): sends to the chat answer 403."""
        self._blocked_chats.add(chat_id)

    # --- HTTP -----------------------------------------------------------------------------------

    async def _not_found(self, request: Request) -> JSONResponse:
        return JSONResponse(_ApiError(HTTPStatus.NOT_FOUND, "Not Found").body(), HTTPStatus.NOT_FOUND)

    async def _handle(self, request: Request) -> JSONResponse:
        arrived = time.monotonic()
        requested = request.path_params["method"]
        method = self._methods_by_lower_name.get(requested.lower(), requested)
        api_request = await _read_request(request)
        call = Call(
            method,
            api_request.params,
            {name: upload.content for name, upload in api_request.uploads.items()},
            arrived,
        )
        try:
            if request.path_params["token"] != self.token:
                raise _ApiError(HTTPStatus.UNAUTHORIZED, "Unauthorized")
            handler = self._handlers.get(method)
            if handler is None:
                raise _ApiError(HTTPStatus.NOT_FOUND, "Not Found")
            self._inject_faults(method, api_request.params)
            body: JSONDict = {"ok": True, "result": await handler(api_request)}
            call.status = HTTPStatus.OK
        except _ApiError as error:
            body, call.status = error.body(), error.status
        self.calls.append(call)
        self._record_changed.notify()
        return JSONResponse(body, call.status)

    def _inject_faults(self, method: str, params: JSONDict) -> None:
        changes_messages = method in self.MESSAGE_SENDS or method in self.MESSAGE_EDITS
        if not changes_messages and method != "sendChatAction":
            return
        chat_id = params.get("chat_id")
        if chat_id in self._blocked_chats:
            reason = "bot was blocked by the user"
            if isinstance(chat_id, int) and chat_id < 0:
                reason = "bot was kicked from the group chat"
            raise _ApiError(HTTPStatus.FORBIDDEN, f"Forbidden: {reason}")
        if not changes_messages:
            return
        if time.monotonic() < self._fail_until:
            raise _ApiError(self._fail_for_status, HTTPStatus(self._fail_for_status).phrase)
        if self._fail_next_left > 0:
            self._fail_next_left -= 1
            raise _ApiError(self._fail_next_status, HTTPStatus(self._fail_next_status).phrase)
        if self._retry_after_left > 0:
            self._retry_after_left -= 1
            raise _flood_wait(self._retry_after_seconds)

    def _check_flood_limits(self, chat_id: int) -> None:
        """Take a message's place in the flood limits, or answer 429 if it would break them."""
        if not self.enforce_limits:
            return
        chat_bucket = self._chat_buckets.get(chat_id)
        if chat_bucket is None:
            chat_bucket = (
                _TokenBucket(self.GROUP_CHAT_PER_SECOND, self.GROUP_CHAT_BURST)
                if chat_id < 0
                else _TokenBucket(self.PRIVATE_CHAT_PER_SECOND, self.PRIVATE_CHAT_BURST)
            )
            self._chat_buckets[chat_id] = chat_bucket
        now = time.monotonic()
        buckets = (self._overall_bucket, chat_bucket)
        wait = max(bucket.seconds_until_free(now) for bucket in buckets)
        if wait > 0:
            self.limit_violations += 1
            raise _flood_wait(max(1, math.ceil(wait)))
        for bucket in buckets:
            bucket.take()

    # --- updates --------------------------------------------------------------------------------

    def _enqueue(self, kind: str, payload: JSONDict) -> int:
        update_id = next(self._update_ids)
        # Telegram does not keep updates of a type the bot opted out of.
        if self._allowed_updates and kind not in self._allowed_updates:
            return update_id
        self._pending.append({"update_id": update_id, kind: payload})
        self._updates_changed.notify()
        return update_id

    def _remember_allowed_updates(self, params: JSONDict) -> None:
        allowed = params.get("allowed_updates")
        if allowed is not None:
            self._allowed_updates = list(allowed)

    async def _get_updates(self, request: _ApiRequest) -> list[JSONDict]:
        params = request.params
        if self._webhook is not None:
            raise _ApiError(
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
        self._updates_changed.notify()  # an older long poll ends with 409, as on Telegram
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._pending and not self._closing and loop.time() < deadline:
            await self._updates_changed.wait(deadline - loop.time())
            if generation != self._poll_generation:
                raise _ApiError(
                    HTTPStatus.CONFLICT,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
        return self._pending[:limit]

    async def _set_webhook(self, request: _ApiRequest) -> bool:
        params = request.params
        url = params.get("url", "")
        if not url:
            return await self._delete_webhook(request)
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise _bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._remember_allowed_updates(params)
        self._webhook = _Webhook(url, secret)
        self._updates_changed.notify()
        return True

    async def _delete_webhook(self, request: _ApiRequest) -> bool:
        if request.params.get("drop_pending_updates"):
            self._pending.clear()
        self._webhook = None
        self._updates_changed.notify()
        return True

    async def _get_webhook_info(self, request: _ApiRequest) -> JSONDict:
        info: JSONDict = {
            "url": self._webhook.url if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._webhook and self._webhook.last_error_date is not None:
            info["last_error_date"] = self._webhook.last_error_date
            info["last_error_message"] = self._webhook.last_error_message
        if self._allowed_updates is not None:
            info["allowed_updates"] = self._allowed_updates
        return info

    async def _deliver_to_webhook(self, http: httpx.AsyncClient) -> None:
        """POST pending updates to the webhook one at a time, in order, retrying failures."""
        while True:
            webhook = self._webhook
            if webhook is None or not self._pending:
                await self._updates_changed.wait(None)
                continue
            update = self._pending[0]
            if await self._post_update(http, webhook, update):
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
            else:
                await asyncio.sleep(self.WEBHOOK_RETRY_SECONDS)

    @staticmethod
    async def _post_update(http: httpx.AsyncClient, webhook: _Webhook, update: JSONDict) -> bool:
        headers = {}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        try:
            response = await http.post(webhook.url, json=update, headers=headers)
        except httpx.HTTPError as exc:
            webhook.last_error_date = _now()
            webhook.last_error_message = f"Connection failed: {type(exc).__name__}"
            return False
        if response.is_success:
            return True
        webhook.last_error_date = _now()
        webhook.last_error_message = (
            f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}"
        )
        return False

    # --- chats and messages ---------------------------------------------------------------------

    def _user(
        self, user_id: int, first_name: str, username: str | None, language_code: str
    ) -> JSONDict:
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        user["language_code"] = language_code
        return user

    def _bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.BOT_FIRST_NAME,
            "username": self.bot_username,
        }

    def _remember_chat(self, chat_id: int, chat_type: str, sender: JSONDict) -> JSONDict:
        if chat_type == "private":
            chat = {"id": chat_id, "type": "private", "first_name": sender["first_name"]}
            if "username" in sender:
                chat["username"] = sender["username"]
        else:
            chat = {"id": chat_id, "type": chat_type, "title": self.GROUP_TITLE}
        self._chats[chat_id] = chat
        return chat

    def _chat_json(self, chat_id: int) -> JSONDict:
        known = self._chats.get(chat_id)
        if known is not None:
            return known
        # A chat the bot writes to before any update from it: shape it by its id, as Telegram's
        # ids are shaped (users positive, groups negative, supergroups -100...).
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "User"}
        chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": chat_type, "title": self.GROUP_TITLE}

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _message_json_by_key(self, chat_id: int, message_id: int) -> JSONDict | None:
        """A message of either side as it would appear inside reply_to_message (not nested)."""
        sent = self._sent_by_key.get((chat_id, message_id))
        if sent is not None:
            return self._message_json(sent, with_reply=False)
        user_message = self._user_messages.get((chat_id, message_id))
        if user_message is None:
            return None
        return {k: v for k, v in user_message.items() if k != "reply_to_message"}

    def _message_json(self, sent: SentMessage, with_reply: bool = True) -> JSONDict:
        message: JSONDict = {
            "message_id": sent.message_id,
            "from": self._bot_user(),
            "chat": self._chat_json(sent.chat_id),
            "date": sent.date,
        }
        if sent.edit_date is not None:
            message["edit_date"] = sent.edit_date
        if sent.kind == "text":
            message["text"] = sent.text
            if sent.entities:
                message["entities"] = sent.entities
        else:
            if sent.kind == "photo":
                message["photo"] = self._photo_sizes(self._files[sent.file_id or ""])
            else:
                message["document"] = self._document_json(self._files[sent.file_id or ""])
            if sent.text:
                message["caption"] = sent.text
                if sent.entities:
                    message["caption_entities"] = sent.entities
        # Only inline keyboards belong to a message; reply keyboards belong to the chat.
        if sent.reply_markup and "inline_keyboard" in sent.reply_markup:
            message["reply_markup"] = sent.reply_markup
        if with_reply and sent.reply_to_message_id is not None:
            replied = self._message_json_by_key(sent.chat_id, sent.reply_to_message_id)
            if replied is not None:
                message["reply_to_message"] = replied
        return message

    def _photo_sizes(self, stored: _StoredFile) -> list[JSONDict]:
        largest_scale = min(1.0, self.LARGEST_PHOTO_SIDE / max(stored.width, stored.height))
        sizes = [(stored.file_id, largest_scale)]
        if max(stored.width, stored.height) > self.THUMBNAIL_SIDE:
            thumbnail_scale = self.THUMBNAIL_SIDE / max(stored.width, stored.height)
            sizes.insert(0, (self._thumbnail_id(stored), thumbnail_scale))
        return [
            {
                "file_id": file_id,
                "file_unique_id": f"{stored.file_unique_id}{index}",
                "width": max(1, round(stored.width * scale)),
                "height": max(1, round(stored.height * scale)),
                "file_size": len(stored.content),
            }
            for index, (file_id, scale) in enumerate(sizes)
        ]

    @staticmethod
    def _thumbnail_id(stored: _StoredFile) -> str:
        return f"{stored.file_id}-thumb"

    def _document_json(self, stored: _StoredFile) -> JSONDict:
        document: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        return document

    # --- validation helpers ---------------------------------------------------------------------

    @staticmethod
    def _chat_id(params: JSONDict) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if not isinstance(chat_id, int):
            raise _bad_request("chat not found")
        return chat_id

    @staticmethod
    def _formatted(
        params: JSONDict, text_name: str, entities_name: str, limit: int, required: bool
    ) -> tuple[str | None, list[JSONDict]]:
        """Text or caption as the user will see it, after parse_mode or explicit entities."""
        raw = params.get(text_name)
        if raw is None or raw == "":
            if required:
                raise _bad_request("message text is empty")
            return None, []
        explicit_entities = params.get(entities_name)
        if explicit_entities is not None:
            text, entities = raw, list(explicit_entities)
        else:
            try:
                text, entities = parse_text(raw, params.get("parse_mode"))
            except MarkupError as error:
                raise _bad_request(str(error)) from None
        if required and not text.strip():
            raise _bad_request("message text is empty")
        if utf16_length(text) > limit:
            raise _bad_request("message is too long" if required else "message caption is too long")
        return text, entities

    def _reply_markup(self, params: JSONDict, inline_only: bool) -> JSONDict | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if inline_only:
                raise _bad_request("inline keyboard expected")
            return markup
        for row in markup["inline_keyboard"]:
            for button in row:
                if len(_BUTTON_ACTIONS.intersection(button)) != 1:
                    raise _bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= self.MAX_CALLBACK_DATA_BYTES:
                    raise _bad_request("BUTTON_DATA_INVALID")
        # An empty inline keyboard is no keyboard at all.
        if not any(markup["inline_keyboard"]):
            return None
        return markup

    def _reply_target(self, params: JSONDict, chat_id: int) -> int | None:
        reply = params.get("reply_parameters") or {}
        message_id = reply.get("message_id", params.get("reply_to_message_id"))
        if message_id is None:
            return None
        target_chat = reply.get("chat_id", chat_id)
        if self._message_json_by_key(target_chat, message_id) is None:
            allowed = reply.get(
                "allow_sending_without_reply", params.get("allow_sending_without_reply", False)
            )
            if allowed:
                return None
            raise _bad_request("message to be replied not found")
        return message_id

    def _resolve_file(self, reference: Any, uploads: dict[str, _Upload], name: str, kind: str) -> _StoredFile:
        """The file a send refers to: an uploaded part (plain or attach://) or a known file_id."""
        if reference is None:
            upload = uploads.get(name)
        elif isinstance(reference, str) and reference.startswith("attach://"):
            upload = uploads.get(reference.removeprefix("attach://"))
        else:
            stored = self._files.get(str(reference))
            if stored is None:
                raise _bad_request("wrong file identifier/HTTP URL specified")
            return stored
        if upload is None:
            raise _bad_request(f"there is no {name} in the request")
        return self._store_upload(upload, kind)

    def _store_upload(self, upload: _Upload, kind: str) -> _StoredFile:
        number = next(self._file_ids)
        prefix = "AgAC" if kind == "photo" else "BQAC"
        stored = _StoredFile(
            file_id=f"{prefix}{number:010d}",
            file_unique_id=f"AQAD{number:08d}",
            content=upload.content,
            file_name=upload.filename,
            mime_type=upload.content_type,
        )
        if kind == "photo":
            try:
                with Image.open(io.BytesIO(upload.content)) as image:
                    stored.width, stored.height = image.size
            except (UnidentifiedImageError, OSError):
                raise _bad_request("IMAGE_PROCESS_FAILED") from None
            # Every size Telegram lists can be sent again by its file_id.
            self._files[self._thumbnail_id(stored)] = stored
        self._files[stored.file_id] = stored
        return stored

    # --- sending --------------------------------------------------------------------------------

    async def _send_message(self, request: _ApiRequest) -> JSONDict:
        params = request.params
        chat_id = self._chat_id(params)
        text, entities = self._formatted(params, "text", "entities", self.MAX_TEXT_LENGTH, True)
        return self._create_message(params, chat_id, "text", text, entities, None)

    async def _send_photo(self, request: _ApiRequest) -> JSONDict:
        return await self._send_media(request, "photo")

    async def _send_document(self, request: _ApiRequest) -> JSONDict:
        return await self._send_media(request, "document")

    async def _send_media(self, request: _ApiRequest, kind: str) -> JSONDict:
        params = request.params
        chat_id = self._chat_id(params)
        caption, entities = self._formatted(
            params, "caption", "caption_entities", self.MAX_CAPTION_LENGTH, False
        )
        stored = self._resolve_file(params.get(kind), request.uploads, kind, kind)
        return self._create_message(params, chat_id, kind, caption, entities, stored)

    def _create_message(
        self,
        params: JSONDict,
        chat_id: int,
        kind: str,
        text: str | None,
        entities: list[JSONDict],
        stored: _StoredFile | None,
    ) -> JSONDict:
        reply_markup = self._reply_markup(params, inline_only=False)
        reply_to = self._reply_target(params, chat_id)
        # Last, so a message Telegram refuses for its content uses no place in the limits.
        self._check_flood_limits(chat_id)
        sent = SentMessage(
            message_id=self._next_message_id(chat_id),
            chat_id=chat_id,
            kind=kind,
            text=text,
            entities=entities,
            parse_mode=params.get("parse_mode"),
            reply_markup=reply_markup,
            reply_to_message_id=reply_to,
            date=_now(),
        )
        self._set_file(sent, stored)
        self._offer_buttons(sent)
        self._sent.append(sent)
        self._sent_by_key[(chat_id, sent.message_id)] = sent
        self._record_changed.notify()
        return self._message_json(sent)

    @staticmethod
    def _set_file(sent: SentMessage, stored: _StoredFile | None) -> None:
        sent.file_id = stored.file_id if stored else None
        sent.file_name = stored.file_name if stored else None
        sent.photo = stored.content if stored and sent.kind == "photo" else None
        sent.document = stored.content if stored and sent.kind == "document" else None

    @staticmethod
    def _offer_buttons(sent: SentMessage) -> None:
        sent.offered_callback_data.update(
            button["callback_data"] for button in sent.buttons if "callback_data" in button
        )

    # --- editing --------------------------------------------------------------------------------

    def _message_to_edit(self, params: JSONDict) -> SentMessage:
        if "inline_message_id" in params:
            raise _bad_request("message to edit not found")
        key = (self._chat_id(params), params.get("message_id"))
        sent = self._sent_by_key.get(key)  # type: ignore[arg-type]
        if sent is None:
            if key in self._user_messages:
                raise _bad_request("message can't be edited")
            raise _bad_request("message to edit not found")
        return sent

    def _apply_edit(
        self, sent: SentMessage, method: str, params: JSONDict, **changes: Any
    ) -> JSONDict:
        if all(getattr(sent, name) == value for name, value in changes.items()):
            raise _bad_request(self.NOT_MODIFIED)
        for name, value in changes.items():
            setattr(sent, name, value)
        sent.edit_date = _now()
        sent.edits.append((method, params))
        self._offer_buttons(sent)
        self._record_changed.notify()
        return self._message_json(sent)

    async def _edit_message_text(self, request: _ApiRequest) -> JSONDict:
        params = request.params
        sent = self._message_to_edit(params)
        if sent.kind != "text":
            raise _bad_request("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", "entities", self.MAX_TEXT_LENGTH, True)
        # Like Telegram, an edit without reply_markup removes the inline keyboard.
        return self._apply_edit(
            sent,
            "editMessageText",
            params,
            text=text,
            entities=entities,
            reply_markup=self._reply_markup(params, inline_only=True),
        )

    async def _edit_message_caption(self, request: _ApiRequest) -> JSONDict:
        params = request.params
        sent = self._message_to_edit(params)
        if sent.kind == "text":
            raise _bad_request("there is no caption in the message to edit")
        caption, entities = self._formatted(
            params, "caption", "caption_entities", self.MAX_CAPTION_LENGTH, False
        )
        return self._apply_edit(
            sent,
            "editMessageCaption",
            params,
            text=caption,
            entities=entities,
            reply_markup=self._reply_markup(params, inline_only=True),
        )

    async def _edit_message_media(self, request: _ApiRequest) -> JSONDict:
        params = request.params
        sent = self._message_to_edit(params)
        if sent.kind == "text":
            raise _bad_request("there is no media in the message to edit")
        media = params.get("media")
        if not isinstance(media, dict) or media.get("type") not in ("photo", "document"):
            raise _bad_request("can't parse InputMedia: media type photo or document expected")
        kind = media["type"]
        stored = self._resolve_file(media.get("media"), request.uploads, "media", kind)
        caption, entities = self._formatted(
            media, "caption", "caption_entities", self.MAX_CAPTION_LENGTH, False
        )
        return self._apply_edit(
            sent,
            "editMessageMedia",
            params,
            kind=kind,
            file_id=stored.file_id,
            file_name=stored.file_name,
            photo=stored.content if kind == "photo" else None,
            document=stored.content if kind == "document" else None,
            text=caption,
            entities=entities,
            reply_markup=self._reply_markup(params, inline_only=True),
        )

    async def _edit_message_reply_markup(self, request: _ApiRequest) -> JSONDict:
        params = request.params
        sent = self._message_to_edit(params)
        return self._apply_edit(
            sent,
            "editMessageReplyMarkup",
            params,
            reply_markup=self._reply_markup(params, inline_only=True),
        )

    # --- everything else ------------------------------------------------------------------------

    async def _get_me(self, request: _ApiRequest) -> JSONDict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _answer_callback_query(self, request: _ApiRequest) -> bool:
        self._close_query(self._open_callback_queries, request.params.get("callback_query_id"))
        return True

    async def _answer_inline_query(self, request: _ApiRequest) -> bool:
        self._close_query(self._open_inline_queries, request.params.get("inline_query_id"))
        if not isinstance(request.params.get("results"), list):
            raise _bad_request("can't parse inline query results JSON object")
        return True

    @staticmethod
    def _close_query(open_queries: set[str], query_id: Any) -> None:
        # A query can be answered once; Telegram refuses unknown and repeated answers alike.
        if query_id not in open_queries:
            raise _bad_request("query is too old and response timeout expired or query ID is invalid")
        open_queries.discard(query_id)

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.get("language_code") or ""

    async def _set_my_commands(self, request: _ApiRequest) -> bool:
        commands = request.params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            if not _BOT_COMMAND.fullmatch(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not command.get("description"):
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(request.params)] = commands
        return True

    async def _get_my_commands(self, request: _ApiRequest) -> list[JSONDict]:
        return self._commands.get(self._commands_key(request.params), [])

    async def _delete_my_commands(self, request: _ApiRequest) -> bool:
        self._commands.pop(self._commands_key(request.params), None)
        return True

    async def _send_chat_action(self, request: _ApiRequest) -> bool:
        self._chat_id(request.params)
        if request.params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    async def _return_true(self, request: _ApiRequest) -> bool:
        return True

    # --- helpers --------------------------------------------------------------------------------

    def _accepted_params(self, method: str) -> list[JSONDict]:
        return [c.params for c in self.calls if c.method == method and c.status == HTTPStatus.OK]

    async def _wait_until(
        self,
        find: Callable[[], _Found | None],
        timeout: float,
        describe_failure: Callable[[], str],
    ) -> _Found:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (found := find()) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(describe_failure())
            await self._record_changed.wait(remaining)
        return found
