"""Reading a support search: an amount in the chat's formats, part of an id, or description words."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.services.link_search import AmountSought, search_terms


def test_an_amount_is_looked_for_in_every_way_it_can_be_stored() -> None:
    assert AmountSought((Decimal("150000"),)).stored_texts() == [
        "150000",
        "150000.0",
        "150000.00",
        "150000.000",
        "150000.0000",
    ]
    assert AmountSought((Decimal("12.5"),)).stored_texts() == ["12.5", "12.50", "12.500", "12.5000"]


@pytest.mark.parametrize(
    ("typed", "locale", "chat_currency", "values", "currencies"),
    [
        ("150000", "en", None, ("150000",), ()),
        ("150.000", "id", "IDR", ("150000",), ()),  # no currency typed: any currency, the chat's too
        ("Rp 150.000", "id", "IDR", ("150000",), ("IDR",)),
        ("150rb", "id", None, ("150000",), ()),
        ("12,50 €", "de", None, ("12.5",), ("EUR",)),
        ("$12.50", "en", "USD", ("12.5",), ("USD",)),  # "$" settled by the chat's currency
        ("1.500", "en", None, ("1500", "1.5"), ()),  # the chat's formats leave it open: both
    ],
)
def test_an_amount_is_read_as_the_chat_writes_it(
    typed: str, locale: str, chat_currency: str | None, values: tuple[str, ...], currencies: tuple[str, ...]
) -> None:
    amount = search_terms(typed, locale=locale, chat_currency=chat_currency).amount
    assert amount is not None
    assert set(amount.values) == {Decimal(value) for value in values} and amount.currencies == currencies


def test_words_are_not_an_amount_and_six_id_characters_are_a_fragment() -> None:
    words = search_terms("winter shoes")
    assert words.amount is None and words.fragment is None and words.words == ("winter", "shoes")
    assert search_terms("plwu6f").fragment == "PLWU6F"
    assert search_terms("PLWU6").short_id and search_terms("PLWU6").fragment is None
    assert not search_terms("shoes").short_id  # a word, not the start of an id
    assert search_terms("PL WU6F").fragment is None  # ids have no spaces
