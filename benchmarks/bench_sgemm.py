"""Bit-exact fp32 SGEMM (``mlas_emu.mlas.sgemm.sgemm``, MLAS's NEON FMLA kernels, no fastmath)
against numpy's float32 matmul, side by side in one process.

No goal is set for this path; it is the fp32 half of every fastmath-off model run.

    python benchmarks/bench_sgemm.py [--size 512] [--repeat 7] [--json]
"""

from __future__ import annotations

import json

import numpy as np

from _timing import best_time, size_repeat_json_args
from mlas_emu.mlas.sgemm import sgemm


def run(size: int, repeat: int) -> dict:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((size, size)).astype(np.float32)
    B = rng.standard_normal((size, size)).astype(np.float32)
    res = {
        "size": size,
        "sgemm_packed_s": best_time(lambda: sgemm(A, B), repeat),
        "sgemm_non_packed_s": best_time(lambda: sgemm(A, B, packed_b=False), repeat),
        "numpy_f32_s": best_time(lambda: A @ B, repeat),
    }
    res["ratio_to_numpy"] = res["sgemm_packed_s"] / res["numpy_f32_s"]
    return res


def main(argv=None):
    args = size_repeat_json_args(__doc__, argv)
    res = run(args.size, args.repeat)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    n = res["size"]
    print(f"fp32 SGEMM {n}x{n}x{n} (best of {args.repeat})")
    print(f"  mlas_emu sgemm, packed B      {1e3 * res['sgemm_packed_s']:8.2f} ms")
    print(f"  mlas_emu sgemm, non-packed B  {1e3 * res['sgemm_non_packed_s']:8.2f} ms")
    print(f"  numpy float32 matmul          {1e3 * res['numpy_f32_s']:8.2f} ms  (ratio {res['ratio_to_numpy']:.1f}x)")


if __name__ == "__main__":
    main()
