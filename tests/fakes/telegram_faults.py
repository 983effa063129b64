"""Failures the fake Bot API injects: server errors, flood waits, blocked chats, rate limits."""

from __future__ import annotations

import math
import time
from http import HTTPStatus

from tests.fakes.telegram_protocol import (
    ApiError,
    GarbledAnswer,
    JSONDict,
    flood_wait,
    status_error,
    upgraded_to_supergroup,
)


class TokenBucket:
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
        """Use one message's place."""
        self.tokens -= 1


class FaultInjector:
    """Decides whether a call fails before the fake acts on it.

    Injected faults (fail_next, fail_for, retry_after) hit calls that create or edit a message;
    a blocked chat also refuses chat actions; a group upgraded to a supergroup refuses what writes to
    it (sends, chat actions), naming the new id, while its messages can still be edited there, as the
    Bot API does; a garbled chat gets an answer the client cannot read for its message sends and
    edits. Flood limits, when enforced, count message sends
    (and, with `limit_edits`, edits too, as Telegram does under floods of them) against Telegram's
    documented limits: about 30 messages a second overall, one a second per private chat and 20 a
    minute per group, each with a small burst allowance.
    """

    OVERALL_PER_SECOND, OVERALL_BURST = 30.0, 30
    PRIVATE_CHAT_PER_SECOND, PRIVATE_CHAT_BURST = 1.0, 3
    GROUP_CHAT_PER_SECOND, GROUP_CHAT_BURST = 20 / 60, 20

    MESSAGE_SENDS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
    MESSAGE_EDITS = frozenset({"editMessageText", "editMessageCaption", "editMessageMedia", "editMessageReplyMarkup"})
    CHAT_ACTIONS = frozenset({"sendChatAction"})

    def __init__(self) -> None:
        self.enforce_limits = False
        self.limit_edits = False
        self.limit_violations = 0
        self._fail_next_left = 0
        self._fail_next_status: int = HTTPStatus.BAD_GATEWAY
        self._fail_until = 0.0
        self._fail_for_status: int = HTTPStatus.BAD_GATEWAY
        self._retry_after_left = 0
        self._retry_after_seconds = 0
        self._blocked_chats: set[int] = set()
        self._garbled_chats: dict[int, tuple[bytes, str]] = {}
        self._upgraded_chats: dict[int, int] = {}  # old group id -> its supergroup's id
        self._overall = TokenBucket(self.OVERALL_PER_SECOND, self.OVERALL_BURST)
        self._per_chat: dict[int, TokenBucket] = {}

    def fail_next(self, n: int, status: int) -> None:
        """The next n send/edit calls answer `status`."""
        self._fail_next_left, self._fail_next_status = n, status

    def fail_for(self, seconds: float, status: int) -> None:
        """Every send/edit call answers `status` for the next `seconds`."""
        self._fail_until, self._fail_for_status = time.monotonic() + seconds, status

    def retry_after(self, seconds: int, n: int) -> None:
        """The next n send/edit calls answer 429 with retry_after = seconds."""
        self._retry_after_left, self._retry_after_seconds = n, seconds

    def block_chat(self, chat_id: int) -> None:
        """Calls that write to the chat answer 403 from now on."""
        self._blocked_chats.add(chat_id)

    def upgrade_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Sends and chat actions to the old group answer 400 with migrate_to_chat_id from now on."""
        self._upgraded_chats[old_chat_id] = new_chat_id

    def garble_chat(self, chat_id: int, body: bytes, content_type: str) -> None:
        """Sends and edits in this chat get a 200 carrying ``body`` instead of the API's answer, and change nothing."""
        self._garbled_chats[chat_id] = (body, content_type)

    def check_call(self, method: str, params: JSONDict) -> None:
        """Raise the injected failure this call meets, if any."""
        changes_messages = method in self.MESSAGE_SENDS or method in self.MESSAGE_EDITS
        if not changes_messages and method not in self.CHAT_ACTIONS:
            return
        chat_id = params.get("chat_id")
        if chat_id in self._upgraded_chats and method not in self.MESSAGE_EDITS:
            # The Bot API refuses only writing to an upgraded group; its messages stay editable there.
            raise upgraded_to_supergroup(self._upgraded_chats[chat_id])
        if chat_id in self._blocked_chats:
            reason = "bot was blocked by the user"
            if isinstance(chat_id, int) and chat_id < 0:
                reason = "bot was kicked from the group chat"
            raise ApiError(HTTPStatus.FORBIDDEN, f"Forbidden: {reason}")
        if not changes_messages:
            return
        if chat_id in self._garbled_chats:
            raise GarbledAnswer(*self._garbled_chats[chat_id])
        if time.monotonic() < self._fail_until:
            raise status_error(self._fail_for_status)
        if self._fail_next_left > 0:
            self._fail_next_left -= 1
            raise status_error(self._fail_next_status)
        if self._retry_after_left > 0:
            self._retry_after_left -= 1
            raise flood_wait(self._retry_after_seconds)

    def take_edit_slot(self, chat_id: int) -> None:
        """Count an edit in chat_id against the flood limits when edits are limited too."""
        if self.limit_edits:
            self.take_send_slot(chat_id)

    def take_send_slot(self, chat_id: int) -> None:
        """Count a message send to chat_id, or answer 429 if it would break the flood limits."""
        if not self.enforce_limits:
            return
        chat_bucket = self._per_chat.get(chat_id)
        if chat_bucket is None:
            chat_bucket = (
                TokenBucket(self.GROUP_CHAT_PER_SECOND, self.GROUP_CHAT_BURST)
                if chat_id < 0
                else TokenBucket(self.PRIVATE_CHAT_PER_SECOND, self.PRIVATE_CHAT_BURST)
            )
            self._per_chat[chat_id] = chat_bucket
        now = time.monotonic()
        buckets = (self._overall, chat_bucket)
        # Check every bucket before taking from any: a refused message uses no place.
        wait = max(bucket.seconds_until_free(now) for bucket in buckets)
        if wait > 0:
            self.limit_violations += 1
            raise flood_wait(max(1, math.ceil(wait)))
        for bucket in buckets:
            bucket.take()
