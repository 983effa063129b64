"""Chats, messages and files as Telegram keeps them, and the methods that send and edit messages.

Telegram's refusals are reproduced where a bot can trip over them: markup it cannot parse,
empty or too long texts, bad inline keyboards, replies to missing messages, edits of unknown
messages, and edits that change nothing ("message is not modified").
"""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

from tests.fakes.telegram_markup import MarkupError, parse_text, utf16_length
from tests.fakes.telegram_protocol import ApiRequest, JSONDict, Upload, bad_request

_BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)


def _now() -> int:
    return int(time.time())


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

    def button_data(self, action: str) -> str:
        """The callback data of the button shown for ``action``: data that is ``action`` or starts with ``action:``."""
        for button in self.buttons:
            data = str(button.get("callback_data", ""))
            if data == action or data.startswith(f"{action}:"):
                return data
        raise ValueError(f"message {self.message_id} shows no {action!r} button: {self.buttons}")


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


class MessageStore:
    """The chats the fake knows, the messages in them and the files the bot uploaded."""

    GROUP_TITLE = "Test group"
    MAX_TEXT_LENGTH = 4096
    MAX_CAPTION_LENGTH = 1024
    MAX_CALLBACK_DATA_BYTES = 64
    THUMBNAIL_SIDE = 90
    LARGEST_PHOTO_SIDE = 1280
    NOT_MODIFIED = (
        "message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )

    def __init__(
        self,
        bot_user: JSONDict,
        take_send_slot: Callable[[int], None],
        take_edit_slot: Callable[[int], None] = lambda chat_id: None,
    ) -> None:
        """`take_send_slot(chat_id)` is called before a message is created, `take_edit_slot` before one
        is changed; either may refuse it."""
        self._bot_user = bot_user
        self._take_send_slot = take_send_slot
        self._take_edit_slot = take_edit_slot
        self.sent: list[SentMessage] = []
        self._sent_by_key: dict[tuple[int, int], SentMessage] = {}
        self._user_messages: dict[tuple[int, int], JSONDict] = {}
        self._chats: dict[int, JSONDict] = {}
        self._last_message_id: dict[int, int] = {}
        self._files: dict[str, _StoredFile] = {}
        self._file_numbers = itertools.count(1)

    # --- what users do --------------------------------------------------------------------------

    def add_user_message(
        self,
        chat_id: int,
        chat_type: str,
        sender: JSONDict,
        text: str,
        entities: list[JSONDict],
        reply_to_message_id: int | None,
    ) -> JSONDict:
        """Store a message a user wrote and return it as it appears in an update."""
        message: JSONDict = {
            "message_id": self._next_message_id(chat_id),
            "from": sender,
            "chat": self._remember_chat(chat_id, chat_type, sender),
            "date": _now(),
            "text": text,
        }
        if entities:
            message["entities"] = entities
        if reply_to_message_id is not None:
            replied = self.message_json_by_key(chat_id, reply_to_message_id)
            if replied is None:
                raise ValueError(f"chat {chat_id} has no message {reply_to_message_id} to reply to")
            message["reply_to_message"] = replied
        self._user_messages[(chat_id, message["message_id"])] = message
        return message

    def add_service_message(self, chat_id: int, chat_type: str, sender: JSONDict, fields: JSONDict) -> JSONDict:
        """Store a service message (a chat event, such as ``migrate_to_chat_id``) and return it as in an update."""
        message: JSONDict = {
            "message_id": self._next_message_id(chat_id),
            "from": sender,
            "chat": self._remember_chat(chat_id, chat_type, sender),
            "date": _now(),
            **fields,
        }
        self._user_messages[(chat_id, message["message_id"])] = message
        return message

    def find_sent(self, chat_id: int, message_id: int) -> SentMessage | None:
        """The bot's message with that id in that chat, if it sent one."""
        return self._sent_by_key.get((chat_id, message_id))

    # --- sending --------------------------------------------------------------------------------

    async def send_message(self, request: ApiRequest) -> JSONDict:
        """sendMessage."""
        params = request.params
        chat_id = self._chat_id(params)
        text, entities = self._formatted(params, "text", "entities", self.MAX_TEXT_LENGTH, True)
        return self._create_message(params, chat_id, "text", text, entities, None)

    async def send_photo(self, request: ApiRequest) -> JSONDict:
        """sendPhoto: an uploaded image (kept, with its size) or a known file_id."""
        return self._send_media(request, "photo")

    async def send_document(self, request: ApiRequest) -> JSONDict:
        """sendDocument: an uploaded file or a known file_id."""
        return self._send_media(request, "document")

    def _send_media(self, request: ApiRequest, kind: str) -> JSONDict:
        params = request.params
        chat_id = self._chat_id(params)
        caption, entities = self._formatted(params, "caption", "caption_entities", self.MAX_CAPTION_LENGTH, False)
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
        self._take_send_slot(chat_id)
        sent = SentMessage(
            message_id=self._next_message_id(chat_id),
            chat_id=chat_id,
            kind=kind,
            text=text,
            entities=entities,
            parse_mode=params.get("parse_mode"),
            file_id=stored.file_id if stored else None,
            file_name=stored.file_name if stored else None,
            photo=stored.content if stored and kind == "photo" else None,
            document=stored.content if stored and kind == "document" else None,
            reply_markup=reply_markup,
            reply_to_message_id=reply_to,
            date=_now(),
        )
        self._offer_buttons(sent)
        self.sent.append(sent)
        self._sent_by_key[(chat_id, sent.message_id)] = sent
        return self.message_json(sent)

    # --- editing --------------------------------------------------------------------------------

    async def edit_message_text(self, request: ApiRequest) -> JSONDict:
        """editMessageText; like Telegram, leaving out reply_markup removes the keyboard."""
        params = request.params
        sent = self._message_to_edit(params)
        if sent.kind != "text":
            raise bad_request("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", "entities", self.MAX_TEXT_LENGTH, True)
        edited = self._apply_edit(
            sent,
            "editMessageText",
            params,
            text=text,
            entities=entities,
            reply_markup=self._reply_markup(params, inline_only=True),
        )
        sent.parse_mode = params.get("parse_mode")
        return edited

    async def edit_message_caption(self, request: ApiRequest) -> JSONDict:
        """editMessageCaption of a photo or document."""
        params = request.params
        sent = self._message_to_edit(params)
        if sent.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        caption, entities = self._formatted(params, "caption", "caption_entities", self.MAX_CAPTION_LENGTH, False)
        edited = self._apply_edit(
            sent,
            "editMessageCaption",
            params,
            text=caption,
            entities=entities,
            reply_markup=self._reply_markup(params, inline_only=True),
        )
        sent.parse_mode = params.get("parse_mode")
        return edited

    async def edit_message_media(self, request: ApiRequest) -> JSONDict:
        """editMessageMedia: a new photo or document (uploaded as attach:// or by file_id)."""
        params = request.params
        sent = self._message_to_edit(params)
        if sent.kind == "text":
            raise bad_request("there is no media in the message to edit")
        media = params.get("media")
        if not isinstance(media, dict) or media.get("type") not in ("photo", "document"):
            raise bad_request("can't parse InputMedia: media type photo or document expected")
        kind = media["type"]
        stored = self._resolve_file(media.get("media"), request.uploads, "media", kind)
        caption, entities = self._formatted(media, "caption", "caption_entities", self.MAX_CAPTION_LENGTH, False)
        edited = self._apply_edit(
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
        sent.parse_mode = media.get("parse_mode")
        return edited

    async def edit_message_reply_markup(self, request: ApiRequest) -> JSONDict:
        """editMessageReplyMarkup; no reply_markup removes the keyboard."""
        params = request.params
        sent = self._message_to_edit(params)
        return self._apply_edit(
            sent,
            "editMessageReplyMarkup",
            params,
            reply_markup=self._reply_markup(params, inline_only=True),
        )

    def _message_to_edit(self, params: JSONDict) -> SentMessage:
        # The fake never creates inline-mode messages, so no inline_message_id is known.
        if "inline_message_id" in params:
            raise bad_request("message to edit not found")
        chat_id, message_id = self._chat_id(params), params.get("message_id")
        sent = self._sent_by_key.get((chat_id, message_id))  # type: ignore[arg-type]
        if sent is None:
            if (chat_id, message_id) in self._user_messages:
                raise bad_request("message can't be edited")
            raise bad_request("message to edit not found")
        return sent

    def _apply_edit(self, sent: SentMessage, method: str, params: JSONDict, **changes: Any) -> JSONDict:
        if all(getattr(sent, name) == value for name, value in changes.items()):
            raise bad_request(self.NOT_MODIFIED)
        self._take_edit_slot(sent.chat_id)
        for name, value in changes.items():
            setattr(sent, name, value)
        sent.edit_date = _now()
        sent.edits.append((method, params))
        self._offer_buttons(sent)
        return self.message_json(sent)

    @staticmethod
    def _offer_buttons(sent: SentMessage) -> None:
        sent.offered_callback_data.update(
            button["callback_data"] for button in sent.buttons if "callback_data" in button
        )

    # --- rendering ------------------------------------------------------------------------------

    def message_json(self, sent: SentMessage, with_reply: bool = True) -> JSONDict:
        """The bot's message as a Bot API Message object."""
        message: JSONDict = {
            "message_id": sent.message_id,
            "from": self._bot_user,
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
            stored = self._files[sent.file_id or ""]
            if sent.kind == "photo":
                message["photo"] = self._photo_sizes(stored)
            else:
                message["document"] = self._document_json(stored)
            if sent.text:
                message["caption"] = sent.text
                if sent.entities:
                    message["caption_entities"] = sent.entities
        # Only inline keyboards belong to a message; reply keyboards belong to the chat.
        if sent.reply_markup and "inline_keyboard" in sent.reply_markup:
            message["reply_markup"] = sent.reply_markup
        if with_reply and sent.reply_to_message_id is not None:
            replied = self.message_json_by_key(sent.chat_id, sent.reply_to_message_id)
            if replied is not None:
                message["reply_to_message"] = replied
        return message

    def message_json_by_key(self, chat_id: int, message_id: int) -> JSONDict | None:
        """A message of either side as it appears inside reply_to_message (not nested further)."""
        sent = self._sent_by_key.get((chat_id, message_id))
        if sent is not None:
            return self.message_json(sent, with_reply=False)
        user_message = self._user_messages.get((chat_id, message_id))
        if user_message is None:
            return None
        return {k: v for k, v in user_message.items() if k != "reply_to_message"}

    def _photo_sizes(self, stored: _StoredFile) -> list[JSONDict]:
        longest_side = max(stored.width, stored.height)
        sizes = [(stored.file_id, min(1.0, self.LARGEST_PHOTO_SIDE / longest_side))]
        if longest_side > self.THUMBNAIL_SIDE:
            sizes.insert(0, (self._thumbnail_id(stored), self.THUMBNAIL_SIDE / longest_side))
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
    def _document_json(stored: _StoredFile) -> JSONDict:
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

    @staticmethod
    def _thumbnail_id(stored: _StoredFile) -> str:
        return f"{stored.file_id}-thumb"

    # --- chats ----------------------------------------------------------------------------------

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
        # A chat the bot writes to before any update from it: shaped by its id, as Telegram's
        # ids are (users positive, groups negative, supergroups -100...).
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "User"}
        chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": chat_type, "title": self.GROUP_TITLE}

    def _next_message_id(self, chat_id: int) -> int:
        # Message ids count up per chat, shared by the user's and the bot's messages.
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    # --- validation -----------------------------------------------------------------------------

    @staticmethod
    def _chat_id(params: JSONDict) -> int:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        if not isinstance(chat_id, int):
            raise bad_request("chat not found")
        return chat_id

    @staticmethod
    def _formatted(
        params: JSONDict, text_name: str, entities_name: str, limit: int, required: bool
    ) -> tuple[str | None, list[JSONDict]]:
        """Text (required) or caption as the user will see it, after parse_mode or entities."""
        raw = params.get(text_name)
        if raw is None or raw == "":
            if required:
                raise bad_request("message text is empty")
            return None, []
        explicit_entities = params.get(entities_name)
        if explicit_entities is not None:
            text, entities = raw, list(explicit_entities)
        else:
            try:
                text, entities = parse_text(raw, params.get("parse_mode"))
            except MarkupError as error:
                raise bad_request(str(error)) from None
        if required and not text.strip():
            raise bad_request("message text is empty")
        if utf16_length(text) > limit:
            raise bad_request("message is too long" if required else "message caption is too long")
        return text, entities

    def _reply_markup(self, params: JSONDict, inline_only: bool) -> JSONDict | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if inline_only:
                raise bad_request("inline keyboard expected")
            return markup
        for row in markup["inline_keyboard"]:
            for button in row:
                if len(_BUTTON_ACTIONS.intersection(button)) != 1:
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= self.MAX_CALLBACK_DATA_BYTES:
                    raise bad_request("BUTTON_DATA_INVALID")
        # An empty inline keyboard is no keyboard at all.
        if not any(markup["inline_keyboard"]):
            return None
        return markup

    def _reply_target(self, params: JSONDict, chat_id: int) -> int | None:
        reply = params.get("reply_parameters") or {}
        message_id: int | None = reply.get("message_id", params.get("reply_to_message_id"))  # Bot API: an Integer
        if message_id is None:
            return None
        if self.message_json_by_key(reply.get("chat_id", chat_id), message_id) is None:
            allowed = reply.get("allow_sending_without_reply", params.get("allow_sending_without_reply", False))
            if allowed:
                return None
            raise bad_request("message to be replied not found")
        return message_id

    # --- files ----------------------------------------------------------------------------------

    def _resolve_file(self, reference: Any, uploads: dict[str, Upload], part_name: str, kind: str) -> _StoredFile:
        """The file a call refers to: an uploaded part (plain or attach://) or a known file_id.

        Fetching by HTTP URL is not supported: an unknown string is refused as Telegram refuses
        an unknown file_id.
        """
        if reference is None:
            upload = uploads.get(part_name)
        elif isinstance(reference, str) and reference.startswith("attach://"):
            upload = uploads.get(reference.removeprefix("attach://"))
        else:
            stored = self._files.get(str(reference))
            if stored is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            return stored
        if upload is None:
            raise bad_request(f"there is no {part_name} in the request")
        return self._store_upload(upload, kind)

    def _store_upload(self, upload: Upload, kind: str) -> _StoredFile:
        number = next(self._file_numbers)
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
                raise bad_request("IMAGE_PROCESS_FAILED") from None
            # Every size Telegram lists can be sent again by its file_id.
            self._files[self._thumbnail_id(stored)] = stored
        self._files[stored.file_id] = stored
        return stored
