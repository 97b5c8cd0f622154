"""The Neon SBGEMM kernel model: B packing layout, operand loads, fast path vs instruction path,
and the fast path against the exact Fraction reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu.mlas import sbgemm_kernel_neon as kn
from mlas_emu.mlas import sbgemm_kernel_asm as asm
from mlas_emu.mlas.dispatch import SBGEMM_NEON
from mlas_emu.mlas.interpret import Memory, execute
from mlas_emu.mlas.schedule import KernelCall

import _sbgemm_reference as ref


def _expected_layout(K, N):
    """The packed layout written out from the picture in convert_copy_pack_b's docstring:
    8-column panels of ceil(K/4) groups, each group column-major over 4 k, then the tail panel
    whose groups are 8*ceil(r/2) wide; entries are (k, n) or None for padding."""
    groups = (K + 3) // 4
    cells = []
    for p in range(N // 8):
        for g in range(groups):
            for c in range(8):
                for kk in range(4):
                    k = 4 * g + kk
                    cells.append((k, 8 * p + c) if k < K else None)
    r = N % 8
    if r:
        width = 2 * ((r + 1) // 2)
        for g in range(groups):
            for c in range(width):
                for kk in range(4):
                    k = 4 * g + kk
                    cells.append((k, 8 * (N // 8) + c) if (k < K and c < r) else None)
    return cells


@pytest.mark.parametrize("K,N", [(4, 8), (6, 8), (5, 13), (8, 16), (3, 1), (9, 7), (4, 2), (7, 21)])
def test_convert_copy_pack_b_layout_on_arange(K, N):
    # B[k, n] = 1 + k * N + n is exact in bf16 for these sizes (< 256).
    B = (1 + np.arange(K * N, dtype=np.float32)).reshape(K, N)
    got = kn.convert_copy_pack_b(ref.bfcvt(B)).view(np.uint16)
    expected_cells = _expected_layout(K, N)
    assert got.size == len(expected_cells)
    expected = np.array([0 if c is None else ref.bfcvt(B[c])[()] for c in expected_cells], dtype=np.uint16)
    np.testing.assert_array_equal(got, expected)


def test_convert_pack_b_blocks_of_256_advance_by_aligned_n():
    K, N = 300, 12  # AlignedN = 16: block 1 starts at 16 * 256
    B = np.random.default_rng(0).standard_normal((K, N)).astype(np.float32)
    buf = kn.convert_pack_b(B)
    assert buf.size * 2 == kn.pack_b_size(N, K) == 16 * 300 * 2 + 64  # 9600 + 32 -> aligned to 64
    bits = ref.bfcvt(B)
    np.testing.assert_array_equal(buf[: 256 * 12], kn.convert_copy_pack_b(bits[:256]))
    block1 = kn.convert_copy_pack_b(bits[256:])
    np.testing.assert_array_equal(buf[16 * 256 : 16 * 256 + block1.size], block1)
    assert not buf[256 * 12 : 16 * 256].any()  # the alignment gap stays zero (memset)


def test_pack_b_size_matches_mlas_formula():
    # align(N,16) * align(K,4) * 2 + 32, rounded up to 64 bytes
    assert kn.pack_b_size(1, 1) == 64 * ((16 * 4 * 2 + 32 + 63) // 64)
    assert kn.pack_b_size(150, 259) == (160 * 260 * 2 + 32 + 63) // 64 * 64


def test_b_operand_reads_the_packed_layout_back():
    K, N = 10, 13
    B = np.random.default_rng(1).standard_normal((K, N)).astype(np.float32)
    buf = kn.convert_pack_b(B)
    bits, defined = kn.read_b_operand(buf, None, 0, N, K)
    assert defined.all()
    np.testing.assert_array_equal(bits[:K], ref.bfcvt(B))
    assert not bits[K:].any()  # K padded to 12 with zeros


@pytest.mark.parametrize("offset,count_n,count_k", [(0, 13, 10), (40, 21, 7), (500, 9, 33), (0, 3, 1)])
def test_b_operand_loads_are_the_indexed_elements_with_past_end_undefined(offset, count_n, count_k):
    rng = np.random.default_rng(count_n)
    buf = rng.integers(0, 2**16, 600, dtype=np.uint64).astype(np.uint16)  # some loads fall past the end
    known = rng.random(600) < 0.8
    idx = kn.b_operand_index(offset, count_n, count_k)
    inside = idx < buf.size
    for k in (None, known):
        bits, defined = kn.read_b_operand(buf, k, offset, count_n, count_k)
        np.testing.assert_array_equal(bits, np.where(inside, buf[np.minimum(idx, buf.size - 1)], 0))
        expected = inside if k is None else inside & k[np.minimum(idx, buf.size - 1)]
        np.testing.assert_array_equal(defined, expected)


def test_a_operand_over_reads_the_next_row_and_flags_past_end():
    A = np.arange(1, 13, dtype=np.float32).reshape(2, 6)  # K = 6: the last step loads k = 4..7
    op = kn.read_a_operand(A.reshape(-1), np.array([0, 6]), 6)
    np.testing.assert_array_equal(op.bits[0], ref.bfcvt(np.array([1, 2, 3, 4, 5, 6, 7, 8], np.float32)))
    assert op.over_read[:, 6:].all() and not op.over_read[:, :6].any()
    assert op.past_end[1, 6:].all() and not op.past_end[0].any()


def _bf16_patterns(draw_specials):
    normal = st.integers(0x0080, 0x7F7F) | st.integers(0x8080, 0xFF7F)
    special = st.sampled_from([0x0000, 0x8000, 0x0001, 0x807F, 0x7F80, 0xFF80, 0x7FC0, 0x7F81, 0x7F7F, 0x0080])
    return (normal | special) if draw_specials else normal


@st.composite
def kernel_operands(draw, specials=True, max_rows=17, max_n=20, max_k=24):
    rows = draw(st.integers(1, max_rows))
    n = draw(st.integers(1, max_n))
    lanes = 4 * draw(st.integers(1, max_k // 4))
    elems = _bf16_patterns(specials)
    a = np.array(draw(st.lists(elems, min_size=rows * lanes, max_size=rows * lanes)), dtype=np.uint16)
    b = np.array(draw(st.lists(elems, min_size=lanes * n, max_size=lanes * n)), dtype=np.uint16)
    bias = None
    if draw(st.booleans()):
        bias_bits = st.integers(0, 2**32 - 1) | st.sampled_from([0x00000001, 0x7F800000, 0xFF800000, 0x80000000])
        bias = np.array(draw(st.lists(bias_bits, min_size=n, max_size=n)), dtype=np.uint32).view(np.float32)
    return a.reshape(rows, lanes), b.reshape(lanes, n), bias


def _interpret(a_fp32, b_bits, bias, c, zero_mode):
    """The routine's schedule (sbgemm_kernel_asm) interpreted on register images, row group by row group."""
    count_m, count_n = c.shape
    z = (np.zeros(count_n, np.float32) if bias is None else bias).view(np.uint32)[None, :]
    m = 0
    while m < count_m:
        rows = SBGEMM_NEON.kernel_rows(count_m - m)
        call = KernelCall(0, m, rows, 0, count_n, 0, b_bits.shape[0], zero_mode, bias is not None)
        execute(asm.schedule(call), Memory(A=a_fp32[m : m + rows].view(np.uint32), B=b_bits, Z=z,
                                           C=c[m : m + rows].view(np.uint32)))
        m += rows


