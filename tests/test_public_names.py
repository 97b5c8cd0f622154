"""The public entry points are the functions, whatever was imported before (a submodule named
like a function would rebind the name on its package once imported)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC_FUNCTIONS = [
    ("mlas_emu", "sgemm_bf16"),
    ("mlas_emu", "qgemm"),
    ("mlas_emu.ort", "matmul"),
    ("mlas_emu.ort", "fused_matmul"),
    ("mlas_emu.ort", "matmul_integer"),
    ("mlas_emu.ort", "dynamic_quantize_matmul"),
    ("mlas_emu.ort", "matmul_integer_to_float"),
    ("mlas_emu.ort", "qlinear_matmul"),
]

SUBMODULES = ["mlas_emu.mlas.sbgemm", "mlas_emu.mlas.qgemm", "mlas_emu.mlas.sgemm", "mlas_emu.ort.matmul_op",
              "mlas_emu.ort.quantization"]


@pytest.mark.parametrize("package,name", PUBLIC_FUNCTIONS)
def test_public_name_is_a_function_after_every_submodule_import(package, name):
    code = "; ".join([f"import {m}" for m in SUBMODULES] + [
        f"import {package} as p",
        f"f = p.{name}",
        "import types",
        "assert isinstance(f, types.FunctionType), type(f)",
    ])
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("package,name", PUBLIC_FUNCTIONS)
def test_public_name_is_listed(package, name):
    assert name in dir(importlib.import_module(package)) or name in importlib.import_module(package).__all__


def _packages() -> list[str]:
    import pkgutil

    import mlas_emu

    return ["mlas_emu"] + sorted(info.name for info in pkgutil.walk_packages(mlas_emu.__path__, "mlas_emu.")
                                 if info.ispkg)


@pytest.mark.parametrize("package", _packages())
def test_dir_lists_every_public_name(package):
    """Tab completion offers lazily loaded names before their first use (checked in a fresh process)."""
    code = f"import {package} as p; missing = set(p.__all__) - set(dir(p)); assert not missing, missing"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("package", _packages())
def test_every_public_name_resolves(package):
    pkg = importlib.import_module(package)
    for name in pkg.__all__:
        getattr(pkg, name)
