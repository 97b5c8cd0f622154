"""What is installed, and whether the oracle can run: ``status()`` and ``unavailable_reason()``."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from . import _paths

SETUP_HINT = "run: mlas-emu oracle setup"


def unavailable_reason(ort_version=None, cpu=None) -> str | None:
    """``None`` when ready, else the reason and the fix (see ``mlas_emu.oracle.unavailable_reason``)."""
    if _paths.qemu_binary() is None:
        return f"the oracle's qemu-aarch64 is not installed in {_paths.qemu_dir()}; {SETUP_HINT}"
    if not _paths.is_complete(_paths.sysroot_dir()):
        return f"the arm64 CPython sysroot is not installed in {_paths.sysroot_dir()}; {SETUP_HINT}"
    if cpu is not None:
        try:
            check_cpu(cpu)
        except ValueError as exc:
            return str(exc)
    if ort_version is None:
        versions = _paths.DEFAULT_SETUP_VERSIONS
        reason = harness_unavailable_reason()
        if reason is not None:
            return reason
    else:
        try:
            versions = (_paths.check_oracle_version(ort_version),)
        except ValueError as exc:
            return str(exc)
    missing = [v for v in versions if not _paths.is_complete(_paths.ort_dir(v))]
    if missing:
        flags = " ".join(f"--ort-version {v}" for v in missing)
        return f"ONNX Runtime {', '.join(missing)} (aarch64) not installed; run: mlas-emu oracle setup {flags}"
    return None


def harness_unavailable_reason() -> str | None:
    if _paths.qemu_binary() is None:
        return f"the oracle's qemu-aarch64 is not installed in {_paths.qemu_dir()}; {SETUP_HINT}"
    from ._provision import harness_is_current

    if not harness_is_current():
        return f"the instruction harness is not built (or is out of date); {SETUP_HINT}"
    return None


@functools.lru_cache(maxsize=None)
def qemu_cpu_models() -> frozenset[str]:
    qemu = _paths.qemu_binary()
    if qemu is None:
        return frozenset()
    out = subprocess.run([qemu, "-cpu", "help"], stdout=subprocess.PIPE, text=True).stdout
    return frozenset(line.split()[0] for line in out.splitlines()[1:] if line.strip())


def check_cpu(cpu: str) -> str:
    """Validate a QEMU ``-cpu`` value (model name, optionally ``,prop=value`` flags)."""
    if not isinstance(cpu, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+=[A-Za-z0-9_.-]+)*", cpu):
        raise ValueError(f"qemu_cpu must be a QEMU -cpu value like {_paths.DEFAULT_CPU!r} or "
                         f"'max,sme=off,sve128=on', got {cpu!r}")
    models = qemu_cpu_models()
    model = cpu.split(",")[0]
    if models and model not in models:
        raise ValueError(f"qemu-aarch64 has no CPU model {model!r}; known: {', '.join(sorted(models))}")
    return cpu


def resolve_qemu_cpu(cpu=None, qemu_cpu=None) -> str:
    """The ``-cpu`` value for a named CPU of :data:`mlas_emu.cpus.CPUS` (``cpu``, default
    Graviton3) or, oracle-only, a raw QEMU value (``qemu_cpu``); not both."""
    from ..cpus import resolve_cpu

    if qemu_cpu is not None:
        if cpu is not None:
            raise ValueError(f"give cpu= (a name: graviton2/3/4) or qemu_cpu= (a raw QEMU -cpu value), "
                             f"not both (got {cpu!r} and {qemu_cpu!r})")
        return check_cpu(qemu_cpu)
    return resolve_cpu(cpu).qemu_cpu


def status() -> dict:
    """What is installed: paths, versions and sizes (printed by ``mlas-emu oracle status``)."""
    from ._provision import harness_is_current, missing_host_packages

    root = _paths.oracle_dir()
    qemu = _paths.qemu_binary()
    info = {
        "dir": str(root),
        "default_cpu": _paths.DEFAULT_CPU,
        "qemu": {"path": qemu, "version": _qemu_version(qemu)},
        "cross_compiler": shutil.which(_paths.CROSS_GCC),
        "missing_host_packages": missing_host_packages(),
        "sysroot": _dir_info(_paths.sysroot_dir()),
        "ort": {},
        "harness": {"built": harness_is_current(), "path": str(_paths.harness_binary())},
    }
    ort_root = root / "ort"
    if ort_root.is_dir():
        for folder in sorted(ort_root.iterdir()):
            if _paths.is_complete(folder):
                info["ort"][folder.name] = {**_dir_info(folder), "numpy": _dist_version(folder, "numpy")}
    info["total_mb"] = round(_size(root) / 2**20, 1) if root.is_dir() else 0.0
    info["unavailable_reason"] = unavailable_reason()
    info["ready"] = info["unavailable_reason"] is None
    return info


def _qemu_version(qemu: str | None) -> str | None:
    if qemu is None:
        return None
    out = subprocess.run([qemu, "--version"], stdout=subprocess.PIPE, text=True).stdout
    match = re.search(r"version (\S+)", out)
    return match.group(1) if match else out.strip()


def _dir_info(path: Path) -> dict:
    installed = _paths.is_complete(path)
    return {"installed": installed, "path": str(path),
            "mb": round(_size(path) / 2**20, 1) if installed else 0.0}


def _dist_version(folder: Path, name: str) -> str | None:
    found = sorted(folder.glob(f"{name}-*.dist-info"))
    return found[0].name[len(name) + 1:-len(".dist-info")] if found else None


def _size(path: Path) -> int:
    total = 0
    for item in path.rglob("*"):
        if item.is_file() and not item.is_symlink():
            total += item.stat().st_size
    return total
