"""The package's layering, read from the source: imports run one way, every module has a layer,
and the core imports nothing optional.

base (``_jit``, ``_cli_args``, ``errors``, ``_version`` and the data tables
``releases`` and ``cpus``) <- isa (instructions) <- mlas (MLAS packing, kernels, drivers)
<- ort (operators, releases) <- analysis / teach. ``oracle`` stands beside them: it checks the
emulator, so it computes nothing with it (it reads the release list of ``ort.versions``, and its
``_worker`` runs in the Arm Python, where no mlas_emu is installed); ``oracle.model_check`` sits
above analysis. ``demo`` (a command) may use every emulator layer; the package itself, ``cli`` and
``__main__`` sit on top. No emulator layer imports the oracle.

An import is a static ``import`` / ``from`` (inside functions too: lazy imports are still
dependencies) or a string naming a module of the package (``importlib.import_module(
"mlas_emu.ort.matmul_op")``, a tuple of command modules). Names computed at run time (a package
``__init__``'s ``f"{__name__}.{_EXPORTS[name]}"``, which loads its own submodules) are not seen.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlas_emu"
_EMULATOR = {"isa", "mlas", "ort", "analysis", "teach"}

#: module, or package and everything under it -> its layer. The longest entry wins; the bare
#: package matches only itself. A module under no entry fails test_every_module_has_a_layer.
LAYER_OF = {
    "mlas_emu": "top",
    "mlas_emu.__main__": "top",
    "mlas_emu.cli": "top",
    "mlas_emu.demo": "demo",
    **{f"mlas_emu.{name}": "base" for name in ("_jit", "_cli_args", "errors", "_version",
                                                "releases", "cpus")},
    **{f"mlas_emu.{name}": name for name in _EMULATOR},
    "mlas_emu.oracle": "oracle",
    "mlas_emu.oracle._worker": "worker",
    "mlas_emu.oracle.model_check": "model_check",
}

#: layer -> what it may import besides itself: layers, or single modules ("mlas_emu....").
ALLOWED = {
    "base": {"base"},
    "isa": {"base"},
    "mlas": {"base", "isa"},
    "ort": {"base", "isa", "mlas"},
    "analysis": {"base", "isa", "mlas", "ort"},
    "teach": {"base", "isa", "mlas", "ort"},
    "worker": set(),
    "oracle": {"base", "worker", "mlas_emu.ort.versions"},
    "model_check": {"base", "oracle", "worker", "isa", "mlas", "ort", "analysis"},
    "demo": {"base", "isa", "mlas", "ort", "analysis", "teach"},
    "top": set(),  # anything: the package's lazy attributes and the command line reach every layer
}

#: Violations found today and waiting for a change that removes them: "module imports name", as
#: layering_violations() reports them. An entry that no longer occurs fails the test, so it is
#: removed when the fix lands. Empty: every import follows the rules.
KNOWN_VIOLATIONS: frozenset[str] = frozenset()

OPTIONAL = ("onnx", "onnxruntime", "matplotlib", "platformdirs", "tqdm", "tokenizers", "safetensors")
_MODULE_NAME = re.compile(r"mlas_emu(\.[A-Za-z_]\w*)+")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_in(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Absolute names of the mlas_emu modules the source of ``module`` imports (``from P import x``
    counts as ``P.x``, which is exact for submodules and one level too deep, harmlessly, for names),
    including strings that name a module of the package."""
    package = module if is_package else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(source, module)):
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
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _MODULE_NAME.fullmatch(node.value) and _is_module(node.value):
                out.add(node.value)
    return {name for name in out if name == "mlas_emu" or name.startswith("mlas_emu.")}


def imported_modules(path: Path) -> set[str]:
    return imports_in(path.read_text(), _module_name(path), is_package=path.name == "__init__.py")


def layer_of(name: str) -> str | None:
    """The layer of module ``name`` (None: unclassified)."""
    if name == "mlas_emu":
        return LAYER_OF[name]
    parts = name.split(".")
    for end in range(len(parts), 1, -1):
        layer = LAYER_OF.get(".".join(parts[:end]))
        if layer is not None:
            return layer
    return None


