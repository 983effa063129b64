"""What a failed Bot API call means for a message that must get through: retry, moved, give up, or failed.

A pure function, as stripe-python's ``_should_retry``: the outbox asks :func:`classify` and acts,
so the rules are in one place and testable without Telegram.

    RETRY     the failure is passing (network, 5xx, 429, a surprise): try again later, a bounded
              number of times (fewer for surprises, such as an answer that could not be read,
              which rarely heal); a send Telegram may have taken (no answer within the read
              timeout) only after AMBIGUOUS_RETRY_SECONDS, and not brought forward when Telegram
              answers again: at least once, but never a blind resend of what was merely late
    MOVED     the group became a supergroup with a new chat id (``moved_to``): move the chat's rows
              there and send again to the new id; not an attempt (the message was never refused)
    GIVE_UP   the chat cannot receive from the bot (blocked, kicked, deleted): stop, tell the owners
    FAILED    Telegram refuses this exact request; sending it again would repeat the refusal
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import httpx
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.botapi.pacing import retry_seconds

MAX_ATTEMPTS = 25  # with capped exponential backoff: about a day of trying
UNEXPECTED_ATTEMPTS = 5  # an error we do not understand gets a few tries, then the owners hear of it
NETWORK_PREFIX = "network: "
# A send whose answer never came may have been delivered (Telegram has no idempotency key): its
# retry waits this long at least, an outbox lease, as a crashed sender's message does.
AMBIGUOUS_RETRY_SECONDS = 60.0
_GONE_PHRASES = ("chat not found", "bot was blocked", "user is deactivated", "bot was kicked", "not enough rights")


class Verdict(StrEnum):
    """What to do with a message after a failed attempt."""

    RETRY = "retry"
    MOVED = "moved"
    GIVE_UP = "give_up"
    FAILED = "failed"


class Undeliverable(Exception):
    """The chat cannot receive this message (e.g. the card to edit was never posted)."""


@dataclass(frozen=True)
class Decision:
    """The verdict on one failure, and how to retry when retrying."""

    verdict: Verdict
    reason: str
    wait: float | None = None  # seconds Telegram asked us to wait (429); None: back off
    counts: bool = True  # whether this attempt counts toward the limit
    max_attempts: int = MAX_ATTEMPTS
    network: bool = False  # a connection problem: retry as soon as Telegram answers again
    moved_to: int | None = None  # MOVED: the chat's new id
    not_before: float = 0.0  # RETRY with backoff: wait at least this many seconds


def classify(error: BaseException) -> Decision:
    """Decide what a failed send means."""
    if isinstance(error, RetryAfter):
        wait = retry_seconds(error)
        return Decision(Verdict.RETRY, f"429 retry after {wait}s", wait=wait, counts=False)
    if isinstance(error, ChatMigrated):
        # Telegram's 400 "group chat was upgraded to a supergroup chat" with parameters.migrate_to_chat_id.
        new_chat_id = int(error.new_chat_id)
        return Decision(Verdict.MOVED, f"moved to supergroup {new_chat_id}", counts=False, moved_to=new_chat_id)
    if isinstance(error, Forbidden):
        return Decision(Verdict.GIVE_UP, str(error))
    if isinstance(error, BadRequest):
        if any(phrase in error.message.lower() for phrase in _GONE_PHRASES):
            return Decision(Verdict.GIVE_UP, str(error))
        return Decision(Verdict.FAILED, str(error))
    if isinstance(error, TimedOut) and isinstance(error.__cause__, httpx.ReadTimeout):
        # The request went out whole and no answer came: Telegram may have delivered it. Not a
        # network error, whose retries are brought forward as soon as Telegram answers again.
        return Decision(
            Verdict.RETRY, f"no answer, may have been delivered: {error}", not_before=AMBIGUOUS_RETRY_SECONDS
        )
    if isinstance(error, NetworkError):  # includes timeouts before the request was whole, and 5xx answers
        return Decision(Verdict.RETRY, f"{NETWORK_PREFIX}{error}", network=True)
    if isinstance(error, Undeliverable):
        return Decision(Verdict.GIVE_UP, str(error))
    if isinstance(error, TelegramError):
        if isinstance(error.__cause__, ValueError):
            # PTB could not read the answer (a proxy's page, a cut-off body): not Telegram's word
            # on the message but a surprise, which rarely heals by itself.
            return Decision(Verdict.RETRY, f"unreadable answer: {error}", max_attempts=UNEXPECTED_ATTEMPTS)
        return Decision(Verdict.RETRY, f"telegram: {error}")
    return Decision(Verdict.RETRY, f"unexpected {type(error).__name__}: {error}", max_attempts=UNEXPECTED_ATTEMPTS)
