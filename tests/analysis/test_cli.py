"""``mlas-emu model``."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import _graphs  # noqa: E402

from mlas_emu.cli import main  # noqa: E402


@pytest.fixture
def model_path(tmp_path):
    import onnx

    path = tmp_path / "mlp.onnx"
    onnx.save(_graphs.mlp(), str(path))
    return path


def test_model_command_prints_the_node_table(model_path, tmp_path, capsys):
    feeds = tmp_path / "in.npz"
    np.savez(feeds, X=np.random.default_rng(0).standard_normal((16, 40)).astype(np.float32))
    out_json = tmp_path / "r.json"
    assert main(["model", str(model_path), "--mode", "bf16-fastmath", "--inputs", str(feeds),
                 "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "FusedGemm" in out and "fp32 SGEMM" in out and "bf16 fastmath (SBGEMM)" in out
    assert "end to end (bf16-fastmath vs fp32)" in out
    data = json.loads(out_json.read_text())
    assert data["bf16-fastmath"]["nodes"][1]["mnk"] == [16, 36, 24]


def test_model_command_int8_with_default_feeds(model_path, capsys):
    assert main(["model", str(model_path), "--mode", "int8-dynamic"]) == 0
    assert "int8 QGEMM" in capsys.readouterr().out


def test_model_command_bad_input(model_path, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, nope=np.zeros(3, np.float32))
    assert main(["model", str(model_path), "--inputs", str(bad)]) == 1
    assert "missing ['X']" in capsys.readouterr().err
    for argv in ([str(tmp_path / "absent.onnx")], [str(model_path), "--mode", "fp16"]):
        with pytest.raises(SystemExit) as exit_:
            main(["model", *argv])
        assert exit_.value.code == 2
