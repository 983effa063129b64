"""/settings: a chat's defaults for new links, its languages, time zone and reminders, the payments
feed (in a group); and the first-run offer.

Button data is ``set:<name>`` to open a picker and ``set:<name>:<value>`` to choose (``setup:`` for
the same buttons under the first-run offer, which then shows itself again, with Done). Every press
is checked against the presser's role, since anyone in a group can press a button; naming or
stopping the payments feed is for owners only.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType

from bot.botapi import sending
from bot.botapi.markup import Markup
from bot.chat import texts
from bot.chat.context import PaylinkContext, actor, chat_of, query_of
from bot.chat.guards import refuse_unless
from bot.chat.reply import reply
from bot.config import parse_duration
from bot.i18n.locales import NATIVE_NAMES, SUPPORTED
from bot.i18n.reader import current
from bot.i18n.regions import likely_currencies, likely_zones, markets
from bot.money import is_orderable
from bot.services.access import Action
from bot.services.chat_defaults import ChatDefaults, ChatRef, SettingError, SettingProblem, minute_text, suggested
from storage.models import utcnow

log = logging.getLogger("paylink.chat.settings")

PREFIX = "set"
SETUP_PREFIX = "setup"  # the same buttons under the first-run offer
MENU, DONE = "menu", "done"
CURRENCY, COUNTRY, ZONE, EXPIRY, LANGUAGE, CUSTOMER = "currency", "country", "zone", "expiry", "language", "customer"
REMINDER, FEED, SUMMARY = "reminder", "feed", "summary"
SETTING_NAMES = (CURRENCY, COUNTRY, ZONE, EXPIRY, LANGUAGE, CUSTOMER, REMINDER, FEED, SUMMARY)
# Typed names people may use for them: /settings zone, /settings timezone, /settings customers ...
_ALIASES = {
    "timezone": ZONE,
    "tz": ZONE,
    "customers": CUSTOMER,
    "page": CUSTOMER,
    "lang": LANGUAGE,
    "reminders": REMINDER,
    "remind": REMINDER,
    "daily": SUMMARY,
    "report": SUMMARY,
}
# Reminder choices: the stored setting each typed or pressed value means (anything else is a duration).
REMINDER_OFF, REMINDER_AUTO = "off", "auto"
_REMINDER_WORDS: dict[str, int | None] = {REMINDER_OFF: 0, "no": 0, REMINDER_AUTO: None, "default": None, "on": None}
REMINDER_PRESETS = (1800, 3600, 2 * 3600, 6 * 3600, 86400)
FEED_ON, FEED_OFF = "on", "off"
# Currencies always offered after the likely ones; any other ISO code works as /settings currency XXX.
QUICK_CURRENCIES = ("USD", "EUR", "IDR", "BRL", "MXN", "TRY", "THB", "SAR", "AED", "PHP", "MYR", "SGD")
EXPIRY_PRESETS = (3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400)
SUMMARY_PRESETS = (8 * 60, 9 * 60, 12 * 60, 17 * 60, 18 * 60, 20 * 60, 21 * 60, 22 * 60)  # local times, in minutes
SUMMARY_OFF = "off"
BUTTONS_PER_ROW = 4
ZONES_OFFERED = 8


def _data(prefix: str, *parts: str | int) -> str:
    return ":".join([prefix, *map(str, parts)])


def _rows(buttons: list[InlineKeyboardButton], per_row: int = BUTTONS_PER_ROW) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def chat_ref(update: Update) -> ChatRef:
    """The update's chat, as the settings service stores it."""
    chat = chat_of(update)
    return ChatRef(chat.id, chat.type, chat.title if chat.type != ChatType.PRIVATE else None)


def _in_group(update: Update) -> bool:
    return chat_of(update).type != ChatType.PRIVATE


