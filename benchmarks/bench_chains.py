"""The SBGEMM chain loop alone (``mlas_emu.mlas._bfdot_chain``): BFDotAdd steps per second of each
tier on one K block, A (512, 256) x B (256, 512) of standard-normal bf16 values.

  fp32, toward zero   float32 tier, MXCSR round toward zero (x86 hosts; the default there)
  fp32, TwoSum        float32 tier, TwoSum under round to nearest (the default elsewhere)
  careful             float64 tier (operands scaled by 2^-60 so that the fp32 tier's proof fails)

    python benchmarks/bench_chains.py [--repeat 7]      (NUMBA_NUM_THREADS=1 for one core)
"""

from __future__ import annotations

import argparse

import numba
import numpy as np

from _timing import best_time
from mlas_emu._host_fp import HAS_MXCSR
from mlas_emu.isa import to_bf16
from mlas_emu.mlas._bfdot_chain import bfdot_chains_unpacked, fp32_tier, unpack_rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((512, 256)).astype(np.float32)
    b = rng.standard_normal((256, 512)).astype(np.float32)
    init = np.zeros(512, np.uint32)
    steps = 512 * 512 * 128
    cases = [("fp32, toward zero", 1.0, True)] if HAS_MXCSR else []
    cases += [("fp32, TwoSum", 1.0, False), ("careful", 2.0**-60, False)]
    print(f"chains of one 512x256x512 block, {numba.get_num_threads()} numba thread(s), best of {args.repeat}")
    for name, scale, toward_zero in cases:
        ab = np.asarray(to_bf16(a * np.float32(scale))).view(np.uint16)
        bb = np.asarray(to_bf16(b * np.float32(scale))).view(np.uint16)
        assert fp32_tier(ab[:8], bb[:, :64], init[:64]) == (scale == 1.0)
        unpacked = unpack_rows(ab)
        t = best_time(lambda: bfdot_chains_unpacked(ab, unpacked, bb, init, toward_zero), args.repeat)
        print(f"  {name:18s} {1e3 * t:7.2f} ms  {steps / t:.3g} steps/s")


if __name__ == "__main__":
    main()
