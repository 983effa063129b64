"""The /report chart: a PNG of paid totals per day that decodes, at its size, with a panel per currency."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from PIL import Image

from bot import charts
from bot.charts import COLOURS, HEIGHT, MAX_PANELS, WIDTH, DailySeries, compact, paid_per_day_png, tick_positions

DAYS = [f"11/{day}" for day in range(1, 31)]


def _series(currency: str, scale: int) -> DailySeries:
    return DailySeries(currency, [Decimal((day * 37) % 11 * scale) for day in range(len(DAYS))])


def _colours_drawn(png: bytes) -> set[str]:
    """Which of the panel colours appear in the image (as the line's own pixels)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = {rgb for _count, rgb in image.getcolors(WIDTH * HEIGHT) or []}
    return {colour for colour in COLOURS if tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5)) in pixels}


def test_the_chart_is_a_png_of_the_expected_size() -> None:
    png = paid_per_day_png(DAYS, [_series("IDR", 150_000), _series("USD", 12)])
    image = Image.open(io.BytesIO(png))
    image.verify()  # the whole file decodes
    assert (image.format, image.size) == ("PNG", (WIDTH, HEIGHT))


def test_each_currency_gets_its_own_line_up_to_the_panel_limit() -> None:
    two = paid_per_day_png(DAYS, [_series("IDR", 150_000), _series("USD", 12)])
    assert _colours_drawn(two) == set(COLOURS[:2])
    many = [_series(code, 10) for code in ("IDR", "USD", "BRL", "THB", "TRY", "MXN")]
    crowded = paid_per_day_png(DAYS, many)
    assert Image.open(io.BytesIO(crowded)).size == (WIDTH, HEIGHT)
    assert _colours_drawn(crowded) == set(COLOURS[:MAX_PANELS])


def test_a_kept_figure_shows_only_the_new_chart() -> None:
    """Figures are reused between renders: a second chart must not keep the first one's lines."""
    first = paid_per_day_png(DAYS, [_series("IDR", 1)])
    flat = paid_per_day_png(DAYS, [DailySeries("IDR", [Decimal(0)] * len(DAYS))])
    again = paid_per_day_png(DAYS, [_series("IDR", 1)])
    assert first == again and flat != first


def test_a_year_of_days_and_a_single_day_render() -> None:
    year = [f"d{day}" for day in range(366)]
    assert Image.open(
        io.BytesIO(paid_per_day_png(year, [DailySeries("EUR", [Decimal(day) for day in range(366)])]))
    ).size == (
        WIDTH,
        HEIGHT,
    )
    assert Image.open(io.BytesIO(paid_per_day_png(["11/27"], [DailySeries("EUR", [Decimal(5)])]))).size == (
        WIDTH,
        HEIGHT,
    )


def test_mismatched_series_are_refused() -> None:
    with pytest.raises(ValueError):
        paid_per_day_png(DAYS, [DailySeries("IDR", [Decimal(1)])])
    with pytest.raises(ValueError):
        paid_per_day_png([], [])


async def test_rendering_off_the_event_loop_gives_the_same_image() -> None:
    lines = [_series("IDR", 150_000)]
    assert await charts.render(DAYS, lines) == paid_per_day_png(DAYS, lines)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (12.5, "12.5"), (950, "950"), (1000, "1K"), (12_500, "12.5K"), (1_500_000, "1.5M"), (2e9, "2B")],
)
def test_axis_numbers_are_short_and_the_same_in_every_language(value: float, text: str) -> None:
    assert compact(value) == text


def test_day_labels_are_spread_and_keep_both_ends() -> None:
    assert tick_positions(5) == [0, 1, 2, 3, 4]
    for count in (11, 30, 31, 92, 366):
        positions = tick_positions(count)
        assert positions[0] == 0 and positions[-1] == count - 1 and len(positions) <= charts.MAX_TICKS
        assert positions == sorted(set(positions))
