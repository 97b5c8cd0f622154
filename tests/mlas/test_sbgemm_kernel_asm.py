"""The SBGEMM routine's schedule against the instructions the real routine executes.

Expected counts: every instruction executed in ``MlasSbgemmKernelZero``'s address range by ONNX
Runtime 1.27.0's aarch64 wheel under QEMU (Graviton3, one thread, B pre-packed), by mnemonic, as
listed in docs/teach.md. The schedule is written from SbgemmKernelNeon.S; these numbers were not
derived from it.
"""

from __future__ import annotations

from collections import Counter

import pytest

from mlas_emu.mlas import sbgemm_kernel_asm as asm
from mlas_emu.mlas.dispatch import SBGEMM_NEON
from mlas_emu.mlas.schedule import KernelCall

MEASURED_8x8x8 = dict(bfmmla=32, bfcvtn=8, bfcvtn2=8, uzp1=8, uzp2=8, ldr=25, ldp=9, stp=17, mov=19, movz=1,
                      eor=4, add=15, sub=4, cmp=4, b=4, cbz=3, tbz=2, tbnz=1, ret=1)
MEASURED_16x24x20 = dict(bfmmla=480, uzp1=48, uzp2=48, ldr=362, mov=106, stp=66)


def _counts(M, N, K) -> Counter:
    counts: Counter = Counter()
    m = 0
    while m < M:  # MlasSBGemmKernel's loop: one routine call per 8, 4, 2 or 1 rows
        rows = SBGEMM_NEON.kernel_rows(M - m)
        counts.update(r.mnemonic for r in asm.schedule(KernelCall(0, m, rows, 0, N, 0, K, True)))
        m += rows
    return counts


def test_every_mnemonic_of_8x8x8():
    assert dict(_counts(8, 8, 8)) == MEASURED_8x8x8


def test_16x24x20():
    counts = _counts(16, 24, 20)
    assert {k: counts[k] for k in MEASURED_16x24x20} == MEASURED_16x24x20


@pytest.mark.parametrize("rows", [1, 2, 4, 8])
@pytest.mark.parametrize("count_n", range(1, 18))
def test_every_stored_column_is_stored_once(rows, count_n):
    stored = Counter(c for r in asm.schedule(KernelCall(0, 0, rows, 0, count_n, 0, 5, True))
                     if r.mnemonic.startswith("st") for lanes in r.lanes.values() for c in lanes if c)
    assert set(stored) == {("C", i, j) for i in range(rows) for j in range(count_n)}
    assert set(stored.values()) == {1}
