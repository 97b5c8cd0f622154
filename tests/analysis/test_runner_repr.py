"""ModelRun and ModelComparison print as a few informative lines, not as dumps of their arrays."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mlas_emu.analysis.ops import PATH_FASTMATH, PATH_SGEMM
from mlas_emu.analysis.runner import ModelRun
from mlas_emu.releases import DEFAULT_ORT_VERSION

import _graphs

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def test_model_run_repr_names_the_setting_outputs_and_paths():
    model = _graphs.mlp()
    run = _run(model, threads=3)
    text = repr(run)
    assert len(text) < 1000 and len(text.splitlines()) <= 4
    assert "bf16-fastmath" in text and f"ORT {DEFAULT_ORT_VERSION}" in text and "3 threads" in text
    assert "out float32 (64, 36)" in text
    assert f"2 GEMM ({PATH_SGEMM} x1, {PATH_FASTMATH} x1)" in text
    html = run._repr_html_()
    assert html.startswith("<table") and "out" in html and "(64, 36)" in html and "3 threads" in html


def test_model_comparison_repr_gives_each_modes_headline_errors():
    from mlas_emu.analysis import compare_modes

    model = _graphs.mlp()
    feeds = _graphs.random_feeds(model, rows=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = compare_modes(model, feeds, ("bf16-fastmath", "int8-dynamic"), ort_version="1.27.0")
    text = repr(cmp)
    assert len(text) < 1000
    assert "ORT 1.27.0, 1 thread" in text and "int8 QGEMM x2" in text
    for mode in ("bf16-fastmath", "int8-dynamic"):
        rep = cmp.outputs[mode]["out"]
        assert f"{mode}: " in text and f"normwise rel {rep.normwise_rel_error:.3g}" in text
    assert "largest local error" in text and "mm2" in text
    html = cmp._repr_html_()
    assert html.startswith("<table") and html.count("<tr>") == 3  # header + one row per mode
    assert f"{cmp.outputs['int8-dynamic']['out'].normwise_rel_error:.3g}" in html


def test_many_outputs_are_cut_short():
    outputs = {f"output_{i}": np.zeros((8, 384), np.float32) for i in range(40)}
    text = repr(ModelRun("fp32", outputs, [], None))
    assert len(text) < 1000 and "(34 more)" in text and "output_0 float32 (8, 384)" in text


def _run(model, threads):
    from mlas_emu.analysis import run_model

    return run_model(model, _graphs.random_feeds(model, rows=64), mode="bf16-fastmath", threads=threads)
