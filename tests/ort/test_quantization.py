"""The quantized MatMul operators against real ONNX Runtime on emulated Arm, and their input checks.

Expected values come from the real-Arm oracle only (ONNX Runtime aarch64 wheels under
qemu-aarch64 with a Graviton3-like CPU), never from x86 ONNX Runtime, whose float outputs round
differently. Models are built with ``onnx.helper`` (opset 17, IR version 8, com.microsoft 1);
B and the quantization parameters are constant initializers unless a test says otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlas_emu.errors import OrtDefectWarning
from conftest import ORACLE_VERSIONS
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlas_emu import ort

KINDS = {"u8u8": (np.uint8, np.uint8), "u8s8": (np.uint8, np.int8), "s8s8": (np.int8, np.int8)}
MS = "com.microsoft"
ORACLE_SETTINGS = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def build_model(op, inputs, out_dtype, *, domain="", constants=()):
    """A one-node model; ``inputs`` are (name, array or None) in ONNX input order."""
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    graph_inputs, inits, names, feeds = [], [], [], {}
    for name, arr in inputs:
        if arr is None:
            names.append("")
            continue
        arr = np.asarray(arr)
        names.append(name)
        if name in constants:
            inits.append(numpy_helper.from_array(arr, name))
        else:
            graph_inputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(arr.dtype),
                                                              list(arr.shape)))
            feeds[name] = arr
    while names and names[-1] == "":
        names.pop()
    node = helper.make_node(op, names, ["Y"], domain=domain)
    out = helper.make_tensor_value_info("Y", helper.np_dtype_to_tensor_dtype(np.dtype(out_dtype)), None)
    graph = helper.make_graph([node], op, graph_inputs, [out], initializer=inits)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8

    return model, feeds


def same_bits(got, expected):
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if got.dtype == np.float32:
        mismatch = got.view(np.uint32) != expected.view(np.uint32)
        assert not mismatch.any(), f"{mismatch.sum()} of {mismatch.size} elements differ"
    else:
        np.testing.assert_array_equal(got, expected)


def ints(rng, dtype, shape):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape, dtype=dtype)


def matmul_shapes(draw_batch=True):
    """(A shape, B shape) over kernel tails, including batches and ONNX 1-D promotion."""
    mnk = st.tuples(st.integers(1, 19), st.integers(1, 19), st.one_of(st.integers(1, 40), st.sampled_from([257, 385])))
    batch = st.sampled_from([(), (2,), (3, 1)] if draw_batch else [()])
    return st.tuples(mnk, batch, st.booleans())


def shapes_of(spec, per_column):
    (M, N, K), batch, b_batched = spec
    a_shape = batch + (M, K)
    b_shape = (batch[-1:] + (K, N)) if (b_batched and batch and not per_column) else (K, N)
    return a_shape, b_shape


# --- MatMulInteger ---------------------------------------------------------------------------

@pytest.mark.oracle
@pytest.mark.parametrize("version", ORACLE_VERSIONS)
@ORACLE_SETTINGS
@given(spec=matmul_shapes(), kind=st.sampled_from(list(KINDS)), per_column=st.booleans(),
       b_is_initializer=st.booleans(), seed=st.integers(0, 2**32 - 1))
@example(spec=((8, 8, 8), (), False), kind="u8u8", per_column=False, b_is_initializer=True, seed=0)
def test_matmul_integer(oracle, version, spec, kind, per_column, b_is_initializer, seed):
    rng = np.random.default_rng(seed)
    a_dt, b_dt = KINDS[kind]
    a_shape, b_shape = shapes_of(spec, per_column)
    A, B = ints(rng, a_dt, a_shape), ints(rng, b_dt, b_shape)
    zpa = ints(rng, a_dt, ())
    zpb = ints(rng, b_dt, (b_shape[-1],)) if per_column else ints(rng, b_dt, ())
    constants = {"a_zero_point", "b_zero_point"} | ({"B"} if b_is_initializer else set())
    model, feeds = build_model("MatMulInteger", [("A", A), ("B", B), ("a_zero_point", zpa), ("b_zero_point", zpb)],
                               np.int32, constants=constants)
    expected = oracle.run_model(model, feeds, ort_version=version)["Y"]
    same_bits(ort.matmul_integer(A, B, zpa, zpb, b_is_initializer=b_is_initializer, ort_version=version), expected)


@pytest.mark.oracle
@pytest.mark.parametrize("version", ORACLE_VERSIONS)
def test_matmul_integer_extremes_and_wraparound(oracle, version):
    """Sums past 2^31 wrap modulo 2^32 on Arm; extreme bytes and zero points."""
    K = 34000
    A = np.full((2, K), 255, np.uint8)
    A[1, ::2] = 0
    B = np.full((K, 3), 255, np.uint8)
    B[:, 2] = 0
    expected = oracle.matmul_integer(A, B, np.uint8(0), np.uint8(0), ort_version=version)
    assert expected[0, 0] < 0  # the sum wrapped
    same_bits(ort.matmul_integer(A, B, 0, 0, ort_version=version), expected)
    S = np.full((3, 300), -128, np.int8)
    T = np.full((300, 2), 127, np.int8)
    expected = oracle.matmul_integer(S, T, np.int8(127), np.int8(-128), ort_version=version)
    same_bits(ort.matmul_integer(S, T, np.int8(127), np.int8(-128), ort_version=version), expected)


@pytest.mark.oracle
def test_matmul_integer_per_batch_zero_points_and_1d(oracle):
    rng = np.random.default_rng(7)
    A = ints(rng, np.uint8, (2, 5, 12))
    B = ints(rng, np.int8, (2, 12, 9))
    zpb = ints(rng, np.int8, (2, 1, 9))
    model, feeds = build_model("MatMulInteger", [("A", A), ("B", B), ("a_zero_point", np.uint8(9)),
                                                 ("b_zero_point", zpb)], np.int32,
                               constants={"a_zero_point", "b_zero_point"})
    same_bits(ort.matmul_integer(A, B, np.uint8(9), zpb), oracle.run_model(model, feeds)["Y"])
    a1, b1 = ints(rng, np.uint8, (12,)), ints(rng, np.uint8, (12,))
    model, feeds = build_model("MatMulInteger", [("A", a1), ("B", b1)], np.int32)
    same_bits(ort.matmul_integer(a1, b1), oracle.run_model(model, feeds)["Y"])


# --- DynamicQuantizeMatMul -------------------------------------------------------------------

def float_matrix(rng, shape, style):
    if style == "normal":
        return rng.standard_normal(shape).astype(np.float32)
    if style == "positive":
        return rng.uniform(0.5, 3.0, shape).astype(np.float32)
    if style == "negative":
        return -rng.uniform(0.5, 3.0, shape).astype(np.float32)
    if style == "wide":
        return (rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 6, shape)).astype(np.float32)
    if style == "tiny":  # subnormal and near-underflow values: the scale itself is tiny
        return (rng.standard_normal(shape) * 1e-38).astype(np.float32)
    return np.zeros(shape, np.float32)


@pytest.mark.oracle
@pytest.mark.parametrize("version", ORACLE_VERSIONS)
@ORACLE_SETTINGS
@given(spec=matmul_shapes(), b_signed=st.booleans(), per_column=st.booleans(), with_zp=st.booleans(),
       with_bias=st.booleans(), b_is_initializer=st.booleans(),
       style=st.sampled_from(["normal", "positive", "negative", "wide", "zeros", "tiny"]),
       seed=st.integers(0, 2**32 - 1))
@example(spec=((16, 24, 20), (), False), b_signed=True, per_column=True, with_zp=True, with_bias=True,
         b_is_initializer=True, style="normal", seed=1)
@example(spec=((5, 7, 9), (), False), b_signed=False, per_column=False, with_zp=False, with_bias=True,
         b_is_initializer=False, style="tiny", seed=2)
def test_dynamic_quantize_matmul(oracle, version, spec, b_signed, per_column, with_zp, with_bias, b_is_initializer,
                                 style, seed):
    rng = np.random.default_rng(seed)
    b_dt = np.int8 if b_signed else np.uint8
    a_shape, b_shape = shapes_of(spec, per_column)
    A = float_matrix(rng, a_shape, style)
    B = ints(rng, b_dt, b_shape)
    N = b_shape[-1]
    scale = rng.uniform(1e-3, 0.1, N if per_column else ()).astype(np.float32)
    zp = (ints(rng, b_dt, (N,)) if per_column else ints(rng, b_dt, ())) if with_zp else None
    bias = rng.standard_normal(N).astype(np.float32) * 5 if with_bias else None
    constants = {"b_scale", "b_zero_point", "bias"} | ({"B"} if b_is_initializer else set())
    model, feeds = build_model("DynamicQuantizeMatMul", [("A", A), ("B", B), ("b_scale", scale),
                                                         ("b_zero_point", zp), ("bias", bias)],
                               np.float32, domain=MS, constants=constants)
    expected = oracle.run_model(model, feeds, ort_version=version)["Y"]
    same_bits(ort.dynamic_quantize_matmul(A, B, scale, zp, bias, b_is_initializer=b_is_initializer,
                                          ort_version=version), expected)


@pytest.mark.oracle
def test_dynamic_quantize_matmul_scale_underflow(oracle):
    """A so small that (max - min) / 255 underflows to 0: zero point 255, multiplier 0, y = bias."""
    A = np.array([[1e-43, 0, -2e-44, 0], [0, 0, 0, 1e-45]], np.float32)
    B = np.arange(-8, 8, dtype=np.int8).reshape(4, 4)
    bias = np.linspace(-1, 1, 4).astype(np.float32)
    same_bits(ort.dynamic_quantize_matmul(A, B, np.float32(0.5), None, bias),
              oracle.dynamic_quantize_matmul(A, B, np.float32(0.5), None, bias))


@pytest.mark.oracle
@pytest.mark.parametrize("threads", [1, 3])
def test_dynamic_quantize_matmul_threads(oracle, threads):
    """Threads split the min/max search, the quantization and the GEMM; none changes the bits."""
    rng = np.random.default_rng(11)
    A = rng.standard_normal((70, 300)).astype(np.float32)
    B = ints(rng, np.int8, (300, 90))
    bias = rng.standard_normal(90).astype(np.float32)
    expected = oracle.dynamic_quantize_matmul(A, B, np.float32(0.02), None, bias, threads=threads)
    same_bits(ort.dynamic_quantize_matmul(A, B, np.float32(0.02), None, bias, threads=threads), expected)


# --- MatMulIntegerToFloat --------------------------------------------------------------------

@pytest.mark.oracle
@pytest.mark.parametrize("version", ORACLE_VERSIONS)
@ORACLE_SETTINGS
@given(spec=matmul_shapes(draw_batch=False), kind=st.sampled_from(list(KINDS)), per_column=st.booleans(),
       with_bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_matmul_integer_to_float(oracle, version, spec, kind, per_column, with_bias, seed):
    rng = np.random.default_rng(seed)
    a_dt, b_dt = KINDS[kind]
    a_shape, b_shape = shapes_of(spec, per_column)
    A, B = ints(rng, a_dt, a_shape), ints(rng, b_dt, b_shape)
    N = b_shape[-1]
    a_scale = np.float32(rng.uniform(1e-3, 1.0))
    b_scale = rng.uniform(1e-3, 0.1, N if per_column else ()).astype(np.float32)
    zpa = ints(rng, a_dt, ())
    zpb = ints(rng, b_dt, (N,)) if per_column else ints(rng, b_dt, ())
    bias = rng.standard_normal(N).astype(np.float32) if with_bias else None
    model, feeds = build_model("MatMulIntegerToFloat",
                               [("A", A), ("B", B), ("a_scale", a_scale), ("b_scale", b_scale), ("a_zero_point", zpa),
                                ("b_zero_point", zpb), ("bias", bias)],
                               np.float32, domain=MS,
                               constants={"B", "a_scale", "b_scale", "a_zero_point", "b_zero_point", "bias"})
    expected = oracle.run_model(model, feeds, ort_version=version)["Y"]
    same_bits(ort.matmul_integer_to_float(A, B, a_scale, b_scale, zpa, zpb, bias, ort_version=version), expected)


# --- QLinearMatMul ---------------------------------------------------------------------------

@pytest.mark.oracle
@pytest.mark.parametrize("version", ORACLE_VERSIONS)
@ORACLE_SETTINGS
@given(spec=matmul_shapes(), kind=st.sampled_from(list(KINDS)), per_column=st.booleans(),
       b_is_initializer=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_qlinear_matmul(oracle, version, spec, kind, per_column, b_is_initializer, seed):
    rng = np.random.default_rng(seed)
    a_dt, b_dt = KINDS[kind]
    a_shape, b_shape = shapes_of(spec, per_column)
    A, B = ints(rng, a_dt, a_shape), ints(rng, b_dt, b_shape)
    N = b_shape[-1]
    a_scale = np.float32(rng.uniform(1e-3, 0.1))
    b_scale = rng.uniform(1e-3, 0.1, N if per_column else ()).astype(np.float32)
    y_scale = np.float32(rng.uniform(1e-3, 0.5))
    zpa, zpy = ints(rng, a_dt, ()), ints(rng, a_dt, ())
    zpb = ints(rng, b_dt, (N,)) if per_column else ints(rng, b_dt, ())
    constants = {"a_scale", "a_zero_point", "b_scale", "b_zero_point", "y_scale", "y_zero_point"}
    constants |= {"B"} if b_is_initializer else set()
    model, feeds = build_model("QLinearMatMul",
                               [("A", A), ("a_scale", a_scale), ("a_zero_point", zpa), ("B", B), ("b_scale", b_scale),
                                ("b_zero_point", zpb), ("y_scale", y_scale), ("y_zero_point", zpy)],
                               a_dt, constants=constants)
    expected = oracle.run_model(model, feeds, ort_version=version)["Y"]
    same_bits(ort.qlinear_matmul(A, a_scale, zpa, B, b_scale, zpb, y_scale, zpy, b_is_initializer=b_is_initializer,
                                 ort_version=version), expected)


# --- bad input -------------------------------------------------------------------------------

U8 = np.zeros((2, 4), np.uint8)
S8 = np.zeros((2, 4), np.int8)
BU = np.zeros((4, 3), np.uint8)
BS = np.zeros((4, 3), np.int8)
AF = np.zeros((2, 4), np.float32)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: ort.matmul_integer(S8, BU), TypeError, "A int8 with B uint8"),
    (lambda: ort.matmul_integer(AF, BU), TypeError, "no kernel"),
    (lambda: ort.matmul_integer(U8.tolist(), BU), TypeError, "numpy array"),
    (lambda: ort.matmul_integer(U8, BU[:3]), ValueError, "MatMul-compatible"),
    (lambda: ort.matmul_integer(U8, BU, a_zero_point=np.zeros(2, np.uint8)), ValueError, "1-element"),
    (lambda: ort.matmul_integer(U8, BU, a_zero_point=np.int8(-1)), ValueError, r"\[0, 255\]"),
    (lambda: ort.matmul_integer(U8, BU, a_zero_point=np.float32(1)), TypeError, "integer"),
    (lambda: ort.matmul_integer(U8, BU, a_zero_point=300), ValueError, r"\[0, 255\]"),
    (lambda: ort.matmul_integer(U8, BU, b_zero_point=np.zeros(4, np.uint8)), ValueError, "axis -2"),
    (lambda: ort.matmul_integer(U8, BU, b_zero_point=np.zeros((3, 1), np.uint8)), ValueError, "axis -2"),
    (lambda: ort.matmul_integer(U8, BU, ort_version="1.16.0"), ValueError, "1.17.0"),
    (lambda: ort.matmul_integer(U8, BU, threads=0), ValueError, "threads"),
    (lambda: ort.matmul_integer(U8, BU, b_is_initializer="yes"), TypeError, "b_is_initializer"),
    (lambda: ort.dynamic_quantize_matmul(U8, BU, 0.1), TypeError, "no kernel"),
    (lambda: ort.dynamic_quantize_matmul(AF, BU, 0.0), ValueError, "finite and > 0"),
    (lambda: ort.dynamic_quantize_matmul(AF, BU, -1.0), ValueError, "finite and > 0"),
    (lambda: ort.dynamic_quantize_matmul(AF, BU, np.float32(np.nan)), ValueError, "finite and > 0"),
    (lambda: ort.dynamic_quantize_matmul(AF, BU, np.inf), ValueError, "finite and > 0"),
    (lambda: ort.dynamic_quantize_matmul(AF, BU, np.array("0.1")), TypeError, "float"),
    (lambda: ort.dynamic_quantize_matmul(AF.astype(np.float64), BU, 0.1), TypeError, "no kernel"),
    (lambda: ort.dynamic_quantize_matmul(AF, BU, np.ones(2, np.float32)), ValueError, "b_scale has shape"),
    (lambda: ort.dynamic_quantize_matmul(AF, BU, 0.1, bias=np.ones(2, np.float32)), ValueError, r"\(3,\)"),
    (lambda: ort.dynamic_quantize_matmul(AF, BU, 0.1, bias=np.ones(3, np.int32)), TypeError, "float"),
    (lambda: ort.matmul_integer_to_float(U8, BS, np.ones(2, np.float32), 0.1), ValueError, "a_scale"),
    (lambda: ort.matmul_integer_to_float(S8, BU, 0.1, 0.1), TypeError, "no kernel"),
    (lambda: ort.qlinear_matmul(U8, 0.1, 0, BU, 0.1, 0, 0.0, 0), ValueError, "y_scale"),
    (lambda: ort.qlinear_matmul(U8, 0.1, None, BU, 0.1, 0, 1.0, 0), ValueError, "required"),
    (lambda: ort.qlinear_matmul(S8, 0.1, 0, BU, 0.1, 0, 1.0, 0), TypeError, "no kernel"),
    (lambda: ort.qlinear_matmul(U8, 0.1, 0, BU, 0.1, 0, 1.0, -1), ValueError, r"\[0, 255\]"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_inputs_are_not_modified():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((3, 9)).astype(np.float32)
    B = ints(rng, np.int8, (9, 4))
    scale = np.full(4, 0.01, np.float32)
    zp = ints(rng, np.int8, (4,))
    bias = np.ones(4, np.float32)
    copies = [x.copy() for x in (A, B, scale, zp, bias)]
    ort.dynamic_quantize_matmul(A, B, scale, zp, bias)
    for x, y in zip((A, B, scale, zp, bias), copies):
        np.testing.assert_array_equal(x, y)


@pytest.mark.oracle
@pytest.mark.parametrize("version, cpu", [("1.28.0", "graviton4"), ("1.29.0", "graviton2"),
                                          ("1.29.0", "graviton4"), ("1.32.0", "graviton2")])
def test_a_nan_in_the_min_max_tail_depends_on_release_and_cpu(oracle, version, cpu):
    """From 1.29.0 the SVE min/max kernel lets a NaN in the last len % 4 elements poison A's range
    on Graviton3/4; Graviton2 (no SVE) still skips it."""
    rng = np.random.default_rng(38)
    A = rng.standard_normal((3, 13)).astype(np.float32)
    A.reshape(-1)[38] = np.nan
    B = ints(rng, np.int8, (13, 5))
    expected = oracle.dynamic_quantize_matmul(A, B, np.float32(0.1), ort_version=version, cpu=cpu)
    with pytest.warns(OrtDefectWarning, match="Inf or NaN"):
        got = ort.dynamic_quantize_matmul(A, B, np.float32(0.1), ort_version=version, cpu=cpu)
    same_bits(got, expected)
    assert np.isnan(got).all() == (version != "1.28.0" and cpu != "graviton2")


@pytest.mark.oracle
@pytest.mark.parametrize("version", ORACLE_VERSIONS)
@pytest.mark.parametrize("value,position", [(np.inf, 0), (-np.inf, 5), (np.nan, 4), (np.nan, 38), (3e38, 7)])
def test_dynamic_quantize_matmul_non_finite_a(oracle, version, value, position):
    """Inf/NaN in A: ORT's whole-tensor range makes most outputs NaN (default NaN 0x7FC00000),
    except a NaN among the last len % 4 elements, which its scalar min/max loop skips."""
    from mlas_emu.errors import OrtDefectWarning

    rng = np.random.default_rng(position)
    A = rng.standard_normal((3, 13)).astype(np.float32)
    A.reshape(-1)[position] = value
    B = ints(rng, np.int8, (13, 5))
    bias = rng.standard_normal(5).astype(np.float32)
    expected = oracle.dynamic_quantize_matmul(A, B, np.float32(0.1), None, bias, ort_version=version)
    if np.isfinite(value):
        got = ort.dynamic_quantize_matmul(A, B, np.float32(0.1), None, bias, ort_version=version)
    else:
        with pytest.warns(OrtDefectWarning, match="Inf or NaN"):
            got = ort.dynamic_quantize_matmul(A, B, np.float32(0.1), None, bias, ort_version=version)
    same_bits(got, expected)


@pytest.mark.oracle
@pytest.mark.parametrize("version, threads", [("1.28.0", 24), ("1.30.0", 33), ("1.32.0", 64)])
def test_many_intra_op_threads_do_not_change_quantized_results(oracle, version, threads):
    """Thread targets reach the count (M*N*K / 65536 + 1 >= threads): the partition runs, the
    int32 sums and the fmaf output step are per element, so the bits are the 1-thread bits."""
    rng = np.random.default_rng(threads)
    A8, B8 = ints(rng, np.uint8, (64, 256)), ints(rng, np.int8, (256, 272))
    assert 64 * 256 * 272 // 65536 + 1 >= threads
    same_bits(ort.matmul_integer(A8, B8, np.uint8(5), np.int8(-2), ort_version=version, threads=threads),
              oracle.matmul_integer(A8, B8, np.uint8(5), np.int8(-2), ort_version=version, threads=threads))
    A = rng.standard_normal((64, 256)).astype(np.float32)
    bias = rng.standard_normal(272).astype(np.float32)
    same_bits(ort.dynamic_quantize_matmul(A, B8, np.float32(0.02), None, bias, ort_version=version, threads=threads),
              oracle.dynamic_quantize_matmul(A, B8, np.float32(0.02), None, bias, ort_version=version,
                                             threads=threads))


# --- what the operators hand to MLAS's QGEMM driver ------------------------------------------

def _driver_calls(monkeypatch):
    """Record every ``MlasGemmBatch`` call (``mlas.qgemm.gemm_batch``) the operators make, and run it."""
    from mlas_emu.mlas import qgemm
    from mlas_emu.ort import quantization

    calls = []

    def spy(A, B, a_zero_point, b_zero_point, **kw):
        calls.append(dict(a_shape=A.shape, b_shape=B.shape, zpb_shape=np.shape(b_zero_point), **kw))
        return qgemm.gemm_batch(A, B, a_zero_point, b_zero_point, **kw)

    monkeypatch.setattr(quantization, "gemm_batch", spy)
    return calls


@pytest.mark.parametrize("a_shape, b_shape, b_is_initializer, config, gemms", [
    # MatMulComputeHelper: A of rank >= 2 against a 2-D (or 1 x ... x K x N) B is one GEMM of all rows
    ((2, 3, 5), (5, 4), True, None, ((6, 5), (5, 4), True)),
    ((2, 3, 5), (1, 5, 4), True, None, ((6, 5), (5, 4), False)),  # PrePack packs 2-D B only
    ((2, 3, 5), (2, 5, 4), True, None, ((2, 3, 5), (2, 5, 4), False)),
    ((3, 5), (2, 5, 4), False, None, ((3, 5), (2, 5, 4), False)),
    ((5,), (5, 4), True, None, ((1, 5), (5, 4), True)),  # 1-D A: one row
    ((2, 3, 5), (5,), True, None, ((2, 3, 1, 5), (5, 1), False)),  # 1-D B: a column, A's rows become batches
    ((3, 5), (5, 4), False, None, ((3, 5), (5, 4), False)),
    ((3, 5), (5, 4), True, {"session.disable_prepacking": "1"}, ((3, 5), (5, 4), False)),
])
def test_the_operators_pass_ort_s_gemms_threads_and_packing(monkeypatch, a_shape, b_shape, b_is_initializer, config,
                                                            gemms):
    calls = _driver_calls(monkeypatch)
    rng = np.random.default_rng(8)
    A, B = ints(rng, np.uint8, a_shape), ints(rng, np.int8, b_shape)
    exact = np.matmul(A.astype(np.int64) - 3, B.astype(np.int64) + 2)
    kw = dict(b_is_initializer=b_is_initializer, threads=5, ort_version="1.28.0", cpu="graviton4",
              session_config=config)
    got = ort.matmul_integer(A, B, np.uint8(3), np.int8(-2), **kw)
    np.testing.assert_array_equal(got, exact.reshape(exact.shape or (1,)).astype(np.int32))
    ort.dynamic_quantize_matmul(A.astype(np.float32), B, np.float32(0.5), **kw)
    ort.matmul_integer_to_float(A, B, np.float32(0.5), np.float32(0.25), **kw)
    ort.qlinear_matmul(A, np.float32(0.5), np.uint8(3), B, np.float32(0.25), np.int8(0), np.float32(4.0), np.uint8(1),
                       **kw)
    assert len(calls) == 4
    for call in calls:
        assert (call["a_shape"], call["b_shape"], call["packed_b"]) == gemms
        assert call["threads"] == 5 and call["ort_version"].version == "1.28.0" and call["cpu"] == "graviton4"


def test_per_column_zero_points_follow_the_flattened_gemm(monkeypatch):
    calls = _driver_calls(monkeypatch)
    rng = np.random.default_rng(9)
    A, B = ints(rng, np.uint8, (2, 3, 7)), ints(rng, np.int8, (1, 7, 4))
    zpb = ints(rng, np.int8, (1, 1, 4))
    got = ort.matmul_integer(A, B, np.uint8(1), zpb)
    np.testing.assert_array_equal(got, np.matmul(A.astype(np.int64) - 1, B.astype(np.int64) - zpb).astype(np.int32))
    assert calls[0]["a_shape"] == (6, 7) and calls[0]["b_shape"] == (7, 4) and calls[0]["zpb_shape"] == (4,)