@settings(max_examples=40, deadline=None)
@given(kernel_operands(), st.booleans())
def test_fast_path_equals_the_interpreted_schedule(ops, zero_mode):
    # A consistency check of two paths of our own (the oracle tests check the bits).
    a, b, bias = ops
    a_fp32 = (a.astype(np.uint32) << 16).view(np.float32)  # the bf16 values as fp32: BFCVTN keeps them
    start = np.arange(a.shape[0] * b.shape[1], dtype=np.float32).reshape(a.shape[0], b.shape[1])
    expected = start.copy()
    kn.store_tile(expected, kn.kernel_fast(a, b, bias), zero_mode)
    got = start.copy()
    _interpret(a_fp32, b, bias, got, zero_mode)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_the_schedule_issues_16_bfmmla_per_4k_for_an_8x8_tile():
    # 32 measured for M=N=K=8 (docs/oracle.md)
    records = asm.schedule(KernelCall(0, 0, 8, 0, 8, 0, 8, True))
    assert sum(r.mnemonic == "bfmmla" for r in records) == 32


@settings(max_examples=25, deadline=None)
@given(kernel_operands(max_rows=5, max_n=6, max_k=12))
@example((np.array([[0x7F7F, 0x7F7F, 0, 0]], np.uint16), np.array([[0x7F7F], [0x7F7F], [0], [0]], np.uint16), None))
@example((np.array([[0x0080, 0x0080, 0x0080, 0]], np.uint16), np.array([[0x0080], [0x8080], [0x3F80], [0]], np.uint16), None))
def test_fast_path_against_exact_reference(ops):
    a, b, bias = ops
    got = kn.kernel_fast(a, b, bias)
    init = np.zeros(b.shape[1], np.uint32) if bias is None else bias.view(np.uint32)
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            expected = ref.chain(int(init[j]), a[i].tolist(), b[:, j].tolist())
            assert int(got[i, j]) == expected, (i, j, hex(int(got[i, j])), hex(expected))


