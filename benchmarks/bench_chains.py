"""The SBGEMM chain loop alone (``mlas_emu.mlas._bfdot_chain``): BFDotAdd steps per second of each
tier of ``mlas_emu.isa.tiers`` on one K block, A (512, 256) x B (256, 512) of standard-normal bf16
values, every tile run by the named tile loop.

  f32-rz16   float32, 16 lanes with AVX-512 embedded round toward zero (the default on AVX-512 hosts)
  f32        float32, TwoSum under round to nearest (the default elsewhere)
  f64        float64 (operands scaled by 2^-60 so that the float32 precondition fails)

    python benchmarks/bench_chains.py [--repeat 7]      (NUMBA_NUM_THREADS=1 for one core)
"""

from __future__ import annotations

import argparse

import numba
import numpy as np

from _timing import best_time
from mlas_emu.isa import to_bf16
from mlas_emu.isa.tiers import HAS_AVX512
from mlas_emu.mlas import _bfdot_chain as chain
from mlas_emu.mlas._bfdot_chain import fp32_tier, unpack_rows


@numba.njit(parallel=True)
def _all_tiles(loop, af, bt, dtype_probe, rows, n):
    """Every 8 x 64 tile of the product by one tile loop (no dispatch, no special values)."""
    out = np.empty((rows, n), np.float32)
    n_ct = n // 64
    for task in numba.prange((rows // 8) * n_ct):
        i0 = (task // n_ct) * 8
        j0 = (task % n_ct) * 64
        acc = np.zeros((8, 64), dtype_probe.dtype)
        loop(af, bt, acc, i0, i0 + 8, j0, j0 + 64)
        out[i0:i0 + 8, j0:j0 + 64] = acc
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((512, 256)).astype(np.float32)
    b = rng.standard_normal((256, 512)).astype(np.float32)
    init = np.zeros(512, np.uint32)
    steps = 512 * 512 * 128
    cases = [("f32-rz16", 1.0, chain._tile_chains_rz16, np.float32)] if HAS_AVX512 else []
    cases += [("f32", 1.0, chain._tile_chains_f32, np.float32), ("f64", 2.0**-60, chain._tile_chains_f64, np.float64)]
    print(f"chains of one 512x256x512 block, {numba.get_num_threads()} numba thread(s), best of {args.repeat}")
    for name, scale, loop, dtype in cases:
        ab = np.asarray(to_bf16(a * np.float32(scale))).view(np.uint16)
        bb = np.asarray(to_bf16(b * np.float32(scale))).view(np.uint16)
        assert fp32_tier(ab[:8], bb[:, :64], init[:64]) == (scale == 1.0)
        af = unpack_rows(ab)[0]
        bt = chain._unpack_bf16_cols(bb)[0]
        probe = np.zeros(1, dtype)
        t = best_time(lambda: _all_tiles(loop, af, bt, probe, 512, 512), args.repeat)
        print(f"  {name:10s} {1e3 * t:7.2f} ms  {steps / t:.3g} steps/s")


if __name__ == "__main__":
    main()
