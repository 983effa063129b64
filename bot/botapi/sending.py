"""The one way messages leave the bot: fitted to Telegram's limits, paced, and edits that are idempotent.

Handlers and the outbox send through these functions, never through PTB's shortcuts, so that
every text is :class:`Markup` (user text escaped), fits Telegram's limits, carries its pacing
priority, and an edit that changes nothing ("message is not modified", e.g. a button pressed
twice) counts as done instead of as an error.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, InputFile, LinkPreviewOptions, Message, ReplyParameters
from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.botapi.budget import Priority
from bot.botapi.markup import CALLBACK_ANSWER_LIMIT, CAPTION_LIMIT, MESSAGE_LIMIT, Markup, truncate, visible_length
from bot.botapi.pacing import CourtesySkipped, SendArgs

log = logging.getLogger("paylink.sending")

Bot = ExtBot[Any]
Keyboard = InlineKeyboardMarkup | Any | None  # inline keyboards, ForceReply
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def fitted(text: Markup, limit: int) -> Markup:
    """The text within ``limit``; a builder that overshoots is a bug worth a log line, never a failed send."""
    if visible_length(text) <= limit:
        return text
    log.warning("a message of %d units was cut to Telegram's %d", visible_length(text), limit)
    return truncate(text, limit)


def is_not_modified(error: BadRequest) -> bool:
    """Whether Telegram refused an edit only because it would change nothing."""
    return "not modified" in error.message.lower()


def _reply_to(message_id: int | None) -> ReplyParameters | None:
    return ReplyParameters(message_id, allow_sending_without_reply=True) if message_id else None


async def send_text(
    bot: Bot,
    chat_id: int,
    text: Markup,
    *,
    buttons: Keyboard = None,
    reply_to: int | None = None,
    priority: Priority = Priority.REPLY,
    booked: bool = False,
    preview: bool = True,
) -> Message:
    """Send an HTML message (parse mode comes from the application's defaults)."""
    return await bot.send_message(
        chat_id,
        fitted(text, MESSAGE_LIMIT),
        reply_markup=buttons,
        reply_parameters=_reply_to(reply_to),
        link_preview_options=None if preview else NO_PREVIEW,
        rate_limit_args=SendArgs(priority, booked),
    )


async def send_photo(
    bot: Bot,
    chat_id: int,
    photo: bytes | str,
    caption: Markup,
    *,
    buttons: Keyboard = None,
    reply_to: int | None = None,
    priority: Priority = Priority.REPLY,
    booked: bool = False,
) -> Message:
    """Send a photo with an HTML caption."""
    return await bot.send_photo(
        chat_id,
        photo,
        caption=fitted(caption, CAPTION_LIMIT),
        reply_markup=buttons,
        reply_parameters=_reply_to(reply_to),
        rate_limit_args=SendArgs(priority, booked),
    )


async def send_document(
    bot: Bot,
    chat_id: int,
    document: InputFile,
    caption: Markup,
    *,
    reply_to: int | None = None,
    priority: Priority = Priority.REPLY,
) -> Message:
    """Send a file (an export) with an HTML caption."""
    return await bot.send_document(
        chat_id,
        document,
        caption=fitted(caption, CAPTION_LIMIT),
        reply_parameters=_reply_to(reply_to),
        rate_limit_args=SendArgs(priority),
    )


async def send_courtesy(bot: Bot, chat_id: int, text: Markup, *, reply_to: int | None = None) -> Message | None:
    """Send a message nobody depends on (a refusal): only if the budget has room soon, else drop it."""
    try:
        return await send_text(bot, chat_id, text, reply_to=reply_to, priority=Priority.COURTESY)
    except CourtesySkipped:
        log.info("courtesy message to chat %s dropped: the send budget is short", chat_id)
        return None


async def edit_text(
    bot: Bot,
    chat_id: int,
    message_id: int,
    text: Markup,
    *,
    buttons: Keyboard = None,
    priority: Priority = Priority.REPLY,
    booked: bool = False,
) -> None:
    """Replace a message's text and buttons; unchanged is fine."""
    try:
        await bot.edit_message_text(
            fitted(text, MESSAGE_LIMIT),
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=buttons,
            rate_limit_args=SendArgs(priority, booked),
        )
    except BadRequest as exc:
        if not is_not_modified(exc):
            raise


async def edit_caption(
    bot: Bot,
    chat_id: int,
    message_id: int,
    caption: Markup,
    *,
    buttons: Keyboard = None,
    priority: Priority = Priority.REPLY,
    booked: bool = False,
) -> None:
    """Replace a photo's caption and buttons; unchanged is fine."""
    try:
        await bot.edit_message_caption(
            chat_id=chat_id,
            message_id=message_id,
            caption=fitted(caption, CAPTION_LIMIT),
            reply_markup=buttons,
            rate_limit_args=SendArgs(priority, booked),
        )
    except BadRequest as exc:
        if not is_not_modified(exc):
            raise


async def edit_buttons(bot: Bot, chat_id: int, message_id: int, buttons: InlineKeyboardMarkup | None) -> None:
    """Replace (or, with None, remove) a message's buttons; unchanged is fine."""
    try:
        await bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=message_id, reply_markup=buttons, rate_limit_args=SendArgs(Priority.REPLY)
        )
    except BadRequest as exc:
        if not is_not_modified(exc):
            raise


async def edit_message(bot: Bot, message: Message, text: Markup, *, buttons: Keyboard = None) -> None:
    """Make a message (a card photo or a text) say ``text``: a caption for photos, the text otherwise."""
    if message.photo:
        await edit_caption(bot, message.chat_id, message.message_id, text, buttons=buttons)
    else:
        await edit_text(bot, message.chat_id, message.message_id, text, buttons=buttons)


async def answer(query: CallbackQuery, text: str = "", *, alert: bool = False) -> None:
    """Answer a button press (plain text, at most 200 characters); a press too old to answer is fine."""
    try:
        shown = text if len(text) <= CALLBACK_ANSWER_LIMIT else text[: CALLBACK_ANSWER_LIMIT - 1] + "…"
        # No text is None, never "": with defaults, PTB takes an empty string for an empty list of poll
        # options and sends "[]", which Telegram would show as the pop-up.
        await query.answer(shown or None, show_alert=alert)
    except BadRequest as exc:
        # Telegram forgets a press after ~15 s (e.g. while PayerMax answered slowly): nothing to fix.
        if "query is too old" not in exc.message.lower() and "query id is invalid" not in exc.message.lower():
            raise
