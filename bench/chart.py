"""Chart render time: the /report PNG of paid totals per day, after warm-up, against the 300 ms goal.

The first chart of a process imports matplotlib and builds its figure (reported apart, as "first");
the goal is for every chart after that. Cases cover a week, a month and a year, with one, two and
four currencies (four is the most the chart draws).

    .venv/bin/python -m bench.chart [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from decimal import Decimal

from bench.report import percentile, print_table, verdict
from bot.charts import HEIGHT, WIDTH, DailySeries, paid_per_day_png

GOAL_MS = 300.0
FULL_RUNS, QUICK_RUNS = 40, 10
CURRENCIES = (("IDR", 3_000_000), ("USD", 300), ("BRL", 900), ("THB", 90_000))
CASES = ((7, 1), (31, 1), (31, 2), (31, 4), (366, 4))  # (days, currencies)


def _chart(days: int, currencies: int, rng: random.Random) -> tuple[list[str], list[DailySeries]]:
    """Day labels and random daily totals, as a busy seller's month would look."""
    labels = [f"{1 + day // 31}/{1 + day % 31}" for day in range(days)]
    series = [
        DailySeries(code, [Decimal(rng.randint(0, top)) for _ in range(days)]) for code, top in CURRENCIES[:currencies]
    ]
    return labels, series


def _milliseconds(labels: list[str], series: list[DailySeries]) -> tuple[float, int]:
    """One render's time and the PNG's size."""
    started = time.perf_counter()
    png = paid_per_day_png(labels, series)
    return (time.perf_counter() - started) * 1000, len(png)


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RUNS} renders per case instead of {FULL_RUNS}")
    runs = QUICK_RUNS if parser.parse_args().quick else FULL_RUNS
    rng = random.Random(10)
    first, _size = _milliseconds(*_chart(31, 2, rng))
    rows = []
    worst = 0.0
    for days, currencies in CASES:
        labels, series = _chart(days, currencies, rng)
        _milliseconds(labels, series)  # this panel count's figure is built once; the goal is for the charts after
        times, sizes = zip(*(_milliseconds(*_chart(days, currencies, rng)) for _ in range(runs)), strict=True)
        p99 = percentile(times, 0.99)
        worst = max(worst, p99)
        rows.append(
            [
                f"{days} days × {currencies} currenc{'y' if currencies == 1 else 'ies'}",
                f"{percentile(times, 0.5):.0f}",
                f"{p99:.0f}",
                f"{max(times):.0f}",
                f"{sum(sizes) / len(sizes) / 1024:.0f}",
                verdict(p99 <= GOAL_MS),
            ]
        )
    print_table(
        f"Chart render, {WIDTH}×{HEIGHT} PNG, {runs} renders per case (first chart of the process: {first:.0f} ms)",
        ["case", "p50 ms", "p99 ms", "max ms", "KiB", f"p99 ≤ {GOAL_MS:.0f} ms"],
        rows,
    )
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"  # a shared machine slows every figure
    print(f"overall: {verdict(worst <= GOAL_MS)} (worst p99 {worst:.0f} ms; {load})")


if __name__ == "__main__":
    main()
