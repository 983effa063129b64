"""Amounts typed the way sellers in each market write them are read exactly, and anything uncertain is asked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.money import AmountError, AmountProblem, Money, format_money
from bot.money.formatting import format_amount_plain
from bot.money.reading import AmountReading, read_amount, read_amount_prefix, settle

# A row: (typed /link arguments, chat currency, amounts most likely first, the certain currency or the
# choices the bot must ask about (a tuple) or None when nothing names one, what is left for the description).
Row = tuple[str, str | None, tuple[str, ...], str | tuple[str, ...] | None, str]

INDONESIAN: list[Row] = [
    ("150rb Kue lapis", "IDR", ("150000",), "IDR", "Kue lapis"),
    ("150 rb Kue lapis", "IDR", ("150000",), "IDR", "Kue lapis"),
    ("150 ribu rupiah", "USD", ("150000",), "IDR", ""),
    ("75000 Batik", None, ("75000",), None, "Batik"),
    ("150.000", "IDR", ("150000",), "IDR", ""),
    ("1.500.000 Sepatu", "IDR", ("1500000",), "IDR", "Sepatu"),
    ("Rp 150.000", None, ("150000",), "IDR", ""),
    ("Rp150.000 Batik tulis", "USD", ("150000",), "IDR", "Batik tulis"),
    ("Rp. 75.000", None, ("75000",), "IDR", ""),
    ("Rp 150.000,- Kue", None, ("150000",), "IDR", "Kue"),  # ",-": no cents
    ("rp 75rb", None, ("75000",), "IDR", ""),
    ("1,5jt", "IDR", ("1500000",), "IDR", ""),
    ("Rp 1,5 jt Kulkas", None, ("1500000",), "IDR", "Kulkas"),
    ("2 juta Sepatu", "IDR", ("2000000",), "IDR", "Sepatu"),
    ("150k Kaos", "IDR", ("150000",), "IDR", "Kaos"),
    ("150000 IDR Kue", "USD", ("150000",), "IDR", "Kue"),
    ("1 500 000", "IDR", ("1500000",), "IDR", ""),
    ("12,50 USD", "IDR", ("12.50",), "USD", ""),  # Indonesian decimal comma
    ("1.500", "USD", ("1500",), "USD", ""),  # in id a lone dot groups thousands, whatever the currency
    ("$25 Tas", "IDR", ("25",), ("USD", "MXN"), "Tas"),
    ("150000 try", "IDR", ("150000",), "TRY", ""),  # "try" is not an Indonesian word
]

ARABIC: list[Row] = [
    ("٣٠٠ ر.س عباية", None, ("300",), "SAR", "عباية"),
    ("٣٠٠ ر.س.", None, ("300",), "SAR", ""),
    ("300 ر.س", None, ("300",), "SAR", ""),
    ("٣٠٠ر.س عباية", None, ("300",), "SAR", "عباية"),
    ("300 SR", None, ("300",), "SAR", ""),
    ("SAR 300", None, ("300",), "SAR", ""),
    ("\u20c1 300", None, ("300",), "SAR", ""),  # the Saudi riyal sign of 2025
    ("٣٠٠ ريال", None, ("300",), ("SAR", "QAR", "OMR"), ""),
    ("٣٠٠ ريال عباية", "SAR", ("300",), "SAR", "عباية"),
    ("١٬٥٠٠ ر.س", None, ("1500",), "SAR", ""),
    ("١٢٫٥٠ د.إ", None, ("12.50",), "AED", ""),
    ("٥٠٠ درهم", "AED", ("500",), "AED", ""),
    ("٥٠٠ درهم", None, ("500",), ("AED", "MAD"), ""),
    ("٣٠٠ ريالات عباية", "SAR", ("300",), "SAR", "عباية"),
    ("250 ج.م", None, ("250",), "EGP", ""),
    ("۱۲۰۰ ر.س", None, ("1200",), "SAR", ""),  # Persian digits
    ("٣٠٠ عباية", "SAR", ("300",), "SAR", "عباية"),
    ("1,500 SR", None, ("1500",), "SAR", ""),  # ar writes "," between thousands
    ("1.500 ر.س", None, ("1500", "1.5"), "SAR", ""),  # and "." for decimals, so a lone dot is unclear
    ("٥ ألف ريال", "SAR", ("5000",), "SAR", ""),
    ("\u2068\u200f300.00\u00a0ر.س.\u200f\u2069", "SAR", ("300",), "SAR", ""),  # copied from the bot's own text
]

TURKISH: list[Row] = [
    ("150 TL Ayakkabı", None, ("150",), "TRY", "Ayakkabı"),
    ("150TL", None, ("150",), "TRY", ""),
    ("₺150", None, ("150",), "TRY", ""),
    ("₺1.500,50", None, ("1500.50",), "TRY", ""),
    ("1.500 TL", None, ("1500",), "TRY", ""),
    ("1.250.000 TL Araba", None, ("1250000",), "TRY", "Araba"),
    ("150,50 TL", None, ("150.50",), "TRY", ""),
    ("1 500 TL", None, ("1500",), "TRY", ""),
    ("1\u202f500\u00a0TL", None, ("1500",), "TRY", ""),  # narrow and ordinary no-break spaces
    ("150 lira", None, ("150",), "TRY", ""),
    ("150 try", None, ("150",), "TRY", ""),  # not a Turkish word: the code it is
    ("150 TRY Çanta", "USD", ("150",), "TRY", "Çanta"),
    ("150 bin TL", None, ("150000",), "TRY", ""),
    ("2,5 bin TL Mont", None, ("2500",), "TRY", "Mont"),
    ("150 Ayakkabı", "TRY", ("150",), "TRY", "Ayakkabı"),
    ("150 sar", None, ("150",), ("SAR",), ""),  # "sar" (wrap) is a Turkish word: ask
    ("$20 Kitap", "TRY", ("20",), ("USD", "MXN"), "Kitap"),
    ("€20", "TRY", ("20",), "EUR", ""),
]

THAI: list[Row] = [
    ("๑๕๐ บาท", None, ("150",), "THB", ""),
    ("150 บาท", None, ("150",), "THB", ""),
    ("150บาท เสื้อ", None, ("150",), "THB", "เสื้อ"),
    ("150บาทเสื้อ", None, ("150",), "THB", "เสื้อ"),  # Thai writes no space between words
    ("฿150", None, ("150",), "THB", ""),
    ("150.- เสื้อ", "THB", ("150",), "THB", "เสื้อ"),  # ".-": no satang, as Thai price tags write it
    ("฿1,500.50", None, ("1500.50",), "THB", ""),
    ("๑,๕๐๐ บาท", None, ("1500",), "THB", ""),
    ("1,500", "THB", ("1500",), "THB", ""),
    ("1.500", "THB", ("1500", "1.5"), "THB", ""),
    ("150 THB", None, ("150",), "THB", ""),
    ("5 พัน บาท", None, ("5000",), "THB", ""),
    ("2 หมื่น", "THB", ("20000",), "THB", ""),
    ("3 แสนบาท", None, ("300000",), "THB", ""),
    ("1.5 ล้าน", "THB", ("1500000",), "THB", ""),
    ("150 เสื้อยืด", "THB", ("150",), "THB", "เสื้อยืด"),
    ("150 try", "THB", ("150",), ("TRY",), ""),  # Latin words in Thai chats are English
    ("12.50 USD", "THB", ("12.50",), "USD", ""),
    ("150k", "THB", ("150000",), "THB", ""),
]

BRAZILIAN: list[Row] = [
    ("R$ 89,90", None, ("89.90",), "BRL", ""),
    ("R$89,90 Camiseta", None, ("89.90",), "BRL", "Camiseta"),
    ("R$ 1.500,00 Tênis", None, ("1500",), "BRL", "Tênis"),
    ("1.234,56", "BRL", ("1234.56",), "BRL", ""),
    ("1.234.567,89", "BRL", ("1234567.89",), "BRL", ""),
    ("1.500", "BRL", ("1500",), "BRL", ""),
    ("1,500", "BRL", ("1500", "1.5"), "BRL", ""),  # the decimal comma before 3 digits: unclear
    ("89,90", "BRL", ("89.90",), "BRL", ""),
    ("89.90", "BRL", ("89.90",), "BRL", ""),  # two digits after a dot can only be cents
    ("10 mil", "BRL", ("10000",), "BRL", ""),
    ("1,5 mil Celular", "BRL", ("1500",), "BRL", "Celular"),
    ("89,90 BRL", "USD", ("89.90",), "BRL", ""),
    ("BRL 89,90", None, ("89.90",), "BRL", ""),
    ("150 Camiseta", "BRL", ("150",), "BRL", "Camiseta"),
    ("150 reais Camiseta", "USD", ("150",), "BRL", "Camiseta"),
    ("US$ 20", "BRL", ("20",), "USD", ""),
    ("$20", "BRL", ("20",), ("USD", "MXN"), ""),
    ("10 pen drive", "BRL", ("10",), ("PEN",), "drive"),
    ("150k", "BRL", ("150000",), "BRL", ""),
]

ENGLISH: list[Row] = [
    ("1,234.56", "USD", ("1234.56",), "USD", ""),
    ("1.500", "USD", ("1500", "1.5"), "USD", ""),
    ("1.500", "IDR", ("1500",), "IDR", ""),
    ("12.50", "USD", ("12.50",), "USD", ""),
    ("1.5k Shoes", "USD", ("1500",), "USD", "Shoes"),
    ("150 try shoes", None, ("150",), ("TRY",), "shoes"),
    ("150 try shoes", "TRY", ("150",), "TRY", "shoes"),
    ("१५०", "INR", ("150",), "INR", ""),  # Devanagari digits
    ("$50", "MXN", ("50",), "MXN", ""),
    ("$50", "IDR", ("50",), ("USD", "MXN"), ""),
    ("$50", "TWD", ("50",), "TWD", ""),  # Taiwan writes its dollar "$" too
    ("¥500", None, ("500",), ("CNY", "JPY"), ""),
    ("1'500", "USD", ("1500",), "USD", ""),
    ("1’500.50", "USD", ("1500.50",), "USD", ""),
    ("150 K-pop album", "USD", ("150",), "USD", "K-pop album"),
    ("10 mil", "USD", ("10",), "USD", "mil"),  # "mil" is no shorthand in English
]

SPANISH: list[Row] = [
    ("$50", "MXN", ("50",), "MXN", ""),
    ("$50", "COP", ("50",), "COP", ""),
    ("$50", None, ("50",), ("USD", "MXN", "COP", "CLP"), ""),
    ("1.500", "MXN", ("1500", "1.5"), "MXN", ""),  # Latin America writes both ways
    ("1,500", "MXN", ("1500", "1.5"), "MXN", ""),
    ("1,500", "COP", ("1500",), "COP", ""),  # COP has no decimals at PayerMax
    ("1.234,56", "MXN", ("1234.56",), "MXN", ""),
    ("S/ 50", None, ("50",), "PEN", ""),
    ("S/. 50 Polo", None, ("50",), "PEN", "Polo"),
    ("10 mil", "COP", ("10000",), "COP", ""),
    ("1,5 mil", "MXN", ("1500",), "MXN", ""),
    ("10 ron", "USD", ("10",), ("RON",), ""),  # ron is rum
    ("500 pesos Playera", "MXN", ("500",), "MXN", "Playera"),
    ("500 pesos", "USD", ("500",), ("MXN", "COP", "CLP", "UYU", "PHP"), ""),
]

CHINESE: list[Row] = [
    ("¥99", None, ("99",), ("CNY", "JPY"), ""),
    ("¥99", "CNY", ("99",), "CNY", ""),
    ("￥99", "JPY", ("99",), "JPY", ""),
    ("99元", None, ("99",), ("CNY", "TWD", "HKD"), ""),
    ("99元", "TWD", ("99",), "TWD", ""),
    ("99元 T恤", "CNY", ("99",), "CNY", "T恤"),
    ("99元T恤", "CNY", ("99",), "CNY", "T恤"),
    ("1.5万", "CNY", ("15000",), "CNY", ""),
    ("３千元", "CNY", ("3000",), "CNY", ""),  # fullwidth digits from a Chinese keyboard
    ("５００元", "CNY", ("500",), "CNY", ""),
    ("500円", None, ("500",), "JPY", ""),
    ("RMB 500", None, ("500",), "CNY", ""),
    ("1,234.56", "CNY", ("1234.56",), "CNY", ""),
]

TABLES = {
    "id": INDONESIAN,
    "ar": ARABIC,
    "tr": TURKISH,
    "th": THAI,
    "pt_BR": BRAZILIAN,
    "en": ENGLISH,
    "es": SPANISH,
    "zh_Hans": CHINESE,
}
ROWS = [(locale, row) for locale, rows in TABLES.items() for row in rows]


def _ids(case: tuple[str, Row]) -> str:
    locale, (text, chat, *_rest) = case
    return f"{locale}:{text}:{chat}"


def _assert_reads(reading: AmountReading, row: Row) -> None:
    _text, _chat, amounts, currency, rest = row
    assert reading.amounts == tuple(Decimal(amount) for amount in amounts)
    if isinstance(currency, tuple):
        assert (reading.currency, reading.currency_choices) == (None, currency)
    else:
        assert (reading.currency, reading.currency_choices) == (currency, ())
    assert reading.rest == rest


@pytest.mark.parametrize("case", ROWS, ids=[_ids(case) for case in ROWS])
def test_read_amount_prefix_reads_each_market(case: tuple[str, Row]) -> None:
    locale, row = case
    _assert_reads(read_amount_prefix(row[0], locale=locale, chat_currency=row[1]), row)


WHOLE = [case for case in ROWS if case[1][4] == ""]


@pytest.mark.parametrize("case", WHOLE, ids=[_ids(case) for case in WHOLE])
def test_read_amount_reads_a_message_that_is_only_an_amount(case: tuple[str, Row]) -> None:
    locale, row = case
    _assert_reads(read_amount(row[0], locale=locale, chat_currency=row[1]), row)


def test_reading_keeps_what_was_typed_for_the_currency_and_the_amount() -> None:
    reading = read_amount_prefix("  150 TL Ayakkabı", locale="tr", chat_currency=None)
    assert (reading.currency_token, reading.text) == ("TL", "150 TL")
    shorthand = read_amount_prefix("150rb Kue lapis", locale="id", chat_currency="IDR")
    assert (shorthand.currency_token, shorthand.text) == (None, "150rb")  # "rb" is a shorthand, not a currency
    dollars = read_amount_prefix("$25 Tas", locale="id", chat_currency="IDR")
    assert dollars.currency_token == "$"


@pytest.mark.parametrize(
    ("text", "locale", "chat", "problem", "fields"),
    [
        ("", "en", "USD", AmountProblem.EMPTY, {}),
        ("   ", "id", "IDR", AmountProblem.EMPTY, {}),
        ("Rp", "id", None, AmountProblem.EMPTY, {"currency": "IDR"}),
        ("Kue lapis", "id", "IDR", AmountProblem.NOT_A_NUMBER, {"text": "Kue"}),
        ("5kg beras", "id", "IDR", AmountProblem.NOT_A_NUMBER, {"text": "5kg"}),
        ("1.5jt", "id", "IDR", AmountProblem.BAD_GROUPING, {"text": "1.5jt", "example": "150000"}),
        ("1,5k", "en", "USD", AmountProblem.BAD_GROUPING, {"text": "1,5k", "example": "12.50"}),
        ("1,23,4", "en", "USD", AmountProblem.BAD_GROUPING, {}),
        ("1.2345", "id", "IDR", AmountProblem.BAD_GROUPING, {}),
        ("0", "en", "USD", AmountProblem.NOT_POSITIVE, {}),
        ("-5 TL", "tr", None, AmountProblem.NOT_POSITIVE, {}),
        ("−٥ ر.س", "ar", None, AmountProblem.NOT_POSITIVE, {}),
        ("100,5 IDR", "id", None, AmountProblem.TOO_PRECISE, {"currency": "IDR", "decimals": 0, "example": "100"}),
        ("12.345", "en", "USD", AmountProblem.TOO_PRECISE, {"currency": "USD", "decimals": 2, "example": "12.34"}),
        ("¥500.5", "zh_Hans", "JPY", AmountProblem.TOO_PRECISE, {"currency": "JPY", "decimals": 0}),
        ("9999999999999", "en", "USD", AmountProblem.TOO_LARGE, {"max_digits": 12}),
        ("2000000 juta", "id", "IDR", AmountProblem.TOO_LARGE, {"max_digits": 12}),
        ("10 XYZ shoes", "en", "USD", AmountProblem.UNKNOWN_CURRENCY, {"currency": "XYZ"}),
        ("٣٠٠ ABC", "ar", None, AmountProblem.UNKNOWN_CURRENCY, {"currency": "ABC"}),
        ("10xyz", "en", "USD", AmountProblem.UNKNOWN_CURRENCY, {"currency": "xyz"}),
        ("1e5", "en", "USD", AmountProblem.EXPONENT, {"example": "100000"}),
        ("1e30", "en", "USD", AmountProblem.TOO_LARGE, {}),
    ],
)
def test_bad_amounts_are_structured_problems(
    text: str, locale: str, chat: str | None, problem: AmountProblem, fields: dict[str, object]
) -> None:
    with pytest.raises(AmountError) as caught:
        read_amount_prefix(text, locale=locale, chat_currency=chat)
    assert caught.value.problem == problem
    assert {name: getattr(caught.value, name) for name in fields} == fields


@pytest.mark.parametrize(
    ("text", "locale", "problem"),
    [
        ("150000 Kue", "id", AmountProblem.NOT_A_NUMBER),  # a message for the amount step is only the amount
        ("10 dem", "en", AmountProblem.UNKNOWN_CURRENCY),
        ("12 dollars", "en", AmountProblem.NOT_A_NUMBER),
        ("USD 5 EUR", "en", AmountProblem.NOT_A_NUMBER),
    ],
)
def test_read_amount_refuses_anything_after_the_amount(text: str, locale: str, problem: AmountProblem) -> None:
    with pytest.raises(AmountError) as caught:
        read_amount(text, locale=locale, chat_currency="USD")
    assert caught.value.problem == problem
    assert caught.value.text == text


def test_settle_makes_the_money_the_seller_chose() -> None:
    unclear = read_amount("1.500", locale="en", chat_currency="USD")
    assert settle(unclear, Decimal("1.5"), "USD") == Money(Decimal("1.50"), "USD")
    assert settle(unclear, Decimal(1500), "USD").for_payermax() == "1500.00"
    dollars = read_amount("$12.50", locale="id", chat_currency="IDR")
    assert settle(dollars, Decimal("12.5"), "MXN") == Money(Decimal("12.50"), "MXN")


def test_settle_checks_the_chosen_currency_decimals() -> None:
    yen_or_yuan = read_amount("¥12.50", locale="zh_Hans", chat_currency=None)
    assert settle(yen_or_yuan, Decimal("12.5"), "CNY") == Money(Decimal("12.50"), "CNY")
    with pytest.raises(AmountError) as caught:
        settle(yen_or_yuan, Decimal("12.5"), "JPY")
    error = caught.value
    assert (error.problem, error.text, error.currency, error.decimals, error.example) == (
        AmountProblem.TOO_PRECISE,
        "¥12.50",
        "JPY",
        0,
        "12",
    )


def test_settle_refuses_an_unknown_currency_and_an_amount_that_was_not_read() -> None:
    reading = read_amount("75000", locale="id", chat_currency=None)
    with pytest.raises(AmountError) as caught:
        settle(reading, Decimal(75000), "XYZ")
    assert caught.value.problem == AmountProblem.UNKNOWN_CURRENCY
    with pytest.raises(ValueError, match="not one of the amounts"):
        settle(reading, Decimal(7500), "IDR")


ROUND_TRIP_MONEYS = [
    Money(Decimal(150000), "IDR"),
    Money(Decimal(1500), "IDR"),
    Money(Decimal("89.90"), "BRL"),
    Money(Decimal("1234.5"), "TRY"),
    Money(Decimal(300), "SAR"),
    Money(Decimal("12.5"), "USD"),
    Money(Decimal(99), "CNY"),
    Money(Decimal(1500), "JPY"),
    Money(Decimal("1234.5"), "KWD"),
]


@pytest.mark.parametrize("locale", list(TABLES))
@pytest.mark.parametrize("money", ROUND_TRIP_MONEYS, ids=str)
def test_what_the_bot_writes_reads_back_as_the_same_money(locale: str, money: Money) -> None:
    for written in (format_money(money, locale), format_amount_plain(money, locale)):
        reading = read_amount(written, locale=locale, chat_currency=money.currency)
        assert (reading.amounts, reading.currency) == ((money.amount,), money.currency), written
