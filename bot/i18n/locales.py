"""The languages the bot speaks, how Telegram names them, and what PayerMax's payment page calls them."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError

from bot.money import is_rtl
from bot.money.locales import babel_locale

SUPPORTED = ("en", "id", "ar", "pt_BR", "es", "tr", "th", "zh_Hans")
FALLBACK = "en"
# What each language is called by its own speakers (buttons of /language and /settings).
NATIVE_NAMES = {
    "en": "English",
    "id": "Bahasa Indonesia",
    "ar": "العربية",
    "pt_BR": "Português (Brasil)",
    "es": "Español (Latinoamérica)",
    "tr": "Türkçe",
    "th": "ไทย",
    "zh_Hans": "简体中文",
}
# PayerMax's page language codes (contract §6): lowercase two letters, but "in" for Indonesian.
_PAYERMAX_CODES = {"id": "in", "pt_BR": "pt", "zh_Hans": "zh"}


def from_telegram(language_code: str | None) -> str | None:
    """The bot's language for a Telegram ``language_code`` ("pt-br", "es-419", "zh-hans"); None if none is close."""
    if not language_code:
        return None
    code = language_code.strip().lower().replace("_", "-")
    base = code.split("-", 1)[0]
    if base == "in":  # the old ISO code for Indonesian, still sent by some clients
        base = "id"
    return {
        "en": "en",
        "id": "id",
        "ar": "ar",
        "pt": "pt_BR",
        "es": "es",
        "tr": "tr",
        "th": "th",
        "zh": "zh_Hans",
    }.get(base)


def telegram_code(code: str) -> str:
    """The two-letter ISO 639-1 code Telegram's setMyCommands takes for this language ("pt_BR" -> "pt")."""
    return code.split("_", 1)[0]


def supported(code: str | None) -> str | None:
    """``code`` if the bot speaks it (as stored, e.g. "pt_BR"), else None."""
    return code if code in SUPPORTED else None


def format_locale(code: str) -> Locale:
    """The Babel locale that writes numbers, money and dates for this language (es: Latin America's es_419)."""
    return babel_locale(code if code in SUPPORTED else FALLBACK)


def format_locale_in(code: str, country: str | None) -> Locale:
    """The Babel locale that writes numbers for this language in ``country`` (ISO alpha-2), where that matters.

    A language whose locale is a region's rather than a country's (Spanish: Latin America's es_419)
    writes "1,500.50" in Mexico and "1.500,50" in Colombia or Argentina: the country settles it
    (es_CO). Other languages write numbers one way wherever the chat sells, and so does a region's
    language with no country, or one CLDR does not know it in.
    """
    locale = format_locale(code)
    if not (locale.territory or "").isdigit() or not country:  # UN M.49 regions are numeric ("419")
        return locale
    try:
        return Locale(locale.language, territory=country.upper(), script=locale.script)
    except (UnknownLocaleError, ValueError):
        return locale


def payermax_language(code: str) -> str:
    """What PayerMax's payment page calls this language."""
    return _PAYERMAX_CODES.get(code, code.split("_", 1)[0].lower())


def from_payermax(code: str) -> str | None:
    """The bot's language for one of PayerMax's page codes ("in" -> "id"), or None if it speaks none close."""
    for language in SUPPORTED:
        if payermax_language(language) == code.strip().lower():
            return language
    return None


def is_right_to_left(code: str) -> bool:
    """Whether this language is written right to left."""
    return is_rtl(code)
