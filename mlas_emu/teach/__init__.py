"""Learning how MMLA kernels work: instruction traces, pictures, a DOT vs MMLA throughput model.

Everything here is drawn from the same kernel models that are checked bit for bit against real
Arm execution. ``trace(kernel, M, N, K)`` lists what MLAS's micro-kernel executes;
:mod:`mlas_emu.teach.figures` draws the tiles (matplotlib, the ``viz`` extra);
:mod:`mlas_emu.teach.throughput` estimates MMLA against DOT/FMLA kernels on Neoverse V1.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"trace": "tracing", "Trace": "tracing", "KERNELS": "tracing"}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'mlas_emu.teach' has no attribute {name!r}")


def __dir__():
    # What is loaded plus what __getattr__ loads on first use, so tab completion offers both.
    return sorted({*globals(), *__all__})
