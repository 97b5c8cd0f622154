"""mlas_emu.mlas.sgemm against an exact reference written from the Arm ARM and the MLAS sources.

The reference is independent of the implementation: Python ints and ``Fraction`` for
``FPUnpack`` / ``FPMulAdd`` / ``FPMul`` / ``FPRound`` (tests/naive.py, DDI0487 M.a.a, default FPCR),
and the K blocking of onnxruntime/core/mlas/lib/sgemm.cpp written as a table for one thread.
Thread splits are checked against the real-Arm oracle in test_sgemm_oracle.py.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu.mlas.sgemm import operation_strides, plan, sgemm, thread_counts, thread_ranges
from mlas_emu.mlas.sgemm_kernel_neon import fp_mul, fp_mul_add

import naive

#: the module (the package attribute ``mlas_emu.mlas.sgemm`` is the function)
sgemm_mod = importlib.import_module("mlas_emu.mlas.sgemm")

# ---------------------------------------------------------------------------------------------
# Exact reference (Arm ARM pseudocode, fp32 bit patterns as Python ints)

DEFAULT_NAN = 0x7FC00000
#: FPMulAdd / FPMul written from the Arm ARM with Fractions (default FPCR: RNE, FZ=0, DN=0)
ref_fp_mul_add = naive.fp_mul_add
ref_fp_mul = naive.fp_mul


def ref_block_len(M, N, K, *, trans_a, trans_b, alpha, beta, packed_b):
    """K block length for one thread (sgemm.cpp), or None for MlasGemvFloatKernel's one chain."""
    if packed_b:
        return 256  # MLAS_SGEMM_PACKED_STRIDEK
    if M == 1 and not trans_a and not trans_b and alpha == 1 and beta in (0, 1):
        return None
    if N >= K:
        return K if K <= 128 else 128
    if trans_a or N > 64:
        return 128
    return 256 if N > 32 else 512 if N > 16 else 1024


def ref_sgemm(A, B, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, C=None, packed_b=True):
    a = (A.T if trans_a else A).view(np.uint32).astype(np.int64)
    b = (B.T if trans_b else B).view(np.uint32).astype(np.int64)
    M, K = a.shape
    N = b.shape[1]
    al = int(np.float32(alpha).view(np.uint32))
    be = int(np.float32(beta).view(np.uint32))
    blk = ref_block_len(M, N, K, trans_a=trans_a, trans_b=trans_b, alpha=np.float32(alpha),
                        beta=np.float32(beta), packed_b=packed_b)
    out = np.zeros((M, N), np.uint32)
    for i in range(M):
        for j in range(N):
            c = 0
            if beta == 1:
                c = int(C.view(np.uint32)[i, j])
            elif beta != 0:
                c = ref_fp_mul(int(C.view(np.uint32)[i, j]), be)
            if blk is None:  # GEMV: one chain from C (or +0)
                for k in range(K):
                    c = ref_fp_mul_add(c, int(b[k, j]), int(a[i, k]))
                out[i, j] = c
                continue
            for k0 in range(0, K, blk):
                acc = 0
                for k in range(k0, min(K, k0 + blk)):
                    acc = ref_fp_mul_add(acc, int(b[k, j]), int(a[i, k]))
                c = ref_fp_mul(acc, al) if (k0 == 0 and beta == 0) else ref_fp_mul_add(c, acc, al)
            out[i, j] = c
    return out.view(np.float32)


# ---------------------------------------------------------------------------------------------
# Strategies

SPECIALS = [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF812345, 0x7FA00000, 0x7FC12345, 0x7F800000,
            0xFF800000, 0x00000001, 0x80000001, 0x007FFFFF, 0x80000000, 0x00000000, 0x7F7FFFFF,
            0xFF7FFFFF, 0x00800000, 0x1F800000]  # 0x1F800000 = 2**-64: products underflow


def f32_values(special_weight):
    finite = st.floats(-4.0, 4.0, width=32)
    special = st.sampled_from(SPECIALS).map(lambda b: float(np.uint32(b).view(np.float32)))
    raw = st.integers(0, 2**32 - 1).map(lambda b: float(np.uint32(b).view(np.float32)))
    if special_weight == 0:
        return finite
    return st.one_of(finite, finite, finite, special, raw)


def f32_matrix(draw, shape, values):
    bits = [int(np.float32(draw(values)).view(np.uint32)) for _ in range(shape[0] * shape[1])]
    return np.array(bits, np.uint32).view(np.float32).reshape(shape)


@st.composite
def problems(draw, max_k=40):
    M = draw(st.integers(1, 9))
    N = draw(st.integers(1, 40))
    K = draw(st.integers(1, max_k))
    trans_a, trans_b, packed_b = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    alpha = draw(st.sampled_from([1.0, 1.0, 0.5, -3.0, 1.0000001]))
    beta = draw(st.sampled_from([0.0, 0.0, 1.0, 2.5]))
    values = f32_values(draw(st.sampled_from([0, 1])))
    A = f32_matrix(draw, (K, M) if trans_a else (M, K), values)
    B = f32_matrix(draw, (N, K) if trans_b else (K, N), values)
    C = f32_matrix(draw, (M, N), values)
    return dict(A=A, B=B, C=C, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta,
                packed_b=packed_b)


