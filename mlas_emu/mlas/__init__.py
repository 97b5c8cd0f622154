"""MLAS as ONNX Runtime builds it for Arm64: packing, micro-kernels and drivers.

One module per MLAS source it emulates (``sbgemm.py`` for ``sbgemm.h``, ``qgemm.py`` for
``qgemm.h``, ``*_kernel_*.py`` for the micro-kernels). Public entry points load lazily.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"sgemm_bf16": "sbgemm", "qgemm": "qgemm", "sgemm": "sgemm"}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        # Cache this module's exports: the import just bound the submodule itself under its
        # name (``matmul``, ``sgemm``), which would shadow the function of the same name.
        for export, source in _EXPORTS.items():
            if source == _EXPORTS[name] and hasattr(module, export):
                globals()[export] = getattr(module, export)
        return getattr(module, name)
    raise AttributeError(f"module 'mlas_emu.mlas' has no attribute {name!r}")
