"""Button rows for a phone 390 points wide: every label shows in full, as many side by side as fit."""

from __future__ import annotations

from bot.botapi.keyboard_rows import display_units, fits, rows_that_fit


def test_labels_are_measured_as_they_are_drawn() -> None:
    assert display_units("Waiting") == 7
    assert display_units("⏳ Paid") == 7  # the emoji is drawn two characters wide
    assert display_units("✖️") == 2  # a narrow symbol shown as an emoji
    assert display_units("已支付") == 6
    assert display_units("e\u0301") == 1  # a combining accent takes no room


def test_five_filters_no_longer_share_one_row() -> None:
    filters = ["• All", "Waiting", "Paid", "Expired", "Cancelled"]
    assert not fits(filters)  # the old single row: "Cancelled" was cut off at 390 px
    assert rows_that_fit(filters, str) == [["• All", "Waiting", "Paid"], ["Expired", "Cancelled"]]


def test_longer_words_take_more_rows_and_numbers_share_one() -> None:
    indonesian = ["• Semua", "Menunggu", "Dibayar", "Kedaluwarsa", "Dibatalkan"]
    assert rows_that_fit(indonesian, str) == [["• Semua", "Menunggu", "Dibayar"], ["Kedaluwarsa", "Dibatalkan"]]
    wordy = ["• Waiting for payment", "Cancelled by the seller", "Paid"]
    assert rows_that_fit(wordy, str) == [[label] for label in wordy]
    assert rows_that_fit(["1", "2", "3", "4", "5"], str, most=5) == [["1", "2", "3", "4", "5"]]
    assert rows_that_fit(["A label far too long for any phone to show in full"], str) == [
        ["A label far too long for any phone to show in full"]
    ]  # alone in its row: the best there is
