"""Timing and memory helpers of the benchmarks: repeated timing with warm-up, percentiles, CPU time, RSS.

On a shared, loaded machine wall time includes waiting for a core; CPU time (``time.thread_time``)
is what the work itself costs, so both are reported.
"""

from __future__ import annotations

import os
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


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    """``{"p50_ms", "p95_ms", "mean_ms"}``: ``percentiles`` under the keys the library figures use."""
    return {f"{k}_ms": v for k, v in percentiles(seconds).items()}


def timed(fn: Callable[[], object], repeats: int, warmup: int = 3) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (e.g. decoding workers): a speed
    measure that a busy shared machine does not skew much. Unix only."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def rss_mb() -> float:
    """Resident memory of this process now (MB; Linux /proc, else peak via resource)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