def settings_keyboard(
    defaults: ChatDefaults, *, group: bool, prefix: str = PREFIX, feed_here: bool | None = None
) -> InlineKeyboardMarkup:
    """One button per setting, showing its value now (and Done under the first-run offer).

    ``feed_here`` (in a group's /settings) says whether the group is the payments feed: the button
    offers to stop it, or to make the group the feed.
    """
    buttons = [
        InlineKeyboardButton(
            texts.setting_button(CURRENCY, defaults.currency or "—"), callback_data=_data(prefix, CURRENCY)
        ),
        InlineKeyboardButton(
            texts.setting_button(COUNTRY, defaults.country or "—"), callback_data=_data(prefix, COUNTRY)
        ),
        InlineKeyboardButton(
            texts.setting_button(ZONE, texts.zone_name(defaults.timezone, utcnow())), callback_data=_data(prefix, ZONE)
        ),
        InlineKeyboardButton(
            texts.setting_button(EXPIRY, texts.expiry_text(defaults.expires_seconds)),
            callback_data=_data(prefix, EXPIRY),
        ),
    ]
    if group:
        buttons.append(
            InlineKeyboardButton(
                texts.setting_button(LANGUAGE, NATIVE_NAMES.get(defaults.language, defaults.language)),
                callback_data=_data(prefix, LANGUAGE),
            )
        )
    buttons.append(
        InlineKeyboardButton(
            texts.setting_button(CUSTOMER, NATIVE_NAMES.get(defaults.customer_language, defaults.customer_language)),
            callback_data=_data(prefix, CUSTOMER),
        )
    )
    if prefix == PREFIX:  # not in the first-run offer, which keeps to what a new chat needs
        buttons.append(
            InlineKeyboardButton(
                texts.setting_button(REMINDER, texts.reminder_short(defaults.reminder_seconds)),
                callback_data=_data(prefix, REMINDER),
            )
        )
        buttons.append(
            InlineKeyboardButton(
                texts.setting_button(SUMMARY, texts.summary_time(defaults.summary_minute)),
                callback_data=_data(prefix, SUMMARY),
            )
        )
    rows = _rows(buttons, 2)
    if prefix == PREFIX and group and feed_here is not None:
        label, value = (texts.feed_stop_button(), FEED_OFF) if feed_here else (texts.feed_use_button(), FEED_ON)
        rows.append([InlineKeyboardButton(label, callback_data=_data(prefix, FEED, value))])
    if prefix == SETUP_PREFIX:
        # Done keeps what the offer shows, suggestions included: they travel in the button (<= 64 bytes).
        kept = _data(prefix, DONE, defaults.currency or "", defaults.country or "", defaults.timezone)
        rows.append([InlineKeyboardButton(texts.done_button(), callback_data=kept)])
    return InlineKeyboardMarkup(rows)


def picker(
    name: str, defaults: ChatDefaults, prefix: str = PREFIX, *, group: bool = False
) -> tuple[Markup, InlineKeyboardMarkup]:
    """The prompt and buttons for choosing one setting: the likely choices first."""
    back = [InlineKeyboardButton(texts.back_button(), callback_data=_data(prefix, MENU))]
    language = current().locale
    if name == CURRENCY:
        codes = list(dict.fromkeys([*likely_currencies(language, defaults.country), *QUICK_CURRENCIES]))[:16]
        choices = [InlineKeyboardButton(code, callback_data=_data(prefix, CURRENCY, code)) for code in codes]
        return texts.pick_currency(), InlineKeyboardMarkup([*_rows(choices), back])
    if name == EXPIRY:
        choices = [
            InlineKeyboardButton(texts.expiry_text(s), callback_data=_data(prefix, EXPIRY, s)) for s in EXPIRY_PRESETS
        ]
        return texts.pick_expiry(), InlineKeyboardMarkup([*_rows(choices, 3), back])
    if name == SUMMARY:
        times = [
            InlineKeyboardButton(texts.summary_time(minute), callback_data=_data(prefix, SUMMARY, minute_text(minute)))
            for minute in SUMMARY_PRESETS
        ]
        off = InlineKeyboardButton(texts.summary_time(None), callback_data=_data(prefix, SUMMARY, SUMMARY_OFF))
        return texts.pick_summary(group), InlineKeyboardMarkup([*_rows(times), [off], back])
    if name in (LANGUAGE, CUSTOMER):
        choices = [
            InlineKeyboardButton(NATIVE_NAMES[code], callback_data=_data(prefix, name, code)) for code in SUPPORTED
        ]
        prompt = texts.pick_language() if name == LANGUAGE else texts.pick_customer_language()
        return prompt, InlineKeyboardMarkup([*_rows(choices, 2), back])
    if name == REMINDER:
        choices = [
            InlineKeyboardButton(texts.reminder_short(0), callback_data=_data(prefix, REMINDER, REMINDER_OFF)),
            InlineKeyboardButton(texts.reminder_short(None), callback_data=_data(prefix, REMINDER, REMINDER_AUTO)),
            *(
                InlineKeyboardButton(texts.expiry_text(seconds), callback_data=_data(prefix, REMINDER, seconds))
                for seconds in REMINDER_PRESETS
            ),
        ]
        return texts.pick_reminder(), InlineKeyboardMarkup([*_rows(choices, 3), back])
    if name == ZONE:
        zones = likely_zones(defaults.country, language)[:ZONES_OFFERED]
        now = utcnow()
        choices = [
            InlineKeyboardButton(texts.zone_name(zone, now), callback_data=_data(prefix, ZONE, zone)) for zone in zones
        ]
        return texts.pick_zone(defaults.country), InlineKeyboardMarkup([*_rows(choices, 2), back])
    countries = list(dict.fromkeys(markets(language)))[:8]
    choices = [InlineKeyboardButton(code, callback_data=_data(prefix, COUNTRY, code)) for code in countries]
    return texts.ask_country(), InlineKeyboardMarkup([*_rows(choices), back])


