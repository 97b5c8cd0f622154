"""How MLAS divides work among the threads of ONNX Runtime's intra-op pool.

Models ``MlasPartitionWork`` and ``MlasGetMaximumThreadCount`` (onnxruntime/core/mlas/lib/mlasi.h)
and the one thread-count rule the three GEMM drivers share: ``MlasSBGemmBatch`` (sbgemm.h),
``MlasGemmBatch`` for fp32 (sgemm.cpp) and for integers (qgemm.cpp). What differs between the
drivers and between releases is a :class:`~mlas_emu.releases.ThreadRule` of the release
descriptor; :func:`partition` applies it. ``threads`` is always the emulated session's intra-op
thread count; the host cores the emulator itself uses never change results.
"""

from __future__ import annotations


def partition_work(thread_id: int, thread_count: int, total_work: int) -> tuple[int, int]:
    """``MlasPartitionWork``: the (start, count) of ``total_work`` units given to ``thread_id``.

    Work is split evenly; the first ``total_work % thread_count`` threads get one extra unit.
    """
    per_thread, extra = divmod(total_work, thread_count)
    if thread_id < extra:
        return (per_thread + 1) * thread_id, per_thread + 1
    return per_thread * thread_id + extra, per_thread


def check_threads(threads) -> int:
    """Validate the emulated intra-op thread count (a positive int)."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int (the session's intra-op thread count), got {threads!r}")
    return threads


def thread_target(M: int, N: int, K: int, batch: int, threads: int, rule) -> int:
    """The drivers' ``TargetThreadCount``: one thread per ``rule.complexity`` multiply-adds
    (M*N*K, times the batch when ``rule.batch_complexity``) plus one, at most
    ``rule.maximum_threads`` (``GetMlasPlatform().MaximumThreadCount``) when the rule has that cap,
    then at most ``MlasGetMaximumThreadCount(ThreadPool)``.

    ``MlasGetMaximumThreadCount`` is ``ThreadPool::DegreeOfParallelism`` (core/common/threadpool.cc):
    the pool's threads plus the calling one, i.e. the intra-op thread count, on a CPU that is not
    hybrid (Graviton's cores are all alike; the 4x task-granularity factor of hybrid x86 CPUs never
    applies).
    """
    complexity = float(M) * float(N) * float(K)
    if rule.batch_complexity:
        complexity *= float(batch)
    cap = rule.maximum_threads
    if cap is not None and complexity >= float(rule.complexity * cap):
        target = cap
    else:
        target = int(complexity / float(rule.complexity)) + 1
    return min(target, threads)


def threads_per_gemm(target: int, batch: int, rule) -> int:
    """``ThreadsPerGemm`` before the grid caps it: the target shared among the batch's GEMMs,
    rounded up (``rule.round_up_per_gemm``: SGEMM, SBGEMM) or down to at least one (QGEMM)."""
    if rule.round_up_per_gemm:
        return -(-target // batch)
    return max(target // batch, 1)


def partition(M: int, N: int, K: int, batch: int, threads: int, rule, align: int = 16) -> tuple[int, int]:
    """``(ThreadCountM, ThreadCountN)`` of every GEMM of a batch: :func:`thread_target`, shared
    by :func:`threads_per_gemm`, laid out by :func:`thread_grid`. The drivers run
    ``ThreadCountM * ThreadCountN * batch`` work items, GEMM ``tid // per_gemm`` taking part
    ``tid % per_gemm`` (:func:`gemm_thread_range`)."""
    check_threads(threads)
    target = thread_target(M, N, K, batch, threads, rule)
    return thread_grid(threads_per_gemm(target, batch, rule), M, N, align)


def thread_grid(threads_per_gemm: int, M: int, N: int, align: int = 16) -> tuple[int, int]:
    """``(ThreadCountM, ThreadCountN)`` of one GEMM: the 1-D split shared by ``MlasGemmBatch``
    (sgemm.cpp, qgemm.cpp) and ``MlasSBGemmBatch`` (sbgemm.h). N > M splits N, at most one
    thread per ``align`` columns; otherwise M, at most one thread per row."""
    if N > M:
        return 1, min(threads_per_gemm, -(-N // align))
    return min(threads_per_gemm, M), 1


def gemm_thread_range(tid: int, M: int, N: int, thread_count_m: int, thread_count_n: int,
                      align: int = 16) -> tuple[int, int, int, int]:
    """``(start_m, count_m, start_n, count_n)`` of thread ``tid`` of one GEMM (see
    :func:`gemm_thread_ranges`)."""
    start_m, count_m = partition_work(tid // thread_count_n, thread_count_m, M)
    start_n, count_n = partition_work(tid % thread_count_n, thread_count_n, -(-N // align))
    start_n *= align
    return start_m, count_m, start_n, min(N - start_n, count_n * align)


def gemm_thread_ranges(M: int, N: int, thread_count_m: int, thread_count_n: int,
                       align: int = 16) -> list[tuple[int, int, int, int]]:
    """``(start_m, count_m, start_n, count_n)`` of every thread id of one GEMM.

    The split shared by ``MlasSgemmThreaded`` (sgemm.cpp), ``MlasSBGemmOperation`` (sbgemm.h)
    and ``MlasGemmQuantThreaded`` (qgemm.cpp): thread ``tid`` takes row part
    ``tid // thread_count_n`` and column part ``tid % thread_count_n``, each by
    ``MlasPartitionWork``; columns are split in blocks of ``align``
    (``MLAS_SGEMM_STRIDEN_THREAD_ALIGN`` / ``MLAS_QGEMM_STRIDEN_THREAD_ALIGN`` = 16).
    A count can be zero or less (more threads than work); the drivers then return at once.
    """
    return [gemm_thread_range(tid, M, N, thread_count_m, thread_count_n, align)
            for tid in range(thread_count_m * thread_count_n)]
