"""A fake Telegram Bot API server on loopback, for integration and end-to-end tests.

It answers python-telegram-bot the way Telegram does (see telegram_protocol), records what the
bot does (every call, the messages it sent and their edits), feeds it updates by long polling
or webhook (telegram_updates), and produces Telegram's failures on demand (telegram_faults).
The parts:

    FakeTelegram        this module: HTTP server, method dispatch, the test-facing API
    ├── UpdateQueue     telegram_updates: getUpdates, setWebhook, webhook delivery
    ├── MessageStore    telegram_messages: chats, files, send* and editMessage*
    │   └── parse_text  telegram_markup: HTML / MarkdownV2 / Markdown to text + entities
    ├── FaultInjector   telegram_faults: 5xx, 429, 403, flood limits
    └── AnswerHold      this module: a call takes effect at once, its answer waits (a slow Bot API)

Typical use::

    async with FakeTelegram() as fake:
        app = Application.builder().token(fake.token).base_url(fake.base_url).build()
        ...
        fake.send_text("/start", user_id=7)
        reply = await fake.wait_for_message(lambda m: m.chat_id == 7)
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer
from tests.fakes.telegram_faults import FaultInjector
from tests.fakes.telegram_markup import utf16_length
from tests.fakes.telegram_messages import MessageStore, SentMessage
from tests.fakes.telegram_protocol import (
    PROXY_PAGE,
    ApiError,
    ApiRequest,
    GarbledAnswer,
    JSONDict,
    bad_request,
    read_request,
)
from tests.fakes.telegram_updates import Signal, UpdateQueue

__all__ = ["AnswerHold", "Call", "FakeTelegram", "SentMessage"]

_Found = TypeVar("_Found")
_COMMAND_AT_START = re.compile(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]+)?")
_BOT_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


@dataclass
class Call:
    """One Bot API request as the fake decoded it; `at` is time.monotonic() on arrival."""

    method: str
    params: JSONDict
    files: dict[str, bytes]
    at: float
    status: int = HTTPStatus.OK
    garbled: bool = False  # answered with something that is not the Bot API's JSON


class AnswerHold:
    """Answers kept back: matching calls take effect (a sent message can be seen and pressed) but the bot
    hears nothing until release(), as when Telegram's answer is slow. Use with ``with``: leaving releases."""

    def __init__(self, predicate: Callable[[Call], bool], holds: list[AnswerHold]) -> None:
        self._predicate = predicate
        self._holds = holds
        self._released = asyncio.Event()
        self._arrived = Signal()
        self.held: list[Call] = []  # the calls whose answers were kept back, in order

    def __enter__(self) -> AnswerHold:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        """Answer every call held so far, and hold no more."""
        self._released.set()
        if self in self._holds:
            self._holds.remove(self)

    async def wait_held(self, timeout: float = 10.0) -> Call:
        """The first call held, waiting for it if needed."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.held:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no call was held within {timeout}s")
            await self._arrived.wait(remaining)
        return self.held[0]

    async def keep(self, call: Call) -> None:
        """Hold this call's answer if it matches, until release()."""
        if self._released.is_set() or not self._predicate(call):
            return
        self.held.append(call)
        self._arrived.notify()
        await self._released.wait()