async def _view(update: Update, context: PaylinkContext, defaults: ChatDefaults) -> tuple[Markup, InlineKeyboardMarkup]:
    """The chat's settings and their buttons."""
    chat = chat_of(update)
    place = chat.title if chat.type != ChatType.PRIVATE else None
    feed = await context.services.feed.current()
    group = _in_group(update)
    text = texts.settings_view(place, defaults, group=group, now=utcnow(), feed=feed, chat_id=chat.id)
    here = feed is not None and feed.chat_id == chat.id
    return text, settings_keyboard(defaults, group=group, feed_here=here)


def _changed(name: str, defaults: ChatDefaults) -> str:
    """Confirmation of a change (plain text: it is also a button's pop-up)."""
    if name == SUMMARY:
        return texts.summary_changed(defaults.summary_minute)
    value = {
        CURRENCY: defaults.currency or "—",
        COUNTRY: texts.country_name(defaults.country),
        ZONE: texts.zone_name(defaults.timezone, utcnow()),
        EXPIRY: texts.expiry_text(defaults.expires_seconds),
        LANGUAGE: texts.language_name(defaults.language),
        CUSTOMER: texts.language_name(defaults.customer_language),
        REMINDER: texts.reminder_setting(defaults.reminder_seconds),
    }[name]
    sentence = texts.setting_changed(name, value)
    if name == CURRENCY and defaults.currency and not is_orderable(defaults.currency):
        sentence += "\n" + texts.not_orderable(defaults.currency)
    return sentence


async def _apply(update: Update, context: PaylinkContext, name: str, value: str) -> ChatDefaults:
    """Change one setting of the update's chat; SettingError says why not."""
    chats = context.services.chat_defaults
    who, chat = actor(update), chat_ref(update)
    if name == CURRENCY:
        return await chats.set_currency(who, chat, value)
    if name == COUNTRY:
        return await chats.set_country(who, chat, value)
    if name == ZONE:
        return await chats.set_timezone(who, chat, value)
    if name == LANGUAGE:
        return await chats.set_language(who, chat, value)
    if name == CUSTOMER:
        return await chats.set_customer_language(who, chat, value)
    if name == REMINDER:
        return await chats.set_reminder(who, chat, _reminder_seconds(value))
    if name == SUMMARY:
        typed = SUMMARY_OFF if value.strip().casefold() == texts.summary_off_word().casefold() else value
        return await chats.set_daily_summary(who, chat, typed)
    try:
        seconds = int(parse_duration(value).total_seconds())
    except ValueError:
        raise SettingError(SettingProblem.NOT_A_DURATION, value) from None
    return await chats.set_expiry(who, chat, seconds)


def _reminder_seconds(value: str) -> int | None:
    """The stored reminder setting a typed or pressed value means: off, auto, or a duration before expiry."""
    word = value.strip().lower()
    if word in _REMINDER_WORDS:
        return _REMINDER_WORDS[word]
    try:
        return int(parse_duration(word).total_seconds())
    except ValueError:
        raise SettingError(SettingProblem.NOT_A_DURATION, value) from None


async def _switch_feed(update: Update, context: PaylinkContext, value: str) -> str | None:
    """Make this group the payments feed, or stop it here (owners only): what to say; None if refused."""
    if not _in_group(update):
        return texts.feed_only_groups()
    if await refuse_unless(update, context, Action.CHOOSE_FEED):
        return None
    feed = context.services.feed
    if value == FEED_OFF:
        return texts.feed_stopped() if await feed.stop(actor(update), chat_ref(update)) else texts.feed_not_here()
    await feed.use(actor(update), chat_ref(update))
    return texts.feed_started()


