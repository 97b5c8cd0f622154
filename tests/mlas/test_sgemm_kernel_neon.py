"""The SGEMM kernel model: the fast path against the instruction path (a consistency check of two
of our own paths; each is checked against the exact reference in test_sgemm.py and
test_sgemm_kernel_asm.py), packing layouts, and the records the routines' structure implies
(aarch64/SgemmKernelNeon.S, aarch64/SgemvKernelNeon.S)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu.mlas import sgemm_kernel_neon as kern
from mlas_emu.mlas.sgemm import sgemm

SPECIAL_BITS = [0x7FC00000, 0xFF812345, 0x7F800000, 0xFF800000, 0x00000001, 0x80000000, 0x7F7FFFFF]


def bits(x):
    return np.asarray(x).view(np.uint32)


@st.composite
def kernel_problems(draw):
    M = draw(st.integers(1, 9))
    N = draw(st.integers(1, 40))
    K = draw(st.sampled_from([1, 2, 3, 4, 5, 7, 8, 9, 13]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    trans_a, trans_b = draw(st.booleans()), draw(st.booleans())
    A = rng.standard_normal((K, M) if trans_a else (M, K)).astype(np.float32)
    B = rng.standard_normal((N, K) if trans_b else (K, N)).astype(np.float32)
    C = rng.standard_normal((M, N)).astype(np.float32)
    if draw(st.booleans()):  # sprinkle NaN, inf, denormals
        for X in (A, B, C):
            flat = X.view(np.uint32).reshape(-1)
            idx = rng.integers(0, flat.size, size=max(1, flat.size // 10))
            flat[idx] = rng.choice(SPECIAL_BITS, idx.size)
    return dict(A=A, B=B, C=C, trans_a=trans_a, trans_b=trans_b,
                alpha=draw(st.sampled_from([1.0, 0.5, -2.0])),
                beta=draw(st.sampled_from([0.0, 1.0, 3.0])), packed_b=draw(st.booleans()),
                threads=draw(st.integers(1, 3)))


def _big(M, N, K, seed=0, **kw):
    rng = np.random.default_rng(seed)
    return dict(A=rng.standard_normal((M, K)).astype(np.float32),
                B=rng.standard_normal((K, N)).astype(np.float32),
                C=rng.standard_normal((M, N)).astype(np.float32), **kw)


@settings(max_examples=40, deadline=None)
@given(kernel_problems())
@example(_big(3, 21, 257, alpha=1.0, beta=0.0, packed_b=True, threads=1))
@example(_big(1, 70, 30, alpha=1.0, beta=1.0, packed_b=False, threads=1))  # GEMV, 64 + 6 columns
@example(_big(6, 40, 300, alpha=0.5, beta=0.0, packed_b=False, threads=2))  # N split between 2 threads
def test_instruction_level_path_equals_fast_path(p):
    """Consistency check between our two paths (random data with NaN, inf, denormals)."""
    fast = sgemm(**p)
    trace = []
    slow = sgemm(**p, trace=trace)
    assert np.array_equal(bits(fast), bits(slow))
    assert trace


def test_copy_pack_b_panels():
    # MlasSgemmCopyPackB: 16-column panels, one row of 16 per k, last panel zero-padded.
    B = np.arange(3 * 20, dtype=np.float32).reshape(3, 20)
    packed = kern.copy_pack_b(B).view(np.float32).reshape(2, 3, 16)
    assert np.array_equal(packed[0], B[:, :16])
    assert np.array_equal(packed[1, :, :4], B[:, 16:])
    assert not packed[1, :, 4:].any()


def test_pack_b_k_blocks_of_256():
    # MlasGemmPackB: each K block of 256 holds all of N (aligned to 16) before the next.
    K, N = 300, 20
    B = np.arange(K * N, dtype=np.float32).reshape(K, N)
    packed = kern.pack_b(B).view(np.float32)
    assert packed.size == 32 * K
    second = packed[32 * 256:].reshape(2, K - 256, 16)
    assert np.array_equal(second[0], B[256:, :16])


@pytest.mark.parametrize(
    "M, N, K, expected_fmla, expected_ldp",
    [
        (4, 16, 8, 8 * 4 * 4, 8 * 2),  # one 4x16 tile: 4 rows x 4 vectors per k, 2 ldp of B
        (5, 16, 8, 8 * 4 * 4 + 8 * 1 * 4, 8 * 2 * 2),  # then a 1-row call reloads B
        (4, 20, 8, 8 * 4 * 4 + 8 * 4 * 2, 8 * (2 + 1)),  # 16 columns, then an 8-column block
        (2, 7, 5, 5 * 2 * 2, 5 * 1),  # N <= 8: only the 8-column block
    ],
)
def test_fmla_count_follows_tile_structure(M, N, K, expected_fmla, expected_ldp):
    trace = []
    sgemm(np.ones((M, K), np.float32), np.ones((K, N), np.float32), trace=trace)
    counts = {}
    for record in trace:
        counts[record.mnemonic] = counts.get(record.mnemonic, 0) + 1
    assert counts["fmla"] == expected_fmla
    calls, left = 0, M  # ProcessRows: 4 rows per call while 4 remain, then 2, then 1
    while left:
        calls, left = calls + 1, left - (4 if left >= 4 else 2 if left >= 2 else 1)
    assert counts["ldp"] == expected_ldp + 2 * calls  # + ldp d10,d11 / d8,d9 restoring the saved registers
    # ZeroMode: MultiplyAlphaRow's 4 fmul per row and column block, even for alpha = 1 and for the
    # 8-column block (the wheels' binaries, 1.17.1 and 1.32.0, disassembled)
    blocks, left = 0, N  # 16-column blocks while more than 8 columns remain, then one of 8
    while left > 0:
        blocks, left = blocks + 1, left - 16 if left > 8 else 0
    assert counts["fmul"] == 4 * M * blocks


def test_add_mode_fmla_per_output_vector():
    # beta = 1: every block is added with ld C / fmla (one per 4 columns, or one for 2 or 1)
    trace = []
    M, N, K = 1, 7, 3
    sgemm(np.ones((M, K), np.float32), np.ones((K, N), np.float32), beta=1.0,
          C=np.ones((M, N), np.float32), trace=trace)
    fmla = [r for r in trace if r.mnemonic == "fmla"]
    # N = 7 is one 8-column block (2 vectors per k), stored as 4 + 2 + 1 columns
    assert len(fmla) == K * 2 + 3
    assert [r.note for r in fmla[K * 2 :]] == ["C = C + acc*alpha"] * 3


def test_trace_lanes_name_matrix_elements():
    trace = []
    sgemm(np.ones((2, 4), np.float32), np.ones((4, 8), np.float32), trace=trace)
    first = next(r for r in trace if r.mnemonic == "fmla")
    assert first.operands == ("v16.4s", "v4.4s", "v8.s[0]")
    assert first.lanes["v8.s[0]"] == (("A", 0, 0),)
    assert first.lanes["v16.4s"][3] == ("C", 0, 3)
    # N = 5: the 8-column block's lanes past column 4 hold the panel's zero padding
    trace = []
    sgemm(np.ones((1, 2), np.float32), np.ones((2, 5), np.float32), trace=trace)
    second = [r for r in trace if r.mnemonic == "fmla"][1]
    assert second.lanes["v5.4s"] == (("B", 0, 4), None, None, None)


def test_gemv_trace_is_one_chain_per_column():
    trace = []
    sgemm(np.ones((1, 5), np.float32), np.ones((5, 70), np.float32), packed_b=False, trace=trace)
    assert sum(r.mnemonic == "ld1r" for r in trace) == 5 * 2  # K broadcasts per column group
    assert not any(r.mnemonic == "fmul" for r in trace)  # no alpha step


def test_gemv_trace_registers_and_lanes():
    trace = []
    sgemm(np.ones((1, 2), np.float32), np.ones((2, 71), np.float32), packed_b=False, trace=trace)
    fmla = [r for r in trace if r.mnemonic == "fmla"]
    # 64 columns: v16-v31; then 7 = 4 (v30) + 2 (v31) + 1 (v1), per k
    assert [r.operands[0] for r in fmla[:16]] == [f"v{x}.4s" for x in range(16, 32)]
    assert [r.operands[0] for r in fmla[32:35]] == ["v30.4s", "v31.4s", "v1.4s"]
    last = fmla[-1]  # ldr s4: one column, the other lanes zero
    assert last.lanes[last.operands[0]] == (("C", 0, 70), None, None, None)
    assert last.lanes["v0.4s"] == (("A", 0, 1),) * 4  # ld1r: A[0, k] in every lane
