"""``mlas-emu trace`` / ``mlas-emu figures``."""

from __future__ import annotations

import pytest

from mlas_emu.cli import main


def test_trace_prints_counts(capsys):
    assert main(["trace", "qgemm-s8s8", "8", "16", "16", "--ort-version", "1.29.0", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert "smmla 64" in out and "more" in out


def test_trace_rejects_unknown_kernel(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["trace", "fp16", "8", "8", "8"])
    assert exit_.value.code == 2
    assert "unknown kernel" in capsys.readouterr().err


def test_figures_module_requires_its_folder(tmp_path, monkeypatch, capsys):
    from mlas_emu.teach import figures

    monkeypatch.chdir(tmp_path)
    assert figures.main([]) == 2
    assert "FOLDER" in capsys.readouterr().err and not any(tmp_path.iterdir())
