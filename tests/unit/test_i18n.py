"""Who reads which language, and times, money and identifiers written the reader's way."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.chat import texts
from bot.i18n import clock
from bot.i18n.locales import from_payermax, from_telegram, payermax_language, telegram_code
from bot.i18n.reader import Reader, reading_as
from bot.i18n.regions import likely_currencies, likely_zones
from bot.money import Money
from bot.services.chat_defaults import ChatDefaults, suggested

FSI, PDI = "\u2068", "\u2069"
MOMENT = datetime(2026, 11, 27, 16, 19, tzinfo=UTC)


@pytest.mark.parametrize(
    ("telegram", "language"),
    [
        ("en", "en"),
        ("en-GB", "en"),
        ("id", "id"),
        ("in", "id"),  # the old ISO code some clients still send
        ("ar", "ar"),
        ("pt-br", "pt_BR"),
        ("pt", "pt_BR"),
        ("pt-PT", "pt_BR"),
        ("es", "es"),
        ("es-419", "es"),
        ("es-MX", "es"),
        ("tr", "tr"),
        ("th", "th"),
        ("zh-hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("fr", None),
        ("", None),
        (None, None),
    ],
)
def test_telegram_language_codes_fall_back_as_people_expect(telegram: str | None, language: str | None) -> None:
    assert from_telegram(telegram) == language


@pytest.mark.parametrize(
    ("language", "payermax", "menu"),
    [("id", "in", "id"), ("pt_BR", "pt", "pt"), ("zh_Hans", "zh", "zh"), ("ar", "ar", "ar"), ("en", "en", "en")],
)
def test_payermax_and_menu_codes(language: str, payermax: str, menu: str) -> None:
    """PayerMax's page wants "in" for Indonesian; setMyCommands wants two letters."""
    assert payermax_language(language) == payermax and from_payermax(payermax) == language
    assert telegram_code(language) == menu


@pytest.mark.parametrize(
    ("language", "zone", "full", "short"),
    [
        ("en", "UTC", "Nov 27, 2026, 16:19 UTC", "Nov 27 16:19"),
        ("id", "Asia/Jakarta", "27 Nov 2026 23.19 WIB", "27 Nov 23.19"),
        ("pt_BR", "America/Sao_Paulo", "27 de nov. de 2026 13:19 BRT", "27 de nov. 13:19"),
        ("tr", "Europe/Istanbul", "27 Kas 2026 19:19 TSİ", "27 Kas 19:19"),
        ("zh_Hans", "Asia/Singapore", "2026年11月28日 00:19 UTC+8", "11月28日 00:19"),
        ("en", "Asia/Dubai", "Nov 27, 2026, 20:19 UTC+4", "Nov 27 20:19"),
    ],
)
def test_times_are_in_the_chats_zone_with_its_name(language: str, zone: str, full: str, short: str) -> None:
    with reading_as(Reader(locale=language, timezone=zone)):
        assert (clock.when(MOMENT), clock.short_when(MOMENT)) == (full, short)


def test_today_starts_at_the_readers_midnight() -> None:
    """ "Paid today" in Jakarta starts at 00:00 WIB, which is 17:00 UTC the day before."""
    with reading_as(Reader(locale="id", timezone="Asia/Jakarta")):
        assert clock.today_starts(MOMENT) == datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
    with reading_as(Reader(locale="en", timezone="America/Mexico_City")):
        assert clock.today_starts(MOMENT) == datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("language", "written"),
    [("en", "IDR\xa0150,000"), ("id", "Rp\xa0150.000"), ("pt_BR", "IDR\xa0150.000"), ("tr", "IDR\xa0150.000")],
)
def test_money_in_the_readers_way(language: str, written: str) -> None:
    with reading_as(Reader(locale=language)):
        assert texts.money(Money(Decimal("150000"), "IDR")) == written


def test_right_to_left_keeps_amounts_ids_and_times_in_one_piece() -> None:
    """In Arabic every amount, identifier and time is isolated (FSI … PDI), so the sentence cannot reorder it."""
    with reading_as(Reader(locale="ar", timezone="Asia/Riyadh")):
        assert texts.money(Money(Decimal("300"), "SAR")) == f"{FSI}\u200f300.00\xa0ر.س.\u200f{PDI}"
        assert texts.ltr("PL7Q2M9XK4R8TA") == f"{FSI}PL7Q2M9XK4R8TA{PDI}"
        assert texts.ltr("https://pay.example/x") == f"{FSI}https://pay.example/x{PDI}"
        assert clock.when(MOMENT) == f"{FSI}27 نوفمبر 2026، 19:19 UTC+3{PDI}"
    with reading_as(Reader(locale="en")):
        assert texts.ltr("PL7Q2M9XK4R8TA") == "PL7Q2M9XK4R8TA"  # left-to-right text needs no marks


def test_likely_choices_follow_the_persons_language() -> None:
    assert likely_currencies("id")[0] == "IDR" and likely_currencies("pt_BR")[0] == "BRL"
    assert likely_currencies("ar")[:2] == ["SAR", "AED"]
    assert likely_zones(None, "id")[0] == "Asia/Jakarta" and likely_zones("BR", "en")[0] == "America/Sao_Paulo"


def test_first_run_suggests_only_what_one_country_makes_sure() -> None:
    """Indonesian: IDR, Indonesia, Jakarta proposed; Arabic or English (many countries): nothing guessed."""
    blank = ChatDefaults(None, None, "en", "en", "UTC", 86400)
    assert suggested(blank, "id") == replace(blank, currency="IDR", country="ID", timezone="Asia/Jakarta")
    assert suggested(blank, "tr") == replace(blank, currency="TRY", country="TR", timezone="Europe/Istanbul")
    assert suggested(blank, "ar") == blank and suggested(blank, "en") == blank
    chosen = replace(blank, currency="USD", timezone="Asia/Makassar", timezone_chosen=True)
    assert suggested(chosen, "id") == replace(chosen, country="ID")  # what the chat chose stays
