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
