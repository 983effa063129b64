"""What a label says: its words, already in the customer's language (drawn by ``bot.label.render``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelText:
    """What a label says, in its reader's language, as plain text."""

    language: str
    amount: str
    description: str
    shop: str
    expiry: str
    test_note: str | None = None  # set for a sandbox link
