"""/settings: a chat's defaults for new links, with buttons or as text.

Button data is ``set:<name>`` to open a picker and ``set:<name>:<value>`` to choose; every press
is checked against the presser's role, since anyone in a group can press a button.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType

from bot.botapi import sending
from bot.botapi.markup import Markup, join
from bot.chat import texts
from bot.chat.context import PaylinkContext, actor, chat_of, query_of
from bot.chat.guards import refuse_unless
from bot.chat.reply import reply
from bot.config import parse_duration
from bot.money import is_orderable
from bot.services.access import Action
from bot.services.chat_defaults import PAGE_LANGUAGES, ChatDefaults, ChatRef, SettingError, SettingProblem

log = logging.getLogger("paylink.chat.settings")

PREFIX = "set"
MENU = "menu"
CURRENCY, COUNTRY, EXPIRY, LANGUAGE = "currency", "country", "expiry", "language"
SETTING_NAMES = (CURRENCY, COUNTRY, EXPIRY, LANGUAGE)
# Currencies offered as buttons; any other ISO code works as /settings currency XXX.
QUICK_CURRENCIES = (
    "USD",
    "EUR",
    "GBP",
    "IDR",
    "PHP",
    "THB",
    "MYR",
    "SGD",
    "INR",
    "BRL",
    "MXN",
    "SAR",
    "AED",
    "TRY",
    "VND",
    "JPY",
)
EXPIRY_PRESETS = (3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400)
BUTTONS_PER_ROW = 4


def _data(*parts: str | int) -> str:
    return ":".join([PREFIX, *map(str, parts)])


def _rows(buttons: list[InlineKeyboardButton], per_row: int = BUTTONS_PER_ROW) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def _back() -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton("« Back", callback_data=_data(MENU))]


def settings_keyboard(defaults: ChatDefaults) -> InlineKeyboardMarkup:
    """One button per setting, showing its current value."""
    language = texts.LANGUAGE_NAMES.get(defaults.language, defaults.language)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(f"Currency: {defaults.currency}", callback_data=_data(CURRENCY)),
                InlineKeyboardButton(f"Country: {defaults.country}", callback_data=_data(COUNTRY)),
            ],
            [
                InlineKeyboardButton(
                    f"Valid for: {texts.expiry_text(defaults.expires_seconds)}", callback_data=_data(EXPIRY)
                ),
                InlineKeyboardButton(f"Page: {language}", callback_data=_data(LANGUAGE)),
            ],
        ]
    )


def picker(name: str) -> tuple[Markup, InlineKeyboardMarkup]:
    """The prompt and buttons for choosing one setting."""
    if name == CURRENCY:
        choices = [InlineKeyboardButton(code, callback_data=_data(CURRENCY, code)) for code in QUICK_CURRENCIES]
        return texts.PICK_CURRENCY, InlineKeyboardMarkup([*_rows(choices), _back()])
    if name == EXPIRY:
        choices = [InlineKeyboardButton(texts.expiry_text(s), callback_data=_data(EXPIRY, s)) for s in EXPIRY_PRESETS]
        return texts.PICK_EXPIRY, InlineKeyboardMarkup([*_rows(choices, 3), _back()])
    if name == LANGUAGE:
        choices = [
            InlineKeyboardButton(texts.LANGUAGE_NAMES[code], callback_data=_data(LANGUAGE, code))
            for code in PAGE_LANGUAGES
        ]
        return texts.PICK_LANGUAGE, InlineKeyboardMarkup([*_rows(choices, 3), _back()])
    return texts.ASK_COUNTRY, InlineKeyboardMarkup([_back()])


def _chat_ref(update: Update) -> ChatRef:
    chat = chat_of(update)
    return ChatRef(chat.id, chat.type, chat.title if chat.type != ChatType.PRIVATE else None)


def _view(update: Update, defaults: ChatDefaults) -> Markup:
    chat = chat_of(update)
    place = chat.title if chat.type != ChatType.PRIVATE and chat.title else texts.THIS_PRIVATE_CHAT
    return texts.SETTINGS.format(
        place=texts.clip(place, texts.NAME_UNITS),
        currency=defaults.currency,
        country=defaults.country,
        expiry=texts.expiry_text(defaults.expires_seconds),
        language=texts.language_name(defaults.language),
    )


def _changed(name: str, defaults: ChatDefaults) -> str:
    """Confirmation of a change (plain text: it is also a button's pop-up)."""
    value = {
        CURRENCY: defaults.currency,
        COUNTRY: defaults.country,
        EXPIRY: texts.expiry_text(defaults.expires_seconds),
        LANGUAGE: texts.language_name(defaults.language),
    }[name]
    sentence = texts.SETTING_CHANGED.format(name=texts.SETTING_NAMES[name], value=value)
    if name == CURRENCY and not is_orderable(defaults.currency):
        sentence += "\n" + texts.NOT_ORDERABLE.format(currency=defaults.currency)
    return sentence


async def _apply(update: Update, context: PaylinkContext, name: str, value: str) -> ChatDefaults:
    """Change one setting of the update's chat; SettingError says why not."""
    chats = context.services.chat_defaults
    who, chat = actor(update), _chat_ref(update)
    if name == CURRENCY:
        return await chats.set_currency(who, chat, value)
    if name == COUNTRY:
        return await chats.set_country(who, chat, value)
    if name == LANGUAGE:
        return await chats.set_language(who, chat, value)
    try:
        seconds = int(parse_duration(value).total_seconds())
    except ValueError:
        raise SettingError(SettingProblem.NOT_A_DURATION, value) from None
    return await chats.set_expiry(who, chat, seconds)


async def settings_command(update: Update, context: PaylinkContext) -> None:
    """Show this chat's settings with buttons, or change one: /settings currency EUR."""
    if await refuse_unless(update, context, Action.CHANGE_SETTINGS):
        return
    args = context.args or []
    if not args:
        defaults = await context.services.chat_defaults.defaults_for(chat_of(update).id)
        await reply(update, context, _view(update, defaults), buttons=settings_keyboard(defaults))
        return
    name = args[0].lower()
    if name not in SETTING_NAMES or len(args) != 2:
        await reply(update, context, texts.SETTINGS_USAGE)
        return
    try:
        defaults = await _apply(update, context, name, args[1])
    except SettingError as exc:
        await reply(update, context, Markup("{problem}").format(problem=texts.setting_problem(exc)))
        return
    confirmation = Markup("{sentence}").format(sentence=_changed(name, defaults))
    await reply(
        update, context, join([confirmation, Markup(""), _view(update, defaults)]), buttons=settings_keyboard(defaults)
    )


async def settings_button(update: Update, context: PaylinkContext) -> None:
    """Open a picker, choose a value, or go back to the overview."""
    query = query_of(update)
    if await refuse_unless(update, context, Action.CHANGE_SETTINGS):
        return
    _prefix, name, *value = (query.data or "").split(":", 2)
    chats = context.services.chat_defaults
    if name == MENU or name not in SETTING_NAMES:
        await sending.answer(query)
        defaults = await chats.defaults_for(chat_of(update).id)
        await _show(update, context, _view(update, defaults), settings_keyboard(defaults))
        return
    if not value:
        await sending.answer(query)
        await _show(update, context, *picker(name))
        return
    try:
        defaults = await _apply(update, context, name, value[0])
    except SettingError as exc:
        await sending.answer(query, texts.setting_problem(exc), alert=True)
        return
    log.info("setting changed: %s", name, extra={"chat": chat_of(update).id, "user": actor(update).user_id})
    await sending.answer(query, _changed(name, defaults))
    await _show(update, context, _view(update, defaults), settings_keyboard(defaults))


async def _show(update: Update, context: PaylinkContext, text: Markup, markup: InlineKeyboardMarkup) -> None:
    """Turn the pressed settings message into ``text``."""
    message = query_of(update).message
    if isinstance(message, Message):
        await sending.edit_text(context.bot, message.chat.id, message.message_id, text, buttons=markup)
