"""The /report chart: paid totals per day as a PNG, one panel with its own line per currency.

Currencies differ by orders of magnitude (IDR 1,500,000 beside USD 25), so each gets its own
panel and y axis instead of one axis that would flatten all but the largest. The image holds only
numbers, dates written with digits and ISO currency codes: the bot's languages need scripts the
bundled font lacks (Thai, Chinese, Arabic), so every word goes in the caption Telegram renders.

matplotlib (Agg, no display) is imported on the first chart, not at start-up: a bot nobody asks
for a report never pays for it. Renders run one at a time, off the event loop, on
figures kept for the next chart with as many panels (making axes costs more than drawing).
"""

from __future__ import annotations

import asyncio
import io
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WIDTH, HEIGHT = 1200, 675  # pixels: 16:9, as Telegram shows a photo in full in a chat
DPI = 100
MAX_PANELS = 4  # more currencies than this are left to the text (the caption says so)
MAX_TICKS = 10
COLOURS = ("#2563eb", "#16a34a", "#d97706", "#9333ea")
MARKERS_UP_TO = 45  # days: beyond this, markers only clutter the line

_render_lock = threading.Lock()


@dataclass(frozen=True)
class DailySeries:
    """One currency's paid total on each day of the chart."""

    currency: str
    values: Sequence[Decimal]


def compact(value: float) -> str:
    """An axis number in few characters, the same in every language: 950, 12.5K, 1.5M, 2B."""
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}" if size < 1000 else f"{value:.0f}"


def printable(label: str) -> str:
    """A date label without direction marks and other invisible format characters (the font has no glyphs for them)."""
    return "".join(char for char in label if unicodedata.category(char) != "Cf")


def tick_positions(count: int, most: int = MAX_TICKS) -> list[int]:
    """Which of ``count`` days get a label: evenly spread, the first and the last always."""
    if count <= most:
        return list(range(count))
    step = -(-(count - 1) // (most - 1))  # ceiling: never more than ``most`` labels
    positions = list(range(0, count - 1, step))
    if count - 1 - positions[-1] < step / 2:
        positions.pop()  # too close to the last day's label
    return [*positions, count - 1]


def paid_per_day_png(labels: Sequence[str], series: Sequence[DailySeries]) -> bytes:
    """The chart as PNG bytes, WIDTH × HEIGHT pixels: one label per day, each series one value per day.

    The first MAX_PANELS series get a panel each.
    """
    if not labels or not series or any(len(line.values) != len(labels) for line in series):
        raise ValueError("a chart needs at least one day, one currency, and a value per day for each")
    with _render_lock:  # matplotlib's font and text caches are shared: one render at a time
        return _render([printable(label) for label in labels], series[:MAX_PANELS])


async def render(labels: Sequence[str], series: Sequence[DailySeries]) -> bytes:
    """:func:`paid_per_day_png` in a worker thread, so the event loop keeps answering meanwhile."""
    return await asyncio.to_thread(paid_per_day_png, labels, series)


class _Canvas:
    """A figure with ``panels`` stacked axes, kept between renders: building axes and ticks costs more than drawing."""

    def __init__(self, panels: int) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported on first use (see the module docstring)
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        self.figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor="white")
        FigureCanvasAgg(self.figure)
        self.axes = list(self.figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0])
        self.lines = [
            ax.plot([], [], color=colour, linewidth=2.2, markersize=4)[0]
            for ax, colour in zip(self.axes, COLOURS, strict=False)
        ]
        # The currency code names each panel, above its top left corner (inside, it would hide the first day).
        self.names = [
            ax.set_title("", loc="left", fontsize=13, weight="bold", color=colour, pad=3)
            for ax, colour in zip(self.axes, COLOURS, strict=False)
        ]
        self.fills: list[Any] = [None] * panels
        for ax in self.axes:
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4, min_n_ticks=2))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: compact(value)))
            ax.grid(axis="y", alpha=0.3)
            ax.spines[["top", "right"]].set_visible(False)
            ax.tick_params(labelsize=11)
        self.figure.subplots_adjust(left=0.07, right=0.985, top=0.95, bottom=0.07, hspace=0.32)

    def draw(self, labels: Sequence[str], series: Sequence[DailySeries]) -> bytes:
        """Put these lines on the axes and write the PNG."""
        positions = list(range(len(labels)))
        marker = "o" if len(labels) <= MARKERS_UP_TO else ""
        for index, (ax, line) in enumerate(zip(self.axes, series, strict=True)):
            values = [float(value) for value in line.values]
            colour = COLOURS[index]
            self.lines[index].set_data(positions, values)
            self.lines[index].set_marker(marker)
            if self.fills[index] is not None:
                self.fills[index].remove()
            self.fills[index] = ax.fill_between(positions, values, color=colour, alpha=0.12, linewidth=0)
            ax.set_ylim(bottom=0, top=max(values) * 1.15 or 1)
            ax.set_xlim(-0.5, len(labels) - 0.5)
            self.names[index].set_text(line.currency)
        ticks = tick_positions(len(labels))
        self.axes[-1].set_xticks(ticks, [labels[index] for index in ticks])
        buffer = io.BytesIO()
        # A low zlib level: a third faster than the default for a few more kilobytes (Telegram recompresses anyway).
        self.figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", pil_kwargs={"compress_level": 1})
        return buffer.getvalue()


_canvases: dict[int, _Canvas] = {}


def _render(labels: Sequence[str], series: Sequence[DailySeries]) -> bytes:
    """Draw on the kept canvas with this many panels (made on first use)."""
    canvas = _canvases.get(len(series))
    if canvas is None:
        canvas = _canvases[len(series)] = _Canvas(len(series))
    return canvas.draw(labels, series)
