"""First-call latency: a fresh Python process, numba's on-disk cache already warm.

Goal (issue 7): the first call in a new process takes under 2 seconds. Each measurement starts a
new interpreter with ``subprocess`` and reports, from inside it, the import time of ``mlas_emu``
and the time of the first and second call of each entry point (so the first call's extra cost,
loading compiled code from the cache, is visible), and, from outside, the wall time of the whole
process (interpreter start included). One warming process runs first so the cache is filled.

    python benchmarks/first_call.py [--repeat 5] [--size 64] [--cold] [--json OUT]

``--cold`` also measures one process with an empty cache (``NUMBA_CACHE_DIR`` pointed at a new
temporary directory): what a user pays once after installing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

GOAL_S = 2.0

# Runs in the fresh process; prints one JSON line.
CHILD = r"""
import json, sys, time, warnings
t0 = time.perf_counter()
import numpy as np
import mlas_emu
import mlas_emu.ort
from mlas_emu.mlas.sbgemm_approx import sgemm_bf16_approx
t_import = time.perf_counter() - t0
warnings.simplefilter("ignore")
n = int(sys.argv[1])
rng = np.random.default_rng(0)
A = rng.standard_normal((n, n)).astype(np.float32)
B = rng.standard_normal((n, n)).astype(np.float32)
Aq = rng.integers(0, 256, (n, n), dtype=np.uint8)
Bq = rng.integers(-128, 128, (n, n), dtype=np.int8)
calls = {
    "sgemm_bf16": lambda: mlas_emu.sgemm_bf16(A, B),
    "ort.matmul": lambda: mlas_emu.ort.matmul(A, B),
    "qgemm": lambda: mlas_emu.qgemm(Aq, Bq, 3, -2),
    "sgemm_bf16_approx": lambda: sgemm_bf16_approx(A, B),
}
out = {"import_s": t_import}
for name, fn in calls.items():
    times = []
    for _ in range(2):
        s = time.perf_counter()
        fn()
        times.append(time.perf_counter() - s)
    out[name] = {"first_s": times[0], "second_s": times[1]}
out["script_s"] = time.perf_counter() - t0
print(json.dumps(out))
"""


# numba's own floor: the same measurement for one trivial cached function, no mlas_emu.
FLOOR = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import numba
t_import = time.perf_counter() - t0

@numba.njit(cache=True)
def plus_one(x):
    return x + 1

s = time.perf_counter()
plus_one(np.ones(3))
print(json.dumps({"import_s": t_import, "first_s": time.perf_counter() - s}))
"""


def numba_floor(repeat: int) -> dict:
    """Median import and first-call time of a trivial cached numba function in fresh processes."""
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "floor.py")
        with open(script, "w") as f:
            f.write(FLOOR)
        runs = []
        for _ in range(repeat + 1):  # the first run fills the cache
            out = subprocess.run([sys.executable, script], capture_output=True, text=True,
                                 check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {k: statistics.median(r[k] for r in runs[1:]) for k in ("import_s", "first_s")}


def fresh_process(size: int, env=None) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(size)], capture_output=True,
                          text=True, env=env, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"child process failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    return result


def summarize(runs: list[dict]) -> dict:
    keys = [k for k, v in runs[0].items() if isinstance(v, dict)]
    out = {"import_s": statistics.median(r["import_s"] for r in runs),
           "process_wall_s": statistics.median(r["process_wall_s"] for r in runs)}
    for k in keys:
        out[k] = {f: statistics.median(r[k][f] for r in runs) for f in ("first_s", "second_s")}
    # What the goal measures: a new process's import plus its first sgemm_bf16 call.
    out["import_plus_first_sgemm_bf16_s"] = out["import_s"] + out["sgemm_bf16"]["first_s"]
    out["goal_s"] = GOAL_S
    out["met"] = out["import_plus_first_sgemm_bf16_s"] < GOAL_S
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--size", type=int, default=64, help="M = N = K of the calls (default 64)")
    p.add_argument("--cold", action="store_true", help="also one process with an empty cache")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)

    fresh_process(args.size)  # fills numba's on-disk cache if needed
    warm = [fresh_process(args.size) for _ in range(args.repeat)]
    result = {"size": args.size, "repeat": args.repeat, "loadavg": os.getloadavg(),
              "warm": summarize(warm), "warm_runs": warm}
    result["numba_floor"] = numba_floor(args.repeat)
    if args.cold:
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            result["cold"] = fresh_process(args.size, env)

    w = result["warm"]
    print(f"fresh process, warm cache, {args.size}^3, median of {args.repeat} "
          f"(load average {result['loadavg'][0]:.1f}):")
    print(f"  import mlas_emu            {w['import_s']:7.3f} s")
    for k in ("sgemm_bf16", "ort.matmul", "qgemm", "sgemm_bf16_approx"):
        print(f"  {k:25} first {w[k]['first_s']:7.3f} s   second {w[k]['second_s']:7.3f} s")
    print(f"  whole process (wall)      {w['process_wall_s']:7.3f} s")
    print(f"  import + first sgemm_bf16 {w['import_plus_first_sgemm_bf16_s']:7.3f} s  "
          f"(goal < {GOAL_S} s: {'met' if w['met'] else 'MISSED'})")
    fl = result["numba_floor"]
    print(f"  numba's floor (trivial cached function): import numpy+numba {fl['import_s']:.3f} s, "
          f"first call {fl['first_s']:.3f} s, sum {fl['import_s'] + fl['first_s']:.3f} s")
    if args.cold:
        c = result["cold"]
        print(f"  empty cache: import {c['import_s']:.2f} s, first sgemm_bf16 "
              f"{c['sgemm_bf16']['first_s']:.2f} s, whole process {c['process_wall_s']:.2f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
