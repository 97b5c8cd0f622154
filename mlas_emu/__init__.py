"""mlas-emu: what ONNX Runtime computes on Arm (BFMMLA, SMMLA, UMMLA), bit for bit, on any machine.

Layers, each importing only the one below it::

    isa       instruction semantics (Arm ARM pseudocode)          mlas_emu.isa
    mlas      MLAS packing, micro-kernels and drivers             mlas_emu.mlas
    ort       ONNX Runtime operator dispatch, release profiles    mlas_emu.ort
    analysis  error metrics and bounds; teach: traces, pictures   mlas_emu.analysis, mlas_emu.teach
    oracle    real Arm execution under qemu-aarch64 (beside them) mlas_emu.oracle

    releases and cpus: the modelled ONNX Runtime releases and Graviton CPUs, as data read by
    every layer (mlas_emu.releases, mlas_emu.cpus).

Submodules load lazily so ``import mlas_emu`` stays cheap.
"""

from __future__ import annotations

import importlib

from ._version import __version__

_SUBMODULES = ("isa", "mlas", "ort", "analysis", "teach", "oracle", "errors", "releases", "cpus")
# name -> module defining it (the module path, not a package attribute: a submodule named
# like its function would shadow it once imported).
_SHORTCUTS = {"sgemm_bf16": "mlas.sbgemm", "qgemm": "mlas.qgemm"}

__all__ = ["__version__", *_SUBMODULES, *_SHORTCUTS]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _SHORTCUTS:
        return getattr(importlib.import_module(f"{__name__}.{_SHORTCUTS[name]}"), name)
    raise AttributeError(f"module 'mlas_emu' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
