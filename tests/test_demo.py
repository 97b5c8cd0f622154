"""``mlas-emu demo --bfmmla``: the BFMMLA worked example prints, and its numbers hang together."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np

from mlas_emu.cli import main


def test_demo_prints_the_worked_example(capsys):
    assert main(["demo", "--bfmmla"]) == 0
    text = capsys.readouterr().out
    for needle in ("vn[0] = A[0,0]", "vm[4] = B[0,1]", "vd[3] = C[1,1]", "round to odd", "float64"):
        assert needle in text
    # Each lane's last step result is the BFMMLA result printed at the end.
    finals = re.findall(r"\+ acc  -> (0x[0-9A-F]{8})", text)
    assert len(finals) == 8
    result_lines = re.findall(r"vd\[\d\]\s+(\S+) \|", text)
    assert result_lines == [f"{float(np.uint32(int(h, 16)).view(np.float32)):.9g}" for h in finals[1::2]]


def test_demo_shows_an_inexact_step():
    from mlas_emu.demo import worked_example

    assert "round to odd)" in worked_example()


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "mlas_emu", "demo", "--bfmmla"], capture_output=True, text=True, check=True)
    assert "BFMMLA" in out.stdout
