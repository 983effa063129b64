"""The Bot API wire format as python-telegram-bot speaks it: decoding requests, error answers.

PTB posts ``{base_url}{token}/{method}`` with a form-encoded body (multipart when it uploads
files). Strings travel as they are; numbers, booleans and nested objects travel as JSON text.
Errors are answered with the HTTP status equal to ``error_code``:
``{"ok": false, "error_code": 400, "description": "Bad Request: ...", "parameters": {...}}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

JSONDict = dict[str, Any]

# Parameters whose form value is a plain string even when it looks like JSON ("123", "true").
_STRING_PARAMS = frozenset(
    {
        "action",
        "animation",
        "audio",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "description",
        "document",
        "inline_message_id",
        "inline_query_id",
        "ip_address",
        "language_code",
        "message_effect_id",
        "next_offset",
        "parse_mode",
        "photo",
        "query",
        "secret_token",
        "short_description",
        "text",
        "thumbnail",
        "url",
        "video",
        "voice",
    }
)


class ApiError(Exception):
    """A Bot API error answer: HTTP status = error_code, and optional parameters (retry_after, migrate_to_chat_id)."""

    def __init__(
        self, status: int, description: str, retry_after: int | None = None, migrate_to_chat_id: int | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def body(self) -> JSONDict:
        """The JSON body Telegram sends with this error (ResponseParameters as ``parameters``)."""
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        parameters = {"retry_after": self.retry_after, "migrate_to_chat_id": self.migrate_to_chat_id}
        if any(value is not None for value in parameters.values()):
            body["parameters"] = {name: value for name, value in parameters.items() if value is not None}
        return body


class GarbledAnswer(Exception):
    """Not Telegram's answer at all: a 200 whose body the client cannot read as the Bot API's JSON."""

    def __init__(self, body: bytes, content_type: str) -> None:
        super().__init__("garbled answer")
        self.body = body
        self.content_type = content_type


# What a proxy or captive portal between the bot and api.telegram.org serves instead of the API's
# answer: its own page, with a 200. Python-telegram-bot cannot parse it ("Invalid server response").
PROXY_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Access Gateway</title></head>\n"
    b"<body><h1>Please sign in to continue</h1><p>Your session has expired.</p></body></html>\n"
)


def bad_request(reason: str) -> ApiError:
    """A 400 answer; PTB raises telegram.error.BadRequest with the reason capitalised."""
    return ApiError(HTTPStatus.BAD_REQUEST, f"Bad Request: {reason}")


def upgraded_to_supergroup(new_chat_id: int) -> ApiError:
    """The 400 the Bot API answers a write to a group that became a supergroup; PTB raises ChatMigrated(new_chat_id)."""
    return ApiError(
        HTTPStatus.BAD_REQUEST,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=new_chat_id,
    )


def flood_wait(seconds: int) -> ApiError:
    """A 429 answer; PTB raises telegram.error.RetryAfter(seconds)."""
    return ApiError(HTTPStatus.TOO_MANY_REQUESTS, f"Too Many Requests: retry after {seconds}", seconds)


def status_error(status: int) -> ApiError:
    """An answer with a bare HTTP status, as a failing Telegram front end gives (502, 500...)."""
    return ApiError(status, HTTPStatus(status).phrase)


@dataclass
class Upload:
    """A file part of a multipart request."""

    content: bytes
    filename: str | None
    content_type: str | None


@dataclass
class ApiRequest:
    """A decoded Bot API request: parameters and uploaded file parts by part name."""

    params: JSONDict
    uploads: dict[str, Upload]


def decode_form_value(name: str, raw: str) -> Any:
    """A form value as the JSON value PTB encoded, or the plain string it sent."""
    if name in _STRING_PARAMS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


async def read_request(request: Request) -> ApiRequest:
    """Decode query string and body (form, multipart or JSON) into an ApiRequest."""
    params: JSONDict = {name: decode_form_value(name, value) for name, value in request.query_params.items()}
    uploads: dict[str, Upload] = {}
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if body:
            params.update(json.loads(body))
    elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        async with request.form() as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    uploads[name] = Upload(await value.read(), value.filename, value.content_type)
                else:
                    params[name] = decode_form_value(name, value)
    return ApiRequest(params, uploads)
