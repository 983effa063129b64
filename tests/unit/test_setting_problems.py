"""How a refused setting value is explained: the examples fit the reader's market and never repeat."""

from __future__ import annotations

import pytest

from bot.chat import texts
from bot.i18n.reader import Reader, reading_as
from bot.services.chat_defaults import SettingError, SettingProblem


@pytest.mark.parametrize(
    ("locale", "first_example"),
    [("en", "EUR"), ("id", "IDR"), ("tr", "TRY"), ("pt_BR", "BRL")],
)
def test_an_unknown_currency_is_answered_with_two_different_examples(locale: str, first_example: str) -> None:
    with reading_as(Reader(locale=locale)):
        answer = texts.setting_problem(SettingError(SettingProblem.UNKNOWN_CURRENCY, "XX"))
    assert "XX" in answer
    assert first_example in answer
    assert "USD" in answer
    assert answer.count("USD") == 1
