"""The model runner on small hand-built graphs; bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from conftest import ORACLE_VERSIONS

from mlas_emu.analysis import compare_modes, run_model
from mlas_emu.analysis.ops import PATH_FASTMATH, PATH_QGEMM, PATH_SGEMM, matmul_path
from mlas_emu.analysis.runner import prepare

import _graphs

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _x86_ort(model, feeds):
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))


@pytest.mark.parametrize("mode", ["fp32", "bf16-fastmath", "int8-dynamic"])
def test_mlp_runs_the_rewritten_graph(mode):
    model = _graphs.mlp()
    feeds = _graphs.random_feeds(model, rows=16)
    run = run_model(model, feeds, mode=mode)
    ops = [r.op_type for r in run.nodes]
    if mode == "int8-dynamic":
        assert set(r.path for r in run.nodes) == {PATH_QGEMM}
    else:
        # ORT fuses MatMul + Add + Relu into FusedGemm (never fastmath); the last MatMul stays
        assert ops == ["FusedGemm", "MatMul"]
        assert run.nodes[0].path == PATH_SGEMM
        assert run.nodes[1].path == (PATH_FASTMATH if mode == "bf16-fastmath" else PATH_SGEMM)
    # fp32 mode: x86 ORT computes the same function (not the same bits): close
    if mode == "fp32":
        expected = _x86_ort(model, feeds)["out"]
        np.testing.assert_allclose(run.outputs["out"], expected, rtol=1e-5, atol=1e-4)
    assert run.node(run.nodes[-1].output).result.shape == (16, 36)


def test_captured_tensors_are_the_kernels_inputs_and_outputs():
    from mlas_emu.ort import matmul

    model = _graphs.mlp()
    feeds = _graphs.random_feeds(model, rows=8)
    run = run_model(model, feeds, mode="bf16-fastmath")
    last = run.nodes[-1]
    a, b = last.inputs
    assert np.array_equal(a, np.maximum(a, 0))  # the Relu output
    assert np.array_equal(last.result, matmul(a, b, fastmath=True))
    assert np.array_equal(run.outputs["out"], last.result)


def test_attention_paths_follow_the_fastmath_gate():
    model = _graphs.attention_like()
    prepared = prepare(model, "bf16-fastmath")
    types = [n.op_type for n in prepared.graph.node]
    assert "FusedMatMul" in types  # Transpose and Mul folded into the MatMul (transB, alpha)
    feeds = _graphs.random_feeds(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = run_model(model, feeds, mode="bf16-fastmath")
    paths = {r.op_type: r.path for r in run.nodes}
    assert paths["FusedMatMul"] == PATH_SGEMM  # transB: no fastmath
    assert paths["MatMul"] == PATH_FASTMATH     # N*K = 40*6 >= 32


def test_matmul_path_gate():
    assert matmul_path((4, 8), (8, 4), fastmath=True)[0] == PATH_FASTMATH       # N*K = 32
    assert matmul_path((4, 7), (7, 4), fastmath=True)[0] == PATH_SGEMM          # N*K = 28 < 32
    assert matmul_path((4, 8), (4, 8), fastmath=True, trans_b=True)[0] == PATH_SGEMM
    assert matmul_path((8, 4), (8, 8), fastmath=True, trans_a=True, ort_version="1.27.0")[0] == PATH_SGEMM
    assert matmul_path((8, 4), (8, 8), fastmath=True, trans_a=True, ort_version="1.23.2")[0] == PATH_FASTMATH
    assert matmul_path((4, 8), (8, 4), fastmath=False)[0] == PATH_SGEMM


def test_compare_modes_reports_per_node_and_end_to_end():
    model = _graphs.mlp()
    feeds = _graphs.random_feeds(model, rows=16)
    cmp = compare_modes(model, feeds, ("bf16-fastmath",))
    nodes = cmp.nodes["bf16-fastmath"]
    gemm, mm = nodes
    assert gemm.accumulated.fraction_identical == 1.0 and gemm.local is None  # FusedGemm: fp32 path
    assert mm.local.max_rel_error > 0 and mm.accumulated.normwise_rel_error == mm.local.normwise_rel_error
    e2e = cmp.outputs["bf16-fastmath"]["out"]
    assert e2e.normwise_rel_error == pytest.approx(
        np.linalg.norm(cmp.runs["bf16-fastmath"].outputs["out"].astype(np.float64) - cmp.runs["fp32"].outputs["out"])
        / np.linalg.norm(cmp.runs["fp32"].outputs["out"].astype(np.float64)), rel=1e-12)
    text = cmp.table("bf16-fastmath")
    assert "mm2" in text and "end to end" in text
    assert cmp.to_dict()["bf16-fastmath"]["nodes"][1]["path"] == PATH_FASTMATH


def test_feeds_are_not_modified():
    model = _graphs.mlp()
    feeds = _graphs.random_feeds(model, rows=4)
    before = {k: v.copy() for k, v in feeds.items()}
    run_model(model, feeds, mode="bf16-fastmath")
    assert all(np.array_equal(before[k], feeds[k]) for k in feeds)


def test_unknown_operators_are_named():
    from onnx import helper

    nodes = [helper.make_node("MatMul", ["X", "W"], ["Y"]),
             helper.make_node("Frobnicate", ["Y"], ["Z"], domain="com.example"),
             helper.make_node("Attention", ["Y"], ["out"], domain="com.microsoft")]
    model = _graphs.make(nodes, [("X", np.float32, [2, 4])], [("out", np.float32, [2, 4])],
                         [("W", np.ones((4, 4), np.float32))],
                         extra_opsets=[("com.example", 1), ("com.microsoft", 1)])
    with pytest.raises(ValueError, match=r"com\.example::Frobnicate.*com\.microsoft::Attention"):
        run_model(model, {"X": np.ones((2, 4), np.float32)}, optimize=None)


def test_mismatched_feeds():
    model = _graphs.mlp()
    x = np.ones((3, 40), np.float32)
    with pytest.raises(ValueError, match=r"missing \['X'\]"):
        run_model(model, {"x": x})
    with pytest.raises(ValueError, match=r"unexpected \['Y'\]"):
        run_model(model, {"X": x, "Y": x})
    with pytest.raises(ValueError, match="dtype float64"):
        run_model(model, {"X": x.astype(np.float64)})
    with pytest.raises(ValueError, match=r"shape \(3, 41\)"):
        run_model(model, {"X": np.ones((3, 41), np.float32)})
    with pytest.raises(TypeError, match="dict"):
        run_model(model, [x])


def test_models_too_big_are_refused_with_the_estimate():
    model = _graphs.mlp()
    with pytest.raises(MemoryError, match=r"needs about [0-9.]+ MiB"):
        run_model(model, {"X": np.ones((3, 40), np.float32)}, memory_limit=1000)


def test_bad_mode_and_model():
    with pytest.raises(ValueError, match="mode must be one of"):
        run_model(_graphs.mlp(), {}, mode="bf16")
    with pytest.raises(ValueError, match="no ONNX model"):
        run_model("/nonexistent/model.onnx", {})
    with pytest.raises(TypeError, match="ModelProto"):
        run_model(42, {})


@pytest.mark.oracle
@pytest.mark.parametrize("mode", ["bf16-fastmath", "fp32", "int8-dynamic"])
def test_small_graph_nodes_are_bit_exact_on_arm(oracle, mode):
    from mlas_emu.oracle.model_check import check_against_arm

    for model in (_graphs.mlp(), _graphs.attention_like()):
        feeds = _graphs.random_feeds(model, rows=12)
        for version in ORACLE_VERSIONS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = check_against_arm(model, feeds, mode=mode, ort_version=version)
            assert res.rewrites_match, (mode, version)
            assert res.all_nodes_exact, (mode, version, res.nodes)


@pytest.mark.oracle
def test_two_threads_on_arm(oracle):
    from mlas_emu.oracle.model_check import check_against_arm

    model = _graphs.attention_like(seq=40, d=300)  # non-packed B (N = 300) split over two threads
    feeds = _graphs.random_feeds(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = check_against_arm(model, feeds, mode="bf16-fastmath", ort_version="1.27.0", threads=2,
                                check_rewrites=False)
    assert res.all_nodes_exact, res.nodes


def test_importing_analysis_needs_only_the_core_dependencies():
    import subprocess
    import sys

    code = ("import sys, mlas_emu.analysis as a\n"
            "import mlas_emu.analysis.report, mlas_emu.analysis.bound, mlas_emu.analysis.runner\n"
            "import mlas_emu.oracle.model_check, mlas_emu.analysis.demo, mlas_emu.analysis.cli\n"
            "bad = [m for m in ('onnx', 'onnxruntime', 'matplotlib', 'tokenizers', 'safetensors', 'tqdm')"
            " if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)
