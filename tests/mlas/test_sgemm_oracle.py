"""mlas_emu.mlas.sgemm against real ONNX Runtime on emulated Arm (fastmath off), bit for bit.

MatMul reaches ``MlasGemmBatch`` with alpha = 1 and beta = 0 (B as initializer: pre-packed;
as graph input: not); com.microsoft FusedMatMul adds transA, transB and alpha; Gemm adds beta
and C. Each test runs one release's cases in a batch to keep the oracle time small.
"""

from __future__ import annotations

import importlib
from dataclasses import replace

import numpy as np
import pytest
from conftest import ORACLE_VERSIONS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlas_emu.mlas.sgemm import plan, sgemm

#: the module (the package attribute ``mlas_emu.mlas.sgemm`` is the function)
sgemm_mod = importlib.import_module("mlas_emu.mlas.sgemm")

pytestmark = pytest.mark.oracle

SPECIAL_BITS = np.array(
    [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF812345, 0x7FA00000, 0x7FC12345, 0xFFE00001,
     0x7F800000, 0xFF800000, 0x00000001, 0x80000001, 0x007FFFFF, 0x80000000, 0x00000000,
     0x3F800000, 0x7F7FFFFF], np.uint32)


def bits(x):
    return np.asarray(x).view(np.uint32)


def mismatches(got, expected):
    return int((bits(got) != bits(expected)).sum())


def with_specials(x, rng, fraction):
    flat = x.view(np.uint32).reshape(-1)
    mask = rng.random(flat.size) < fraction
    flat[mask] = rng.choice(SPECIAL_BITS, int(mask.sum()))
    return x


