"""Per-chat settings (/settings, with buttons or as text) and the audit log (/audit).

Button data is ``set:<name>`` to open a picker and ``set:<name>:<value>`` to choose; every press
is checked against the presser's role, since anyone in a group can press a button.
"""

from __future__ import annotations

import logging
from html import escape

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

# The module, not its names: handlers imports this module too, and registers it.
from bot.chat import handlers, texts
from bot.config import parse_duration
from bot.money import is_orderable
from bot.services.access import Action
from bot.services.actors import Actor
from bot.services.chats import PAGE_LANGUAGES, ChatDefaults, ChatRef, SettingError

log = logging.getLogger("paylink.chat.settings")

PREFIX = "set"
MENU = "menu"
CURRENCY, COUNTRY, EXPIRY, LANGUAGE = "currency", "country", "expiry", "language"
# Currencies offered as buttons; any other ISO code works as /settings currency XXX.
QUICK_CURRENCIES = ("USD", "EUR", "GBP", "IDR", "PHP", "THB", "MYR", "SGD", "INR", "BRL", "MXN", "SAR", "AED", "TRY", "VND", "JPY")
EXPIRY_PRESETS = (3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400)
BUTTONS_PER_ROW = 4
AUDIT_DEFAULT_EVENTS = 20
MESSAGE_LIMIT = 4096  # Telegram's limit for one text message


def _data(*parts: str | int) -> str:
    return ":".join([PREFIX, *map(str, parts)])


def _rows(buttons: list[InlineKeyboardButton], per_row: int = BUTTONS_PER_ROW) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def _back() -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton("« Back", callback_data=_data(MENU))]


