"""The package's layering, read from the source: imports run one way, and the core imports
nothing optional.

isa (instructions) <- mlas (MLAS packing, kernels, drivers) <- ort (operators, releases)
<- analysis / teach; ``_jit``, ``_host_fp``, ``_cli_args``, ``errors`` and the data tables
``releases`` and ``cpus`` serve every layer; ``oracle`` stands beside and no emulator layer
imports it. Imports inside functions count too (lazy imports are still
dependencies).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlas_emu"
BASE = {"_jit", "_host_fp", "_cli_args", "errors", "releases", "cpus"}
#: layer -> the parts of mlas_emu it may import (besides itself)
ALLOWED = {
    "isa": BASE,
    "mlas": BASE | {"isa"},
    "ort": BASE | {"isa", "mlas"},
    "analysis": BASE | {"isa", "mlas", "ort"},
    "teach": BASE | {"isa", "mlas", "ort"},
}
OPTIONAL = ("onnx", "onnxruntime", "matplotlib", "platformdirs", "tqdm", "tokenizers", "safetensors")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the mlas_emu modules ``path`` imports (``from P import x`` counts as
    ``P.x``, which is exact for submodules and one level too deep, harmlessly, for names)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            out |= {f"{target}.{alias.name}" for alias in node.names}
    return {name for name in out if name == "mlas_emu" or name.startswith("mlas_emu.")}


def _layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def layering_violations() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer(_module_name(path))
        if layer not in ALLOWED:
            continue
        for name in sorted(imported_modules(path)):
            target = _layer(name)
            if target != layer and target not in ALLOWED[layer]:
                bad.append(f"{path.relative_to(PACKAGE.parent)} ({layer}) imports {name}")
    return bad


def test_the_scan_sees_relative_lazy_and_absolute_imports(tmp_path):
    names = imported_modules(PACKAGE / "teach" / "_plan.py")
    assert "mlas_emu.mlas.threading.gemm_thread_ranges" in names  # from ..mlas.threading import ...
    names = imported_modules(PACKAGE / "teach" / "_sgemm.py")
    assert "mlas_emu.mlas.sgemm.sgemm" in names  # inside a function
    assert any(n.startswith("mlas_emu._jit") for n in imported_modules(PACKAGE / "isa" / "fp.py"))


def test_imports_run_one_way():
    assert layering_violations() == []


def test_no_emulator_layer_imports_the_oracle():
    bad = sorted(
        f"{path.relative_to(PACKAGE.parent)} ({layer}) imports {name}"
        for layer in ALLOWED
        for path in (PACKAGE / layer).rglob("*.py")
        for name in imported_modules(path)
        if name.startswith("mlas_emu.oracle")
    )
    assert bad == []


BLOCKER = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    BLOCKED = {blocked!r}

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{{name}} is blocked: mlas_emu must import without it")
            return None

    sys.meta_path.insert(0, Block())
    for name in list(sys.modules):
        if name.split(".")[0] in BLOCKED:
            del sys.modules[name]

    import mlas_emu
    names = ["mlas_emu"]
    for info in pkgutil.walk_packages(mlas_emu.__path__, "mlas_emu."):
        if info.name != "mlas_emu.__main__":
            importlib.import_module(info.name)
            names.append(info.name)
    leaked = sorted(n for n in sys.modules if n.split(".")[0] in BLOCKED)
    assert not leaked, leaked
    print(len(names))
    """
)


def test_every_module_imports_without_the_optional_dependencies():
    code = BLOCKER.format(blocked=set(OPTIONAL))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout.split()[-1]) >= 40  # every module was reached, not just the package


@pytest.mark.parametrize("blocked", OPTIONAL)
def test_the_blocker_blocks(blocked):
    """The finder really makes each optional package unimportable."""
    code = BLOCKER.format(blocked={blocked}).split("import mlas_emu")[0] + f"import {blocked}\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "is blocked" in proc.stderr
