"""The real-Arm oracle: ONNX Runtime's aarch64 wheels and an ACLE instruction harness, run by
qemu-aarch64 on any Linux x86 machine.

It stands beside the emulator layers (which never import it) and is what tests, benchmarks and
users compare the emulator with::

    from mlas_emu import oracle
    oracle.unavailable_reason()            # None when `mlas-emu oracle setup` has been run
    oracle.matmul(A, B, fastmath=True, ort_version="1.23.2", threads=2)
    oracle.run_instructions("bfmmla", vd, vn, vm)

Calls go to persistent Arm-side processes (one ONNX Runtime worker per release and CPU model,
one harness run per ``run_instructions`` batch), so many small calls stay cheap.
See docs/oracle.md for what it proves and what it cannot.
"""

from __future__ import annotations

import importlib

from ..errors import OracleError, OracleUnavailable  # noqa: F401  (re-exported)

_EXPORTS = {
    "unavailable_reason": "_api",
    "run_model": "_api",
    "matmul": "_api",
    "matmul_integer": "_api",
    "dynamic_quantize_matmul": "_api",
    "FASTMATH_CONFIG_KEY": "_api",
    "run_instructions": "_harness",
    "INSTRUCTIONS": "_harness",
    "count_instructions": "_count",
    "count_kernel_instructions": "_kernel_count",
    "count_routine_instructions": "_kernel_count",
    "kernel_routines": "_routines",
    "kernel_disassembly": "_routines",
    "KERNELS": "_routines",
    "check_against_arm": "model_check",
    "setup": "_provision",
    "status": "_status",
    "shutdown": "_client",
    "oracle_dir": "_paths",
    "oracle_versions": "_paths",
    "DEFAULT_CPU": "_paths",
    "DEFAULT_SETUP_VERSIONS": "_paths",
}

__all__ = sorted([*_EXPORTS, "OracleError", "OracleUnavailable"])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mlas_emu.oracle' has no attribute {name!r}")


def __dir__():
    return __all__
