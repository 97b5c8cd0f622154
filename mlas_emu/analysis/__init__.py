"""Numerical error of bf16 fastmath and int8 on GEMMs and whole ONNX models.

- :func:`compare` -> :class:`ErrorReport` (the metrics of docs/analysis.md, HTML table, plots, JSON);
- :func:`bound`: an a-priori componentwise error bound for MLAS SBGEMM, :func:`tightness`;
- :func:`run_model` / :func:`compare_modes`: an ONNX model on this machine with every GEMM run by
  the emulated Arm kernels (modes ``fp32``, ``bf16-fastmath``, ``int8-dynamic``);
- :mod:`~mlas_emu.analysis.minilm`: all-MiniLM-L6-v2 as an ONNX graph built from its weights;
- :func:`check_against_arm`: the same model run by ONNX Runtime on emulated Arm (the oracle).

Public entry points load lazily; onnx, onnxruntime, matplotlib and tokenizers only when used.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "compare": "report",
    "ErrorReport": "report",
    "ulp_distance": "report",
    "bound": "bound",
    "tightness": "bound",
    "run_model": "runner",
    "compare_modes": "runner",
    "ModelRun": "runner",
    "ModelComparison": "runner",
    "MODES": "runner",
    "minilm_demo": "demo",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'mlas_emu.analysis' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
