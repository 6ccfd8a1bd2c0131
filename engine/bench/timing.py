"""Repeated timing with warm-up: wall-clock and this thread's CPU time percentiles.

On a shared, loaded machine wall time includes waiting for a core; CPU time (``time.thread_time``)
is what the work itself costs, so both are reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def percentiles(seconds: list[float]) -> dict[str, float]:
    """``{"p50", "p95", "mean"}`` in milliseconds."""
    a = np.asarray(seconds, np.float64) * 1000.0
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "mean": float(a.mean())}


def measure(fn: Callable[[], object], repeats: int, warmup: int = 3,
            summarize: Callable[[list[float]], dict[str, float]] = percentiles) -> dict[str, dict[str, float]]:
    """``{"wall": summary, "cpu": summary}`` of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.thread_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    return {"wall": summarize(wall), "cpu": summarize(cpu)}
