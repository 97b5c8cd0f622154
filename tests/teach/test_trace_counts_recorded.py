"""Traces against the recorded executions of the real kernel routines, every mnemonic.

tests/data/kernel_counts.json holds, per case, what ONNX Runtime's aarch64 wheel executed inside
each MLAS kernel routine under QEMU (``scripts/record_kernel_counts.py``: operator, shapes, input
hashes, release, CPU, QEMU and objdump versions; counted by
``mlas_emu.oracle.count_kernel_instructions``). A trace of the same product must have the same
count of every mnemonic. The live oracle tests re-measure a few cases
(tests/oracle/test_count.py, tests/teach/test_trace_counts_sbgemm.py).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from mlas_emu.teach import trace

DATA = json.loads((Path(__file__).parents[1] / "data" / "kernel_counts.json").read_text())["cases"]
_KIND = {"uint8": "u8", "int8": "s8"}


def _kernel(case) -> str:
    (routine,) = case["kernels"]
    if case["operator"] == "MatMul":
        return routine  # "sbgemm" or "sgemm" (fastmath gated off)
    kind = _KIND[case["A"]["dtype"]] + _KIND[case["B"]["dtype"]]
    return ("qgemm-dot-" if routine.startswith("qgemm-udot") or routine.startswith("qgemm-sdot") else "qgemm-") + kind


CASES = sorted(DATA)


@pytest.mark.parametrize("name", CASES)
def test_trace_counts_equal_the_recorded_routine(name):
    """Every mnemonic, the compiled SVE QGEMM routine's (1.30.0+ on Graviton3/4) included."""
    case = DATA[name]
    (M, K), (_, N) = case["A"]["shape"], case["B"]["shape"]
    expected: Counter = Counter()
    for run in next(iter(case["kernels"].values())):
        expected.update(run["counts"])
    t = trace(_kernel(case), M, N, K, packed_b=case["B"]["constant_initializer"], threads=case["threads"],
              ort_version=case["release"], cpu=case["cpu"])
    assert t.counts == dict(expected)
