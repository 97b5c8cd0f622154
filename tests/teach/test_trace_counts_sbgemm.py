"""SBGEMM traces against every instruction the real routine executes (oracle).

ONNX Runtime's aarch64 library runs under qemu-aarch64; ``mlas_emu.oracle.count_kernel_instructions``
counts, by mnemonic, every instruction executed inside ``MlasSbgemmKernelZero/Add`` while a session
runs several fastmath MatMuls (one node each). The traces of those products must add up to it,
mnemonic by mnemonic. Shapes cover 1-8 row groups, every column-block width and store tail, K
tails (the padded step before 1.28.0, padded CountK from 1.28.0), K blocks of 256 (Add mode),
the non-packed path's widened K stride and threads.
"""

from __future__ import annotations

from collections import Counter

import pytest

from mlas_emu.teach import trace

from test_tracing import _onnx_model

# (op, M, N, K, A type, B type, B is an initializer)
NODES = [
    ("MatMul", 8, 8, 8, "f32", "f32", True),
    ("MatMul", 3, 5, 7, "f32", "f32", True),
    ("MatMul", 5, 131, 259, "f32", "f32", True),
    ("MatMul", 13, 21, 19, "f32", "f32", True),
    ("MatMul", 9, 17, 40, "f32", "f32", False),
    ("MatMul", 2, 24, 300, "f32", "f32", False),
    ("MatMul", 1, 37, 6, "f32", "f32", False),
]


@pytest.mark.oracle
@pytest.mark.parametrize("version", ["1.17.0", "1.32.0"])
def test_every_mnemonic_equals_the_real_routine(oracle, version):
    model, feeds = _onnx_model(NODES)
    expected: Counter = Counter()
    for _, M, N, K, _, _, packed in NODES:
        expected.update(trace("sbgemm", M, N, K, packed_b=packed, ort_version=version).counts)
    got = oracle.count_kernel_instructions(model, feeds, "sbgemm", ort_version=version,
                                           session_config={oracle.FASTMATH_CONFIG_KEY: "1"})
    assert got == dict(expected)
