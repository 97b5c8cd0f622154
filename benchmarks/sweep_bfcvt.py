"""One-off exhaustive check of BFCVT: all 2**32 fp32 bit patterns.

Non-NaN inputs must equal ``ml_dtypes.bfloat16`` casting (round to nearest even, denormals
kept); NaN inputs must follow the Arm ARM's FPConvertNaN (quiet bit set, top payload bits
kept, sign kept). Runs in chunks of 2**24; a few minutes on one core.

    python benchmarks/sweep_bfcvt.py [--chunks N]   (N < 256 checks only the first N chunks)
"""

from __future__ import annotations

import argparse
import sys
import time

import ml_dtypes
import numpy as np

from mlas_emu.isa import bfcvt

CHUNK = 1 << 24


def check_chunk(start: int) -> int:
    x = np.arange(start, start + CHUNK, dtype=np.uint64).astype(np.uint32)
    got = bfcvt(x).view(np.uint16)
    nan = ((x & 0x7F800000) == 0x7F800000) & ((x & 0x7FFFFF) != 0)
    with np.errstate(invalid="ignore"):  # NaN casts are replaced below anyway
        cast = x.view(np.float32).astype(ml_dtypes.bfloat16).view(np.uint16)
    expected = np.where(nan, ((x >> 16) | 0x40).astype(np.uint16), cast)
    bad = np.nonzero(got != expected)[0]
    for i in bad[:5]:
        print(f"  mismatch: x=0x{int(x[i]):08X} got 0x{int(got[i]):04X} expected 0x{int(expected[i]):04X}")
    return int(bad.size)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=256, help="number of 2**24-pattern chunks (256 = all)")
    args = parser.parse_args(argv)
    start_time = time.perf_counter()
    mismatches = 0
    for c in range(args.chunks):
        mismatches += check_chunk(c * CHUNK)
    checked = args.chunks * CHUNK
    print(f"{checked:,} fp32 patterns checked in {time.perf_counter() - start_time:.0f} s: "
          f"{mismatches} mismatches")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
