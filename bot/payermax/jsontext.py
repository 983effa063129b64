"""JSON text for PayerMax bodies: compact UTF-8, with ``Decimal`` amounts written as exact JSON numbers.

PayerMax sends some amounts as JSON numbers (``orderQuery``, ``refund``'s ``refundAmount``,
contract §4.3 and §11.2). The standard ``json`` module cannot write a ``Decimal`` as a number,
and going through ``float`` would round large amounts or drop a currency's trailing zeros, so
each Decimal is written as a marked string first and the quotes are then removed.
"""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal
from typing import Any

# A random marker per process: text a merchant or customer typed can never look like one.
_DECIMAL_MARKER = f"exact-decimal-{secrets.token_hex(8)}:"
_MARKED_DECIMAL = re.compile('"' + re.escape(_DECIMAL_MARKER) + r'(-?[0-9]+(?:\.[0-9]+)?)"')


def _mark_decimal(value: Any) -> str:
    """``json`` fallback: turn a finite Decimal into a marked string (anything else is an error)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as a JSON number")
        return _DECIMAL_MARKER + format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(payload: Any, *, indent: int | None = None) -> bytes:
    """Serialize to UTF-8 JSON (compact unless ``indent`` is given); Decimals become exact numbers."""
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(payload, ensure_ascii=False, separators=separators, indent=indent, default=_mark_decimal)
    return _MARKED_DECIMAL.sub(r"\1", text).encode("utf-8")
