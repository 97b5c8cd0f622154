"""ONNX Runtime's CPU operators as they dispatch to MLAS on Arm64, per release.

``matmul`` / ``fused_matmul`` (fp32, bf16 fastmath or fp32 SGEMM), ``gemm`` / ``fused_gemm``
(fp32 SGEMM) and the quantized MatMuls
(``matmul_integer``, ``dynamic_quantize_matmul``, ``matmul_integer_to_float``,
``qlinear_matmul``). Public entry points load lazily.
"""

from __future__ import annotations

import importlib

from .versions import DEFAULT_ORT_VERSION, ORT_RELEASES, resolve_ort_version

_EXPORTS = {
    "matmul": "matmul_op",
    "fused_matmul": "matmul_op",
    "gemm": "gemm_op",
    "fused_gemm": "gemm_op",
    "matmul_integer": "quantization",
    "dynamic_quantize_matmul": "quantization",
    "matmul_integer_to_float": "quantization",
    "qlinear_matmul": "quantization",
}

__all__ = ["DEFAULT_ORT_VERSION", "ORT_RELEASES", "resolve_ort_version", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'mlas_emu.ort' has no attribute {name!r}")


def __dir__():
    # What is loaded plus what __getattr__ loads on first use, so tab completion offers both.
    return sorted({*globals(), *__all__})
