"""Record what the real MLAS kernel routines execute, instruction by instruction, into
tests/data/kernel_counts.json.

For each case (one MatMul / MatMulInteger node, small shapes with tails) and release, one ONNX
Runtime session runs under qemu-aarch64 with every candidate routine of every kernel logged
(:func:`mlas_emu.oracle.count_routine_instructions`); the file keeps, per case, the counts of
each routine that ran, keyed by kernel. Run (one QEMU at a time, a few minutes)::

    python scripts/record_kernel_counts.py [--ort 1.17.1 --ort 1.32.0] [--only sbgemm-8x8x8-packed]

1.17.1 is not in the oracle's default setup: ``mlas-emu oracle setup --ort-version 1.17.1`` first.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "kernel_counts.json"
RELEASES = ("1.17.1", "1.32.0")
FASTMATH = {"mlas.enable_gemm_fastmath_arm64_bfloat16": "1"}

#: name -> (operator, A dtype, B dtype, (M, N, K), B is a constant initializer, CPU, fastmath)
CASES = {
    "sbgemm-8x8x8-packed": ("MatMul", "float32", "float32", (8, 8, 8), True, "graviton3", True),
    "sbgemm-16x24x20-packed": ("MatMul", "float32", "float32", (16, 24, 20), True, "graviton3", True),
    "sbgemm-13x21x19-packed": ("MatMul", "float32", "float32", (13, 21, 19), True, "graviton3", True),
    "sbgemm-13x21x19-unpacked": ("MatMul", "float32", "float32", (13, 21, 19), False, "graviton3", True),
    "sbgemm-1x3x5-packed": ("MatMul", "float32", "float32", (1, 3, 5), True, "graviton3", True),
    "sgemm-8x8x8-packed": ("MatMul", "float32", "float32", (8, 8, 8), True, "graviton3", False),
    "sgemm-13x21x19-packed": ("MatMul", "float32", "float32", (13, 21, 19), True, "graviton3", False),
    "sgemm-13x21x19-unpacked": ("MatMul", "float32", "float32", (13, 21, 19), False, "graviton3", False),
    "qgemm-u8u8-8x8x8-packed": ("MatMulInteger", "uint8", "uint8", (8, 8, 8), True, "graviton3", False),
    "qgemm-u8u8-13x21x19-packed": ("MatMulInteger", "uint8", "uint8", (13, 21, 19), True, "graviton3", False),
    "qgemm-u8s8-16x24x20-packed": ("MatMulInteger", "uint8", "int8", (16, 24, 20), True, "graviton3", False),
    "qgemm-s8s8-8x16x16-packed": ("MatMulInteger", "int8", "int8", (8, 16, 16), True, "graviton3", False),
    "qgemm-s8s8-13x21x19-packed": ("MatMulInteger", "int8", "int8", (13, 21, 19), True, "graviton3", False),
    "qgemm-u8u8-13x21x19-unpacked": ("MatMulInteger", "uint8", "uint8", (13, 21, 19), False, "graviton3", False),
    "qgemm-dot-u8u8-8x8x8-packed": ("MatMulInteger", "uint8", "uint8", (8, 8, 8), True, "graviton2", False),
    "qgemm-dot-u8u8-13x21x19-packed": ("MatMulInteger", "uint8", "uint8", (13, 21, 19), True, "graviton2", False),
    "qgemm-dot-s8s8-13x21x19-packed": ("MatMulInteger", "int8", "int8", (13, 21, 19), True, "graviton2", False),
}
SEED = 0


def inputs(op, dtype_a, dtype_b, shape, packed):
    """The case's model and feeds: A (M x K) and B (K x N) from numpy's default_rng(SEED),
    standard normal for float32, uniform over the whole type for (u)int8."""
    from mlas_emu.oracle import _models

    M, N, K = shape
    rng = np.random.default_rng(SEED)

    def draw(rows, cols, dtype):
        if dtype == "float32":
            return rng.standard_normal((rows, cols)).astype(np.float32)
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max + 1, (rows, cols)).astype(dtype)

    A, B = draw(M, K, dtype_a), draw(K, N, dtype_b)
    out = np.float32 if op == "MatMul" else np.int32
    if packed:
        return _models.one_node_model(op, ["A", "B"], {"B": B}, {"A": A}, out), {"A": A}, (A, B)
    return _models.one_node_model(op, ["A", "B"], {}, {"A": A, "B": B}, out), {"A": A, "B": B}, (A, B)


def measure(name, release):
    from mlas_emu import oracle
    from mlas_emu.cpus import CPUS
    from mlas_emu.oracle import _routines

    op, dtype_a, dtype_b, shape, packed, cpu, fastmath = CASES[name]
    model, feeds, (A, B) = inputs(op, dtype_a, dtype_b, shape, packed)
    counts = oracle.count_routine_instructions(model, feeds, tuple(_routines.KERNELS), ort_version=release,
                                               cpu=cpu, session_config=FASTMATH if fastmath else None)
    kernels = {}
    for routine, per in counts.items():
        kernel = next(k for k in _routines.KERNELS
                      if any(r.start == routine.start for r in _routines.kernel_routines(release, k)))
        kernels.setdefault(kernel, []).append({
            "routine": f"{routine.start:#x}..{routine.end:#x}", "library": routine.library.name,
            "instructions": sum(per.values()), "counts": per})
    return {
        "operator": op, "A": {"dtype": dtype_a, "shape": list(A.shape), "sha256": _digest(A)},
        "B": {"dtype": dtype_b, "shape": list(B.shape), "sha256": _digest(B),
              "constant_initializer": packed},
        "seed": SEED, "fastmath": fastmath, "cpu": cpu, "qemu_cpu": CPUS[cpu].qemu_cpu,
        "threads": 1, "release": release, "kernels": kernels,
    }


def _digest(array) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def main(argv=None) -> int:
    from mlas_emu.oracle import _paths, _provision

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ort", action="append", help=f"release (repeatable; default {', '.join(RELEASES)})")
    parser.add_argument("--only", action="append", choices=sorted(CASES), help="case name (repeatable)")
    args = parser.parse_args(argv)
    data = json.loads(OUT.read_text()) if OUT.is_file() else {"cases": {}}
    data["qemu"] = ".".join(map(str, _provision.qemu_version(_paths.qemu_binary())))
    data["objdump"] = _objdump_version()
    data["command"] = "python scripts/record_kernel_counts.py"
    for release in args.ort or RELEASES:
        for name in args.only or CASES:
            start = time.time()
            entry = measure(name, release)
            data["cases"][f"{release}/{name}"] = entry
            summary = {k: sum(r["instructions"] for r in v) for k, v in entry["kernels"].items()}
            print(f"{release} {name}: {summary} ({time.time() - start:.0f} s)", flush=True)
            OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return 0


def _objdump_version() -> str:
    import subprocess

    from mlas_emu.oracle import _routines

    return subprocess.run([_routines.objdump(), "--version"], capture_output=True, text=True).stdout.splitlines()[0]


if __name__ == "__main__":
    sys.exit(main())
