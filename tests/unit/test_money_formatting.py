"""Amounts read the way each seller's locale writes them, with PayerMax's decimals, and stay put in Arabic text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.money import Money, format_money
from bot.money.formatting import format_amount_plain, format_number, is_rtl, isolate
from bot.money.locales import babel_locale

NBSP = "\u00a0"
RLM = "\u200f"  # CLDR's Arabic currency pattern starts with it, and its Arabic symbols end with it
FSI, PDI = "\u2068", "\u2069"

IDR = Money(Decimal(150000), "IDR")
BRL = Money(Decimal("89.90"), "BRL")
TRY = Money(Decimal(150), "TRY")
SAR = Money(Decimal(300), "SAR")
THB = Money(Decimal(150), "THB")
USD = Money(Decimal("12.5"), "USD")
CNY = Money(Decimal(99), "CNY")
MONEYS = (IDR, BRL, TRY, SAR, THB, USD, CNY)


def _ar(text: str) -> str:
    return f"{FSI}{RLM}{text}{PDI}"


# One row per locale, in the order of MONEYS.
EXPECTED = {
    "en": (
        f"IDR{NBSP}150,000",
        "R$89.90",
        f"TRY{NBSP}150.00",
        f"SAR{NBSP}300.00",
        f"THB{NBSP}150.00",
        "$12.50",
        "CN¥99.00",
    ),
    # CLDR's currency spacing puts a no-break space after the letters of "Rp", never after "$" or "฿".
    "id": (f"Rp{NBSP}150.000", "R$89,90", f"TRY{NBSP}150,00", f"SAR{NBSP}300,00", "฿150,00", "US$12,50", "CN¥99,00"),
    "ar": (
        _ar(f"150,000{NBSP}IDR"),
        _ar(f"89.90{NBSP}R$"),
        _ar(f"150.00{NBSP}TRY"),
        _ar(f"300.00{NBSP}ر.س.{RLM}"),
        _ar(f"150.00{NBSP}฿"),
        _ar(f"12.50{NBSP}US$"),
        _ar(f"99.00{NBSP}CN¥"),
    ),
    "pt_BR": (
        f"IDR{NBSP}150.000",
        f"R${NBSP}89,90",
        f"TRY{NBSP}150,00",
        f"SAR{NBSP}300,00",
        f"฿{NBSP}150,00",
        f"US${NBSP}12,50",
        f"CN¥{NBSP}99,00",
    ),
    # Latin-American Spanish (es_419) names every currency by its code.
    "es": (
        f"IDR{NBSP}150,000",
        f"BRL{NBSP}89.90",
        f"TRY{NBSP}150.00",
        f"SAR{NBSP}300.00",
        f"THB{NBSP}150.00",
        f"USD{NBSP}12.50",
        f"CNY{NBSP}99.00",
    ),
    "tr": (f"IDR{NBSP}150.000", "R$89,90", "₺150,00", f"SAR{NBSP}300,00", "฿150,00", "$12,50", "CN¥99,00"),
    "th": (f"IDR{NBSP}150,000", "R$89.90", f"TRY{NBSP}150.00", f"SAR{NBSP}300.00", "฿150.00", "US$12.50", "CN¥99.00"),
    "zh_Hans": (
        f"IDR{NBSP}150,000",
        "R$89.90",
        f"TRY{NBSP}150.00",
        f"SAR{NBSP}300.00",
        f"THB{NBSP}150.00",
        "US$12.50",
        "¥99.00",
    ),
}


@pytest.mark.parametrize(
    ("locale", "money", "text"),
    [(locale, money, text) for locale, texts in EXPECTED.items() for money, text in zip(MONEYS, texts, strict=True)],
)
def test_format_money_writes_amounts_as_each_locale_does(locale: str, money: Money, text: str) -> None:
    assert format_money(money, locale) == text


@pytest.mark.parametrize(
    ("money", "locale", "text"),
    [
        (Money(Decimal("1234.5"), "KWD"), "en", f"KWD{NBSP}1,234.50"),  # ISO says 3 decimals, PayerMax 2
        (Money(Decimal("1500000.00"), "IDR"), "id", f"Rp{NBSP}1.500.000"),  # IDR never shows decimals
        (Money(Decimal(1500), "JPY"), "en", "¥1,500"),
        (Money(Decimal("12.5"), "EUR"), "de", f"12,50{NBSP}€"),  # any locale Babel knows works
        (Money(Decimal("12.5"), "EUR"), "pt-br", f"€{NBSP}12,50"),  # Telegram spells codes with a hyphen
        (Money(Decimal(99), "CNY"), "zh-hans", "¥99.00"),
        (Money(Decimal("12.5"), "USD"), "xx-unknown", "$12.50"),
        (Money(Decimal("12.5"), "USD"), "", "$12.50"),
    ],
)
def test_format_money_keeps_payermax_decimals_and_falls_back_to_english(money: Money, locale: str, text: str) -> None:
    assert format_money(money, locale) == text


def test_money_str_is_english_human_text() -> None:
    assert str(IDR) == f"IDR{NBSP}150,000"


def test_arabic_amount_keeps_its_order_inside_a_sentence() -> None:
    sentence = f"تم الدفع: {format_money(SAR, 'ar')} شكرا"
    # The amount is one isolated run: nothing of the sentence sits between the isolate marks.
    assert sentence.count(FSI) == sentence.count(PDI) == 1
    inner = sentence[sentence.index(FSI) + 1 : sentence.index(PDI)]
    assert inner == f"{RLM}300.00{NBSP}ر.س.{RLM}"


def test_arabic_uses_latin_digits_because_cldr_default_for_ar_is_latn() -> None:
    # The documented choice rests on this CLDR fact; if a Babel upgrade changes it, revisit formatting.py.
    assert babel_locale("ar").default_numbering_system == "latn"
    assert not any("\u0660" <= char <= "\u0669" for char in format_money(Money(Decimal("1234.5"), "SAR"), "ar"))


@pytest.mark.parametrize(
    ("locale", "rtl"), [("ar", True), ("ar_SA", True), ("en", False), ("id", False), ("zh_Hans", False), ("xx", False)]
)
def test_is_rtl(locale: str, rtl: bool) -> None:
    assert is_rtl(locale) is rtl


def test_isolate_wraps_any_fragment() -> None:
    assert isolate("PL12345") == f"{FSI}PL12345{PDI}"


@pytest.mark.parametrize(
    ("money", "locale", "text"),
    [
        (IDR, "id", "150.000"),
        (IDR, "en", "150,000"),
        (BRL, "pt_BR", "89,90"),
        (USD, "en", "12.50"),
        (Money(Decimal("1234.5"), "KWD"), "tr", "1.234,50"),
        (SAR, "ar", f"{FSI}300.00{PDI}"),
        (THB, "th", "150.00"),
        (CNY, "zh_Hans", "99.00"),
        (Money(Decimal(1500), "JPY"), "es", "1,500"),
    ],
)
def test_format_amount_plain_has_no_currency_sign(money: Money, locale: str, text: str) -> None:
    assert format_amount_plain(money, locale) == text


@pytest.mark.parametrize(
    ("value", "locale", "text"),
    [
        (1250, "en", "1,250"),
        (1250, "id", "1.250"),
        (1250, "pt_BR", "1.250"),
        (1250, "tr", "1.250"),
        (1250, "es", "1,250"),
        (3, "th", "3"),
        (1250, "ar", f"{FSI}1,250{PDI}"),
        (Decimal("1250.5"), "id", "1.250,5"),
    ],
)
def test_format_number_groups_counts_the_local_way(value: int | Decimal, locale: str, text: str) -> None:
    assert format_number(value, locale) == text
