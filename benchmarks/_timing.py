"""Timing helper shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""

from __future__ import annotations

import time


def best_time(fn, repeat: int) -> float:
    """Minimum wall time of ``repeat`` calls of ``fn`` after one warm-up call (JIT compilation,
    BLAS thread start-up, page faults)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