class FakeTelegram:
    """A Bot API server on loopback that records what the bot sends and feeds it updates."""

    BOT_FIRST_NAME = "Paylink Test Bot"
    # Nobody sees a query older than this, so its id reads like Telegram's large ones.
    FIRST_QUERY_ID = 4_000_000_001

    def __init__(self, token: str = "123456:TEST-token", bot_username: str = "paylink_test_bot"):
        self.token = token
        self.bot_username = bot_username
        self.bot_id = int(token.split(":", 1)[0])
        self.calls: list[Call] = []
        self._server: LoopbackServer | None = None
        self._recorded = Signal()  # a call was recorded
        self._faults = FaultInjector()
        self._holds: list[AnswerHold] = []
        self._updates = UpdateQueue()
        self._messages = MessageStore(self._bot_user(), self._faults.take_send_slot, self._faults.take_edit_slot)
        self._query_ids = itertools.count(self.FIRST_QUERY_ID)
        self._open_callback_queries: set[str] = set()
        self._open_inline_queries: set[str] = set()
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._handlers: dict[str, Callable[[ApiRequest], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._updates.get_updates,
            "setWebhook": self._updates.set_webhook,
            "deleteWebhook": self._updates.delete_webhook,
            "getWebhookInfo": self._updates.get_webhook_info,
            "sendMessage": self._messages.send_message,
            "sendPhoto": self._messages.send_photo,
            "sendDocument": self._messages.send_document,
            "editMessageText": self._messages.edit_message_text,
            "editMessageCaption": self._messages.edit_message_caption,
            "editMessageMedia": self._messages.edit_message_media,
            "editMessageReplyMarkup": self._messages.edit_message_reply_markup,
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
        server = LoopbackServer(app)
        await server.start()
        self._server = server
        await self._updates.start()

    async def stop(self) -> None:
        """Stop serving; long polls in progress return at once."""
        await self._updates.stop()
        if self._server is not None:
            await self._server.stop()
            self._server = None

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
        command = _COMMAND_AT_START.match(text)
        entities = []
        if command:
            length = utf16_length(command.group(0))
            entities.append({"type": "bot_command", "offset": 0, "length": length})
        message = self._messages.add_user_message(
            chat_id,
            chat_type,
            self._user(user_id, first_name, username, language_code),
            text,
            entities,
            reply_to_message_id,
        )
        return self._updates.push("message", message)

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
        current = self._sent_message(message)
        if data not in current.offered_callback_data:
            offered = sorted(current.offered_callback_data)
            raise ValueError(f"message never offered a button with data {data!r}: {offered}")
        return self._push_callback_query(current, data, self._user(user_id, first_name, username, language_code))

    def press_forged(
        self,
        message: SentMessage,
        data: str,
        *,
        user_id: int,
        first_name: str = "Ann",
        language_code: str = "en",
    ) -> str:
        """A modified client presses "a button" of a message the bot sent with any data it likes; returns the query id.

        Telegram passes such data on as it came, so a bot must check every press itself.
        """
        return self._push_callback_query(
            self._sent_message(message), data, self._user(user_id, first_name, None, language_code)
        )

    def _sent_message(self, message: SentMessage) -> SentMessage:
        current = self._messages.find_sent(message.chat_id, message.message_id)
        if current is None:
            raise ValueError(f"the bot sent no message {message.message_id} to {message.chat_id}")
        return current

    def _push_callback_query(self, current: SentMessage, data: str, user: JSONDict) -> str:
        query_id = str(next(self._query_ids))
        self._open_callback_queries.add(query_id)
        self._updates.push(
            "callback_query",
            {
                "id": query_id,
                "from": user,
                "message": self._messages.message_json(current),
                "chat_instance": str(current.chat_id),
                "data": data,
            },
        )
        return query_id

    def upgrade_group(self, old_chat_id: int, new_chat_id: int) -> None:
        """The group becomes a supergroup with a new id (an admin turned on topics, or history for new members).

        From now on the Bot API answers a send (or chat action) to the old id with 400 "group chat was
        upgraded to a supergroup chat" and ``parameters.migrate_to_chat_id``; the messages already in
        the old group can still be edited there, under the old id, as Telegram's Bot API allows. The
        supergroup's message ids start afresh. :meth:`announce_upgrade` delivers the service messages.
        """
        self._faults.upgrade_chat(old_chat_id, new_chat_id)

    def announce_upgrade(
        self,
        old_chat_id: int,
        new_chat_id: int,
        *,
        user_id: int,
        first_name: str = "Ann",
        language_code: str = "en",
        order: tuple[str, ...] = ("to", "from"),
    ) -> list[int]:
        """Deliver Telegram's service messages of an upgrade, in this order; returns their update ids.

        "to": ``migrate_to_chat_id`` in the old group; "from": ``migrate_from_chat_id`` in the supergroup.
        """
        user = self._user(user_id, first_name, None, language_code)
        updates = []
        for which in order:
            if which == "to":
                fields, chat_id, chat_type = {"migrate_to_chat_id": new_chat_id}, old_chat_id, "group"
            elif which == "from":
                fields, chat_id, chat_type = {"migrate_from_chat_id": old_chat_id}, new_chat_id, "supergroup"
            else:
                raise ValueError(f"an upgrade announces 'to' and 'from', not {which!r}")
            message = self._messages.add_service_message(chat_id, chat_type, user, fields)
            updates.append(self._updates.push("message", message))
        return updates

    def redeliver(self, update_id: int) -> None:
        """Deliver an update once more with the same update_id (a webhook retry after a timeout)."""
        self._updates.redeliver(update_id)

    def inline_query(self, query: str, *, user_id: int, first_name: str = "Ann", language_code: str = "en") -> str:
        """A user types "@bot query" in a chat; returns the inline query id."""
        query_id = str(next(self._query_ids))
        self._open_inline_queries.add(query_id)
        self._updates.push(
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

    @property
    def last_update_id(self) -> int:
        """The update_id of the latest update queued (0 before the first)."""
        return self._updates.last_update_id

    # --- what the bot did -----------------------------------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        """Messages the bot created (optionally in one chat), in order, as they are now."""
        return [m for m in self._messages.sent if chat_id is None or m.chat_id == chat_id]

    @property
    def callback_answers(self) -> list[JSONDict]:
        """Parameters of every accepted answerCallbackQuery, in order."""
        return self._accepted_params("answerCallbackQuery")

    @property
    def inline_answers(self) -> list[JSONDict]:
        """Parameters of every accepted answerInlineQuery, in order."""
        return self._accepted_params("answerInlineQuery")

    async def wait_for_message(self, predicate: Callable[[SentMessage], bool], timeout: float = 10.0) -> SentMessage:
        """The first sent message (current state) matching predicate, waiting for it if needed."""
        return await self._wait_until(
            lambda: next((m for m in self._messages.sent if predicate(m)), None),
            timeout,
            lambda: f"no sent message matched within {timeout}s; sent: {self._messages.sent!r}",
        )

    async def wait_for_call(
        self, method: str, predicate: Callable[[Call], bool] | None = None, timeout: float = 10.0
    ) -> Call:
        """The first call of method (matching predicate, if given), waiting for it if needed."""

        def find() -> Call | None:
            return next(
                (c for c in self.calls if c.method == method and (predicate is None or predicate(c))),
                None,
            )

        def describe_failure() -> str:
            recent = [(c.method, int(c.status)) for c in self.calls[-20:]]
            return f"no {method} call matched within {timeout}s; last calls: {recent}"

        return await self._wait_until(find, timeout, describe_failure)

    # --- faults and limits ----------------------------------------------------------------------

    def fail_next(self, n: int, status: int = HTTPStatus.BAD_GATEWAY) -> None:
        """The next n send/edit calls answer `status` and change nothing."""
        self._faults.fail_next(n, status)

    def fail_for(self, seconds: float, status: int = HTTPStatus.BAD_GATEWAY) -> None:
        """Every send/edit call answers `status` for the next `seconds`."""
        self._faults.fail_for(seconds, status)

    def retry_after(self, seconds: int, n: int = 1) -> None:
        """The next n send/edit calls answer 429 with parameters.retry_after = seconds."""
        self._faults.retry_after(seconds, n)

    def block_chat(self, chat_id: int) -> None:
        """The user blocked the bot (or a group removed it): writes to the chat answer 403."""
        self._faults.block_chat(chat_id)

    def garble_chat(
        self, chat_id: int, body: bytes = PROXY_PAGE, content_type: str = "text/html; charset=utf-8"
    ) -> None:
        """Sends and edits in this chat answer 200 with ``body`` (by default a proxy's HTML page) and change nothing."""
        self._faults.garble_chat(chat_id, body, content_type)

    def hold_answers(self, predicate: Callable[[Call], bool]) -> AnswerHold:
        """Keep back the answers to calls matching predicate (they still take effect) until the hold is released."""
        hold = AnswerHold(predicate, self._holds)
        self._holds.append(hold)
        return hold

    @property
    def enforce_limits(self) -> bool:
        """When True, message sends that break Telegram's flood limits answer 429."""
        return self._faults.enforce_limits

    @enforce_limits.setter
    def enforce_limits(self, value: bool) -> None:
        self._faults.enforce_limits = value

    @property
    def limit_edits(self) -> bool:
        """When True (with enforce_limits), edits count against the flood limits like sends."""
        return self._faults.limit_edits

    @limit_edits.setter
    def limit_edits(self, value: bool) -> None:
        self._faults.limit_edits = value

    @property
    def limit_violations(self) -> int:
        """How many sends were refused for breaking the flood limits."""
        return self._faults.limit_violations

    # --- HTTP -----------------------------------------------------------------------------------

    async def _not_found(self, request: Request) -> JSONResponse:
        error = ApiError(HTTPStatus.NOT_FOUND, "Not Found")
        return JSONResponse(error.body(), error.status)

    async def _handle(self, request: Request) -> Response:
        arrived = time.monotonic()
        requested = request.path_params["method"]
        method = self._methods_by_lower_name.get(requested.lower(), requested)
        api_request = await read_request(request)
        call = Call(
            method,
            api_request.params,
            {name: upload.content for name, upload in api_request.uploads.items()},
            arrived,
        )
        try:
            if request.path_params["token"] != self.token:
                raise ApiError(HTTPStatus.UNAUTHORIZED, "Unauthorized")
            handler = self._handlers.get(method)
            if handler is None:
                raise ApiError(HTTPStatus.NOT_FOUND, "Not Found")
            self._faults.check_call(method, api_request.params)
            body: JSONDict = {"ok": True, "result": await handler(api_request)}
        except ApiError as error:
            body, call.status = error.body(), error.status
        except GarbledAnswer as garbled:
            call.garbled = True
            self.calls.append(call)
            self._recorded.notify()
            return Response(garbled.body, HTTPStatus.OK, media_type=garbled.content_type)
        for hold in list(self._holds):
            await hold.keep(call)
        self.calls.append(call)
        self._recorded.notify()
        return JSONResponse(body, call.status)

    # --- methods without a module of their own --------------------------------------------------

    def _bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.BOT_FIRST_NAME,
            "username": self.bot_username,
        }

    @staticmethod
    def _user(user_id: int, first_name: str, username: str | None, language_code: str) -> JSONDict:
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        user["language_code"] = language_code
        return user

    async def _get_me(self, request: ApiRequest) -> JSONDict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _answer_callback_query(self, request: ApiRequest) -> bool:
        self._close_query(self._open_callback_queries, request.params.get("callback_query_id"))
        return True

    async def _answer_inline_query(self, request: ApiRequest) -> bool:
        if not isinstance(request.params.get("results"), list):
            raise bad_request("can't parse inline query results JSON object")
        self._close_query(self._open_inline_queries, request.params.get("inline_query_id"))
        return True

    @staticmethod
    def _close_query(open_queries: set[str], query_id: Any) -> None:
        # A query can be answered once; Telegram refuses unknown and repeated answers alike.
        if query_id not in open_queries:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        open_queries.discard(query_id)

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return repr(sorted(scope.items())), params.get("language_code") or ""

    async def _set_my_commands(self, request: ApiRequest) -> bool:
        commands = request.params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        language = request.params.get("language_code")
        if language and not re.fullmatch(r"[a-z]{2}", str(language)):
            raise bad_request("LANG_CODE_INVALID")
        for command in commands:
            if not _BOT_COMMAND.fullmatch(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description") or "")) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(request.params)] = commands
        return True

    def menu_seen_by(self, user_id: int, *, chat_id: int | None = None, language_code: str = "en") -> list[str]:
        """The commands a person sees under "/" in a chat (their private chat by default), as Telegram picks them.

        Telegram takes the first menu set, most specific first: this chat member, this chat, all
        group chats or all private chats, then the default; at each scope the person's app
        language before the menu set with no language.
        """
        chat = user_id if chat_id is None else chat_id
        kind = "all_private_chats" if chat_id is None or chat_id > 0 else "all_group_chats"
        scopes: list[JSONDict] = [{"type": "chat", "chat_id": chat}, {"type": kind}, {"type": "default"}]
        if chat_id is not None and chat_id < 0:
            scopes.insert(0, {"type": "chat_member", "chat_id": chat, "user_id": user_id})
        for scope in scopes:
            for language in (language_code, ""):
                commands = self._commands.get(self._commands_key({"scope": scope, "language_code": language}))
                if commands is not None:
                    return [str(command["command"]) for command in commands]
        return []

    async def _get_my_commands(self, request: ApiRequest) -> list[JSONDict]:
        return self._commands.get(self._commands_key(request.params), [])

    async def _delete_my_commands(self, request: ApiRequest) -> bool:
        self._commands.pop(self._commands_key(request.params), None)
        return True

    async def _send_chat_action(self, request: ApiRequest) -> bool:
        if not isinstance(request.params.get("chat_id"), int):
            raise bad_request("chat not found")
        if request.params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _return_true(self, request: ApiRequest) -> bool:
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
            await self._recorded.wait(remaining)
        return found