def test_fast_path_rounding_edges_against_exact_reference():
    # Products whose sum needs the sticky bit far below float64's precision, cancellation to
    # zero, results just below 2^-126 (flushed) and at 2^128 (infinity).
    cases = [
        (0x3F80, 0x0080, 0x3F80, 0x3F80),  # 1 + 2^-126: sticky far below
        (0x3F80, 0xBF80, 0x3F80, 0x3F80),  # 1 - 1 = +0
        (0x0100, 0x3F00, 0x8080, 0x3F80),  # 2^-125*0.5 - 2^-126 -> 0
        (0x7F00, 0x7F00, 0x4000, 0x4000),  # 2^127*2 + 2^127*2: overflow
        (0x3F81, 0x3F81, 0x3F81, 0xBF80),  # rounding of a 16-bit product difference
    ]
    a = np.array([[c[0], c[1]] for c in cases], np.uint16)
    b = np.array([[c[2] for c in cases], [c[3] for c in cases]], np.uint16)
    got = kn.kernel_fast(a, b, np.full(len(cases), np.float32(1.5)))
    for i, c in enumerate(cases):
        expected = ref.bf_dot_add(int(np.float32(1.5).view(np.uint32)), c[0], c[1], c[2], c[3])
        assert int(got[i, i]) == expected


def test_store_tile_add_mode_is_fp32_add_and_default_nan():
    c = np.array([[1.0, np.inf, 3.0]], np.float32)
    acc = np.array([[np.float32(2.0**-24), -np.inf, np.nan]], np.float32).view(np.uint32)
    kn.store_tile(c, acc, zero_mode=False)
    assert c[0, 0] == np.float32(1.0)  # ties to even
    assert c.view(np.uint32)[0, 1] == 0x7FC00000 and c.view(np.uint32)[0, 2] == 0x7FC00000


def test_local_bfcvt_agrees_with_the_shared_naive_reference():
    # The local BFDotAdd is naive's; the local BFCVT is a second method (array rounding).
    naive = pytest.importorskip("naive")
    rng = np.random.default_rng(17)
    x = rng.integers(0, 2**32, 300, dtype=np.uint64).astype(np.uint32)
    got = ref.bfcvt(x.view(np.float32))
    assert [int(g) for g in got] == [naive.fp_convert_bf(int(v)) for v in x]
