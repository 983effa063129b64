"""What a failed send means for an outbox message: bot.botapi.errors.classify, one case per kind of failure."""

from __future__ import annotations

import httpx
import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest

from bot.botapi.errors import (
    AMBIGUOUS_RETRY_SECONDS,
    MAX_ATTEMPTS,
    UNEXPECTED_ATTEMPTS,
    Undeliverable,
    Verdict,
    classify,
)


def _unreadable_answer() -> TelegramError:
    """The error python-telegram-bot raises for a 200 whose body is not JSON (a proxy's HTML page)."""
    try:
        BaseRequest.parse_json_payload(b"<html><body>Please sign in</body></html>")
    except TelegramError as error:
        return error
    raise AssertionError("python-telegram-bot read an HTML page as JSON")


def test_a_flood_wait_is_retried_when_telegram_says_and_does_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB's future (non-deprecated) retry_after type
    decision = classify(RetryAfter(7))
    assert (decision.verdict, decision.wait, decision.counts) == (Verdict.RETRY, 7.0, False)


@pytest.mark.parametrize(
    "error",
    [
        Forbidden("Forbidden: bot was blocked by the user"),
        Forbidden("Forbidden: bot was kicked from the group chat"),
        BadRequest("Bad Request: chat not found"),
        BadRequest("Bad Request: not enough rights to send text messages to the chat"),
        Undeliverable("link 7 no longer exists"),
    ],
)
def test_a_chat_that_cannot_receive_is_given_up(error: Exception) -> None:
    decision = classify(error)
    assert decision.verdict == Verdict.GIVE_UP and decision.reason == str(error)


def test_a_request_telegram_refuses_fails_at_once() -> None:
    decision = classify(BadRequest("Bad Request: can't parse entities: unsupported start tag"))
    assert decision.verdict == Verdict.FAILED and "can't parse entities" in decision.reason.lower()


@pytest.mark.parametrize("error", [NetworkError("Bad Gateway"), TimedOut()])
def test_network_trouble_is_retried_long_and_marked_as_network(error: Exception) -> None:
    decision = classify(error)
    assert (decision.verdict, decision.network, decision.max_attempts, decision.wait) == (
        Verdict.RETRY,
        True,
        MAX_ATTEMPTS,
        None,
    )
    assert decision.counts


def _timed_out(cause: httpx.TimeoutException) -> TimedOut:
    """TimedOut as python-telegram-bot's HTTPXRequest raises it: from httpx's timeout."""
    try:
        raise TimedOut from cause
    except TimedOut as error:
        return error


def test_a_send_unanswered_may_have_been_delivered_so_it_waits_and_is_not_brought_forward() -> None:
    decision = classify(_timed_out(httpx.ReadTimeout("timed out")))
    assert (decision.verdict, decision.network, decision.max_attempts, decision.wait) == (
        Verdict.RETRY,
        False,
        MAX_ATTEMPTS,
        None,
    )
    assert decision.not_before == AMBIGUOUS_RETRY_SECONDS and decision.counts


@pytest.mark.parametrize("cause", [httpx.ConnectTimeout("timed out"), httpx.PoolTimeout("timed out")])
def test_a_send_that_never_left_is_network_trouble(cause: httpx.TimeoutException) -> None:
    decision = classify(_timed_out(cause))
    assert (decision.verdict, decision.network, decision.not_before) == (Verdict.RETRY, True, 0.0)


def test_another_telegram_error_is_retried_long() -> None:
    decision = classify(TelegramError("Conflict: terminated by other getUpdates request"))
    assert (decision.verdict, decision.network, decision.max_attempts) == (Verdict.RETRY, False, MAX_ATTEMPTS)
    assert decision.reason.startswith("telegram: ")


def test_a_group_upgraded_to_a_supergroup_is_a_move_to_its_new_id_not_an_attempt() -> None:
    """Telegram's 400 with migrate_to_chat_id (PTB's ChatMigrated): send again to the new id, uncounted."""
    decision = classify(ChatMigrated(-100_123))
    assert (decision.verdict, decision.moved_to, decision.counts) == (Verdict.MOVED, -100_123, False)
    assert "-100123" in decision.reason


@pytest.mark.parametrize(
    "error",
    [_unreadable_answer(), KeyError("date"), ValueError("something nobody expected")],
    ids=["unreadable answer", "KeyError", "ValueError"],
)
def test_a_surprise_gets_a_few_attempts(error: Exception) -> None:
    decision = classify(error)
    assert (decision.verdict, decision.network, decision.max_attempts, decision.wait) == (
        Verdict.RETRY,
        False,
        UNEXPECTED_ATTEMPTS,
        None,
    )
    assert decision.counts and UNEXPECTED_ATTEMPTS < MAX_ATTEMPTS