def _may_import(layer: str, name: str) -> bool:
    if layer == "top":
        return True
    # an attribute of the package itself (``from mlas_emu import sgemm_bf16``) is the top layer's
    target = layer_of(name) or "top"
    allowed = ALLOWED[layer]
    return target == layer or target in allowed or any(
        name == m or name.startswith(m + ".") for m in allowed if m.startswith("mlas_emu."))


def violations(module: str, imported: set[str]) -> list[str]:
    layer = layer_of(module)
    return [f"{module} ({layer}) imports {name}" for name in sorted(imported) if not _may_import(layer, name)]


def layering_violations() -> set[str]:
    return {v for module, path in _modules().items() if layer_of(module)
            for v in violations(module, imported_modules(path))}


def test_every_module_has_a_layer():
    missing = sorted(str(p.relative_to(PACKAGE.parent)) for m, p in _modules().items() if layer_of(m) is None)
    assert not missing, (f"{missing}: in no layer; add each to LAYER_OF in tests/test_layering.py "
                         "(the module docstring says what each layer may import)")
    assert len(_modules()) >= 60  # the walk saw the whole package


def test_the_table_names_real_modules_and_layers():
    assert [key for key in LAYER_OF if not _is_module(key)] == []
    layers = set(LAYER_OF.values())
    assert set(ALLOWED) == layers
    for allowed in ALLOWED.values():
        assert {a for a in allowed if not a.startswith("mlas_emu.")} <= layers
        assert all(_is_module(a) for a in allowed if a.startswith("mlas_emu."))


def test_the_scan_sees_relative_lazy_and_absolute_imports():
    names = imported_modules(PACKAGE / "teach" / "throughput.py")
    assert "mlas_emu.mlas.schedule.KernelCall" in names  # from ..mlas.schedule import ...
    assert "mlas_emu.mlas.qgemm_kernel_dot_asm" in names  # inside a function
    assert any(n.startswith("mlas_emu._jit") for n in imported_modules(PACKAGE / "isa" / "fp.py"))
    assert "mlas_emu.oracle._cli" in imported_modules(PACKAGE / "cli.py")  # a name in a tuple


@pytest.mark.parametrize("line,bad", [
    ("from ..teach import tracing", "mlas_emu.teach.tracing"),
    ("import mlas_emu.ort.matmul_op", "mlas_emu.ort.matmul_op"),
    ("def f():\n    from ..oracle import run_model", "mlas_emu.oracle.run_model"),
    ("import importlib\nm = importlib.import_module('mlas_emu.analysis.report')", "mlas_emu.analysis.report"),
    ("COMMANDS = ('mlas_emu.teach._cli',)", "mlas_emu.teach._cli"),
    ("from mlas_emu import sgemm_bf16", "mlas_emu.sgemm_bf16"),  # the package's own attribute: top
])
def test_the_checker_catches_an_upward_import(line, bad):
    """A synthetic mlas module that imports upward, statically, lazily or by a string."""
    source = f"from .._jit import njit\nfrom ..isa import bfmmla\n{line}\n"
    imported = imports_in(source, "mlas_emu.mlas.synthetic")
    assert violations("mlas_emu.mlas.synthetic", imported) == [f"mlas_emu.mlas.synthetic (mlas) imports {bad}"]


def test_the_checker_applies_the_single_module_allowance_only_to_that_module():
    assert violations("mlas_emu.oracle._x", imports_in("from ..ort.versions import ORT_RELEASES", "mlas_emu.oracle._x")) == []
    assert violations("mlas_emu.oracle._x", imports_in("from ..ort import matmul_op", "mlas_emu.oracle._x")) == [
        "mlas_emu.oracle._x (oracle) imports mlas_emu.ort.matmul_op"]
    assert violations("mlas_emu.oracle._worker", imports_in("from .. import errors", "mlas_emu.oracle._worker")) == [
        "mlas_emu.oracle._worker (worker) imports mlas_emu.errors"]


def test_imports_run_one_way():
    found = layering_violations()
    assert found - KNOWN_VIOLATIONS == set(), "imports against the layering"
    assert KNOWN_VIOLATIONS - found == set(), "fixed: remove these from KNOWN_VIOLATIONS"


def test_no_emulator_layer_imports_the_oracle():
    bad = sorted(
        f"{module} imports {name}"
        for module, path in _modules().items() if layer_of(module) in _EMULATOR | {"base"}
        for name in imported_modules(path)
        if layer_of(name) in ("oracle", "worker", "model_check")
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
