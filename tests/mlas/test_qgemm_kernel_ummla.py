"""Packed layouts and the micro-kernel walk of the MMLA QGEMM kernels (UMMLA and SMMLA).

The expected layouts are built element by element from the rules in the MLAS sources
(``qgemm_kernel_ummla.cpp``, ``qgemm_kernel_smmla.cpp``), on ``np.arange`` matrices so every
byte is traceable. The kernel walk is driven by an exact MatMulAdd reference written from the Arm
ARM pseudocode (``_mmla_reference``) and checked against exact integer sums.
"""

from __future__ import annotations

import numpy as np
import pytest
from _mmla_reference import smmla as ref_smmla
from _mmla_reference import ummla as ref_ummla
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu.mlas import qgemm_kernel_smmla as smmla_mod
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


@pytest.mark.parametrize("count_n,blocks", [(1, [2]), (2, [2]), (3, [4]), (5, [6]), (6, [6]), (7, [8]),
                                            (8, [8]), (13, [8, 6]), (16, [8, 8]), (17, [8, 8, 2])])
def test_column_walk(count_n, blocks):
    assert ummla_mod.column_blocks(count_n) == blocks


def _wrap(x):
    return np.asarray(x, np.int64).astype(np.uint32).view(np.int32)


def _run_kernel_tile(A, B, zpa, zpb, instruction, acc_dtype, operand_dtype, family, signed_b):
    """Drive one kernel call on a full panel (<= 8 rows) with MLAS's zero-point set-up."""
    M, K = A.shape
    N = B.shape[1]
    pa, rs = family.copy_pack_a(A)
    pb, cs = family.copy_pack_b(B, b_is_signed=signed_b)
    zpb_fixed = family.fixup_zero_point_b(zpb, signed_b)
    cs = _wrap(cs.astype(np.int64) * -zpa)
    rs = _wrap((rs.astype(np.int64) - K * zpa) * -zpb_fixed)
    c = np.zeros((M, N), np.int32)
    done = 0
    pkc = -(-K // 8)
    trace = []
    off = 0
    while done < M:
        rows = ummla_mod.mmla_gemm_kernel(instruction, acc_dtype, operand_dtype, "mmla", pa[off:], pb, c[done:], pkc,
                                          M - done, N, rs[done:], cs, None, True, trace=trace)
        off += 8 * pkc * rows
        done += rows
    return c, trace


@settings(max_examples=60, deadline=None)
@given(M=st.integers(1, 19), N=st.integers(1, 19), K=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
       kind=st.sampled_from(["u8u8", "u8s8", "s8s8"]))
@example(M=8, N=8, K=8, seed=0, kind="u8u8")
@example(M=1, N=1, K=1, seed=1, kind="u8s8")
@example(M=7, N=7, K=17, seed=2, kind="s8s8")
def test_kernel_walk_matches_exact_sums(M, N, K, seed, kind):
    rng = np.random.default_rng(seed)
    a_dt, b_dt = {"u8u8": (np.uint8, np.uint8), "u8s8": (np.uint8, np.int8), "s8s8": (np.int8, np.int8)}[kind]
    A = rng.integers(np.iinfo(a_dt).min, np.iinfo(a_dt).max + 1, (M, K), dtype=a_dt)
    B = rng.integers(np.iinfo(b_dt).min, np.iinfo(b_dt).max + 1, (K, N), dtype=b_dt)
    zpa = int(rng.integers(np.iinfo(a_dt).min, np.iinfo(a_dt).max + 1))
    zpb = int(rng.integers(np.iinfo(b_dt).min, np.iinfo(b_dt).max + 1))
    if kind == "s8s8":
        got, trace = _run_kernel_tile(A, B, zpa, zpb, ref_smmla, np.int32, np.int8, smmla_mod, True)
    else:
        got, trace = _run_kernel_tile(A, B, zpa, zpb, ref_ummla, np.uint32, np.uint8, ummla_mod, b_dt == np.int8)
    expected = _wrap((A.astype(np.int64) - zpa) @ (B.astype(np.int64) - zpb))
    np.testing.assert_array_equal(got, expected)
    # one MMLA per (row pair, column pair) per 8 k, for each kernel call's rows and column blocks
    calls = [8] * (M // 8) + [g for g in (4, 2, 1) if (M % 8) & g]
    pairs = sum(max(r // 2, 1) for r in calls)
    colpairs = sum(w // 2 for w in ummla_mod.column_blocks(N))
    assert sum(r.mnemonic == "mmla" for r in trace) == pairs * colpairs * (-(-K // 8))


def test_trace_lanes_of_first_mmla():
    A = _arange((8, 8), np.uint8)
    B = _arange((8, 8), np.uint8)
    _, trace = _run_kernel_tile(A, B, 0, 0, ref_ummla, np.uint32, np.uint8, ummla_mod, False)
    first = next(r for r in trace if r.mnemonic == "mmla")
    assert first.operands == ("v16.4s", "v8.16b", "v4.16b")
    assert first.lanes["v8.16b"][:9] == tuple(("A", 0, k) for k in range(8)) + (("A", 1, 0),)
    assert first.lanes["v4.16b"][8] == ("B", 0, 1)
    assert first.lanes["v16.4s"] == (("C", 0, 0), ("C", 0, 1), ("C", 1, 0), ("C", 1, 1))
    mmlas = [r for r in trace if r.mnemonic == "mmla"]
    assert len(mmlas) == 16  # 16 MMLA per 8x8x8 step
    assert [r.operands[0] for r in mmlas[:5]] == ["v16.4s", "v17.4s", "v18.4s", "v19.4s", "v20.4s"]
