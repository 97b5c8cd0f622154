"""The documentation site builds with ``mkdocs build --strict``.

Skipped (with the reason) when mkdocs is not installed, unless ``MLAS_EMU_REQUIRE_DOCS=1`` is set
(as CI does after installing the ``docs`` extra), which turns a missing mkdocs into a failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _require_docs_tools():
    missing = [m for m in ("mkdocs", "material", "mkdocstrings") if importlib.util.find_spec(m) is None]
    if missing:
        reason = f"docs tools not installed ({', '.join(missing)}): pip install -e '.[docs]'"
        if os.environ.get("MLAS_EMU_REQUIRE_DOCS", "") not in ("", "0"):
            pytest.fail(f"MLAS_EMU_REQUIRE_DOCS is set but {reason}")
        pytest.skip(reason)


def test_mkdocs_build_strict(tmp_path):
    _require_docs_tools()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "api" / "index.html").exists()


def test_every_nav_page_exists():
    nav = re.findall(r":\s*([\w./-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert nav
    missing = [p for p in nav if not (ROOT / "docs" / p).exists()]
    assert not missing, f"pages in the nav but not in docs/: {missing}"


#: Images drawn from measurements by a benchmark script (its default output path), not by the
#: figure script: stem -> the script that writes it.
MEASURED_IMAGES = {"benchmark-time": "benchmarks/run.py"}


def test_images_in_docs_come_from_the_figure_script():
    from mlas_emu.teach.figures import FIGURES

    used = set()
    for page in (ROOT / "docs").rglob("*.md"):
        used |= set(re.findall(r"images/([\w-]+)\.(?:svg|png)", page.read_text()))
    assert used, "no images referenced"
    drawn = used - set(MEASURED_IMAGES)
    assert drawn <= set(FIGURES), f"images not made by mlas_emu.teach.figures: {drawn - set(FIGURES)}"
    for stem in drawn:
        assert (ROOT / "docs" / "images" / f"{stem}.svg").exists()
    for stem, script in MEASURED_IMAGES.items():
        assert f"docs/images/{stem}.png" in (ROOT / script).read_text(), f"{script} no longer writes {stem}"
