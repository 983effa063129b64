"""The Babel locale behind each of the bot's language codes ("en", "pt-br", "es", "zh_Hans")."""

from __future__ import annotations

from functools import lru_cache

from babel import Locale, UnknownLocaleError

# The bot's Spanish is for Latin America: CLDR's es_419 has its number and currency formats.
_ALIASES = {"es": "es_419"}


@lru_cache(maxsize=64)
def babel_locale(code: str) -> Locale:
    """Babel locale for a Telegram-style language code ("pt-br", "zh-hans"); unknown codes fall back to English."""
    cleaned = code.strip().replace("-", "_")
    candidates = (_ALIASES.get(cleaned.lower(), cleaned), cleaned.split("_")[0], "en")
    for candidate in candidates:
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    raise AssertionError("Babel always knows English")
