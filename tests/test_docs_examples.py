"""Every fenced ``python`` block of README.md and docs/*.md runs, in order, one namespace per page.

A line ending in ``# -> value`` states what its expression evaluates to (for ``print(x)``: x);
the numbers of ``value`` are checked, written integers exactly, decimals to their last digit.
Blocks that are not meant to run (shell, pseudo-code, output) use another fence. docs/index.md
and the tutorials are run by tests/teach/test_tutorials.py. Pages that call the real-Arm oracle
need it; pages that need an optional extra are skipped without it.
"""

from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from mlas_emu.errors import MissingExtra, OrtDefectWarning

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGES = [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
         if p.name != "index.md" and BLOCK.search(p.read_text())]
EXPECTED = re.compile(r"#\s*->\s*(.*)$", re.M)
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?\b(?:nan|inf)\b")
#: Optional dependencies (the extras) whose absence skips a page rather than failing it.
OPTIONAL = {"onnx", "onnxruntime", "matplotlib", "tokenizers", "safetensors", "platformdirs", "tqdm"}
#: A call of the oracle outside a comment.
USES_ORACLE = re.compile(r"^[^#\n]*\boracle\.", re.M)


def _blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


def _param(page: Path):
    marks = [pytest.mark.oracle] if any(USES_ORACLE.search(b) for b in _blocks(page)) else []
    return pytest.param(page, marks=marks, id=page.name)


def expected_value(text: str) -> str:
    """The value of a ``# -> value, remark`` comment: a bracketed list, or the first word."""
    text = text.strip()
    if text.startswith("["):
        depth = 0
        for i, ch in enumerate(text):
            depth += {"[": 1, "]": -1}.get(ch, 0)
            if depth == 0:
                return text[: i + 1]
    return re.split(r"[\s,;]", text, maxsplit=1)[0]


def _tolerance(number: str) -> float:
    """Half a unit of the last written decimal; 0 for a written integer (``6.`` counts as one)."""
    mantissa, _, exponent = number.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    if decimals == 0 or not any(c.isdigit() for c in mantissa):
        return 0.0
    return 0.5 * 10.0 ** (int(exponent or 0) - decimals)


def check_value(value, expected: str, where: str) -> None:
    numbers = NUMBER.findall(expected)
    if not numbers:
        assert str(value) == expected, f"{where}: {value!r} is not {expected}"
        return
    actual = np.asarray(value, dtype=np.float64).ravel()
    want = np.array([float(n) for n in numbers])
    tol = np.array([_tolerance(n) for n in numbers])
    assert actual.shape == want.shape, f"{where}: {value!r} is not {expected}"
    same = (np.abs(actual - want) <= tol) | (np.isnan(actual) & np.isnan(want)) | (actual == want)
    assert same.all(), f"{where}: {value!r} is not {expected}"


def _checked_expression(stmt: ast.stmt, lines: list[str]):
    """The expression a statement's ``# -> value`` comment is about, and the value; else None."""
    match = EXPECTED.search(lines[stmt.end_lineno - 1])
    if match is None:
        return None
    assert isinstance(stmt, ast.Expr), f"line {stmt.end_lineno}: '# ->' follows a statement, not an expression"
    node = stmt.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
        node = node.args[0]
    return ast.Expression(node), expected_value(match.group(1))


def run_block(code: str, namespace: dict, name: str) -> int:
    """Executes ``code`` statement by statement, checking ``# ->`` values; returns how many."""
    lines = code.splitlines()
    checked = 0
    for stmt in ast.parse(code, name).body:
        target = _checked_expression(stmt, lines)
        if target is None:
            exec(compile(ast.Module([stmt], []), name, "exec"), namespace)  # noqa: S102 - our docs
            continue
        expression, expected = target
        value = eval(compile(expression, name, "eval"), namespace)  # noqa: S307 - our docs
        check_value(value, expected, f"{name} line {stmt.end_lineno}")
        checked += 1
    return checked


def _missing_optional(exc: ImportError) -> bool:
    return isinstance(exc, MissingExtra) or (exc.name or "").split(".")[0] in OPTIONAL


@pytest.mark.parametrize("page", [_param(p) for p in PAGES])
def test_docs_code_blocks_run(page, request, monkeypatch, tmp_path):
    if any(m.name == "oracle" for m in request.node.iter_markers()):
        request.getfixturevalue("oracle")
    monkeypatch.chdir(tmp_path)  # blocks may write files (plots, models)
    namespace: dict = {"__name__": "__docs__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OrtDefectWarning)  # shown on purpose (docs/defects.md)
        for number, block in enumerate(_blocks(page), 1):
            try:
                run_block(block, namespace, f"{page.name} block {number}")
            except ImportError as exc:
                if not _missing_optional(exc):
                    raise
                pytest.skip(f"{page.name} block {number} needs an optional extra: {exc}")


def test_expected_values_are_checked():
    """The convention is in use (README, ISA and QGEMM pages) and a wrong value fails."""
    total = sum(len(EXPECTED.findall(b)) for p in PAGES for b in _blocks(p))
    assert total >= 4 and ROOT / "README.md" in PAGES
    check_value(np.array([6.0, 6.0, 22.0, 22.0], np.float32), expected_value("[ 6.  6. 22. 22.]"), "ok")
    check_value(np.float32(0.3), expected_value("0.30, rounded"), "ok")
    for value, text in [(33, "32"), (np.float32(28.5), "28.0"), (np.ones(3), "[1. 1.]")]:
        with pytest.raises(AssertionError):
            check_value(value, expected_value(text), "wrong")


def test_a_statement_cannot_carry_an_expected_value():
    with pytest.raises(AssertionError, match="not an expression"):
        run_block("x = 1   # -> 1\n", {}, "bad")
