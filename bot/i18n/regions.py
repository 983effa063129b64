"""Countries, their currencies and time zones (CLDR, through Babel), and where each language's sellers are.

Used to offer the likely choices first: the currencies and zones of a chat's country, the
countries of a person's language.
"""

from __future__ import annotations

from functools import cache

from babel.core import get_global

from bot.money import is_orderable

# Where PayerMax's merchants who speak each language sell, most of them first (PayerMax's markets,
# not every country where the language is spoken). The first is the default guess for a newcomer.
MARKETS: dict[str, tuple[str, ...]] = {
    "en": ("US", "PH", "IN", "SG", "MY", "GB", "AE", "HK", "AU", "CA"),
    "id": ("ID",),
    "ar": ("SA", "AE", "EG", "KW", "QA", "BH", "OM", "JO", "MA", "DZ"),
    "pt_BR": ("BR",),
    "es": ("MX", "CO", "PE", "CL", "UY", "PY", "BO"),
    "tr": ("TR",),
    "th": ("TH",),
    "zh_Hans": ("SG", "MY", "CN", "HK"),  # Simplified script: Singapore, Malaysia, the mainland
}


# The zone most people live in, for countries with several (CLDR lists zones alphabetically-ish).
MAIN_ZONES = {
    "ID": "Asia/Jakarta",
    "BR": "America/Sao_Paulo",
    "MX": "America/Mexico_City",
    "US": "America/New_York",
    "AU": "Australia/Sydney",
    "CA": "America/Toronto",
    "CL": "America/Santiago",
    "MY": "Asia/Kuala_Lumpur",
    "EC": "America/Guayaquil",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "AR": "America/Argentina/Buenos_Aires",
}


@cache
def currency_of(country: str) -> str | None:
    """The currency a country uses today (CLDR's legal tender), if any."""
    for code, _start, end, tender in get_global("territory_currencies").get(country.upper(), ()):
        if end is None and tender:
            return str(code)
    return None


@cache
def zones_of(country: str) -> tuple[str, ...]:
    """The IANA time zones of a country: the one most people live in first, then the others by name."""
    place = country.upper()
    zones = sorted(get_global("territory_zones").get(place, ()))
    main = MAIN_ZONES.get(place)
    return tuple([main, *(name for name in zones if name != main)] if main in zones else zones)


def country_of_zone(zone: str) -> str | None:
    """The country an IANA zone belongs to."""
    territory = get_global("zone_territories").get(zone)
    return str(territory) if territory and territory != "001" else None


def markets(language: str) -> tuple[str, ...]:
    """The countries a seller who speaks this language most likely sells in."""
    return MARKETS.get(language, MARKETS["en"])


def likely_currencies(language: str, country: str | None = None, *, limit: int = 8) -> list[str]:
    """Currencies to offer first: the country's, those of the language's markets, then USD (orderable ones only)."""
    countries = ([country] if country else []) + list(markets(language))
    found: list[str] = []
    for place in countries:
        currency = currency_of(place)
        if currency and is_orderable(currency) and currency not in found:
            found.append(currency)
    if "USD" not in found:
        found.append("USD")
    return found[:limit]


def likely_zones(country: str | None, language: str) -> list[str]:
    """Time zones to offer first: the country's (or the language's first market's), then UTC."""
    place = country or markets(language)[0]
    return [*zones_of(place), "UTC"]
