"""Busy-waiting thread pools: ``sgemm_bf16`` and numpy's matmul at 512^3 timed each in its own
loop, then interleaved call by call, in one process (medians of ``--repeat`` calls).

numpy's OpenBLAS workers spin for a while after each call and numba's OpenMP workers spin between
parallel regions unless ``OMP_WAIT_POLICY=PASSIVE`` (the user's choice; mlas_emu sets none);
interleaved calls then compete with the other library's spinning threads. Try
``OPENBLAS_THREAD_TIMEOUT=4`` or ``OMP_WAIT_POLICY=PASSIVE``/``ACTIVE`` in the environment to see
each pool's share (``bench_wait_policy.py`` compares the policies).

    python benchmarks/bench_interleaved.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import mlas_emu


def _median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((512, 512)).astype(np.float32)
    B = rng.standard_normal((512, 512)).astype(np.float32)
    exact = lambda: mlas_emu.sgemm_bf16(A, B)  # noqa: E731
    blas = lambda: A @ B  # noqa: E731
    exact(), blas()
    alone = (_median_ms(exact, args.repeat), _median_ms(blas, 2 * args.repeat))
    both = ([], [])
    for _ in range(args.repeat):
        for fn, out in ((blas, both[1]), (exact, both[0])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    mixed = tuple(1e3 * statistics.median(t) for t in both)
    env = {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OPENBLAS_THREAD_TIMEOUT")}
    print(f"512^3 medians, environment {env}:")
    print(f"  sgemm_bf16   alone {alone[0]:7.2f} ms   interleaved {mixed[0]:7.2f} ms")
    print(f"  numpy A @ B  alone {alone[1]:7.2f} ms   interleaved {mixed[1]:7.2f} ms")


if __name__ == "__main__":
    main()
