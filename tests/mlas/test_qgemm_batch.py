"""``mlas_emu.mlas.qgemm.gemm_batch``: MLAS's ``MlasGemmBatch`` over broadcast batches.

Exact reference: int64 NumPy sums of ``(A - zpA) * (B - zpB)`` (exact at these sizes), reduced
modulo 2^32 to int32, which is what MLAS's wrapping int32 arithmetic gives. The per-GEMM thread
count of the instruction path is checked against :func:`mlas_emu.mlas.threading.partition`,
MLAS's batch rule written independently of it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlas_emu.mlas.qgemm import gemm_batch
from mlas_emu.mlas.threading import partition, thread_target, threads_per_gemm
from mlas_emu.releases import ORT_RELEASES, release

KINDS = {"u8u8": (np.uint8, np.uint8), "u8s8": (np.uint8, np.int8), "s8s8": (np.int8, np.int8)}


def ints(rng, dtype, shape):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


def exact(A, B, zpa, zpb):
    sums = np.matmul(A.astype(np.int64) - int(zpa), B.astype(np.int64) - np.asarray(zpb, np.int64))
    return sums.astype(np.uint32).view(np.int32)


BATCHES = [((), ()), ((2,), ()), ((), (3,)), ((2, 1), (3,)), ((1, 2), (2, 1, 1)), ((0,), (1,))]


@settings(max_examples=60, deadline=None)
@given(mnk=st.tuples(st.integers(1, 19), st.integers(1, 19), st.one_of(st.integers(0, 40), st.sampled_from([258, 385]))),
       batches=st.sampled_from(BATCHES), kind=st.sampled_from(list(KINDS)),
       zp_form=st.sampled_from(["scalar", "column", "batch"]), seed=st.integers(0, 2**32 - 1))
@example(mnk=(3, 5, 520), batches=((2,), (2,)), kind="u8u8", zp_form="batch", seed=1)
def test_fast_path_is_the_exact_product_of_every_batch_matrix(mnk, batches, kind, zp_form, seed):
    rng = np.random.default_rng(seed)
    (m, n, k), (a_batch, b_batch) = mnk, batches
    a_dt, b_dt = KINDS[kind]
    A, B = ints(rng, a_dt, a_batch + (m, k)), ints(rng, b_dt, b_batch + (k, n))
    zpa = ints(rng, a_dt, ())
    zpb = {"scalar": ints(rng, b_dt, ()), "column": ints(rng, b_dt, (n,)),
           "batch": ints(rng, b_dt, b_batch + (1, n))}[zp_form]
    got = gemm_batch(A, B, zpa, zpb, packed_b=B.ndim == 2, threads=3)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, exact(A, B, zpa, zpb))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mnk=st.tuples(st.integers(1, 12), st.integers(1, 20), st.sampled_from([5, 16, 33])),
       batches=st.sampled_from(BATCHES[:5]), kind=st.sampled_from(list(KINDS)), cpu=st.sampled_from(["graviton3",
       "graviton2"]), threads=st.sampled_from([1, 2, 5]), seed=st.integers(0, 2**32 - 1))
def test_instruction_path_runs_every_batch_matrix(mnk, batches, kind, cpu, threads, seed):
    rng = np.random.default_rng(seed)
    (m, n, k), (a_batch, b_batch) = mnk, batches
    a_dt, b_dt = KINDS[kind]
    A, B = ints(rng, a_dt, a_batch + (m, k)), ints(rng, b_dt, b_batch + (k, n))
    zpb = ints(rng, b_dt, b_batch + (1, n)) if cpu == "graviton3" else ints(rng, b_dt, ())  # DOT path: per tensor
    got = gemm_batch(A, B, 3, zpb, packed_b=B.ndim == 2, threads=threads, cpu=cpu, path="instructions")
    np.testing.assert_array_equal(got, exact(A, B, 3, zpb))


def test_a_trace_records_every_gemm_of_the_batch():
    rng = np.random.default_rng(1)
    A, B = ints(rng, np.uint8, (3, 8, 8)), ints(rng, np.uint8, (8, 8))
    one, three = [], []
    gemm_batch(A[0], B, path="instructions", trace=one, ort_version="1.17.1")
    gemm_batch(A, B, path="instructions", trace=three, ort_version="1.17.1")
    count = lambda trace: sum(r.mnemonic == "ummla" for r in trace)  # noqa: E731
    assert count(one) == 16 and count(three) == 3 * 16  # 16 UMMLA per 8x8x8 GEMM, as real ORT runs (test_qgemm.py)


@pytest.mark.parametrize("version", [ORT_RELEASES[0], "1.21.1", "1.22.0", ORT_RELEASES[-1]])
def test_one_gemm_with_its_share_of_threads_has_the_batch_partition(version):
    """The instruction path runs each GEMM of a batch of ``count`` as one GEMM given
    ``max(target // count, 1)`` threads; its partition must be the batch's."""
    rule = release(version).qgemm_threads
    rng = np.random.default_rng(2)
    for _ in range(300):
        m, n, k = (int(x) for x in rng.integers(1, 700, 3))
        count, threads = int(rng.integers(1, 40)), int(rng.integers(1, 100))
        per_gemm = threads_per_gemm(thread_target(m, n, k, count, threads, rule), count, rule)
        assert partition(m, n, k, 1, per_gemm, rule) == partition(m, n, k, count, threads, rule)


def test_inputs_are_not_modified():
    rng = np.random.default_rng(3)
    A, B, zpb = ints(rng, np.uint8, (2, 4, 9)), ints(rng, np.int8, (2, 9, 6)), ints(rng, np.int8, (2, 1, 6))
    copies = [x.copy() for x in (A, B, zpb)]
    gemm_batch(A, B, 1, zpb, packed_b=False)
    gemm_batch(A, B, 1, zpb, packed_b=False, path="instructions")
    for x, y in zip((A, B, zpb), copies):
        np.testing.assert_array_equal(x, y)


U = np.zeros((2, 3, 4), np.uint8)
V = np.zeros((4, 5), np.int8)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: gemm_batch(U.astype(np.int16), V), TypeError, "int8 or uint8"),
    (lambda: gemm_batch(U.tolist(), V), TypeError, "numpy array"),
    (lambda: gemm_batch(U[0, 0], V), ValueError, "at least 2 dimensions"),
    (lambda: gemm_batch(U, V[:3]), ValueError, "K"),
    (lambda: gemm_batch(U, np.zeros((3, 4, 5), np.int8), packed_b=False), ValueError, "do not broadcast"),
    (lambda: gemm_batch(U, np.zeros((2, 4, 5), np.int8)), ValueError, "packed_b=True needs a 2-D B"),
    (lambda: gemm_batch(U, V, packed_b=1), TypeError, "packed_b"),
    (lambda: gemm_batch(U.view(np.int8), V.view(np.uint8)), TypeError, "int8 A and uint8 B"),
    (lambda: gemm_batch(U, V, a_zero_point=256), ValueError, r"\[0, 255\]"),
    (lambda: gemm_batch(U, V, a_zero_point=True), TypeError, "integer"),
    (lambda: gemm_batch(U, V, b_zero_point=np.zeros(4, np.int8)), ValueError, r"broadcast to \(1, 5\)"),
    (lambda: gemm_batch(U, V, b_zero_point=np.zeros((2, 5), np.int8)), ValueError, "b_zero_point has shape"),
    (lambda: gemm_batch(U, V, b_zero_point=np.full(5, 200)), ValueError, r"\[-128, 127\]"),
    (lambda: gemm_batch(U, V, threads=0), ValueError, "threads"),
    (lambda: gemm_batch(U, V, path="slow"), ValueError, "path"),
    (lambda: gemm_batch(U, V, trace=[]), ValueError, "trace"),
    (lambda: gemm_batch(U, V, cpu="x"), ValueError, "unknown cpu"),
    (lambda: gemm_batch(U, V, ort_version="1.0"), ValueError, "1.17.0"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
