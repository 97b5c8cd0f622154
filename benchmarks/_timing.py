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


def size_repeat_json_args(doc: str, argv=None, repeat: int = 7):
    """The common command line of the single-path benchmarks: ``--size``, ``--repeat``, ``--json``."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=repeat)
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)
