"""``mlas-emu``'s errors, the same in every subcommand: one line on stderr and no traceback; exit
status 2 for bad arguments, found before any work starts, and 1 for failures at run time."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from mlas_emu.cli import build_parser, main
from mlas_emu.errors import MissingExtra, OracleUnavailable

#: (arguments, what the error says); {missing} is a path that does not exist, {file} a text file.
USAGE_ERRORS = [
    (["demo", "--threads", "0"], "argument --threads: expected an integer >= 1, got '0'"),
    (["demo", "--ort-version", "1.0"], "argument --ort-version: unknown ONNX Runtime release '1.0'"),
    (["demo", "--out-dir", "{missing}"], "argument --out-dir: no folder"),
    (["demo", "--out-dir", "{file}"], "argument --out-dir: '{file}' is not a folder"),
    (["trace", "sbgemm", "4", "4", "4", "--limit", "-1"], "argument --limit: expected an integer >= 0, got '-1'"),
    (["trace", "sbgemm", "0", "4", "4"], "argument M: expected an integer >= 1, got '0'"),
    (["trace", "sbgemm", "4", "4", "4", "--threads", "two"], "argument --threads: expected an integer >= 1"),
    (["trace", "sbgemm", "4", "4", "4", "--ort-version", "2.0"], "argument --ort-version: unknown ONNX Runtime"),
    (["trace", "fp16", "4", "4", "4"], "argument kernel: unknown kernel 'fp16'"),
    (["figures"], "the following arguments are required: DIR"),
    (["figures", "{file}"], "argument DIR: '{file}' is not a folder"),
    (["figures", "{file}/sub"], "argument DIR: cannot create the folder"),
    (["oracle", "setup", "--ort-version", "9.9"], "argument --ort-version: unknown ONNX Runtime release '9.9'"),
    (["oracle", "setup", "--cpu", "graviton9"], "argument --cpu: invalid choice: 'graviton9'"),
    (["nonsense"], "invalid choice: 'nonsense'"),
]


def _status(argv) -> int:
    """main's exit status, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _one_error_line(err: str, command: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1 and lines[0].startswith(f"mlas-emu {command}".rstrip() + ": error: "), err
    return lines[0]


@pytest.fixture
def paths(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a model\n")
    return {"missing": str(tmp_path / "missing"), "file": str(text)}


@pytest.mark.parametrize("argv, message", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_bad_arguments_exit_2_with_one_line_naming_them(argv, message, paths, capsys):
    argv = [a.format(**paths) for a in argv]
    assert _status(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    command = " ".join(a for a in argv[:2] if a in ("demo", "trace", "figures", "oracle", "setup"))
    assert message.format(**paths) in _one_error_line(err, command)


def test_demo_checks_its_folder_before_running(tmp_path, monkeypatch, capsys):
    from mlas_emu.analysis import demo

    monkeypatch.setattr(demo, "minilm_demo", lambda **kw: pytest.fail("the demo ran"))
    assert _status(["demo", "--out-dir", str(tmp_path / "missing")]) == 2
    assert "no folder" in capsys.readouterr().err


def test_the_demo_function_checks_its_folder_before_loading_anything(tmp_path, monkeypatch):
    from mlas_emu.analysis import demo, minilm

    monkeypatch.setattr(minilm, "load_config", lambda *a, **k: pytest.fail("the demo started"))
    with pytest.raises(ValueError, match="no folder"):
        demo.minilm_demo(out_dir=tmp_path / "missing")


def test_trace_arguments_that_do_not_go_together_exit_2(capsys):
    assert main(["trace", "sbgemm", "1024", "1024", "1024"]) == 2
    assert "too large for a trace" in _one_error_line(capsys.readouterr().err, "trace")


def test_figures_needs_its_folder_and_writes_nothing_without_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _status(["figures"]) == 2
    assert list(tmp_path.iterdir()) == []


def test_figures_creates_the_folder_it_is_given(tmp_path, monkeypatch, capsys):
    from mlas_emu.teach import figures

    written = []
    monkeypatch.setattr(figures, "main", lambda argv: written.extend(argv) or 0)
    assert main(["figures", str(tmp_path / "new" / "images")]) == 0
    assert written == [str(tmp_path / "new" / "images")]


def test_failures_at_run_time_exit_1(tmp_path, monkeypatch, capsys):
    from mlas_emu.oracle import _provision
    from mlas_emu.teach import figures

    def no_matplotlib(argv):
        raise MissingExtra("this feature needs the optional dependency 'matplotlib': pip install 'mlas-emu[viz]'")

    monkeypatch.setattr(figures, "main", no_matplotlib)
    assert main(["figures", str(tmp_path)]) == 1
    assert "mlas-emu[viz]" in _one_error_line(capsys.readouterr().err, "figures")

    def no_qemu(*args, **kwargs):
        raise OracleUnavailable("qemu-aarch64 is missing")

    monkeypatch.setattr(_provision, "setup", no_qemu)
    assert main(["oracle", "setup"]) == 1
    assert "qemu-aarch64 is missing" in _one_error_line(capsys.readouterr().err, "oracle setup")


def test_oracle_not_ready_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLAS_EMU_ORACLE_DIR", str(tmp_path / "nothing"))
    assert main(["oracle", "status"]) == 1
    assert "not ready" in capsys.readouterr().out


def test_no_command_prints_the_help_on_stderr(capsys):
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "usage: mlas-emu" in err and "demo" in err
    assert main(["oracle"]) == 2
    assert "setup" in capsys.readouterr().err


def test_demo_help_is_plain_text(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "MiniLM" in text and "--intended" in text
    for markup in ("``", ":mod:", ":func:", ":class:"):
        assert markup not in text


def _parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_positional_argument_has_help():
    missing = [f"{p.prog} {a.metavar or a.dest}" for p in _parsers(build_parser()) for a in p._actions
               if not a.option_strings and not a.help]
    assert missing == []


def test_ints_are_checked_as_ints():
    from mlas_emu._cli_args import non_negative_int, positive_int
    from mlas_emu.errors import UsageError

    assert positive_int("3") == 3 and non_negative_int("0") == 0
    for bad in ("0", "-2", "1.5", "x", ""):
        with pytest.raises(UsageError, match="expected an integer >= 1"):
            positive_int(bad)


def test_model_arguments_are_checked_before_the_run(tmp_path, paths, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx import helper

    graph = helper.make_graph([helper.make_node("Relu", ["X"], ["Y"])], "g",
                              [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, [2])])
    model = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph), str(model))
    feeds = tmp_path / "feeds.npz"
    np.savez(feeds, X=np.ones(2, np.float32))
    np.save(tmp_path / "one.npy", np.ones(2, np.float32))
    cases = [
        ([str(feeds)], "is not an ONNX model file"),
        ([paths["file"]], "is not an ONNX model file"),
        ([paths["missing"]], "no ONNX model"),
        ([str(model), "--inputs", paths["file"]], "is not an .npz file"),
        ([str(model), "--inputs", paths["missing"]], "no file"),
        ([str(model), "--inputs", str(tmp_path / "one.npy")], "holds one array"),
        ([str(model), "--json", paths["missing"] + "/r.json"], "argument --json: no folder"),
        ([str(model), "--json", str(tmp_path)], "is a folder, not a file"),
        ([str(model), "--threads", "0"], "argument --threads"),
        ([str(model), "--ort-version", "1.0"], "argument --ort-version"),
    ]
    for argv, message in cases:
        assert _status(["model", *argv]) == 2, argv
        assert message in _one_error_line(capsys.readouterr().err, "model"), argv
