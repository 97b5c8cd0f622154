"""How MLAS divides work among the threads of ONNX Runtime's intra-op pool.

Models ``MlasPartitionWork`` (onnxruntime/core/mlas/lib/mlasi.h) and the thread-count rules
shared by the GEMM drivers. ``threads`` is always the emulated session's intra-op thread
count; the host cores the emulator itself uses never change results.
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
