"""/language: the language the bot answers a person in, chosen with a button and remembered."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.botapi import sending
from bot.chat import menus, texts
from bot.chat.context import PaylinkContext, query_of, sender
from bot.chat.reply import reply
from bot.i18n.locales import NATIVE_NAMES, SUPPORTED
from bot.i18n.reader import Reader, current, set_reader

PREFIX = "lang"
PER_ROW = 2


def language_keyboard(chosen: str) -> InlineKeyboardMarkup:
    """One button per language the bot speaks, each in its own words; the current one ticked."""
    buttons = [
        InlineKeyboardButton(("✓ " if code == chosen else "") + NATIVE_NAMES[code], callback_data=f"{PREFIX}:{code}")
        for code in SUPPORTED
    ]
    return InlineKeyboardMarkup([buttons[i : i + PER_ROW] for i in range(0, len(buttons), PER_ROW)])


async def language_command(update: Update, context: PaylinkContext) -> None:
    """Show the person's language with a button per language."""
    chosen = current().locale
    await reply(update, context, texts.language_menu(chosen), buttons=language_keyboard(chosen))


async def language_button(update: Update, context: PaylinkContext) -> None:
    """Remember the chosen language and say so in it."""
    query = query_of(update)
    code = (query.data or "").split(":", 1)[-1]
    if code not in SUPPORTED:
        await sending.answer(query)
        return
    language = await context.services.people.choose_language(sender(update).id, code)
    set_reader(Reader(language, current().timezone))
    await sending.answer(query, texts.language_set(language))
    await menus.fit_menu(context.bot, context.services, sender(update).id)  # their "/" menu in the new language
    if isinstance(query.message, Message):
        await sending.edit_text(
            context.bot,
            query.message.chat.id,
            query.message.message_id,
            texts.language_menu(language),
            buttons=language_keyboard(language),
        )
