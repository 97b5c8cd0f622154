"""The SDOT kernel: signed operands, no sign flip, SDOT instructions in the trace."""

from __future__ import annotations

import numpy as np

from mlas_emu.mlas import qgemm_kernel_sdot


def test_signed_extremes_against_python_ints():
    A = np.array([[-128, 127, -1, 0, 5, -128, 127, 1, -7]], np.int8)
    B = np.array([[-128], [-128], [127], [1], [-1], [127], [-128], [0], [3]], np.int8)
    expected = sum(int(a) * int(b) for a, b in zip(A[0], B[:, 0]))
    got = qgemm_kernel_sdot.gemm(A, B)
    assert int(got[0, 0]) == expected


def test_trace_names_sdot_and_four_per_row_and_8_k():
    trace = []
    qgemm_kernel_sdot.gemm(np.zeros((1, 16), np.int8), np.zeros((16, 3), np.int8), trace=trace)
    ops = [r.mnemonic for r in trace]
    assert ops.count("sdot") == 2 * 4  # 2 blocks of 8 k, 1 row: 4 SDOT each (QgemmS8S8KernelSdot.S)
    assert "udot" not in ops


def test_signed_b_is_not_flipped():
    packed, sums = qgemm_kernel_sdot.copy_pack_b(np.array([[-128, 5]], np.int8), True)
    assert packed.view(np.int8)[[0, 4]].tolist() == [-128, 5]
    assert sums.tolist() == [-128, 5]