def bits(x):
    return np.asarray(x).view(np.uint32)


# ---------------------------------------------------------------------------------------------
# Tests


def test_reference_fma_is_single_rounding():
    # 1 + 2**-24 * (1 + 2**-23): float64 gives 1 + 2**-24 (a tie) then rounds to even -> 1;
    # the exact sum is just above the tie, so fmaf rounds up to 1 + 2**-23.
    op1 = int(np.float32(2.0**-24).view(np.uint32))
    op2 = int(np.float32(1 + 2.0**-23).view(np.uint32))
    one = int(np.float32(1).view(np.uint32))
    assert ref_fp_mul_add(one, op1, op2) == one + 1


def _example(M, N, K, seed, **flags):
    rng = np.random.default_rng(seed)
    ta, tb = flags.get("trans_a", False), flags.get("trans_b", False)
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    C = rng.standard_normal((M, N)).astype(np.float32)
    A.view(np.uint32).reshape(-1)[0] = 0x7F812345  # a signalling NaN
    C.view(np.uint32).reshape(-1)[-1] = 0xFFC00001
    return dict(A=A, B=B, C=C, trans_a=ta, trans_b=tb, alpha=flags.get("alpha", 1.0),
                beta=flags.get("beta", 0.0), packed_b=flags.get("packed_b", True))


@settings(max_examples=30, deadline=None)
@given(problems())
@example(_example(3, 17, 257, 0, alpha=0.5, beta=2.5))
@example(_example(1, 40, 300, 1, packed_b=False, beta=1.0))
@example(_example(2, 9, 140, 2, packed_b=False, trans_a=True, trans_b=True, alpha=-3.0))
@example(_example(2, 5, 1030, 3, packed_b=False))
def test_sgemm_fast_matches_exact_reference(p):
    got = sgemm(**p)
    expected = ref_sgemm(**p)
    assert np.array_equal(bits(got), bits(expected))


@pytest.mark.parametrize("K", [255, 256, 257, 512, 513])
@pytest.mark.parametrize("packed_b", [True, False])
def test_k_block_edges_match_exact_reference(K, packed_b):
    rng = np.random.default_rng(K)
    for M, N in ((2, 3), (1, 66)) if not packed_b else ((2, 17),):
        A = rng.standard_normal((M, K)).astype(np.float32)
        B = rng.standard_normal((K, N)).astype(np.float32)
        got = sgemm(A, B, packed_b=packed_b)
        expected = ref_sgemm(A, B, packed_b=packed_b)
        assert np.array_equal(bits(got), bits(expected)), (M, N, K)


def test_denormal_results_are_kept():
    A = np.full((1, 3), 2.0**-70, np.float32)
    B = np.full((3, 2), 2.0**-70, np.float32)
    got = sgemm(A, B)
    assert np.array_equal(bits(got), bits(ref_sgemm(A, B)))
    assert got[0, 0] == np.float32(3 * 2.0**-140) and got[0, 0] != 0


def test_nan_payloads_and_default_nan():
    # addend quiet NaN with 0 x inf gives the default NaN; a signalling NaN is quieted.
    A = np.array([[np.nan, 0.0], [1.0, 2.0]], np.float32)
    A.view(np.uint32)[0, 0] = 0x7FC12345
    B = np.array([[1.0], [np.inf]], np.float32)
    got = bits(sgemm(A, B))
    assert got[0, 0] == DEFAULT_NAN
    B.view(np.uint32)[0, 0] = 0xFF812345  # sNaN in B at k=0
    got = bits(sgemm(A, B))
    # row 0: k=0 quiets B's sNaN (op1 before op2); k=1 is then qNaN + inf*0 -> default NaN
    assert got[0, 0] == DEFAULT_NAN and got[1, 0] == 0xFFC12345


def test_plan_follows_mlas_rules():
    # MlasGemmBatch: 16*100*600 = 960000 -> target 15, capped at 2; N > M -> N split in 16s.
    assert thread_counts(16, 100, 600, 1, 2) == (1, 2)
    assert thread_ranges(16, 100, 1, 2) == [(0, 16, 0, 64), (0, 16, 64, 36)]
    # small problems stay on one thread; M split when N <= M
    assert thread_counts(4, 4, 4, 1, 3) == (1, 1)
    assert thread_counts(300, 20, 300, 1, 3) == (3, 1)
    # MlasSgemmOperation strides
    assert operation_strides(24, 300, False) == (32, 512)
    assert operation_strides(24, 300, True) == (128, 128)
    assert operation_strides(500, 40, False) == (256, 64)
    assert operation_strides(10, 600, False) == (16, 1024)
    segs = plan(1, 200, 300, packed_b=False)
    assert segs[0].gemv and segs[0].k_bounds == (0, 300)
    assert not plan(1, 200, 300, packed_b=True)[0].gemv


