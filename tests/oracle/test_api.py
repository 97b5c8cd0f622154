"""Real ONNX Runtime on emulated Arm through ``oracle.run_model`` and its shortcuts, checked
against exact expectations where ORT promises them (integer math; products and sums that are
exact in bf16/fp32), plus the error paths."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from conftest import ORACLE_VERSIONS

pytestmark = pytest.mark.oracle


def small_int_floats(rng, shape, bound=16):
    """Integers that bf16 holds exactly; with K <= 256 every partial sum is exact in fp32."""
    return rng.integers(-bound, bound + 1, shape).astype(np.float32)


@pytest.mark.parametrize("version", ORACLE_VERSIONS)
@pytest.mark.parametrize("fastmath", [False, True])
@pytest.mark.parametrize("b_is_initializer", [True, False])
@settings(max_examples=3, deadline=None)
@given(M=st.integers(1, 33), N=st.integers(1, 40), K=st.integers(1, 256), threads=st.sampled_from([1, 2]))
@example(M=1, N=1, K=1, threads=1)
@example(M=8, N=8, K=8, threads=2)
def test_matmul_is_exact_on_exactly_representable_inputs(oracle, version, fastmath, b_is_initializer,
                                                         M, N, K, threads):
    if fastmath:
        # ORT's SBGEMM reads up to 3 floats past each A row when K % 4 != 0 (docs/defects.md,
        # defect 3): past the last row that memory is unwritten, so whole rows can turn NaN.
        K = -(-K // 4) * 4
    rng = np.random.default_rng(M * 10007 + N * 101 + K)
    A, B = small_int_floats(rng, (M, K)), small_int_floats(rng, (K, N))
    got = oracle.matmul(A, B, fastmath=fastmath, b_is_initializer=b_is_initializer,
                        ort_version=version, threads=threads)
    expected = (A.astype(np.int64) @ B.astype(np.int64)).astype(np.float32)
    assert got.dtype == np.float32 and got.shape == (M, N)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("version", ORACLE_VERSIONS)
def test_fastmath_reaches_ort_and_rounds_to_bf16(oracle, version):
    """With the session option, inputs are rounded to bf16: results differ from fp32 SGEMM but
    stay within the bf16 error bound (2 * 2^-8 relative per product, summed)."""
    rng = np.random.default_rng(1)
    A = rng.standard_normal((16, 64)).astype(np.float32)
    B = rng.standard_normal((64, 24)).astype(np.float32)
    fast = oracle.matmul(A, B, fastmath=True, ort_version=version)
    exact = A.astype(np.float64) @ B.astype(np.float64)
    plain = oracle.matmul(A, B, fastmath=False, ort_version=version)
    bound = (np.abs(A).astype(np.float64) @ np.abs(B)) * 2.0**-7
    assert np.all(np.abs(fast - exact) <= bound)
    assert np.abs(plain - exact).max() < 1e-4
    assert np.mean(fast != plain) > 0.5


def test_cpu_without_bf16_ignores_fastmath(oracle):
    """neoverse-n1 has no BF16: MLAS cannot take the SBGEMM path, so the option changes nothing."""
    rng = np.random.default_rng(2)
    A = rng.standard_normal((8, 40)).astype(np.float32)
    B = rng.standard_normal((40, 16)).astype(np.float32)
    fast = oracle.matmul(A, B, fastmath=True, cpu="graviton2")
    plain = oracle.matmul(A, B, fastmath=False, cpu="graviton2")
    assert np.array_equal(fast.view(np.uint32), plain.view(np.uint32))
    assert not np.array_equal(oracle.matmul(A, B, fastmath=True), plain)


INTEGER_TYPES = [(np.uint8, np.uint8), (np.uint8, np.int8), (np.int8, np.int8)]


@pytest.mark.parametrize("version", ORACLE_VERSIONS)
@pytest.mark.parametrize("types", INTEGER_TYPES, ids=lambda t: f"{np.dtype(t[0])}{np.dtype(t[1])}")
@settings(max_examples=4, deadline=None)
@given(M=st.integers(1, 20), N=st.integers(1, 40), K=st.integers(1, 300),
       b_is_initializer=st.booleans(), per_column=st.booleans(), threads=st.sampled_from([1, 2]),
       seed=st.integers(0, 2**16))
@example(M=8, N=8, K=8, b_is_initializer=True, per_column=False, threads=1, seed=0)
def test_matmul_integer_is_exact_integer_math(oracle, version, types, M, N, K, b_is_initializer,
                                              per_column, threads, seed):
    rng = np.random.default_rng(seed)
    a_t, b_t = types
    ai, bi = np.iinfo(a_t), np.iinfo(b_t)
    A = rng.integers(ai.min, ai.max + 1, (M, K)).astype(a_t)
    B = rng.integers(bi.min, bi.max + 1, (K, N)).astype(b_t)
    a_zp = a_t(rng.integers(ai.min, ai.max + 1))
    b_zp = (rng.integers(bi.min, bi.max + 1, N) if per_column else rng.integers(bi.min, bi.max + 1)).astype(b_t)
    got = oracle.matmul_integer(A, B, a_zp, b_zp, b_is_initializer=b_is_initializer,
                                ort_version=version, threads=threads)
    expected = (A.astype(np.int64) - int(a_zp)) @ (B.astype(np.int64) - b_zp.astype(np.int64))
    assert got.dtype == np.int32
    assert np.array_equal(got, expected)


def test_matmul_integer_without_zero_points_on_dot_product_cpu(oracle):
    rng = np.random.default_rng(3)
    A = rng.integers(0, 256, (9, 21)).astype(np.uint8)
    B = rng.integers(0, 256, (21, 13)).astype(np.uint8)
    got = oracle.matmul_integer(A, B, cpu="graviton2")
    assert np.array_equal(got, A.astype(np.int64) @ B.astype(np.int64))


@pytest.mark.parametrize("version", ORACLE_VERSIONS)
@pytest.mark.parametrize("b_type", [np.int8, np.uint8])
def test_dynamic_quantize_matmul_is_exact_when_nothing_rounds(oracle, version, b_type):
    """A holds the integers 0..255 with both ends present: the dynamic quantization of A is
    then exact (scale 1, zero point 0), and with a power-of-two b_scale and integer bias the
    whole computation is exact integer math."""
    rng = np.random.default_rng(4)
    M, K, N = 6, 40, 10
    A = rng.integers(0, 256, (M, K)).astype(np.float32)
    A[0, 0], A[0, 1] = 0, 255
    info = np.iinfo(b_type)
    B = rng.integers(info.min, info.max + 1, (K, N)).astype(b_type)
    b_zp = b_type(3)
    bias = rng.integers(-50, 51, N).astype(np.float32)
    got = oracle.dynamic_quantize_matmul(A, B, np.float32(0.25), b_zp, bias, ort_version=version)
    acc = A.astype(np.int64) @ (B.astype(np.int64) - 3)
    expected = (acc * 0.25 + bias).astype(np.float32)
    assert got.dtype == np.float32
    assert np.array_equal(got, expected)


def two_output_model(onnx):
    h = onnx.helper
    nodes = [h.make_node("Mul", ["x", "y"], ["product"]), h.make_node("Add", ["x", "y"], ["sum"])]
    graph = h.make_graph(
        nodes, "two_outputs",
        [h.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [2, 3]) for n in ("x", "y")],
        [h.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [2, 3]) for n in ("sum", "product")],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def test_run_model_returns_outputs_in_graph_order(oracle, tmp_path):
    onnx = pytest.importorskip("onnx")
    model = two_output_model(onnx)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = np.full((2, 3), 2.0, np.float32)
    path = tmp_path / "two.onnx"
    onnx.save(model, os.fspath(path))
    for source in (model, path, str(path), model.SerializeToString()):
        out = oracle.run_model(source, {"x": x, "y": y}, graph_optimization_level="disable_all")
        assert list(out) == ["sum", "product"]
        assert np.array_equal(out["sum"], x + y) and np.array_equal(out["product"], x * y)


def test_run_model_passes_session_config(oracle):
    """The fastmath entry through run_model gives the same bits as the matmul shortcut."""
    onnx = pytest.importorskip("onnx")
    rng = np.random.default_rng(6)
    A = rng.standard_normal((4, 32)).astype(np.float32)
    B = rng.standard_normal((32, 16)).astype(np.float32)
    h = onnx.helper
    graph = h.make_graph([h.make_node("MatMul", ["A", "B"], ["Y"])], "mm",
                         [h.make_tensor_value_info("A", onnx.TensorProto.FLOAT, [4, 32])],
                         [h.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)],
                         initializer=[onnx.numpy_helper.from_array(B, "B")])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)])
    model.ir_version = 8
    config = {oracle.FASTMATH_CONFIG_KEY: "1"}
    got = oracle.run_model(model, {"A": A}, session_config=config)["Y"]
    assert np.array_equal(got, oracle.matmul(A, B, fastmath=True))
    assert not np.array_equal(got, oracle.run_model(model, {"A": A})["Y"])


def test_inputs_are_not_modified(oracle):
    rng = np.random.default_rng(7)
    A, B = rng.standard_normal((3, 5)).astype(np.float32), rng.standard_normal((5, 2)).astype(np.float32)
    copies = A.copy(), B.copy()
    oracle.matmul(A, B, b_is_initializer=False)
    assert np.array_equal(A, copies[0]) and np.array_equal(B, copies[1])


def test_ort_errors_are_raised_with_their_message_and_the_worker_survives(oracle):
    A = np.ones((2, 3), np.float32)
    with pytest.raises(oracle.OracleError, match="(?i)matmul|dimension|shape"):
        oracle.matmul(A, np.ones((4, 2), np.float32))
    assert np.array_equal(oracle.matmul(A, np.ones((3, 2), np.float32), fastmath=False),
                          np.full((2, 2), 3, np.float32))


def test_a_crashed_worker_is_reported_and_replaced(oracle):
    from mlas_emu.oracle import _client

    A = np.ones((2, 2), np.float32)
    oracle.matmul(A, A, ort_version="1.27.0")
    worker = _client.worker("1.27.0", oracle.DEFAULT_CPU)
    worker._proc.kill()
    worker._proc.wait()
    with pytest.raises(oracle.OracleError, match="crashed"):
        worker.request({"op": "info"})
    assert np.array_equal(oracle.matmul(A, A, fastmath=False), np.full((2, 2), 2, np.float32))


def test_versions_and_arguments_are_validated(oracle):
    A = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match="newest modelled release is"):
        oracle.matmul(A, A, ort_version="1.33.0")
    with pytest.raises(ValueError, match="graviton2, graviton3, graviton4"):
        oracle.matmul(A, A, cpu="neoverse-v1")  # raw QEMU values go through qemu_cpu=
    with pytest.raises(ValueError, match="not both"):
        oracle.matmul(A, A, cpu="graviton3", qemu_cpu="neoverse-v1")
    with pytest.raises(ValueError, match="accepted"):
        oracle.matmul(A, A, ort_version="1.16.3")
    with pytest.raises(TypeError, match="float32"):
        oracle.matmul(A.astype(np.float64), A)
    with pytest.raises(ValueError, match="threads"):
        oracle.matmul(A, A, threads=0)
    with pytest.raises(TypeError, match="uint8 or int8"):
        oracle.matmul_integer(A, A)
    with pytest.raises(ValueError, match="b_zero_point"):
        oracle.matmul_integer(np.ones((2, 2), np.uint8), np.ones((2, 2), np.uint8),
                              b_zero_point=np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="cpu"):
        oracle.matmul(A, A, cpu="not a cpu")
    with pytest.raises(TypeError, match="feeds"):
        oracle.run_model(b"", [A])


def test_a_hung_worker_is_stopped_after_the_timeout(oracle, monkeypatch):
    A = np.ones((2, 2), np.float32)
    oracle.matmul(A, A, ort_version="1.28.0")  # the worker is up
    monkeypatch.setenv("MLAS_EMU_ORACLE_TIMEOUT", "0.2")
    big = np.ones((384, 384), np.float32)  # about a second under QEMU
    with pytest.raises(oracle.OracleError, match="no answer within"):
        oracle.matmul(big, big, ort_version="1.28.0")
    monkeypatch.delenv("MLAS_EMU_ORACLE_TIMEOUT")
    assert np.array_equal(oracle.matmul(A, A, fastmath=False, ort_version="1.28.0"), A * 2)
