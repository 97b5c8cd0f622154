"""The one JIT policy: every compiled function goes through mlas_emu._jit.njit.

No module under mlas_emu may call ``numba.njit``/``numba.jit`` (or import them) directly, or
pass ``fastmath`` to a JIT decorator: bit-exact code must never let LLVM reassociate, contract
or flush. (``fastmath`` as ONNX Runtime's bf16 mode is an ordinary argument elsewhere.)
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import mlas_emu

PACKAGE = Path(mlas_emu.__file__).parent
POLICY = PACKAGE / "_jit.py"
JIT_NAMES = {"njit", "jit", "vectorize", "guvectorize", "cfunc", "generated_jit", "stencil"}


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if p != POLICY)


def _callee(func) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "numba":
            bad = [a.name for a in node.names if a.name in JIT_NAMES]
            if bad:
                found.append(f"line {node.lineno}: from {node.module} import {', '.join(bad)}")
        if isinstance(node, ast.Attribute) and node.attr in JIT_NAMES:
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("numba", "nb"):
                found.append(f"line {node.lineno}: {base.id}.{node.attr}")
        if isinstance(node, ast.Call) and _callee(node.func) in JIT_NAMES:
            if any(k.arg == "fastmath" for k in node.keywords):
                found.append(f"line {node.lineno}: {_callee(node.func)}(fastmath=...)")
    return found


def test_policy_module_exists():
    assert POLICY.exists()
    assert "fastmath=False" in POLICY.read_text()


def test_no_module_bypasses_the_jit_policy():
    report = {str(p.relative_to(PACKAGE)): v for p in modules() if (v := violations(p))}
    assert not report, f"use `from mlas_emu._jit import njit, prange` instead: {report}"


def test_the_checker_catches_violations(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import numba\nfrom numba import njit\n@numba.njit(fastmath=True)\ndef f(x):\n    return x\n"
                   "@njit(fastmath={'nnan'})\ndef g(x):\n    return x\n"
                   "def h():\n    return matmul(1, 2, fastmath=True)\n")
    assert len(violations(bad)) == 4


def test_importing_mlas_emu_leaves_the_process_environment_alone():
    """No import sets OMP_WAIT_POLICY or anything else (the wait policy is the user's choice,
    docs/benchmarks.md measures it); subpackages whose optional extras are missing are skipped."""
    import subprocess
    import sys

    code = (
        "import importlib, os, pkgutil\n"
        "before = dict(os.environ)\n"
        "import mlas_emu\n"
        "for m in pkgutil.walk_packages(mlas_emu.__path__, 'mlas_emu.'):\n"
        "    if m.name.endswith('__main__'):\n"
        "        continue\n"
        "    try:\n"
        "        importlib.import_module(m.name)\n"
        "    except ImportError:\n"
        "        pass\n"
        "print(sorted(set(os.environ.items()) ^ set(before.items())))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=300)
    assert out.stdout.strip() == "[]", out.stdout
