"""Every fenced ``python`` block of docs/tutorials/*.md (and of the quick start in docs/index.md)
runs, in order, one namespace per page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))
PAGES = [DOCS / "index.md", *TUTORIALS]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_there_are_tutorials():
    assert TUTORIALS, "docs/tutorials/*.md not found"
    assert all(BLOCK.search(p.read_text()) for p in TUTORIALS)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_tutorial_runs(page, monkeypatch, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__tutorial__"}
    for number, block in enumerate(BLOCK.findall(page.read_text()), 1):
        code = compile(block, f"{page.name} block {number}", "exec")
        exec(code, namespace)  # noqa: S102 - the tutorials are our own documentation
