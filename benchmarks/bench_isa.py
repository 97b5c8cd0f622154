"""BFDotAdd steps per second of the vectorised ``bfmmla`` / ``bfdot`` on large batches.

Goal: at least 10 million BFDotAdd steps per second on one core (x86-64 with AVX-512), and at
least 100x the exact ``fractions`` reference of tests/naive.py. One BFMMLA is 8 BFDotAdd
steps (2 per lane), one BFDOT 4. Operands are random normal values rounded to bf16, so nearly
every step takes the ordinary path. Reports wall time and this process's CPU time (the CPU
rate is the one-core figure when the machine is shared).

    python benchmarks/bench_isa.py [--batch 500000] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from mlas_emu import isa

GOAL_STEPS = 10e6
GOAL_RATIO = 100.0
STEPS = {"bfmmla": 8, "bfdot": 4}


def best(fn, repeat):
    fn()  # compile / warm up
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def operands(batch, rng):
    vd = rng.standard_normal((batch, 4)).astype(np.float32)
    vn = isa.bfcvt(rng.standard_normal((batch, 8)).astype(np.float32))
    vm = isa.bfcvt(rng.standard_normal((batch, 8)).astype(np.float32))
    return vd, vn, vm


def naive_rate(vd, vn, vm, n_registers=300):
    """BFDotAdd steps per second of the Fraction reference (tests/naive.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import naive

    d, n, m = vd.view(np.uint32)[:n_registers], vn.view(np.uint16)[:n_registers], vm.view(np.uint16)[:n_registers]
    start = time.process_time()
    for r in range(n_registers):
        naive.bfmmla(d[r], n[r], m[r])
    return 8 * n_registers / (time.process_time() - start)


def run(batch, repeat):
    vd, vn, vm = operands(batch, np.random.default_rng(0))
    result = {"batch": batch}
    for name, steps in STEPS.items():
        fn = getattr(isa, name)
        wall, cpu = best(lambda: fn(vd, vn, vm), repeat)
        result[name] = {"steps_per_s_wall": steps * batch / wall, "steps_per_s_cpu": steps * batch / cpu}
    x = vd.reshape(-1)
    wall, cpu = best(lambda: isa.bfcvt(x), repeat)
    result["bfcvt"] = {"elements_per_s_wall": x.size / wall, "elements_per_s_cpu": x.size / cpu}
    result["naive_steps_per_s"] = naive_rate(vd, vn, vm)
    slowest = min(result[name]["steps_per_s_cpu"] for name in STEPS)
    result["ratio_vs_naive"] = slowest / result["naive_steps_per_s"]
    result["goal_met"] = slowest >= GOAL_STEPS and result["ratio_vs_naive"] >= GOAL_RATIO
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=500_000, help="registers per call")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    r = run(args.batch, args.repeat)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0 if r["goal_met"] else 1
    print(f"batch of {r['batch']:,} registers, best of {args.repeat}")
    for name in STEPS:
        print(f"{name:7s} {r[name]['steps_per_s_cpu'] / 1e6:7.1f} M BFDotAdd steps/s (CPU time), "
              f"{r[name]['steps_per_s_wall'] / 1e6:7.1f} M/s (wall)")
    print(f"bfcvt   {r['bfcvt']['elements_per_s_cpu'] / 1e6:7.1f} M elements/s (CPU time)")
    print(f"naive   {r['naive_steps_per_s'] / 1e3:7.1f} k BFDotAdd steps/s (tests/naive.py, Fractions)")
    print(f"ratio   {r['ratio_vs_naive']:,.0f}x the exact reference (slower of bfmmla/bfdot)")
    print(f"goal (>= {GOAL_STEPS / 1e6:.0f} M steps/s and >= {GOAL_RATIO:.0f}x): "
          f"{'met' if r['goal_met'] else 'NOT met'}")
    return 0 if r["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
