"""The fake Bot API behaves like Telegram towards a real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import io
import time
from collections.abc import AsyncIterator

import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakes.loopback import LoopbackServer
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_faults import FaultInjector

USER_ID = 7001
GROUP_ID = -100555


def png_bytes(width: int = 120, height: int = 80) -> bytes:
    """A real PNG image, as the bot's QR codes are."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """A running fake Bot API."""
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    """A PTB Bot initialised against the fake."""
    async with Bot(fake.token, base_url=fake.base_url) as client:
        yield client


@contextlib.asynccontextmanager
async def polling_app(fake: FakeTelegram, *handlers: object) -> AsyncIterator[Application]:
    """A PTB Application polling the fake, started the way the paylink bot starts it."""
    app = Application.builder().token(fake.token).base_url(fake.base_url).build()
    for handler in handlers:
        app.add_handler(handler)  # type: ignore[arg-type]
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


async def test_get_me_describes_the_bot_from_its_token(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "paylink_test_bot", True)


async def test_a_wrong_token_is_rejected(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:wrong", base_url=fake.base_url):
            pass


async def test_an_edit_changes_the_message_and_is_recorded(fake: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Status", callback_data="st:1")]])
    message = await bot.send_message(USER_ID, "Link created", reply_markup=keyboard)
    assert message.message_id == 1 and message.from_user.id == 123456

    edited = await bot.edit_message_text("Link PAID", chat_id=USER_ID, message_id=1)

    [card] = fake.sent(USER_ID)
    assert card.text == edited.text == "Link PAID"
    assert card.edits[0][0] == "editMessageText"
    # Like Telegram, an edit that does not repeat the keyboard removes it.
    assert card.reply_markup is None and edited.reply_markup is None


async def test_edits_that_telegram_refuses_are_refused(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(USER_ID, "Link created")

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Link created", chat_id=USER_ID, message_id=1)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("Paid", chat_id=USER_ID, message_id=99)
    assert fake.sent(USER_ID)[0].edits == []


async def test_html_is_stored_as_the_user_sees_it_and_bad_html_is_refused(fake: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_message(USER_ID, "<b>Paid</b> 150 &lt; 200", parse_mode=ParseMode.HTML)
    assert message.text == fake.sent()[0].text == "Paid 150 < 200"
    assert message.entities[0].type == "bold"

    with pytest.raises(BadRequest, match=r"Can.t parse entities"):
        await bot.send_message(USER_ID, "Shoes <size 42>", parse_mode=ParseMode.HTML)
    assert len(fake.sent()) == 1


async def test_markdown_v2_needs_reserved_characters_escaped(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"character '\.' is reserved"):
        await bot.send_message(USER_ID, "*Paid* 150.00 USD", parse_mode=ParseMode.MARKDOWN_V2)
    await bot.send_message(USER_ID, "*Paid* 150\\.00 USD", parse_mode=ParseMode.MARKDOWN_V2)

    assert [m.text for m in fake.sent()] == ["Paid 150.00 USD"]


async def test_a_document_upload_keeps_its_bytes_and_name(fake: FakeTelegram, bot: Bot) -> None:
    receipt = b"order,amount\nORD-1,150.00\n"

    message = await bot.send_document(USER_ID, receipt, filename="receipt.csv")

    assert message.document.file_name == "receipt.csv"
    assert (fake.sent()[0].document, fake.sent()[0].kind) == (receipt, "document")


async def test_a_photo_upload_keeps_its_bytes_and_can_be_sent_again(fake: FakeTelegram, bot: Bot) -> None:
    image = png_bytes()
    first = await bot.send_photo(USER_ID, image, caption="Scan to pay")
    assert (first.photo[-1].width, first.photo[-1].height) == (120, 80)

    again = await bot.send_photo(GROUP_ID, first.photo[-1].file_id)

    assert fake.sent(USER_ID)[0].photo == image and fake.sent(USER_ID)[0].text == "Scan to pay"
    assert fake.sent(GROUP_ID)[0].photo == image and again.chat.type == "supergroup"
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await bot.send_photo(USER_ID, b"not an image")


async def test_a_photo_can_be_replaced_with_edit_message_media(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_photo(USER_ID, png_bytes(), caption="Pending")
    new_image = png_bytes(64, 64)

    await bot.edit_message_media(InputMediaPhoto(new_image, caption="PAID"), chat_id=USER_ID, message_id=1)

    card = fake.sent(USER_ID)[0]
    assert (card.photo, card.text) == (new_image, "PAID")


async def test_a_command_reaches_the_bot_and_its_reply_is_recorded(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f"Hi {update.effective_user.first_name}", do_quote=True)

    async with polling_app(fake, CommandHandler("start", start)):
        update_id = fake.send_text("/start", user_id=USER_ID, first_name="Budi")
        reply = await fake.wait_for_message(lambda m: m.chat_id == USER_ID)

    assert reply.text == "Hi Budi" and reply.reply_to_message_id == 1
    # The poller confirmed the update, so it is not delivered again.
    confirm = await fake.wait_for_call("getUpdates", lambda c: c.params.get("offset", 0) > update_id)
    assert confirm.status == 200


async def test_a_pressed_button_reaches_the_callback_handler(fake: FakeTelegram) -> None:
    async def show_status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("Still waiting for payment")
        await update.callback_query.edit_message_text(f"Status of {update.callback_query.data}")

    async with polling_app(fake, CallbackQueryHandler(show_status)):
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            status_button = InlineKeyboardButton("Status", callback_data="st:1")
            await bot.send_message(GROUP_ID, "Link card", reply_markup=InlineKeyboardMarkup([[status_button]]))
        card = fake.sent(GROUP_ID)[0]
        query_id = fake.press_button(card, card.buttons[0]["callback_data"], user_id=USER_ID)
        await fake.wait_for_message(lambda m: m.text == "Status of st:1")

    assert fake.callback_answers == [{"callback_query_id": query_id, "text": "Still waiting for payment"}]
    with pytest.raises(ValueError, match="never offered"):
        fake.press_button(card, "cancel:1", user_id=USER_ID)


async def test_a_held_answer_lets_the_message_arrive_before_the_bot_hears_of_it(fake: FakeTelegram, bot: Bot) -> None:
    button = InlineKeyboardMarkup([[InlineKeyboardButton("Create", callback_data="create")]])
    with fake.hold_answers(lambda call: call.method == "sendMessage" and "Summary" in call.params["text"]) as hold:
        summary = asyncio.create_task(bot.send_message(USER_ID, "Summary", reply_markup=button))
        await hold.wait_held()
        shown = fake.sent(USER_ID)[0]
        fake.press_button(shown, "create", user_id=USER_ID)  # the person sees it and can press it already
        other = await bot.send_message(USER_ID, "Something else")  # only matching calls wait
        await asyncio.sleep(0.2)
        assert not summary.done() and other.message_id == shown.message_id + 1
    assert (await summary).message_id == shown.message_id
    assert [call.params["text"] for call in hold.held] == ["Summary"]


async def test_updates_are_confirmed_by_offset_and_long_polled(fake: FakeTelegram, bot: Bot) -> None:
    first = fake.send_text("/help", user_id=USER_ID)
    fake.send_text("hello", user_id=USER_ID)

    updates = await bot.get_updates()
    assert [u.message.text for u in updates] == ["/help", "hello"]
    assert updates[0].message.entities[0].type == "bot_command"
    assert await bot.get_updates(offset=first + 2) == ()

    asyncio.get_running_loop().call_later(0.1, lambda: fake.send_text("late", user_id=USER_ID))
    started = time.monotonic()
    [late] = await bot.get_updates(offset=first + 2, timeout=5)
    assert late.message.text == "late" and time.monotonic() - started < 1


async def test_fail_next_gives_the_bot_network_errors_and_sends_nothing(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next(2)

    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(USER_ID, "Paid")
    await bot.send_message(USER_ID, "Paid")

    assert [m.text for m in fake.sent()] == ["Paid"]
    assert [c.status for c in fake.calls if c.method == "sendMessage"] == [502, 502, 200]


async def test_fail_for_fails_every_send_for_a_while(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_for(0.3, status=500)

    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(USER_ID, "Paid")
    await asyncio.sleep(0.35)
    await bot.send_message(USER_ID, "Paid")

    assert len(fake.sent()) == 1


async def test_retry_after_gives_the_bot_a_flood_wait(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB's future (non-deprecated) retry_after type
    fake.retry_after(7)

    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(USER_ID, "Paid")

    assert flood.value.retry_after == dtm.timedelta(seconds=7)
    assert fake.sent() == []


async def test_a_blocked_chat_answers_forbidden(fake: FakeTelegram, bot: Bot) -> None:
    fake.block_chat(USER_ID)

    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(USER_ID, "Paid")
    await bot.send_message(USER_ID + 1, "Paid")

    assert [m.chat_id for m in fake.sent()] == [USER_ID + 1]


async def test_a_garbled_chat_gets_answers_the_client_cannot_read(fake: FakeTelegram, bot: Bot) -> None:
    fake.garble_chat(USER_ID)

    with pytest.raises(TelegramError, match="Invalid server response") as unreadable:
        await bot.send_message(USER_ID, "Paid")
    fake.garble_chat(USER_ID + 1, body=b'{"ok":true,"result":{}}', content_type="application/json")
    with pytest.raises(KeyError):  # PTB reads a message out of an empty object
        await bot.send_message(USER_ID + 1, "Paid")
    await bot.send_message(USER_ID + 2, "Paid")

    assert isinstance(unreadable.value.__cause__, ValueError)  # the JSON decoder's error, chained by PTB
    assert [m.chat_id for m in fake.sent()] == [USER_ID + 2]
    assert [(c.status, c.garbled) for c in fake.calls if c.method == "sendMessage"] == [
        (200, True),
        (200, True),
        (200, False),
    ]


async def test_enforced_limits_answer_429_to_a_burst_into_one_chat(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    fake.enforce_limits = True

    for number in range(FaultInjector.PRIVATE_CHAT_BURST):
        await bot.send_message(USER_ID, f"message {number}")
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(USER_ID, "one too many")
    await bot.send_message(USER_ID + 1, "another chat is fine")

    assert flood.value.retry_after >= dtm.timedelta(seconds=1)
    assert fake.limit_violations == 1
    assert len(fake.sent()) == FaultInjector.PRIVATE_CHAT_BURST + 1


async def test_webhook_delivery_posts_updates_with_the_secret_and_retries(fake: FakeTelegram, bot: Bot) -> None:
    deliveries: list[tuple[str | None, dict]] = []
    delivered_twice = asyncio.Event()

    async def receive(request: Request) -> Response:
        deliveries.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        if len(deliveries) == 2:
            delivered_twice.set()
        # The first delivery fails, as a bot still starting up would; Telegram retries.
        return Response(status_code=503 if len(deliveries) == 1 else 200)

    receiver = LoopbackServer(Starlette(routes=[Route("/telegram", receive, methods=["POST"])]))
    async with receiver:
        await bot.set_webhook(f"{receiver.url}/telegram", secret_token="s3cret-Token_1")
        update_id = fake.send_text("/start", user_id=USER_ID)
        await asyncio.wait_for(delivered_twice.wait(), timeout=5)
        info = await bot.get_webhook_info()

    assert [(secret, body["update_id"]) for secret, body in deliveries] == [
        ("s3cret-Token_1", update_id),
        ("s3cret-Token_1", update_id),
    ]
    assert deliveries[0][1]["message"]["text"] == "/start"
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 503 Service Unavailable"
    with pytest.raises(Conflict):
        await bot.get_updates()


async def test_commands_can_be_set_read_and_deleted(bot: Bot) -> None:
    await bot.set_my_commands([("link", "Create a payment link"), ("help", "How to use")])
    assert [c.command for c in await bot.get_my_commands()] == ["link", "help"]

    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_unknown_methods_and_stale_queries_are_refused(bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):  # Telegram answers 404 Not Found
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": USER_ID})
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("12345")
