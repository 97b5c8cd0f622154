"""MlasPartitionWork, the thread-count rule and the M x N thread split the GEMM drivers share
(mlas_emu.mlas.threading), against splits worked out by hand from mlasi.h / sgemm.cpp / sbgemm.h /
qgemm.cpp, a step-by-step transcription of the drivers, and each release's ThreadRule."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlas_emu.mlas.threading import gemm_thread_ranges, partition, partition_work, thread_target
from mlas_emu.releases import ORT_RELEASES, ThreadRule, release, version_tuple


def test_partition_work_gives_the_remainder_to_the_first_threads():
    assert [partition_work(t, 3, 10) for t in range(3)] == [(0, 4), (4, 3), (7, 3)]
    assert [partition_work(t, 4, 2) for t in range(4)] == [(0, 1), (1, 1), (2, 0), (2, 0)]


@pytest.mark.parametrize("M, N, count_m, count_n, expected", [
    # N split in blocks of 16: 100 columns = 7 blocks -> 4 + 3 blocks -> 64 + 36 columns
    (16, 100, 1, 2, [(0, 16, 0, 64), (0, 16, 64, 36)]),
    # M split: 10 rows over 3 threads -> 4, 3, 3
    (10, 8, 3, 1, [(0, 4, 0, 8), (4, 3, 0, 8), (7, 3, 0, 8)]),
    # a partial last block: 20 columns = 2 blocks -> 16 + 4 columns
    (1, 20, 1, 2, [(0, 1, 0, 16), (0, 1, 16, 4)]),
    # M and N both split (thread id = row part * count_n + column part)
    (5, 40, 2, 2, [(0, 3, 0, 32), (0, 3, 32, 8), (3, 2, 0, 32), (3, 2, 32, 8)]),
])
def test_gemm_thread_ranges(M, N, count_m, count_n, expected):
    assert gemm_thread_ranges(M, N, count_m, count_n) == expected


# --------------------------------------------------------------------------------------------
# The thread-count rule (threading.partition) and each driver's ThreadRule per release


def _reference_partition(M, N, K, batch, threads, rule, align=16):
    """The drivers' code path written out step by step (``MlasSBGemmBatch`` in sbgemm.h,
    ``MlasGemmBatch`` in sgemm.cpp and qgemm.cpp), a pool of ``threads`` on a non-hybrid CPU."""
    complexity = float(M) * float(N) * float(K) * (float(batch) if rule.batch_complexity else 1.0)
    if rule.maximum_threads is None:
        target = int(complexity / float(rule.complexity)) + 1
    elif complexity < float(rule.complexity * rule.maximum_threads):
        target = int(complexity / float(rule.complexity)) + 1
    else:
        target = rule.maximum_threads
    maximum = threads  # MlasGetMaximumThreadCount: DegreeOfParallelism = pool threads + 1
    if target >= maximum:
        target = maximum
    if rule.round_up_per_gemm:
        per_gemm = (target + batch - 1) // batch
    else:
        per_gemm = target // batch
        if per_gemm < 1:
            per_gemm = 1
    if N > M:
        blocked_n = (N + align - 1) // align
        if per_gemm > blocked_n:
            per_gemm = blocked_n
        return 1, per_gemm
    if per_gemm > M:
        per_gemm = M
    return per_gemm, 1


def test_the_release_table_of_thread_rules():
    for version in ORT_RELEASES:
        rel = release(version)
        # sbgemm.h: M*N*K, capped at ARM64's MaximumThreadCount = MLAS_MAXIMUM_THREAD_COUNT * 4
        assert rel.sbgemm_threads == ThreadRule(65536, 64, False, True), version
        capped = version_tuple(version) < (1, 22, 0)  # #23815 dropped the cap in sgemm.cpp, qgemm.cpp
        assert rel.sgemm_threads == ThreadRule(65536, 64 if capped else None, False, True), version
        assert rel.qgemm_threads == ThreadRule(65536, 64 if capped else None, True, False), version


@pytest.mark.parametrize("M, N, K, batch, threads, version, driver, expected", [
    (2048, 2048, 2048, 1, 32, "1.17.0", "sbgemm", (32, 1)),  # the pool's 32 threads, not 16
    (2048, 2048, 2048, 1, 200, "1.32.0", "sbgemm", (64, 1)),  # the platform cap of 64
    (2048, 2048, 2048, 1, 200, "1.21.1", "sgemm", (64, 1)),
    (2048, 2048, 2048, 1, 200, "1.22.0", "sgemm", (200, 1)),  # no platform cap from 1.22.0
    (16, 2048, 600, 1, 80, "1.17.0", "sgemm", (1, 64)),  # 19.7M MACs: target 301
    (16, 2048, 600, 1, 80, "1.28.0", "sgemm", (1, 80)),
    (600, 16, 128, 4, 64, "1.32.0", "sgemm", (5, 1)),  # ceil(19 / 4) threads per GEMM; M >= N splits M
    (16, 128, 600, 4, 64, "1.32.0", "sgemm", (1, 5)),
    (16, 128, 600, 4, 64, "1.32.0", "qgemm", (1, 8)),  # 4*1.2M MACs: target 76 -> 64 // 4 = 16 -> 8 blocks
    (16, 128, 600, 4, 3, "1.32.0", "qgemm", (1, 1)),  # 3 // 4 -> at least one thread per GEMM
    (8, 8, 8, 1, 200, "1.17.0", "qgemm", (1, 1)),  # 512 MACs: one thread
])
def test_partition_examples(M, N, K, batch, threads, version, driver, expected):
    rule = getattr(release(version), f"{driver}_threads")
    assert partition(M, N, K, batch, threads, rule) == expected


_RULES = st.sampled_from(sorted({getattr(release(v), f"{d}_threads") for v in ORT_RELEASES
                                 for d in ("sbgemm", "sgemm", "qgemm")}, key=repr))
_DIMS = st.integers(1, 4096)


@settings(max_examples=400, deadline=None)
@given(M=_DIMS, N=_DIMS, K=st.integers(1, 1 << 16), batch=st.integers(1, 12), threads=st.integers(1, 200),
       rule=_RULES)
def test_partition_follows_the_drivers(M, N, K, batch, threads, rule):
    count_m, count_n = partition(M, N, K, batch, threads, rule)
    assert (count_m, count_n) == _reference_partition(M, N, K, batch, threads, rule)
    target = thread_target(M, N, K, batch, threads, rule)
    assert 1 <= target <= min(threads, rule.maximum_threads or threads)
    assert thread_target(M, N, K, batch, threads + 1, rule) >= target  # more threads never fewer
    assert min(count_m, count_n) == 1 and 1 <= count_m <= M and 1 <= count_n <= -(-N // 16)
    assert count_m * count_n <= max(-(-target // batch), 1)
    if threads <= 64:  # below the platform cap, capped and uncapped releases agree
        assert partition(M, N, K, batch, threads, replace(rule, maximum_threads=None)) == (count_m, count_n)


@settings(max_examples=200, deadline=None)
@given(M=st.integers(1, 300), N=st.integers(1, 1200), K=st.integers(1, 4096), threads=st.integers(1, 200),
       rule=_RULES)
def test_thread_ranges_cover_the_matrix_once(M, N, K, threads, rule):
    count_m, count_n = partition(M, N, K, 1, threads, rule)
    covered = np.zeros((M, N), dtype=np.int64)
    for m0, mc, n0, nc in gemm_thread_ranges(M, N, count_m, count_n):
        assert n0 % 16 == 0
        if mc > 0 and nc > 0:
            covered[m0:m0 + mc, n0:n0 + nc] += 1
    assert (covered == 1).all()


def test_drivers_use_their_release_rule():
    from mlas_emu.mlas import qgemm, sbgemm, sgemm

    for version in ("1.17.0", "1.21.1", "1.22.0", "1.32.0"):
        rel = release(version)
        part = sbgemm.thread_partition(2048, 2048, 2048, 1, 100, version)
        assert (part.thread_count_m, part.thread_count_n) == partition(2048, 2048, 2048, 1, 100, rel.sbgemm_threads)
        assert part.threads_per_gemm == part.thread_count_m * part.thread_count_n
        assert sgemm.thread_counts(16, 2048, 600, 1, 100, version) == partition(16, 2048, 600, 1, 100,
                                                                               rel.sgemm_threads)
        counts = partition(16, 4096, 600, 1, 100, rel.qgemm_threads)
        assert qgemm.thread_ranges(16, 4096, 600, 100, ort_version=version) == gemm_thread_ranges(16, 4096, *counts)
    # None is the newest release
    assert sgemm.thread_counts(16, 2048, 600, 1, 100) == sgemm.thread_counts(16, 2048, 600, 1, 100, "1.32.0")
    with pytest.raises(ValueError, match="unknown ONNX Runtime release"):
        sbgemm.thread_partition(8, 8, 8, 1, 2, "1.16.0")