async def settings_command(update: Update, context: PaylinkContext) -> None:
    """Show this chat's settings with buttons, or change one: /settings currency EUR."""
    if await refuse_unless(update, context, Action.CHANGE_SETTINGS):
        return
    args = context.args or []
    group = _in_group(update)
    chats = context.services.chat_defaults
    if not args:
        view, buttons = await _view(update, context, await chats.defaults_for(chat_of(update).id))
        await reply(update, context, view, buttons=buttons)
        return
    name = _ALIASES.get(args[0].lower(), args[0].lower())
    feed_value = args[1].lower() if name == FEED and len(args) == 2 else None
    if (
        name not in SETTING_NAMES
        or len(args) != 2
        or (name == LANGUAGE and not group)
        or (name == FEED and feed_value not in (FEED_ON, FEED_OFF))
    ):
        await reply(update, context, texts.settings_usage())
        return
    if feed_value is not None:
        said = await _switch_feed(update, context, feed_value)
        if said is None:
            return
        sentence = said
        defaults = await chats.defaults_for(chat_of(update).id)
    else:
        try:
            defaults = await _apply(update, context, name, args[1])
        except SettingError as exc:
            await reply(update, context, Markup("{problem}").format(problem=texts.setting_problem(exc)))
            return
        sentence = _changed(name, defaults)
    view, buttons = await _view(update, context, defaults)
    confirmation = Markup("{sentence}").format(sentence=sentence)
    await reply(update, context, Markup("\n\n").join([confirmation, view]), buttons=buttons)


async def settings_button(update: Update, context: PaylinkContext) -> None:
    """Open a picker, choose a value, go back, or close the first-run offer."""
    query = query_of(update)
    if await refuse_unless(update, context, Action.CHANGE_SETTINGS):
        return
    prefix, name, *value = (query.data or "").split(":", 2)
    chats = context.services.chat_defaults
    group = _in_group(update)
    defaults = await chats.defaults_for(chat_of(update).id)
    if name == DONE:
        await sending.answer(query)
        currency, country, zone = ([*value[0].split(":"), "", "", ""] if value else ["", "", ""])[:3]
        kept = replace(defaults, currency=currency or None, country=country or None, timezone=zone or defaults.timezone)
        try:
            await chats.keep_suggestions(actor(update), chat_ref(update), kept)
        except SettingError as exc:  # a crafted button: keep nothing, say why
            await sending.answer(query, texts.setting_problem(exc), alert=True)
            return
        await _show(update, context, texts.setup_done(), None)
        return
    if name == MENU or name not in SETTING_NAMES:
        await sending.answer(query)
        await _show_overview(update, context, defaults, prefix, group)
        return
    if name == FEED and prefix == PREFIX:
        said = await _switch_feed(update, context, value[0] if value else "")
        if said is None:
            return  # refused: the refusal answered the press
        await sending.answer(query, said)
        await _show_overview(update, context, defaults, prefix, group)
        return
    if not value:
        await sending.answer(query)
        await _show(update, context, *picker(name, defaults, prefix, group=group))
        return
    try:
        defaults = await _apply(update, context, name, value[0])
    except SettingError as exc:
        await sending.answer(query, texts.setting_problem(exc), alert=True)
        return
    log.info("setting changed: %s", name, extra={"chat": chat_of(update).id, "user": actor(update).user_id})
    await sending.answer(query, _changed(name, defaults))
    await _show_overview(update, context, defaults, prefix, group)


async def _show_overview(
    update: Update, context: PaylinkContext, defaults: ChatDefaults, prefix: str, group: bool
) -> None:
    if prefix == SETUP_PREFIX:
        defaults = suggested(defaults, current().locale)
        text = texts.setup_offer(defaults, group=group, now=utcnow())
        await _show(update, context, text, settings_keyboard(defaults, group=group, prefix=prefix))
        return
    await _show(update, context, *await _view(update, context, defaults))


async def _show(update: Update, context: PaylinkContext, text: Markup, markup: InlineKeyboardMarkup | None) -> None:
    """Turn the pressed settings message into ``text``."""
    message = query_of(update).message
    if isinstance(message, Message):
        await sending.edit_text(context.bot, message.chat.id, message.message_id, text, buttons=markup)


async def offer_setup(update: Update, context: PaylinkContext) -> None:
    """Once per chat, to the first owner or admin who uses it: the chat's set-up in a few taps (skippable).

    Sent after the command's own answer, never instead of it: a /link with everything it needs is
    made at once, and this follows.
    """
    chat = chat_of(update)
    services = context.services
    defaults = await services.chat_defaults.defaults_for(chat.id)
    if defaults.setup_offered:
        return
    user = update.effective_user
    if user is None or not await services.access.may(user.id, Action.CHANGE_SETTINGS):
        return
    group = _in_group(update)
    language = current().locale

    def write(defaults: ChatDefaults) -> tuple[str, dict[str, Any] | None]:
        proposed = suggested(defaults, language)
        text = texts.setup_offer(proposed, group=group, now=utcnow())
        return str(text), settings_keyboard(proposed, group=group, prefix=SETUP_PREFIX).to_dict()

    # Once per chat, whichever replica or command gets here first.
    await services.chat_defaults.offer_setup(chat_ref(update), language=language, write=write)
