"""Packed layouts of the MMLA QGEMM kernels (UMMLA and SMMLA).

The expected layouts are built element by element from the rules in the MLAS sources
(``qgemm_kernel_ummla.cpp``, ``qgemm_kernel_smmla.cpp``), on ``np.arange`` matrices so every
byte is traceable. The routines' schedule is tested in ``test_qgemm_kernel_mmla_asm.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlas_emu.mlas import qgemm_kernel_ummla as ummla_mod


def _arange(shape, dtype):
    return (np.arange(np.prod(shape)) % 251 + 1).astype(np.uint8).view(dtype).reshape(shape)


def expected_pack_a(A):
    """Row groups 8, ..., then 4, 2, 1; per 8-k block, each row's 8 bytes; last single row padded to 16."""
    M, K = A.shape
    raw = A.view(np.uint8)
    out, row = [], 0
    groups = [8] * (M // 8) + [g for g in (4, 2, 1) if (M % 8) & g]
    for g in groups:
        if g == 1:
            line = [int(raw[row, k]) if k < K else 0 for k in range(-(-K // 16) * 16)]
            out += line
        else:
            for kb in range(-(-K // 8)):
                for r in range(g):
                    out += [int(raw[row + r, 8 * kb + k]) if 8 * kb + k < K else 0 for k in range(8)]
        row += g
    return np.array(out, dtype=np.uint8)


def expected_pack_b(B, fill_flip):
    K, N = B.shape
    raw = B.view(np.uint8)
    out = []
    for p in range(-(-N // 8)):
        for kb in range(-(-K // 8)):
            for c in range(8):
                for k in range(8):
                    col, kk = 8 * p + c, 8 * kb + k
                    out.append(int(raw[kk, col]) ^ fill_flip if kk < K and col < N else 0)
    return np.array(out, dtype=np.uint8)


@pytest.mark.parametrize("M,K", [(1, 1), (1, 16), (1, 17), (2, 3), (3, 9), (7, 8), (8, 16), (11, 13), (15, 24),
                                 (16, 5), (24, 40)])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_copy_pack_a_layout_on_arange(M, K, dtype):
    A = _arange((M, K), dtype)
    packed, row_sums = ummla_mod.copy_pack_a(A, signed=dtype == np.int8)
    np.testing.assert_array_equal(packed, expected_pack_a(A))
    np.testing.assert_array_equal(row_sums, [sum(int(v) for v in row) for row in A])


def test_copy_pack_a_diagram_two_rows():
    """The 2-row group of the docstring: [r0k0..r0k7 | r1k0..r1k7] per 8-k block."""
    A = np.arange(1, 21, dtype=np.uint8).reshape(2, 10)
    packed, _ = ummla_mod.copy_pack_a(A)
    assert packed.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18,
                               9, 10, 0, 0, 0, 0, 0, 0, 19, 20, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("K,N", [(1, 1), (8, 8), (9, 7), (13, 11), (16, 17), (20, 24), (3, 130)])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_copy_pack_b_layout_on_arange(K, N, dtype):
    B = _arange((K, N), dtype)
    signed = dtype == np.int8
    packed, sums = ummla_mod.copy_pack_b(B, b_is_signed=signed)
    np.testing.assert_array_equal(packed, expected_pack_b(B, 0x80 if signed else 0))
    flipped = B.view(np.uint8).astype(int) ^ (0x80 if signed else 0)
    assert sums[:N].tolist() == flipped.sum(axis=0).tolist()
    assert not sums[N:].any()


def test_copy_pack_b_diagram_first_panel():
    """Panel bytes: c0[k0..7] c1[k0..7] ...: B[k, n] = 10*k + n."""
    B = (10 * np.arange(8)[:, None] + np.arange(8)[None, :]).astype(np.uint8)
    packed, _ = ummla_mod.copy_pack_b(B, b_is_signed=False)
    assert packed[:16].tolist() == [0, 10, 20, 30, 40, 50, 60, 70, 1, 11, 21, 31, 41, 51, 61, 71]


def test_fixup_zero_point_b():
    assert ummla_mod.fixup_zero_point_b(-1, True) == 0x7F
    assert ummla_mod.fixup_zero_point_b(-128, True) == 0
    assert ummla_mod.fixup_zero_point_b(127, True) == 0xFF
    assert ummla_mod.fixup_zero_point_b(200, False) == 200


def test_packing_does_not_modify_inputs():
    A = _arange((9, 11), np.int8)
    B = _arange((11, 9), np.int8)
    a0, b0 = A.copy(), B.copy()
    ummla_mod.copy_pack_a(A, signed=True)
    ummla_mod.copy_pack_b(B, b_is_signed=True)
    np.testing.assert_array_equal(A, a0)
    np.testing.assert_array_equal(B, b0)
