"""Wall-time measurements shared by `convlens bench` and the ascent timings (time.perf_counter)."""

from __future__ import annotations

import statistics
import time

import numpy as np


def median_ms(function, trials: int, warmup: int = 3) -> float:
    """Median wall time of `function()` in milliseconds over `trials` calls, after warm-up calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(trials):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of a list of numbers."""
    return float(np.percentile(np.asarray(values), q))
