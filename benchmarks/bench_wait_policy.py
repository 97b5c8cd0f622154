"""OpenMP wait policy: ``sgemm_bf16`` and numpy's matmul at 512^3 under each ``OMP_WAIT_POLICY``.

numba's OpenMP workers (GNU libgomp) read ``OMP_WAIT_POLICY`` once, when numba starts them:
``ACTIVE`` spins between parallel regions, ``PASSIVE`` sleeps at once, unset spins for a while
(libgomp's default spin count) and then sleeps. mlas_emu leaves the choice to the user; this
measures it. Each round runs one fresh process per policy, in turn, so that the machine's load
moves all of them alike; each process times the two calls alone and interleaved call by call
(medians) and the process CPU time per interleaved pair (spinning shows there).

    python benchmarks/bench_wait_policy.py [--rounds 3] [--repeat 9]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

POLICIES = ("unset", "PASSIVE", "ACTIVE")


def _median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def worker(repeat: int) -> dict:
    """One process: medians in ms, and CPU ms per interleaved (numpy, sgemm_bf16) pair."""
    import numpy as np

    import mlas_emu

    rng = np.random.default_rng(0)
    A = rng.standard_normal((512, 512)).astype(np.float32)
    B = rng.standard_normal((512, 512)).astype(np.float32)
    exact = lambda: mlas_emu.sgemm_bf16(A, B)  # noqa: E731
    blas = lambda: A @ B  # noqa: E731
    exact(), blas()
    out = dict(exact_alone=_median_ms(exact, repeat), blas_alone=_median_ms(blas, 2 * repeat))
    mixed = ([], [])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(repeat):
        for fn, times in ((blas, mixed[1]), (exact, mixed[0])):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    out["cpu_per_pair"] = 1e3 * (time.process_time() - cpu0) / repeat
    out["wall_per_pair"] = 1e3 * (time.perf_counter() - wall0) / repeat
    out["exact_mixed"] = 1e3 * statistics.median(mixed[0])
    out["blas_mixed"] = 1e3 * statistics.median(mixed[1])
    return out


def _run(policy: str, repeat: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy != "unset":
        env["OMP_WAIT_POLICY"] = policy
    done = subprocess.run([sys.executable, __file__, "--worker", "--repeat", str(repeat)],
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.repeat)))
        return
    runs = {p: [] for p in POLICIES}
    for _ in range(args.rounds):
        for policy in POLICIES:
            runs[policy].append(_run(policy, args.repeat))
    print(f"512^3, medians over {args.rounds} rounds x {args.repeat} calls, load average "
          f"{os.getloadavg()[0]:.1f}, {os.cpu_count()} cores; ms")
    keys = ("exact_alone", "exact_mixed", "blas_alone", "blas_mixed", "wall_per_pair", "cpu_per_pair")
    print(f"{'OMP_WAIT_POLICY':16}" + "".join(f"{k:>14}" for k in keys))
    for policy in POLICIES:
        row = [statistics.median(r[k] for r in runs[policy]) for k in keys]
        print(f"{policy:16}" + "".join(f"{v:14.2f}" for v in row))


if __name__ == "__main__":
    main()
