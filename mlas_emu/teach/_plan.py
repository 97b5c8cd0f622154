"""Which micro-kernel calls an MLAS GEMM makes: the driver loops, strides and thread split.

A plan is the list of :class:`KernelCall` s that ONNX Runtime's MLAS drivers issue for one
GEMM, in the order one thread issues them (threads in id order). Only the loop structure is
modelled here; what each call computes is the business of the kernel models in
:mod:`mlas_emu.mlas`. Sources (onnxruntime/core/mlas/lib, ONNX Runtime 1.17.1):

- SBGEMM: ``sbgemm.h`` ``MlasSBGemmBatch`` (thread count and 1-D split),
  ``MlasSBGemmOperation`` (per-thread ranges), ``MlasSBGemmPackedOperation`` (N slices of 128,
  K slices of 256) and ``MlasSBGemmNonPackedOperation`` (strides widened or narrowed from N and K).
- QGEMM: ``qgemm.h`` ``MlasGemmQuantOperation`` / ``MlasGemmQuantPackedOperation``: K slices of
  ``Strides.K`` (256, or 384 with pre-packed B), N slices of 128, M panels of 24, then the
  kernel is called until the panel's rows are handled.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..mlas.threading import partition_work

#: ``MLAS_SGEMM_THREAD_COMPLEXITY`` / ``MLAS_SBGEMM_THREAD_COMPLEXITY`` / ``MLAS_QGEMM_THREAD_COMPLEXITY``.
THREAD_COMPLEXITY = 65536
#: ``MLAS_MAXIMUM_THREAD_COUNT`` (the platform's ``MaximumThreadCount``).
MAXIMUM_THREAD_COUNT = 16
#: ``MLAS_SGEMM_STRIDEN_THREAD_ALIGN`` / ``MLAS_QGEMM_STRIDEN_THREAD_ALIGN``.
STRIDEN_THREAD_ALIGN = 16


@dataclass(frozen=True)
class KernelCall:
    """One call of an MLAS micro-kernel.

    ``rows`` is what the kernel handles (8, 4, 2 or 1: its return value); ``m``/``n``/``k`` are the
    first row, column and depth index of C/A/B it works on; ``count_n`` and ``count_k`` are the
    CountN and CountK (unpadded) arguments; ``zero_mode`` is the ZeroMode argument (first K slice).
    """

    thread: int
    m: int
    rows: int
    n: int
    count_n: int
    k: int
    count_k: int
    zero_mode: bool


def rows_handled(count_m: int) -> int:
    """Rows one kernel call handles given CountM: 8, 4, 2 or 1 (the kernels' ``ProcessRows``)."""
    for rows in (8, 4, 2):
        if count_m >= rows:
            return rows
    return 1


def _row_calls(thread, m0, count_m, n, count_n, k, count_k, zero_mode):
    """The wrapper's loop: call the kernel until the panel's ``count_m`` rows are handled."""
    calls = []
    m = 0
    while m < count_m:
        rows = rows_handled(count_m - m)
        calls.append(KernelCall(thread, m0 + m, rows, n, count_n, k, count_k, zero_mode))
        m += rows
    return calls


def _thread_split(M: int, N: int, K: int, threads: int, max_threads: int = MAXIMUM_THREAD_COUNT):
    """(ThreadCountM, ThreadCountN) as ``MlasSBGemmBatch`` / the 1-D QGEMM schedule choose them."""
    complexity = M * N * K
    if complexity < THREAD_COMPLEXITY * max_threads:
        target = complexity // THREAD_COMPLEXITY + 1
    else:
        target = max_threads
    target = min(target, threads)
    if N > M:
        blocked_n = -(-N // STRIDEN_THREAD_ALIGN)
        return 1, min(target, blocked_n)
    return min(target, M), 1


def thread_ranges(M: int, N: int, K: int, threads: int):
    """Per thread: (thread id, RangeStartM, RangeCountM, RangeStartN, RangeCountN).

    ``MlasSBGemmOperation``: M split by ``MlasPartitionWork``; N split in blocks of 16 columns.
    """
    count_m_threads, count_n_threads = _thread_split(M, N, K, threads)
    blocked_n = -(-N // STRIDEN_THREAD_ALIGN)
    out = []
    for tid in range(count_m_threads * count_n_threads):
        tid_m, tid_n = divmod(tid, count_n_threads)
        start_m, count_m = partition_work(tid_m, count_m_threads, M)
        start_n, count_n = partition_work(tid_n, count_n_threads, blocked_n)
        start_n *= STRIDEN_THREAD_ALIGN
        count_n = min(N - start_n, count_n * STRIDEN_THREAD_ALIGN)
        if count_m > 0 and count_n > 0:
            out.append((tid, start_m, count_m, start_n, count_n))
    return out


def sbgemm_strides(N: int, K: int, packed_b: bool) -> tuple[int, int]:
    """(StrideN, StrideK) of the SBGEMM drivers; the non-packed one adapts them to N and K."""
    stride_n, stride_k = 128, 256
    if packed_b:
        return stride_n, stride_k
    if N >= K:
        while stride_k // 2 >= K:
            stride_n, stride_k = stride_n * 2, stride_k // 2
    else:
        while stride_n > 16 and stride_n // 2 >= N:
            stride_n, stride_k = stride_n // 2, stride_k * 2
    return stride_n, stride_k


def sbgemm_calls(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1) -> list[KernelCall]:
    """Kernel calls of ``MlasSBGemmBatch`` (packed or non-packed B), threads in id order."""
    calls = []
    for tid, m0, count_m, n0, count_n_thread in thread_ranges(M, N, K, threads):
        stride_n, stride_k = sbgemm_strides(count_n_thread, K, packed_b)
        for n in range(0, count_n_thread, stride_n):  # N slices
            count_n = min(count_n_thread - n, stride_n)
            for k in range(0, K, stride_k):  # K slices, fp32 adds join them
                count_k = min(K - k, stride_k)
                calls += _row_calls(tid, m0, count_m, n0 + n, count_n, k, count_k, k == 0)
    return calls


def qgemm_calls(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1) -> list[KernelCall]:
    """Kernel calls of ``MlasGemmQuantOperation`` (``Strides{24,128,256}``) or the packed
    operation (``PackedStrides{24,128,384}``) per thread: K slices, then N slices, then M panels
    of 24. The thread split is :func:`mlas_emu.mlas.qgemm.thread_ranges` (``MlasGemmBatch``)."""
    from ..mlas.qgemm import thread_ranges as qgemm_thread_ranges

    stride_m, stride_n, stride_k = 24, 128, (384 if packed_b else 256)
    calls = []
    for tid, (m0, count_m_thread, n0, count_n_thread) in enumerate(qgemm_thread_ranges(M, N, K, threads)):
        for k in range(0, K, stride_k):
            count_k = min(K - k, stride_k)
            for n in range(0, count_n_thread, stride_n):
                count_n = min(count_n_thread - n, stride_n)
                for m in range(0, count_m_thread, stride_m):
                    count_m = min(count_m_thread - m, stride_m)
                    calls += _row_calls(tid, m0 + m, count_m, n0 + n, count_n, k, count_k, k == 0)
    return calls