def test_batch_is_a_stack_of_single_products():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 5, 300)).astype(np.float32)
    B = rng.standard_normal((3, 300, 7)).astype(np.float32)
    got = sgemm(A, B, packed_b=False)
    for g in range(3):
        assert np.array_equal(bits(got[g]), bits(sgemm(A[g], B[g], packed_b=False)))
    shared = rng.standard_normal((300, 7)).astype(np.float32)
    got = sgemm(A, shared)
    assert got.shape == (3, 5, 7)
    assert np.array_equal(bits(got[1]), bits(sgemm(A[1], shared)))


def test_inputs_are_not_modified():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((5, 9)).astype(np.float32)
    B = rng.standard_normal((9, 4)).astype(np.float32)
    C = rng.standard_normal((5, 4)).astype(np.float32)
    copies = [x.copy() for x in (A, B, C)]
    for path in ("fast", "instructions"):
        sgemm(A, B, beta=2.0, C=C, alpha=0.5, packed_b=False, path=path)
    for x, y in zip((A, B, C), copies):
        assert np.array_equal(bits(x), bits(y))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(A=np.ones((2, 3)), B=np.ones((3, 2), np.float32)), TypeError, "float32"),
        (dict(A=[[1.0]], B=np.ones((1, 1), np.float32)), TypeError, "ndarray"),
        (dict(A=np.ones((2, 3), np.float32), B=np.ones((4, 2), np.float32)), ValueError, "inner"),
        (dict(A=np.ones(3, np.float32), B=np.ones((3, 2), np.float32)), ValueError, "2-D"),
        (dict(A=np.ones((2, 3), np.float32), B=np.ones((3, 2), np.float32), beta=1.0), ValueError, "needs C"),
        (dict(A=np.ones((2, 3), np.float32), B=np.ones((2, 3, 2), np.float32)), ValueError, "packed_b"),
        (dict(A=np.ones((2, 3), np.float32), B=np.ones((3, 2), np.float32), threads=0), ValueError, "threads"),
        (dict(A=np.ones((2, 3), np.float32), B=np.ones((3, 2), np.float32), path="x"), ValueError, "path"),
        (dict(A=np.ones((2, 0), np.float32), B=np.ones((0, 2), np.float32)), ValueError, "K must"),
        (dict(A=np.ones((2, 3), np.float32), B=np.ones((3, 2), np.float32), alpha="1"), TypeError, "alpha"),
        (dict(A=np.ones((2, 3), np.float32), B=np.ones((3, 2), np.float32), beta=1.0,
              C=np.ones((3, 3), np.float32)), ValueError, "C must"),
    ],
)
def test_bad_input_raises(kwargs, error, match):
    A = kwargs.pop("A")
    B = kwargs.pop("B")
    with pytest.raises(error, match=match):
        sgemm(A, B, **kwargs)


def test_empty_output():
    got = sgemm(np.ones((0, 3), np.float32), np.ones((3, 4), np.float32))
    assert got.shape == (0, 4)


def test_module_cites_sources():
    assert "sgemm.cpp" in sgemm_mod.__doc__


# ---------------------------------------------------------------------------------------------
# The instruction semantics (FMLA's FPMulAdd, FMUL's FPMul) against the reference

ONE = 0x3F800000
words = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from(SPECIALS),
                  st.integers(0x3F000000, 0x40000000), st.integers(0, 0x00FFFFFF))


def test_fp_mul_add_all_special_triples():
    mismatches = [(a, x, y) for a in SPECIALS for x in SPECIALS for y in SPECIALS
                  if fp_mul_add(a, x, y) != ref_fp_mul_add(a, x, y)]
    assert mismatches == []


@settings(max_examples=400, deadline=None)
@given(words, words, words)
@example(ONE, 0x33800000, 0x3F800001)  # 1 + 2**-24*(1+2**-23): the double-rounding trap
@example(0x80000000, 0x80000000, 0x3F800000)  # -0 + (-0*1) = -0
@example(0x00000000, 0x80000000, 0x3F800000)  # +0 + -0 = +0
@example(0x3F800000, 0xBF800000, 0x3F800000)  # 1 - 1 = +0
@example(0x7F7FFFFF, 0x7F7FFFFF, 0x3F800000)  # overflow -> inf
@example(0x00000001, 0x00000001, 0x3F000000)  # denormal + half a denormal: tie to even
@example(0x7FC00001, 0x7F800000, 0x00000000)  # qNaN addend with inf*0 -> default NaN
@example(0x7F800001, 0x7F800000, 0x00000000)  # sNaN addend wins over inf*0
def test_fp_mul_add_matches_reference(addend, op1, op2):
    assert fp_mul_add(addend, op1, op2) == ref_fp_mul_add(addend, op1, op2)


@settings(max_examples=300, deadline=None)
@given(words, words)
@example(0x7F800000, 0x80000000)
@example(0x00000001, 0x3F000000)
@example(0x7FA00000, 0xFFC00000)
def test_fp_mul_matches_reference(op1, op2):
    assert fp_mul(op1, op2) == ref_fp_mul(op1, op2)
