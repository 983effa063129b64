"""The generated table of CLDR currency signs is what the installed Babel says today."""

from __future__ import annotations

from bot.money import cldr_signs
from bot.money.cldr_signs_source import own_signs, sign_table

STALE = "bot/money/cldr_signs.py is stale against Babel's CLDR data: run scripts/cldr-signs and commit it"


def test_signs_match_babel() -> None:
    assert sign_table() == cldr_signs.SIGNS, STALE


def test_own_signs_match_babel() -> None:
    assert own_signs() == cldr_signs.OWN_SIGNS, STALE
