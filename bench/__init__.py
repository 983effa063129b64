"""Benchmarks that print figures: ``python -m bench.notify`` and ``python -m bench.burst``."""
