"""MLAS as ONNX Runtime builds it for Arm64: packing, micro-kernels and drivers.

One module per MLAS source it emulates (``sbgemm.py`` for ``sbgemm.h``, ``qgemm.py`` for
``qgemm.h``, ``*_kernel_*.py`` for the micro-kernels). Public entry points load lazily.
"""

from __future__ import annotations

import importlib

# Only names that differ from a submodule's name: ``mlas_emu.mlas.qgemm`` and
# ``mlas_emu.mlas.sgemm`` are the modules (``mlas_emu.qgemm`` is the function), because an
# import of a submodule rebinds its name on this package.
_EXPORTS = {"sgemm_bf16": "sbgemm"}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'mlas_emu.mlas' has no attribute {name!r}")


def __dir__():
    # What is loaded plus what __getattr__ loads on first use, so tab completion offers both.
    return sorted({*globals(), *__all__})
