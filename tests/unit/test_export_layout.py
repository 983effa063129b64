"""/export's layout for the reader's spreadsheet: delimiter and decimal mark by locale, ids kept as written."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from bot.botapi.markup import visible_text
from bot.chat import texts
from bot.i18n.locales import SUPPORTED
from bot.i18n.reader import Reader, reading_as
from bot.services.chat_defaults import ChatDefaults, market_country
from bot.services.exports import DECIMAL_COMMA, DECIMAL_POINT, CsvStyle, amount_text, identifier
from bot.services.periods import Period, PeriodKind

# Where Excel's decimal mark is a comma its list separator is ";"; CLDR says which languages write "12,50".
COMMA_LANGUAGES = {"id", "pt_BR", "tr"}


def _style(language: str, country: str | None = None) -> CsvStyle:
    with reading_as(Reader(language, "UTC")):
        return texts.export_style(country)


@pytest.mark.parametrize("language", SUPPORTED)
def test_each_language_gets_its_decimal_mark_and_the_delimiter_that_goes_with_it(language: str) -> None:
    expected = DECIMAL_COMMA if language in COMMA_LANGUAGES else DECIMAL_POINT
    assert _style(language) == expected
    assert (expected.delimiter, expected.decimal) in ((";", ","), (",", "."))


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("CO", DECIMAL_COMMA),  # Colombia writes 1.500,50
        ("AR", DECIMAL_COMMA),
        ("CL", DECIMAL_COMMA),
        ("MX", DECIMAL_POINT),  # Mexico writes 1,500.50
        ("PE", DECIMAL_POINT),
        (None, DECIMAL_POINT),  # Latin America's es_419, as the bot's Spanish writes money
        ("ZZ", DECIMAL_POINT),  # a country CLDR has no Spanish for: es_419 again
    ],
)
def test_spanish_follows_the_chats_country(country: str | None, expected: CsvStyle) -> None:
    assert _style("es", country) == expected


def test_other_languages_do_not_follow_the_country() -> None:
    """A language that writes decimals one way keeps it wherever the chat sells (an English reader in Indonesia)."""
    assert _style("en", "ID") == DECIMAL_POINT
    assert _style("th", "BR") == DECIMAL_POINT
    assert _style("pt_BR", "MX") == DECIMAL_COMMA


def test_the_market_is_the_chats_country_else_its_currencys() -> None:
    blank = ChatDefaults(None, None, "es", "es", "UTC", 86400)
    assert market_country(blank) is None
    assert market_country(replace(blank, currency="COP")) == "CO"
    assert market_country(replace(blank, currency="MXN", country="CO")) == "CO"
    assert market_country(replace(blank, currency="EUR")) is None  # a union, not a country


@pytest.mark.parametrize(
    ("amount", "decimal", "text"),
    [
        (Decimal("150000"), ",", "150000"),
        (Decimal("1234567.50"), ",", "1234567,50"),  # no thousands separator, whatever the locale
        (Decimal("1234567.50"), ".", "1234567.50"),
        (Decimal("0.125"), ",", "0,125"),
        (None, ",", ""),
    ],
)
def test_amounts_are_plain_numbers_with_the_readers_decimal_mark(
    amount: Decimal | None, decimal: str, text: str
) -> None:
    assert amount_text(amount, decimal) == text


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("PL7KQ2M9XH3TAB", "PL7KQ2M9XH3TAB"),  # our link ids start with letters: text already
        ("T1; T2", "T1; T2"),
        ("BYLqPQaQlD", "BYLqPQaQlD"),
        ("7123456789", "7123456789"),  # a user's id: a number shown in full
        ("-100222333", "-100222333"),  # a small group's id stays a negative number
        ("", ""),
        ("-1001234567890", "'-1001234567890"),  # a supergroup's id would show as -1.00123E+12
        ("20240227000000123456", "'20240227000000123456"),  # past 15 digits a spreadsheet drops the last ones
        ("0042", "'0042"),  # the leading zeros would go
        ("1E5", "'1E5"),  # would become 100000
        ("2026-11-27", "'2026-11-27"),  # would become a date
        ("=1+2", "'=1+2"),
    ],
)
def test_ids_stay_as_written(value: str, written: str) -> None:
    assert identifier(value) == written


@pytest.mark.parametrize(
    ("style", "says"),
    [
        (DECIMAL_COMMA, "Columns are separated by semicolons (;) and amounts have a decimal comma."),
        (DECIMAL_POINT, "Columns are separated by commas (,) and amounts have a decimal point."),
    ],
)
def test_the_caption_says_how_the_file_is_laid_out(style: CsvStyle, says: str) -> None:
    period = Period(PeriodKind.CALENDAR_MONTH, date(2026, 11, 1), date(2026, 11, 30))
    with reading_as(Reader("en", "Asia/Jakarta")):
        caption = visible_text(texts.export_caption(4, period, "Asia/Jakarta", style))
    assert caption.startswith("November 2026: 4 links made, with their payments. Times are in Asia/Jakarta. ")
    assert caption.endswith(says)