def operands(M, N, K, seed, *, trans_a=False, trans_b=False, special=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    A = (rng.standard_normal((K, M) if trans_a else (M, K)) * scale).astype(np.float32)
    B = (rng.standard_normal((N, K) if trans_b else (K, N)) * scale).astype(np.float32)
    if special:
        with_specials(A, rng, special)
        with_specials(B, rng, special)
    return A, B


def node_model(op_type, attrs, A, B, C=None, *, b_initializer=True, domain=""):
    """One-node model (opset 17, IR 8); B (and C) as initializer or graph input."""
    onnx = pytest.importorskip("onnx")
    helper, numpy_helper, TP = onnx.helper, onnx.numpy_helper, onnx.TensorProto
    inputs = [helper.make_tensor_value_info("A", TP.FLOAT, list(A.shape))]
    feeds, inits, names = {"A": A}, [], ["A", "B"]
    if b_initializer:
        inits.append(numpy_helper.from_array(B, "B"))
    else:
        inputs.append(helper.make_tensor_value_info("B", TP.FLOAT, list(B.shape)))
        feeds["B"] = B
    if C is not None:
        names.append("C")
        inputs.append(helper.make_tensor_value_info("C", TP.FLOAT, list(C.shape)))
        feeds["C"] = C
    node = helper.make_node(op_type, names, ["Y"], domain=domain, **attrs)
    graph = helper.make_graph([node], "g", inputs,
                              [helper.make_tensor_value_info("Y", TP.FLOAT, None)], initializer=inits)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model, feeds


# (M, N, K, B initializer, threads): micro-kernel row tails (4/2/1), column tails around 8
# and 16, K block edges (packed 256; non-packed 128..1024 from N), M = 1 (GEMV when B is an
# input), thread splits of N (which move non-packed K blocks) and of M (GEMV per thread),
# up to 16 threads (the target from M*N*K is capped by the session's count, not the host's).
MATMUL_CASES = [
    (7, 17, 255, True, 1), (5, 33, 256, True, 1), (3, 9, 257, True, 1), (9, 15, 513, True, 1),
    (6, 8, 512, False, 1), (7, 7, 513, False, 1), (3, 24, 1030, False, 1), (5, 40, 700, False, 1),
    (2, 70, 300, False, 1), (11, 100, 600, False, 1), (13, 300, 40, False, 1),
    (1, 1, 1, True, 1), (1, 200, 300, False, 1), (1, 200, 300, True, 1), (1, 70, 1000, False, 3),
    (16, 100, 600, False, 2), (16, 100, 600, True, 3), (48, 200, 300, False, 3),
    (3, 3, 9000, False, 3), (2, 1, 40000, False, 2), (300, 20, 300, False, 3),
    (8, 300, 700, False, 8), (12, 12, 12000, False, 8), (7, 130, 900, True, 16),
]


@pytest.mark.parametrize("version", ORACLE_VERSIONS)
def test_matmul_matches_oracle(oracle, version):
    for i, (M, N, K, b_init, threads) in enumerate(MATMUL_CASES):
        for special in (0.0, 0.02) if i % 2 else (0.0,):
            A, B = operands(M, N, K, seed=i, special=special)
            expected = oracle.matmul(A, B, fastmath=False, b_is_initializer=b_init,
                                     ort_version=version, threads=threads)
            got = sgemm(A, B, packed_b=b_init, threads=threads)
            assert mismatches(got, expected) == 0, (version, M, N, K, b_init, threads, special)


@pytest.mark.parametrize("version", ORACLE_VERSIONS)
def test_denormals_and_overflow_match_oracle(oracle, version):
    for M, N, K, b_init, scale in [(6, 20, 300, True, 2.0**-70), (1, 40, 300, False, 2.0**-70),
                                   (6, 20, 40, True, 2.0**63), (5, 18, 9, False, 2.0**-40)]:
        A, B = operands(M, N, K, seed=M + N, scale=scale)
        expected = oracle.matmul(A, B, fastmath=False, b_is_initializer=b_init, ort_version=version)
        assert mismatches(sgemm(A, B, packed_b=b_init), expected) == 0, (M, N, K, scale)


@pytest.mark.parametrize("version", ORACLE_VERSIONS)
def test_nan_propagation_matches_oracle(oracle, version):
    """Every pair of special values meets in one FMLA, or in consecutive FMLAs of a chain
    (NaN accumulator vs NaN operand; quiet-NaN accumulator with 0 x inf)."""
    n = SPECIAL_BITS.size
    rng = np.random.default_rng(7)
    for layout in ("same_k", "acc_then_b", "b_then_a", "nan_then_inf_zero"):
        A = rng.standard_normal((n, 3)).astype(np.float32)
        B = rng.standard_normal((3, n)).astype(np.float32)
        a, b = A.view(np.uint32), B.view(np.uint32)
        if layout == "same_k":
            a[:, 0], b[0, :] = SPECIAL_BITS, SPECIAL_BITS
        elif layout == "acc_then_b":
            a[:, 0], b[1, :] = SPECIAL_BITS, SPECIAL_BITS
        elif layout == "b_then_a":
            b[0, :], a[:, 1] = SPECIAL_BITS, SPECIAL_BITS
        else:
            a[:, 0], b[1, :], a[:, 1] = SPECIAL_BITS, SPECIAL_BITS, 0
        for b_init in (True, False):
            expected = oracle.matmul(A, B, fastmath=False, b_is_initializer=b_init, ort_version=version)
            assert mismatches(sgemm(A, B, packed_b=b_init), expected) == 0, (layout, b_init)
            assert np.isnan(expected).sum() > n  # the case really exercises NaNs


@pytest.mark.parametrize("version", ORACLE_VERSIONS)
def test_fused_matmul_transposes_and_alpha_match_oracle(oracle, version):
    cases = [(5, 20, 300, 1, 0, 1.0, True, 1), (5, 20, 300, 0, 1, 0.7, True, 1),
             (7, 30, 600, 1, 1, 1.3, False, 1), (1, 200, 300, 0, 0, 0.5, False, 1),
             (1, 200, 300, 0, 1, 1.0, False, 1), (20, 100, 700, 1, 0, 1.0, False, 2),
             (30, 40, 300, 0, 0, 3.0, True, 3), (13, 10, 600, 1, 0, -2.0, False, 1)]
    for i, (M, N, K, ta, tb, alpha, b_init, threads) in enumerate(cases):
        A, B = operands(M, N, K, seed=100 + i, trans_a=ta, trans_b=tb, special=0.01 * (i % 2))
        model, feeds = node_model("FusedMatMul", dict(alpha=alpha, transA=ta, transB=tb), A, B,
                                  b_initializer=b_init, domain="com.microsoft")
        expected = oracle.run_model(model, feeds, ort_version=version, threads=threads)["Y"]
        got = sgemm(A, B, trans_a=bool(ta), trans_b=bool(tb), alpha=alpha, packed_b=b_init,
                    threads=threads)
        assert mismatches(got, expected) == 0, cases[i]


@pytest.mark.parametrize("version", ORACLE_VERSIONS)
def test_gemm_beta_matches_oracle(oracle, version):
    """Gemm copies C into Y and calls MLAS with beta: 1 accumulates (the GEMV chain starts
    from C), other values scale C first (MlasSgemmMultiplyBeta)."""
    cases = [(5, 20, 300, 0, 0, 1.0, 1.0, True, 1), (5, 20, 300, 0, 1, 0.7, 0.5, True, 1),
             (1, 200, 300, 0, 0, 1.0, 1.0, False, 1), (1, 200, 300, 0, 0, 1.0, 2.0, False, 1),
             (9, 40, 600, 1, 0, 1.5, 1.0, False, 2), (4, 70, 9, 0, 0, 1.0, -1.0, False, 1)]
    for i, (M, N, K, ta, tb, alpha, beta, b_init, threads) in enumerate(cases):
        A, B = operands(M, N, K, seed=200 + i, trans_a=ta, trans_b=tb)
        rng = np.random.default_rng(i)
        C = with_specials(rng.standard_normal((M, N)).astype(np.float32), rng, 0.05)
        model, feeds = node_model("Gemm", dict(alpha=alpha, beta=beta, transA=ta, transB=tb),
                                  A, B, C, b_initializer=b_init)
        expected = oracle.run_model(model, feeds, ort_version=version, threads=threads)["Y"]
        got = sgemm(A, B, trans_a=bool(ta), trans_b=bool(tb), alpha=alpha, beta=beta, C=C,
                    packed_b=b_init, threads=threads)
        assert mismatches(got, expected) == 0, cases[i]


@pytest.mark.parametrize("version", ORACLE_VERSIONS)
def test_batched_matmul_matches_oracle(oracle, version):
    """Batched A and B (both graph inputs): one MlasGemmBatch call, threads shared out."""
    rng = np.random.default_rng(3)
    for batch, M, N, K, threads in [(2, 6, 40, 300, 3), (3, 1, 100, 700, 2), (4, 20, 20, 2000, 3)]:
        A = rng.standard_normal((batch, M, K)).astype(np.float32)
        B = rng.standard_normal((batch, K, N)).astype(np.float32)
        expected = oracle.matmul(A, B, fastmath=False, b_is_initializer=False,
                                 ort_version=version, threads=threads)
        got = sgemm(A, B, packed_b=False, threads=threads)
        assert mismatches(got, expected) == 0, (batch, M, N, K, threads)


@st.composite
def random_problems(draw):
    return (draw(st.integers(1, 12)), draw(st.integers(1, 80)),
            draw(st.sampled_from([1, 3, 4, 17, 129, 255, 256, 257, 259, 300, 513, 1030])),
            draw(st.booleans()), draw(st.integers(1, 3)), draw(st.integers(0, 2**31)))


@pytest.mark.parametrize("version", ORACLE_VERSIONS)
def test_random_shapes_match_oracle(oracle, version):
    @settings(max_examples=12, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(random_problems())
    def check(problem):
        M, N, K, b_init, threads, seed = problem
        A, B = operands(M, N, K, seed=seed, special=0.005)
        expected = oracle.matmul(A, B, fastmath=False, b_is_initializer=b_init,
                                 ort_version=version, threads=threads)
        assert mismatches(sgemm(A, B, packed_b=b_init, threads=threads), expected) == 0, problem

    check()


def _run_plan(A, B, segments):
    out = np.zeros((1, A.shape[0], B.shape[1]), np.float32)
    sgemm_mod._run_fast(A[None], B[None], None, segments, out, np.float32(1), np.float32(0))
    return out[0]


def test_oracle_rejects_the_alternative_blockings(oracle):
    """The K blocking is not a guess: the oracle disagrees with each plausible alternative
    (fixed 128 or 256 blocks, one chain, ignoring the thread split or the GEMV path)."""
    for M, N, K, b_init, threads in [(20, 24, 300, True, 1), (16, 10, 600, False, 1),
                                     (1, 200, 300, False, 1), (16, 100, 600, False, 2)]:
        A, B = operands(M, N, K, seed=K + N)
        expected = oracle.matmul(A, B, fastmath=False, b_is_initializer=b_init, threads=threads)
        segments = plan(M, N, K, packed_b=b_init, threads=threads)
        assert mismatches(_run_plan(A, B, segments), expected) == 0
        alternatives = {length: [replace(s, k_bounds=sgemm_mod._bounds(K, length), gemv=False)
                                 for s in segments] for length in (128, 256, K)}
        model_length = {s.k_bounds[1] - s.k_bounds[0] for s in segments}
        for length, alt in alternatives.items():
            if {length} != model_length:
                assert mismatches(_run_plan(A, B, alt), expected) > 0, (M, N, K, length)


def _fma_operands(rng, n):
    """Bit patterns that stress FPMulAdd: raw words, near-cancellation (C close to -B*a),
    denormal and near-overflow magnitudes."""
    raw = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    b = rng.standard_normal(n).astype(np.float32)
    return raw, b


@pytest.mark.parametrize("version", ORACLE_VERSIONS)
def test_single_fmla_on_random_words_matches_oracle(oracle, version):
    """Gemm with M = 1, K = 1, beta = 1 and B a graph input runs MlasGemvFloatKernel: every
    output is one FMLA, ``FPMulAdd(C[j], B[0, j], A[0, 0])``."""
    rng = np.random.default_rng(11)
    N = 2048
    a_values = [1.0, -3.0000002, 2.0**-130, 2.0**100, 0.0, np.inf]
    for a_value in a_values:
        A = np.array([[a_value]], np.float32)
        raw, b = _fma_operands(rng, N)
        B = np.where(rng.random(N) < 0.5, raw.view(np.float32), b).astype(np.float32)[None]
        # half the addends cancel the product up to a few ulps, the rest are raw words
        with np.errstate(all="ignore"):
            near = -(B[0].astype(np.float64) * A[0, 0]) * (1 + rng.integers(-4, 5, N) * 2.0**-24)
            C = np.where(rng.random(N) < 0.5, near.astype(np.float32),
                         rng.integers(0, 2**32, N, dtype=np.uint64).astype(np.uint32).view(np.float32))
        C = C.astype(np.float32)[None]
        model, feeds = node_model("Gemm", dict(alpha=1.0, beta=1.0), A, B, C, b_initializer=False)
        expected = oracle.run_model(model, feeds, ort_version=version)["Y"]
        got = sgemm(A, B, beta=1.0, C=C, packed_b=False)
        assert mismatches(got, expected) == 0, a_value
