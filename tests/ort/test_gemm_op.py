"""ONNX Gemm and com.microsoft FusedGemm (``mlas_emu.ort.gemm`` / ``fused_gemm``).

Bits: real ONNX Runtime on emulated Arm (the oracle), on one model of many Gemm / FusedGemm nodes
per release, run with the bf16 fastmath session option on (Gemm must ignore it). Semantics
(transposes, alpha, beta, C's broadcast, activations) without the oracle: on integer-valued
operands with power-of-two alpha and beta every partial sum is exact in float32, so any
summation order gives the exact value, which Python ``fractions`` compute independently.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from conftest import ORACLE_VERSIONS
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu import ort
from mlas_emu.errors import OrtConfigWarning

FASTMATH = {"mlas.enable_gemm_fastmath_arm64_bfloat16": "1"}
C_FORMS = ("none", "scalar", "one", "row", "row2d", "column", "full")


def c_shape(form, m, n):
    return {"none": None, "scalar": (), "one": (1,), "row": (n,), "row2d": (1, n), "column": (m, 1),
            "full": (m, n)}[form]


def operands(rng, m, n, k, trans_a, trans_b, form, *, integers=False):
    def draw(shape):
        if integers:
            return rng.integers(-8, 9, shape).astype(np.float32)
        return rng.standard_normal(shape).astype(np.float32)

    A = draw((k, m) if trans_a else (m, k))
    B = draw((n, k) if trans_b else (k, n))
    shape = c_shape(form, m, n)
    C = None if shape is None else draw(shape)
    return A, B, C


def exact_gemm(A, B, C, alpha, beta, trans_a, trans_b):
    """alpha * op(A) @ op(B) + beta * C exactly (integer-valued A and B: an int64 product; alpha,
    beta and C as Fractions), C broadcast as ONNX Gemm does."""
    a = (A.T if trans_a else A).astype(np.int64)
    b = (B.T if trans_b else B).astype(np.int64)
    assert np.array_equal(a, A.T if trans_a else A) and np.array_equal(b, B.T if trans_b else B)
    acc = a @ b
    c = np.broadcast_to(C, acc.shape) if C is not None else np.zeros(acc.shape, np.float32)
    out = np.empty(acc.shape, dtype=object)
    for (i, j), v in np.ndenumerate(acc):
        out[i, j] = Fraction(float(alpha)) * int(v) + Fraction(float(beta)) * Fraction(float(c[i, j]))
    return out


def as_f32(exact):
    """Exact values that float32 holds (asserted), as float32."""
    f = np.array([[float(x) for x in row] for row in exact], dtype=np.float32).reshape(exact.shape)
    assert all(Fraction(float(v)) == x for v, x in zip(f.ravel(), exact.ravel()))
    return f


def same_bits(got, expected):
    assert got.dtype == np.float32 and got.shape == expected.shape
    diff = got.view(np.uint32) != expected.view(np.uint32)
    assert not diff.any(), f"{diff.sum()} of {diff.size} elements differ"


# --- semantics on exact operands -------------------------------------------------------------

dims = st.one_of(st.integers(1, 9), st.sampled_from([16, 17, 33]))


@settings(max_examples=60, deadline=None)
@given(m=dims, n=dims, k=st.one_of(st.integers(1, 12), st.sampled_from([31, 257])), trans_a=st.booleans(),
       trans_b=st.booleans(), form=st.sampled_from(C_FORMS), alpha=st.sampled_from([1.0, 0.5, -2.0, 0.0]),
       beta=st.sampled_from([1.0, 0.25, -1.0, 0.0]), b_is_initializer=st.booleans(), threads=st.sampled_from([1, 3]),
       seed=st.integers(0, 2**32 - 1))
@example(m=1, n=1, k=1, trans_a=False, trans_b=False, form="scalar", alpha=1.0, beta=1.0, b_is_initializer=True,
         threads=1, seed=0)
@example(m=1, n=33, k=257, trans_a=False, trans_b=False, form="row", alpha=1.0, beta=1.0, b_is_initializer=False,
         threads=1, seed=1)  # M = 1, B a graph input: the GEMV path
@example(m=17, n=16, k=257, trans_a=True, trans_b=True, form="column", alpha=0.5, beta=0.25, b_is_initializer=True,
         threads=3, seed=2)
def test_gemm_is_the_operator_definition_on_exact_operands(m, n, k, trans_a, trans_b, form, alpha, beta,
                                                           b_is_initializer, threads, seed):
    A, B, C = operands(np.random.default_rng(seed), m, n, k, trans_a, trans_b, form, integers=True)
    got = ort.gemm(A, B, C, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b,
                   b_is_initializer=b_is_initializer, threads=threads)
    same_bits(got + np.float32(0), as_f32(exact_gemm(A, B, C, alpha, beta, trans_a, trans_b)) + np.float32(0))


@pytest.mark.parametrize("activation, slope, expected", [
    ("Relu", None, lambda y: np.maximum(y, 0)),
    ("LeakyRelu", None, lambda y: np.where(y >= 0, y, y * np.float32(0.01))),
    ("LeakyRelu", 0.5, lambda y: np.where(y >= 0, y, y / 2)),
])
def test_fused_gemm_applies_its_activation_to_the_gemm(activation, slope, expected):
    A, B, C = operands(np.random.default_rng(4), 6, 7, 5, False, True, "row", integers=True)
    exact = as_f32(exact_gemm(A, B, C, 1.0, 1.0, False, True))
    got = ort.fused_gemm(A, B, C, trans_b=True, activation=activation, activation_alpha=slope)
    assert (exact < 0).any() and (exact > 0).any()
    same_bits(got, expected(exact).astype(np.float32))


def test_sigmoid_and_tanh_are_close_to_their_definition():
    A, B, _ = operands(np.random.default_rng(5), 4, 5, 6, False, False, "none")
    y = np.matmul(A.astype(np.float64), B.astype(np.float64))
    np.testing.assert_allclose(ort.fused_gemm(A, B, activation="Sigmoid"), 1 / (1 + np.exp(-y)), rtol=1e-5)
    np.testing.assert_allclose(ort.fused_gemm(A, B, activation="Tanh"), np.tanh(y), rtol=1e-5, atol=1e-6)


def test_disabled_prepacking_is_the_graph_input_path():
    """Consistency check: B as an initializer with session.disable_prepacking=1 takes the
    non-packed path, the same bits as B given as a graph input (K = 300: the paths' K blocks differ)."""
    A, B, C = operands(np.random.default_rng(6), 5, 24, 300, False, False, "row")
    no_pack = ort.gemm(A, B, C, session_config={"session.disable_prepacking": "1"})
    same_bits(no_pack, ort.gemm(A, B, C, b_is_initializer=False))
    assert not np.array_equal(no_pack, ort.gemm(A, B, C))


def test_empty_output():
    A = np.zeros((0, 3), np.float32)
    B = np.zeros((3, 4), np.float32)
    got = ort.gemm(A, B, np.ones(4, np.float32))
    assert got.shape == (0, 4) and got.dtype == np.float32


def test_inputs_are_not_modified():
    rng = np.random.default_rng(7)
    A, B, C = operands(rng, 9, 10, 11, True, False, "full")
    copies = [x.copy() for x in (A, B, C)]
    ort.gemm(A, B, C, alpha=0.3, beta=0.7, trans_a=True)
    ort.fused_gemm(A, B, C, beta=1.0, trans_a=True, activation="LeakyRelu", b_is_initializer=False)
    for x, y in zip((A, B, C), copies):
        same_bits(x, y)


A2 = np.zeros((2, 3), np.float32)
B2 = np.zeros((3, 4), np.float32)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: ort.gemm(A2.astype(np.float64), B2), TypeError, "float32"),
    (lambda: ort.gemm(A2.tolist(), B2), TypeError, "numpy"),
    (lambda: ort.gemm(A2[0], B2), ValueError, "2-D"),
    (lambda: ort.gemm(A2, B2[None]), ValueError, "2-D"),
    (lambda: ort.gemm(A2, B2[:2]), ValueError, "dimension mismatch"),
    (lambda: ort.gemm(A2, B2, trans_b=True), ValueError, "dimension mismatch"),
    (lambda: ort.gemm(A2, B2, np.zeros(2, np.float32)), ValueError, r"\(4,\), \(1, 4\), \(2, 1\)"),
    (lambda: ort.gemm(A2, B2, np.zeros((1, 2, 4), np.float32)), ValueError, "C has shape"),
    (lambda: ort.gemm(A2, B2, np.zeros(4, np.float64)), TypeError, "C must be"),
    (lambda: ort.gemm(A2, B2, trans_a=1), TypeError, "trans_a"),
    (lambda: ort.gemm(A2, B2, alpha=True), TypeError, "alpha"),
    (lambda: ort.gemm(A2, B2, beta="1"), TypeError, "beta"),
    (lambda: ort.gemm(A2, B2, b_is_initializer=None), TypeError, "b_is_initializer"),
    (lambda: ort.gemm(A2, B2, ort_version="1.16.0"), ValueError, "1.17.0"),
    (lambda: ort.gemm(A2, B2, threads=0), ValueError, "threads"),
    (lambda: ort.gemm(A2, B2, cpu="neoverse-v1"), ValueError, "unknown cpu"),
    (lambda: ort.gemm(A2, B2, session_config={"session.set_denormal_as_zero": "1"}), ValueError, "not emulated"),
    (lambda: ort.gemm(np.zeros((2, 0), np.float32), np.zeros((0, 4), np.float32)), ValueError, "K = 0"),
    (lambda: ort.fused_gemm(A2, B2, activation="Gelu"), ValueError, "Gelu"),
    (lambda: ort.fused_gemm(A2, B2, activation="LeakyRelu", activation_alpha="x"), TypeError, "activation_alpha"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_unknown_session_entries_are_ignored_with_a_warning():
    with pytest.warns(OrtConfigWarning, match="no.such.key"):
        ort.gemm(A2, B2, session_config={"no.such.key": "1"})


# --- real ONNX Runtime on Arm ----------------------------------------------------------------

#: (M, N, K): ones, odd sizes, kernel tails (N % 16, K % 4), K blocks past 128/256, the M = 1 GEMV path.
ORACLE_SHAPES = [(1, 1, 1), (1, 17, 33), (5, 3, 7), (13, 40, 129), (20, 150, 259), (1, 64, 300), (33, 9, 600),
                 (16, 24, 300), (7, 130, 65)]


def oracle_cases(seed=0):
    rng = np.random.default_rng(seed)
    cases = []
    for i, (m, n, k) in enumerate(ORACLE_SHAPES * 2):
        trans_a, trans_b = bool(i % 2), bool((i // 2) % 2)
        form = C_FORMS[i % len(C_FORMS)]
        A, B, C = operands(rng, m, n, k, trans_a, trans_b, form)
        alpha, beta = [(1.0, 1.0), (0.37, 1.0), (1.0, 0.0), (-1.5, 0.61)][i % 4]
        activation = [None, "Relu", None, "LeakyRelu"][(i // 3) % 4]
        cases.append(dict(A=A, B=B, C=C, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b,
                          b_is_initializer=i < len(ORACLE_SHAPES), activation=activation,
                          activation_alpha=0.2 if activation == "LeakyRelu" else None))
    return cases


def oracle_model(cases):
    """One Gemm or FusedGemm node per case (output Y{i}); returns (model, feeds)."""
    import onnx
    from onnx import helper, numpy_helper

    nodes, inputs, inits, outputs, feeds = [], [], [], [], {}
    for i, c in enumerate(cases):
        names = [f"A{i}", f"B{i}"] + ([f"C{i}"] if c["C"] is not None else [])
        attrs = dict(alpha=c["alpha"], beta=c["beta"], transA=int(c["trans_a"]), transB=int(c["trans_b"]))
        if c["activation"]:
            attrs["activation"] = c["activation"]
            if c["activation_alpha"] is not None:
                attrs["activation_alpha"] = c["activation_alpha"]
            nodes.append(helper.make_node("FusedGemm", names, [f"Y{i}"], domain="com.microsoft", **attrs))
        else:
            nodes.append(helper.make_node("Gemm", names, [f"Y{i}"], **attrs))
        for name, arr in zip(names, (c["A"], c["B"], c["C"])):
            if name.startswith("B") and c["b_is_initializer"]:
                inits.append(numpy_helper.from_array(arr, name))
            else:
                inputs.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, list(arr.shape)))
                feeds[name] = arr
        outputs.append(helper.make_tensor_value_info(f"Y{i}", onnx.TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "gemms", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model.SerializeToString(), feeds


def emulate(c, **kw):
    args = dict(alpha=c["alpha"], beta=c["beta"], trans_a=c["trans_a"], trans_b=c["trans_b"],
                b_is_initializer=c["b_is_initializer"], session_config=FASTMATH, **kw)
    if c["activation"]:
        return ort.fused_gemm(c["A"], c["B"], c["C"], activation=c["activation"],
                              activation_alpha=c["activation_alpha"], **args)
    return ort.gemm(c["A"], c["B"], c["C"], **args)


@pytest.mark.oracle
@pytest.mark.parametrize("version, threads", [(v, 1) for v in ORACLE_VERSIONS] + [("1.32.0", 3)])
def test_gemm_and_fused_gemm_match_real_arm(oracle, version, threads):
    pytest.importorskip("onnx")
    cases = oracle_cases()
    model, feeds = oracle_model(cases)
    expected = oracle.run_model(model, feeds, ort_version=version, threads=threads, session_config=FASTMATH)
    for i, c in enumerate(cases):
        got = emulate(c, ort_version=version, threads=threads)
        same_bits(got, np.asarray(expected[f"Y{i}"]))
