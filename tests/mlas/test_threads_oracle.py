"""Intra-op threads against the oracle: ``mlas_emu.ort.matmul`` bit for bit against ONNX Runtime's
``MatMul`` on emulated Arm at 1 to 64 threads (and 80, past ARM64's platform cap of 64), on both B
paths (constant initializer, pre-packed; graph input, non-packed), fastmath on (SBGEMM) and off
(fp32 SGEMM), releases 1.17.0, 1.27.0, 1.28.0 and 1.32.0 spread over the thread counts.

Each product is big enough for the drivers' thread target (M*N*K / 65536 + 1) to reach the thread
count, so the partition of :func:`mlas_emu.mlas.threading.partition` is in play. Most shapes are
chosen so that the bits depend on it (marked "splits" below): a non-packed fp32 SGEMM whose per-thread
N sets its K blocks, a thread left with one row (the GEMV kernel), SBGEMM defect 2 on pre-packed B
(1.17-1.27: columns of threads not starting at column 0), and SBGEMM defect 1 (non-packed, per-thread
N of 64 or less with K > 256: layout garbage that moves with the per-thread N). Only defect-1 cases
may leave elements the emulator returns as NaN for memory nothing wrote; those are excused there.
Pre-packed fp32 and SBGEMM without defects never depend on the partition: those cases check that
nothing else does.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pytest

from mlas_emu import ort
from mlas_emu.errors import OrtDefectWarning
from mlas_emu.releases import release
from mlas_emu.mlas.threading import thread_target

pytestmark = pytest.mark.oracle

# (release, threads, fastmath, b_is_initializer, A shape, B shape, defect 1), with why the bits
# depend on the partition. N splits in blocks of 16 columns; M x K @ K x N.
CASES = [
    ("1.17.0", 1, True, False, (8, 40), (40, 24), False),  # one thread
    ("1.32.0", 1, False, True, (8, 300), (300, 24), False),
    ("1.28.0", 2, False, False, (16, 600), (600, 128), False),  # splits: 64 columns -> K blocks of 256
    ("1.27.0", 2, True, True, (20, 259), (259, 150), False),  # splits: defect 2 from column 80
    ("1.17.0", 3, True, True, (20, 259), (259, 150), False),  # splits: defect 2 from columns 64, 112
    ("1.32.0", 3, False, False, (16, 600), (600, 100), False),  # splits: 48/32/20 columns
    ("1.32.0", 16, False, False, (16, 600), (600, 512), False),  # splits: 32 columns -> K blocks of 512
    ("1.28.0", 16, True, True, (16, 256), (256, 256), False),
    ("1.27.0", 17, False, False, (33, 2048), (2048, 32), False),  # splits: M, the last thread's row is a GEMV
    ("1.17.0", 17, True, False, (64, 256), (256, 64), False),  # M split, no defect
    ("1.27.0", 24, True, True, (20, 259), (259, 384), False),  # splits: defect 2, 16 columns a thread
    ("1.28.0", 24, False, True, (16, 256), (256, 384), False),
    ("1.27.0", 32, True, False, (16, 300), (300, 512), True),  # splits: defect 1, 16 columns a thread
    ("1.17.0", 32, False, False, (16, 600), (600, 512), False),  # splits: 16 columns -> K blocks of 1024
    ("1.32.0", 33, False, False, (33, 2048), (2048, 32), False),  # splits: one row a thread, all GEMV
    ("1.28.0", 33, True, False, (132, 128), (128, 128), False),  # M split, no defect
    ("1.32.0", 64, True, False, (16, 300), (300, 1024), True),  # splits: defect 1, 16 columns a thread
    ("1.17.0", 64, False, False, (16, 600), (600, 1024), False),  # splits: 16 columns -> K blocks of 1024
    ("1.17.0", 64, True, True, (20, 259), (259, 1024), False),  # splits: defect 2, 16 columns a thread
    ("1.27.0", 64, False, True, (64, 1024), (1024, 64), False),  # one row a thread, pre-packed
    # past the platform cap: SBGEMM stays at 64 threads; fp32 SGEMM only before 1.22.0
    ("1.17.0", 80, False, False, (16, 600), (600, 2048), False),  # splits: 64 threads, 32 columns each
    ("1.28.0", 80, False, False, (16, 600), (600, 2048), False),  # splits: 80 threads, 16 or 32 columns
    ("1.32.0", 80, True, False, (16, 300), (300, 2048), True),  # splits: defect 1 at 64 threads
    # batches: the target is M*N*K / 65536 + 1 of one GEMM, ceil(target / batch) threads per GEMM
    ("1.32.0", 64, False, False, (4, 16, 600), (4, 600, 128), False),  # splits: 5 threads a GEMM
    ("1.28.0", 17, False, False, (3, 16, 600), (3, 600, 128), False),  # splits: 6 threads a GEMM
]


def _case_id(case):
    version, threads, fastmath, b_init, a_shape, b_shape, _ = case
    dims = "x".join(map(str, a_shape[:-1] + b_shape[-2:]))
    return f"{version}-t{threads}-{'fastmath' if fastmath else 'fp32'}-{'init' if b_init else 'input'}-{dims}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_threads_match_onnx_runtime(oracle, case):
    version, threads, fastmath, b_init, a_shape, b_shape, defect1 = case
    m, k, n = a_shape[-2], a_shape[-1], b_shape[-1]
    batch = a_shape[0] if len(a_shape) == 3 else 1
    rel = release(version)
    rule = rel.sbgemm_threads if fastmath else rel.sgemm_threads
    if batch == 1:  # the product is big enough for the complexity not to limit the thread count
        assert thread_target(m, n, k, 1, threads, rule) == min(threads, rule.maximum_threads or threads)
    rng = np.random.default_rng(zlib.crc32(_case_id(case).encode()))
    A = rng.standard_normal(a_shape).astype(np.float32)
    B = rng.standard_normal(b_shape).astype(np.float32)
    kwargs = dict(fastmath=fastmath, b_is_initializer=b_init, ort_version=version, threads=threads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = ort.matmul(A, B, **kwargs)
    want = oracle.matmul(A, B, **kwargs)
    assert got.shape == want.shape
    differ = got.view(np.uint32) != want.view(np.uint32)
    unknown = any(issubclass(w.category, OrtDefectWarning) and "nothing wrote" in str(w.message) for w in caught)
    if defect1 and unknown:
        differ &= ~np.isnan(got)
    assert not differ.any(), (
        f"{int(differ.sum())} of {differ.size} elements differ from ONNX Runtime {version} at {threads} threads; "
        f"first at {np.argwhere(differ)[0].tolist()}"
    )
