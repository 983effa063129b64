"""JSON text for PayerMax bodies: Decimal amounts become exact JSON numbers, everything else is plain JSON."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bot.payermax.jsontext import dumps


def test_decimals_are_exact_numbers_and_strings_stay_strings():
    body = dumps({"refundAmount": Decimal("12345678901234567.80"), "totalAmount": "12.50", "note": "❄"})
    assert body == '{"refundAmount":12345678901234567.80,"totalAmount":"12.50","note":"❄"}'.encode()
    assert json.loads(body, parse_float=Decimal)["refundAmount"] == Decimal("12345678901234567.80")


def test_exponent_forms_are_written_out_in_full():
    assert dumps([Decimal("1.5E+5"), Decimal("-0.10"), Decimal("7")]) == b"[150000,-0.10,7]"


def test_indent_is_for_files_and_keeps_numbers_exact():
    assert dumps({"a": Decimal("0.10")}, indent=1) == b'{\n "a": 0.10\n}'


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
def test_a_decimal_that_is_not_a_number_is_refused(value):
    with pytest.raises(ValueError, match="cannot be written as a JSON number"):
        dumps({"refundAmount": value})


def test_other_unknown_types_are_refused():
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        dumps({"x": {1}})
