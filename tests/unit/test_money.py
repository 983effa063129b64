"""Amounts people type become exact Money that PayerMax accepts, or a clear error."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import get_currency_precision

from bot.money import (
    PAYERMAX_ORDERABLE,
    AmountError,
    AmountProblem,
    Money,
    currency_decimals,
    is_known_currency,
    is_orderable,
    normalise_currency,
    parse_amount,
    parse_amount_prefix,
)


@pytest.mark.parametrize(
    ("text", "default", "amount", "currency"),
    [
        ("150000", "IDR", "150000", "IDR"),
        ("150,000", "IDR", "150000", "IDR"),
        ("150,000 IDR", "USD", "150000", "IDR"),
        ("12.50 usd", "IDR", "12.50", "USD"),
        ("IDR 150000", "USD", "150000", "IDR"),
        ("usd12.50", "IDR", "12.50", "USD"),
        ("150000IDR", "USD", "150000", "IDR"),
        ("$12.50", "USD", "12.50", "USD"),  # "$" is the chat's own currency
        ("US$12.50", "IDR", "12.50", "USD"),
        ("12,50 €", "IDR", "12.50", "EUR"),
        ("Rp 150.000", "USD", "150000", "IDR"),
        ("1 500 000", "IDR", "1500000", "IDR"),
        ("1\u00a0500\u00a0000 IDR", "USD", "1500000", "IDR"),
        ("12,50 EUR", "IDR", "12.50", "EUR"),
        ("1.234,56 EUR", "IDR", "1234.56", "EUR"),
        ("1,234.56", "USD", "1234.56", "USD"),
        ("1.500.000", "USD", "1500000.00", "USD"),
        ("1 500,50 EUR", "IDR", "1500.50", "EUR"),
        # A dot before three digits is a thousands separator when the currency has no decimals.
        ("150.000 IDR", "USD", "150000", "IDR"),
        ("12.5", "USD", "12.50", "USD"),
        ("12,340 USD", "IDR", "12340.00", "USD"),  # a lone comma before 3 digits groups thousands in English
        ("12.340", "IDR", "12340", "IDR"),  # IDR has no decimals, so the dot can only group thousands
        ("150000,00 IDR", "USD", "150000", "IDR"),
        ("  0.99  ", "USD", "0.99", "USD"),
        ("+5", "JPY", "5", "JPY"),
        ("12.34 KWD", "USD", "12.34", "KWD"),
        ("999,999,999,999", "IDR", "999999999999", "IDR"),
    ],
)
def test_parse_amount_reads_common_ways_of_writing_amounts(text: str, default: str, amount: str, currency: str) -> None:
    money = parse_amount(text, default)
    assert money == Money(Decimal(amount), currency)
    assert money.for_payermax() == amount


@pytest.mark.parametrize(
    ("text", "default", "problem", "phrase"),
    [
        ("", "USD", AmountProblem.EMPTY, "Send an amount"),
        ("   ", "USD", AmountProblem.EMPTY, "Send an amount"),
        ("abc", "USD", AmountProblem.NOT_A_NUMBER, "couldn't read 'abc' as an amount"),
        ("12 dollars", "USD", AmountProblem.NOT_A_NUMBER, "Send a number such as 150000"),
        ("12.", "USD", AmountProblem.NOT_A_NUMBER, "couldn't read '12.'"),
        ("NaN", "USD", AmountProblem.NOT_A_NUMBER, "couldn't read 'NaN'"),
        ("sNaN", "USD", AmountProblem.NOT_A_NUMBER, "couldn't read 'sNaN'"),
        ("Infinity", "USD", AmountProblem.NOT_A_NUMBER, "couldn't read 'Infinity'"),
        ("-Infinity", "USD", AmountProblem.NOT_A_NUMBER, "couldn't read '-Infinity'"),
        ("1e5", "USD", AmountProblem.EXPONENT, "such as 100000; exponent notation"),
        ("USD 5 EUR", "USD", AmountProblem.NOT_A_NUMBER, "couldn't read"),
        ("-5", "USD", AmountProblem.NOT_POSITIVE, "more than zero"),
        ("\u22125 USD", "USD", AmountProblem.NOT_POSITIVE, "more than zero"),
        ("0", "USD", AmountProblem.NOT_POSITIVE, "more than zero"),
        ("0.00 USD", "IDR", AmountProblem.NOT_POSITIVE, "more than zero"),
        (
            "100.5 IDR",
            "USD",
            AmountProblem.TOO_PRECISE,
            "IDR amounts have no decimals. Send a whole number such as 100 IDR.",
        ),
        (
            "12.345 USD",
            "IDR",
            AmountProblem.TOO_PRECISE,
            "USD amounts allow at most 2 decimals, e.g. 12.34 USD.",
        ),
        # ISO gives KWD 3 decimals, PayerMax only 2.
        (
            "12.345 KWD",
            "USD",
            AmountProblem.TOO_PRECISE,
            "KWD amounts allow at most 2 decimals, e.g. 12.34 KWD.",
        ),
        ("0.001", "USD", AmountProblem.TOO_PRECISE, "e.g. 0.01 USD"),
        (
            "10 XYZ",
            "USD",
            AmountProblem.UNKNOWN_CURRENCY,
            "'XYZ' is not a currency code. Use a 3-letter ISO code such as USD, EUR or IDR.",
        ),
        ("10 dem", "USD", AmountProblem.UNKNOWN_CURRENCY, "'dem' is not a currency code"),
        ("99999999999999999999", "USD", AmountProblem.TOO_LARGE, "at most 12 digits"),
        ("1,000,000,000,000 IDR", "USD", AmountProblem.TOO_LARGE, "at most 12 digits"),
        ("1e30", "USD", AmountProblem.TOO_LARGE, "too large"),
        ("1e999999999999", "USD", AmountProblem.TOO_LARGE, "too large"),
        ("1,50,000", "INR", AmountProblem.BAD_GROUPING, "groups of 3 digits"),
        ("1,2345", "USD", AmountProblem.BAD_GROUPING, "groups of 3 digits"),
        ("1.234.56", "USD", AmountProblem.BAD_GROUPING, "groups of 3 digits"),
        ("1.234,56,78", "EUR", AmountProblem.BAD_GROUPING, "groups of 3 digits"),
    ],
)
def test_parse_amount_explains_bad_input(text: str, default: str, problem: str, phrase: str) -> None:
    with pytest.raises(AmountError) as caught:
        parse_amount(text, default)
    assert caught.value.problem == problem
    assert phrase in str(caught.value)


@pytest.mark.parametrize(
    ("currency", "decimals"),
    [
        ("IDR", 0),
        ("JPY", 0),
        ("TWD", 0),  # ISO says 2; PayerMax says none
        ("KWD", 2),  # ISO says 3; PayerMax says 2
        ("BHD", 2),
        ("TND", 2),
        ("USD", 2),
        ("EUR", 2),
        ("usd", 2),
    ],
)
def test_currency_decimals_follow_payermax_rules(currency: str, decimals: int) -> None:
    assert currency_decimals(currency) == decimals


@pytest.mark.parametrize("currency", ["HUF", "LYD", "UGX"])
def test_currency_decimals_fall_back_to_babel_for_other_currencies(currency: str) -> None:
    assert currency_decimals(currency) == get_currency_precision(currency)


def test_currency_decimals_rejects_unknown_currency() -> None:
    with pytest.raises(AmountError) as caught:
        currency_decimals("XYZ")
    assert caught.value.problem == AmountProblem.UNKNOWN_CURRENCY


def test_known_currencies_are_current_iso_codes_only() -> None:
    assert is_known_currency("IDR")
    assert not is_known_currency("XYZ")
    assert not is_known_currency("DEM")  # replaced by EUR in 2002
    assert not is_known_currency("XAU")  # gold is not money you can charge
    assert not is_known_currency("usd")  # the predicate wants normalised codes


def test_every_orderable_currency_is_known_and_orderable() -> None:
    assert all(is_known_currency(code) and is_orderable(code) for code in PAYERMAX_ORDERABLE)
    assert not is_orderable("HUF")


def test_normalise_currency_uppercases_and_validates() -> None:
    assert normalise_currency(" eur ") == "EUR"
    with pytest.raises(AmountError, match="'ABC' is not a currency code"):
        normalise_currency("ABC")


@pytest.mark.parametrize(
    ("money", "wire"),
    [
        (Money(Decimal("150000"), "IDR"), "150000"),
        (Money(Decimal("150000.00"), "IDR"), "150000"),
        (Money(Decimal("12.5"), "USD"), "12.50"),
        (Money(Decimal("0.99"), "USD"), "0.99"),
        (Money(Decimal("1E+5"), "JPY"), "100000"),
        (Money(Decimal("999999999999.99"), "EUR"), "999999999999.99"),
    ],
)
def test_for_payermax_renders_plain_quantized_strings(money: Money, wire: str) -> None:
    assert money.for_payermax() == wire


def test_for_payermax_refuses_to_round_away_money() -> None:
    with pytest.raises(AmountError) as caught:
        Money(Decimal("100.5"), "IDR").for_payermax()
    assert caught.value.problem == AmountProblem.TOO_PRECISE


def test_for_payermax_keeps_within_the_24_character_limit() -> None:
    with pytest.raises(AmountError) as caught:
        Money(Decimal("1" * 25), "IDR").for_payermax()
    assert caught.value.problem == AmountProblem.TOO_LARGE


@pytest.mark.parametrize("bad_amount", [12.5, Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity")])
def test_money_refuses_floats_and_non_finite_amounts(bad_amount: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        Money(bad_amount, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "amount", "currency", "rest"),
    [
        ("150000 IDR Winter shoes", "150000", "IDR", "Winter shoes"),
        ("IDR 150000 Winter shoes", "150000", "IDR", "Winter shoes"),
        ("12.50 usd Coffee", "12.50", "USD", "Coffee"),
        ("usd 12.50 Coffee", "12.50", "USD", "Coffee"),
        ("usd12.50   Coffee beans  ", "12.50", "USD", "Coffee beans"),
        ("US$ 5 Tea", "5.00", "USD", "Tea"),
        # "cup" (Cuban peso) is not orderable, so lowercase it is a word, not a currency.
        ("5 cup cakes", "5", "IDR", "cup cakes"),
        ("10 PEN refills", "10.00", "PEN", "refills"),
        # A lowercase word that is not an orderable code stays in the description.
        ("10 led lamps", "10", "IDR", "led lamps"),
        ("1 500 000 IDR Big TV", "1500000", "IDR", "Big TV"),
        ("1 500,50 EUR Sofa", "1500.50", "EUR", "Sofa"),
        ("150000", "150000", "IDR", ""),
        ("150,000 IDR", "150000", "IDR", ""),
    ],
)
def test_parse_amount_prefix_splits_amount_from_description(text: str, amount: str, currency: str, rest: str) -> None:
    assert parse_amount_prefix(text, "IDR") == (Money(Decimal(amount), currency), rest)


@pytest.mark.parametrize(
    ("text", "problem", "phrase"),
    [
        ("", AmountProblem.EMPTY, "Send an amount"),
        ("USD", AmountProblem.EMPTY, "Send an amount after USD"),
        ("Winter shoes 10", AmountProblem.NOT_A_NUMBER, "couldn't read 'Winter'"),
        ("100.5 IDR shoes", AmountProblem.TOO_PRECISE, "IDR amounts have no decimals"),
        ("-5 USD tea", AmountProblem.NOT_POSITIVE, "more than zero"),
        ("10xyz things", AmountProblem.UNKNOWN_CURRENCY, "'xyz' is not a currency code"),
        # Three capitals right after the number are meant as a currency, never as the description.
        ("10 LED lamps", AmountProblem.UNKNOWN_CURRENCY, "'LED' is not a currency code"),
    ],
)
def test_parse_amount_prefix_explains_bad_amounts(text: str, problem: str, phrase: str) -> None:
    with pytest.raises(AmountError) as caught:
        parse_amount_prefix(text, "IDR")
    assert caught.value.problem == problem
    assert phrase in str(caught.value)


@pytest.mark.parametrize(
    ("text", "default", "problem", "phrase"),
    [
        ("$12.50", "IDR", AmountProblem.AMBIGUOUS_CURRENCY, "'$' could be USD or MXN. Write the currency code instead"),
        ("¥500", "USD", AmountProblem.AMBIGUOUS_CURRENCY, "'¥' could be CNY or JPY"),
        ("12.340 USD", "IDR", AmountProblem.AMBIGUOUS_AMOUNT, "'12.340 USD' could mean 12340 or 12.34"),
        ("1.500", "USD", AmountProblem.AMBIGUOUS_AMOUNT, "could mean 1500 or 1.5"),
        ("150 try", "USD", AmountProblem.AMBIGUOUS_CURRENCY, "Did you mean 150 TRY?"),
    ],
)
def test_parse_amount_refuses_what_it_would_have_to_guess(text: str, default: str, problem: str, phrase: str) -> None:
    with pytest.raises(AmountError) as caught:
        parse_amount(text, default)
    assert caught.value.problem == problem
    assert phrase in caught.value.message


def test_parse_amount_prefix_asks_before_taking_a_word_as_a_currency() -> None:
    # "pen" is orderable (PEN) but an everyday word: the old reader cannot ask, so it refuses.
    with pytest.raises(AmountError) as caught:
        parse_amount_prefix("10 pen refills", "IDR")
    assert (caught.value.problem, caught.value.choices) == (AmountProblem.AMBIGUOUS_CURRENCY, ("PEN",))
    # In a chat whose currency is PEN, the word is the chat's currency.
    assert parse_amount_prefix("10 pen refills", "PEN") == (Money(Decimal(10), "PEN"), "refills")
