"""Exact int32 QGEMM (``mlas_emu.qgemm``) against numpy's float64 matmul, side by side.

Goal: at M = N = K = 512, the exact QGEMM (u8 x s8 with zero points, wrapping int32 result as
MLAS computes it) takes at most 3x the time of ``numpy.matmul`` on float64 matrices of the same
shape, measured in the same process on the same machine. Also reports the instruction-level
path on a small shape, for scale.

    python benchmarks/bench_qgemm.py [--size 512] [--repeat 7] [--json]
"""

from __future__ import annotations

import json

import numpy as np

import mlas_emu
from _timing import best_time, size_repeat_json_args
from mlas_emu.mlas.qgemm import qgemm

GOAL = 3.0




def run(size: int, repeat: int) -> dict:
    rng = np.random.default_rng(0)
    A = rng.integers(0, 256, (size, size), dtype=np.uint8)
    B = rng.integers(-128, 128, (size, size), dtype=np.int8)
    zpb = rng.integers(-128, 128, size).astype(np.int8)
    Af = rng.standard_normal((size, size))
    Bf = rng.standard_normal((size, size))
    t_qgemm = best_time(lambda: mlas_emu.qgemm(A, B, 7, zpb), repeat)
    t_numpy = best_time(lambda: Af @ Bf, repeat)
    small = (24, 24, 64)
    a_s = A[:small[0], :small[2]].copy()
    b_s = B[:small[2], :small[1]].copy()
    try:
        t_instr = best_time(lambda: qgemm(a_s, b_s, 7, 3, path="instructions"), 1)
    except (ImportError, AttributeError):  # the instruction layer is not installed
        t_instr = None
    return {
        "size": size,
        "qgemm_exact_s": t_qgemm,
        "numpy_float64_matmul_s": t_numpy,
        "ratio": t_qgemm / t_numpy,
        "goal_ratio": GOAL,
        "meets_goal": t_qgemm <= GOAL * t_numpy,
        "instruction_path_shape": small,
        "instruction_path_s": t_instr,
    }


def main(argv=None):
    args = size_repeat_json_args(__doc__, argv)
    result = run(args.size, args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    n = result["size"]
    print(f"M=N=K={n}")
    print(f"  mlas_emu.qgemm (exact int32, u8 x s8, zero points): {1e3 * result['qgemm_exact_s']:8.2f} ms")
    print(f"  numpy float64 matmul:                                {1e3 * result['numpy_float64_matmul_s']:8.2f} ms")
    print(f"  ratio {result['ratio']:.2f} (goal <= {GOAL}): {'met' if result['meets_goal'] else 'NOT met'}")
    if result["instruction_path_s"] is not None:
        m, nn, k = result["instruction_path_shape"]
        print(f"  instruction-level path at {m}x{nn}x{k}: {1e3 * result['instruction_path_s']:.1f} ms")


if __name__ == "__main__":
    main()