def settings_keyboard(defaults: ChatDefaults) -> InlineKeyboardMarkup:
    """One button per setting, showing its current value."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(f"Currency: {defaults.currency}", callback_data=_data(CURRENCY)),
                InlineKeyboardButton(f"Country: {defaults.country}", callback_data=_data(COUNTRY)),
            ],
            [
                InlineKeyboardButton(f"Valid for: {texts.expiry_text(defaults.expires_seconds)}", callback_data=_data(EXPIRY)),
                InlineKeyboardButton(f"Page: {texts.LANGUAGE_NAMES.get(defaults.language, defaults.language)}", callback_data=_data(LANGUAGE)),
            ],
        ]
    )


def picker(name: str) -> tuple[str, InlineKeyboardMarkup]:
    """The prompt and buttons for choosing one setting."""
    if name == CURRENCY:
        choices = [InlineKeyboardButton(code, callback_data=_data(CURRENCY, code)) for code in QUICK_CURRENCIES]
        return texts.PICK_CURRENCY, InlineKeyboardMarkup([*_rows(choices), _back()])
    if name == EXPIRY:
        choices = [InlineKeyboardButton(texts.expiry_text(s), callback_data=_data(EXPIRY, s)) for s in EXPIRY_PRESETS]
        return texts.PICK_EXPIRY, InlineKeyboardMarkup([*_rows(choices, 3), _back()])
    if name == LANGUAGE:
        choices = [InlineKeyboardButton(texts.LANGUAGE_NAMES[code], callback_data=_data(LANGUAGE, code)) for code in PAGE_LANGUAGES]
        return texts.PICK_LANGUAGE, InlineKeyboardMarkup([*_rows(choices, 3), _back()])
    return texts.ASK_COUNTRY, InlineKeyboardMarkup([_back()])


def _chat_ref(update: Update) -> ChatRef:
    chat = update.effective_chat
    return ChatRef(chat.id, chat.type, chat.title if chat.type != ChatType.PRIVATE else None)


def _actor(update: Update) -> Actor:
    user = update.effective_user
    return Actor(user.id, user.full_name, update.effective_chat.id)


def _view(update: Update, defaults: ChatDefaults) -> str:
    chat = update.effective_chat
    place = escape(chat.title) if chat.type != ChatType.PRIVATE and chat.title else "this private chat"
    return texts.SETTINGS.format(
        place=place, currency=defaults.currency, country=defaults.country,
        expiry=texts.expiry_text(defaults.expires_seconds), language=escape(texts.language_name(defaults.language)),
    )


def _changed(name: str, defaults: ChatDefaults) -> str:
    """Confirmation of a change (plain text: it is also a button's pop-up)."""
    value = {
        CURRENCY: defaults.currency,
        COUNTRY: defaults.country,
        EXPIRY: texts.expiry_text(defaults.expires_seconds),
        LANGUAGE: texts.language_name(defaults.language),
    }[name]
    return texts.SETTING_CHANGED.format(name=texts.SETTING_NAMES[name], value=value)


async def _apply(update: Update, context: ContextTypes.DEFAULT_TYPE, name: str, value: str) -> ChatDefaults:
    """Change one setting of the update's chat; SettingError says why not."""
    chats = context.application.bot_data["services"].chats
    actor, chat = _actor(update), _chat_ref(update)
    if name == CURRENCY:
        return await chats.set_currency(actor, chat, value)
    if name == COUNTRY:
        return await chats.set_country(actor, chat, value)
    if name == LANGUAGE:
        return await chats.set_language(actor, chat, value)
    try:
        seconds = int(parse_duration(value).total_seconds())
    except ValueError as exc:
        raise SettingError(f"{exc}.") from None
    return await chats.set_expiry(actor, chat, seconds)


async def settings_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show this chat's settings with buttons, or change one: /settings currency EUR."""
    if await handlers.refuse_unless(update, context, Action.CHANGE_SETTINGS):
        return
    chats = context.application.bot_data["services"].chats
    args = context.args or []
    if not args:
        defaults = await chats.defaults_for(update.effective_chat.id)
        await _reply(update, _view(update, defaults), reply_markup=settings_keyboard(defaults))
        return
    name = args[0].lower()
    if name not in {CURRENCY, COUNTRY, EXPIRY, LANGUAGE} or len(args) != 2:
        await _reply(update, texts.SETTINGS_USAGE)
        return
    try:
        defaults = await _apply(update, context, name, args[1])
    except SettingError as exc:
        await _reply(update, escape(str(exc)))
        return
    note = texts.NOT_ORDERABLE.format(currency=defaults.currency) if name == CURRENCY and not is_orderable(defaults.currency) else ""
    await _reply(update, escape(_changed(name, defaults)) + escape(note) + "\n\n" + _view(update, defaults), reply_markup=settings_keyboard(defaults))


async def settings_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Open a picker, choose a value, or go back to the overview."""
    query = update.callback_query
    if await handlers.refuse_unless(update, context, Action.CHANGE_SETTINGS):
        return
    _prefix, name, *value = query.data.split(":", 2)
    chats = context.application.bot_data["services"].chats
    if name == MENU or name not in {CURRENCY, COUNTRY, EXPIRY, LANGUAGE}:
        await query.answer()
        defaults = await chats.defaults_for(update.effective_chat.id)
        await _show(query, _view(update, defaults), settings_keyboard(defaults))
        return
    if not value:
        await query.answer()
        await _show(query, *picker(name))
        return
    try:
        defaults = await _apply(update, context, name, value[0])
    except SettingError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    log.info("setting changed: %s", name, extra={"chat": update.effective_chat.id, "user": update.effective_user.id})
    note = texts.NOT_ORDERABLE.format(currency=defaults.currency) if name == CURRENCY and not is_orderable(defaults.currency) else ""
    await query.answer((_changed(name, defaults) + note)[:200])
    await _show(query, _view(update, defaults), settings_keyboard(defaults))


async def _show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup) -> None:
    """Turn the settings message into ``text``; pressing what is already shown changes nothing."""
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def audit_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the latest audit events (owners only): /audit or /audit 50."""
    if await handlers.refuse_unless(update, context, Action.READ_AUDIT):
        return
    args = context.args or []
    limit = int(args[0]) if args and args[0].isdigit() else AUDIT_DEFAULT_EVENTS
    events = await context.application.bot_data["services"].audit.recent(limit)
    if not events:
        await _reply(update, texts.AUDIT_EMPTY)
        return
    text = texts.AUDIT_HEADER
    for event in events:
        line = "\n" + texts.audit_line(event)
        if len(text) + len(line) > MESSAGE_LIMIT:
            break  # newest first, so what is cut is the oldest
        text += line
    await _reply(update, text)


async def _reply(update: Update, text: str, **kwargs: object) -> None:
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, **kwargs)


def register(application: Application) -> None:
    """Register /settings, its buttons, and /audit."""
    application.add_handler(CommandHandler("settings", settings_command))
    application.add_handler(CallbackQueryHandler(settings_button, pattern=f"^{PREFIX}:"))
    application.add_handler(CommandHandler("audit", audit_command))
