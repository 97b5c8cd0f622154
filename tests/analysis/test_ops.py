"""The GEMM node bodies of ``mlas_emu.analysis.ops``: each node calls the ``mlas_emu.ort`` operator
with the node's attributes and what the session knows (B an initializer, threads, release).

These are consistency checks against ``mlas_emu.ort`` (whose bits the oracle tests check);
K = 300 makes the pre-packed and the graph-input B paths differ, so passing the wrong one fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlas_emu import ort
from mlas_emu.analysis.ops import PATH_QGEMM, PATH_SGEMM, Recorder, run_node

pytest.importorskip("onnx")


def node(op, inputs, domain="", **attrs):
    from onnx import helper

    return helper.make_node(op, inputs, ["Y"], name="n", domain=domain, **attrs)


def recorder(initializers=(), threads=1, ort_version="1.27.0"):
    return Recorder(fastmath=True, ort_version=ort_version, threads=threads, faithful=True,
                    initializers=frozenset(initializers))


def operands(m=5, n=24, k=300, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((n, k)).astype(np.float32),
            rng.standard_normal(n).astype(np.float32))


@pytest.mark.parametrize("b_is_initializer", [True, False])
def test_gemm_node_runs_ort_gemm_with_its_attributes_never_fastmath(b_is_initializer):
    A, B, C = operands()
    rec = recorder(["B"] if b_is_initializer else [], threads=3)
    (y,) = run_node(rec, node("Gemm", ["A", "B", "C"], alpha=0.5, beta=2.0, transB=1), [A, B, C])
    kw = dict(alpha=0.5, beta=2.0, trans_b=True, ort_version="1.27.0", threads=3)
    expected = ort.gemm(A, B, C, b_is_initializer=b_is_initializer, **kw)
    assert np.array_equal(y.view(np.uint32), expected.view(np.uint32))
    assert not np.array_equal(expected, ort.gemm(A, B, C, b_is_initializer=not b_is_initializer, **kw))
    (record,) = rec.records
    assert record.path == PATH_SGEMM and record.mnk == (5, 24, 300)


def test_fused_gemm_node_passes_its_activation():
    A, B, C = operands(seed=1)
    rec = recorder(["B"])
    (y,) = run_node(rec, node("FusedGemm", ["A", "B", "C"], domain="com.microsoft", transB=1,
                              activation="LeakyRelu", activation_alpha=0.3), [A, B, C])
    expected = ort.fused_gemm(A, B, C, trans_b=True, activation="LeakyRelu", activation_alpha=0.3,
                              ort_version="1.27.0")
    assert np.array_equal(y.view(np.uint32), expected.view(np.uint32))
    assert (y < 0).any()  # the slope was applied somewhere


def test_fused_gemm_node_with_an_unknown_activation_is_named():
    A, B, C = operands(seed=2)
    with pytest.raises(ValueError, match="FusedGemm node 'n': activation 'Softsign'"):
        run_node(recorder(), node("FusedGemm", ["A", "B"], domain="com.microsoft", transB=1,
                                  activation="Softsign"), [A, B])


@pytest.mark.parametrize("op", ["MatMulInteger", "QLinearMatMul"])
@pytest.mark.parametrize("b_is_initializer", [True, False])
def test_quantized_nodes_say_whether_b_is_an_initializer(monkeypatch, op, b_is_initializer):
    from mlas_emu.mlas import qgemm
    from mlas_emu.ort import quantization

    seen = []

    def spy(*args, **kw):
        seen.append(kw)
        return qgemm.gemm_batch(*args, **kw)

    monkeypatch.setattr(quantization, "gemm_batch", spy)
    rng = np.random.default_rng(3)
    A = rng.integers(0, 256, (4, 9)).astype(np.uint8)
    B = rng.integers(-128, 128, (9, 6)).astype(np.int8)
    if op == "MatMulInteger":
        names, inputs = ["A", "B"], [A, B]
    else:
        names = ["A", "as", "az", "B", "bs", "bz", "ys", "yz"]
        inputs = [A, np.float32(0.1), np.uint8(3), B, np.float32(0.2), np.int8(0), np.float32(0.5), np.uint8(1)]
    rec = recorder(["B"] if b_is_initializer else [], threads=2)  # B is input 1 or 3
    run_node(rec, node(op, names), inputs)
    assert seen[0]["packed_b"] is b_is_initializer and seen[0]["threads"] == 2
    assert rec.records[0].path == PATH_QGEMM and rec.records[0].mnk == (4, 6, 9)
