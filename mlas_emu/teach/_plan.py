"""Which micro-kernel calls an MLAS GEMM makes: the driver loops, strides and thread split.

A plan is the list of :class:`KernelCall` s that ONNX Runtime's MLAS drivers issue for one
GEMM, in the order one thread issues them (threads in id order). Only the loop structure is
written here; thread splits and strides come from the drivers' own planning functions in
:mod:`mlas_emu.mlas` (``sbgemm.thread_partition``, ``sbgemm.non_packed_strides``,
``qgemm.thread_ranges``, the kernels' ``Strides``), and what each call computes is the business
of the kernel models there. Sources (onnxruntime/core/mlas/lib, ONNX Runtime 1.17.1):

- SBGEMM: ``sbgemm.h`` ``MlasSBGemmBatch`` (thread count and 1-D split),
  ``MlasSBGemmOperation`` (per-thread ranges), ``MlasSBGemmPackedOperation`` (N slices of 128,
  K slices of 256) and ``MlasSBGemmNonPackedOperation`` (strides widened or narrowed from N and K).
- QGEMM: ``qgemm.h`` ``MlasGemmQuantOperation`` / ``MlasGemmQuantPackedOperation``: K slices of
  ``Strides.K`` (256, or 384 with pre-packed B), N slices of 128, M panels of 24, then the
  kernel is called until the panel's rows are handled.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..mlas import qgemm_kernel_ummla
from ..mlas.qgemm import thread_ranges as qgemm_thread_ranges


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


def row_calls(rows_of, thread, m0, count_m, n, count_n, k, count_k, zero_mode) -> list[KernelCall]:
    """The wrapper's loop: call the kernel until the panel's ``count_m`` rows are handled;
    ``rows_of(count_m)`` is what one call handles (the kernel's ``ProcessRows``)."""
    calls = []
    m = 0
    while m < count_m:
        rows = rows_of(count_m - m)
        calls.append(KernelCall(thread, m0 + m, rows, n, count_n, k, count_k, zero_mode))
        m += rows
    return calls


def qgemm_calls(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1) -> list[KernelCall]:
    """Kernel calls of ``MlasGemmQuantOperation`` (``Strides{24,128,256}``) or the packed
    operation (``PackedStrides{24,128,384}``) per thread: K slices, then N slices, then M panels
    of 24. The thread split is :func:`mlas_emu.mlas.qgemm.thread_ranges` (``MlasGemmBatch``),
    the strides those of the UMMLA/SMMLA kernels (:mod:`mlas_emu.mlas.qgemm_kernel_ummla`)."""
    strides = qgemm_kernel_ummla.PACKED_STRIDES if packed_b else qgemm_kernel_ummla.STRIDES
    stride_m, stride_n, stride_k = strides.M, strides.N, strides.K
    calls = []
    for tid, (m0, count_m_thread, n0, count_n_thread) in enumerate(qgemm_thread_ranges(M, N, K, threads)):
        for k in range(0, K, stride_k):
            count_k = min(K - k, stride_k)
            for n in range(0, count_n_thread, stride_n):
                count_n = min(count_n_thread - n, stride_n)
                for m in range(0, count_m_thread, stride_m):
                    count_m = min(count_m_thread - m, stride_m)
                    calls += row_calls(qgemm_kernel_ummla.kernel_rows, tid, m0 + m, count_m, n0 + n, count_n,
                                       k, count_k, k == 0)
    return calls
