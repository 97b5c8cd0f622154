"""The plan of ``MlasSBGemmBatch``: every kernel call of one batch and the operands each reads.

The single description of the SBGEMM driver loops of onnxruntime/core/mlas/lib/sbgemm.h
(``MlasSBGemmBatch``: threads and their 1-D split; ``MlasSBGemmOperation``: per-thread ranges;
``MlasSBGemmPackedOperation``: N slices of 128, K slices of 256, B from the shared pre-packed
buffer; ``MlasSBGemmNonPackedOperation``: strides from the thread's N and K, B converted and
packed per slice into a thread-local panel). The fast path, the instruction path and the traces
all execute this plan (:mod:`mlas_emu.mlas.sbgemm`).

Each :class:`SBGemmCall` is one call of the C++ kernel wrapper ``MlasSBGemmKernel`` (which runs
the assembly routine once per 8, 4, 2 or 1 rows) with an *operand map*: which memory its loads
read. ONNX Runtime's defects are remappings here, decided by the release and ``faithful``:

1. ``NonPackedLayout``: B is read from a panel laid out for one K slice of 256 as if it held the
   whole slice: :class:`Indexed` lanes name misplaced elements of B or memory nothing wrote;
2. ``PackedOffset``: B is read at ``CountK * SliceStartN`` (:class:`PackedRead` at the shipped offset);
3. ``AOverRead``: the last 4-k step of each A row reads the floats that follow it (:class:`ARead`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import sbgemm_kernel_neon as kn
from .dispatch import SBGEMM_NEON
from .threading import gemm_thread_range, partition

#: Lane codes of :class:`Indexed` maps: the packer's zero padding, memory nothing wrote.
ZERO, UNWRITTEN = -1, -2
#: Elements of the thread-local B panel (UpAlignSize(Strides.N * Strides.K * sizeof(bf16)) / 2).
PANEL_B_ELEMENTS = SBGEMM_NEON.strides.N * SBGEMM_NEON.strides.K


@dataclass(frozen=True)
class ARead:
    """A as the kernel loads it: rows at ``offset + i * lda`` of the flat A buffer, 4*ceil(CountK/4)
    floats each; the lanes past CountK read the memory that follows (``over_read``, defect 3) or
    zero (the intended result, and ONNX Runtime from 1.28.0)."""

    offset: int
    lda: int
    over_read: bool
    #: the release has defect 3 (its warning is due even when ``faithful=False`` corrects it)
    defect: bool = False


@dataclass(frozen=True)
class AsWritten:
    """B's fp32 source ``[k0:k0+CountK, n0:n0+CountN]`` as ``MlasSBGemmConvertPackB`` packs it and
    the kernel reads it back (bf16, zero rows up to a multiple of 4): every lane its own element.
    ``k0``/``n0`` index the flat source at ``offset + k * ld + n``."""

    offset: int
    ld: int


@dataclass(frozen=True)
class PackedRead:
    """B read by the kernel's walk from the pre-packed bf16 buffer at element ``offset``
    (:func:`~mlas_emu.mlas.sbgemm_kernel_neon.b_operand_index`)."""

    offset: int


@dataclass(frozen=True, eq=False)
class Indexed:
    """B lanes named one by one: ``index`` (4*ceil(CountK/4), CountN) into the flat fp32 B, or
    :data:`ZERO` / :data:`UNWRITTEN`."""

    index: np.ndarray


@dataclass(frozen=True)
class SBGemmCall:
    """One ``MlasSBGemmKernel`` call: rows ``m``.., columns ``n``.. of GEMM ``gemm`` of the batch."""

    gemm: int
    thread: int
    m: int
    count_m: int
    n: int
    count_n: int
    k: int
    count_k: int
    zero_mode: bool
    a: ARead
    b: AsWritten | PackedRead | Indexed
    c_offset: int
    ldc: int
    #: bias element of the call's first column (None: no bias)
    bias_first: int | None = None


@dataclass(frozen=True)
class Geometry:
    """What the plan needs of one ``MLAS_SBGEMM_DATA_PARAMS``: offsets and leading dimensions."""

    a_offset: int
    lda: int
    b_offset: int
    ldb: int
    b_is_packed: bool
    c_offset: int
    ldc: int
    has_bias: bool = False
    #: a packed buffer that is exactly ``convert_pack_b`` of an fp32 source (intended reads are B as written)
    b_as_written: bool = False


@dataclass(frozen=True)
class SBGemmPlan:
    calls: tuple[SBGemmCall, ...]
    #: (defect name, detail) notes of the structural defects met (see ``DefectLog``)
    events: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Partition:
    """How ``MlasSBGemmBatch`` splits the work: threads per GEMM and the M/N thread grid."""

    threads_per_gemm: int
    thread_count_m: int
    thread_count_n: int


def thread_partition(m: int, n: int, k: int, batch: int, threads: int, rel) -> Partition:
    """``MlasSBGemmBatch``: a target of M*N*K / 65536 + 1 threads, at most the platform's 64 and
    the session's ``threads``, ceil(target / batch) per GEMM, then a 1-D split of M or of N
    (blocks of 16): the release's :attr:`~mlas_emu.releases.Release.sbgemm_threads` rule."""
    count_m, count_n = partition(m, n, k, batch, threads, rel.sbgemm_threads, kn.PACKED_N)
    return Partition(count_m * count_n, count_m, count_n)


def non_packed_strides(n: int, k: int) -> tuple[int, int]:
    """``MlasSBGemmNonPackedOperation``'s (StrideN, StrideK) for the thread's N and K."""
    stride_n, stride_k = SBGEMM_NEON.strides.N, SBGEMM_NEON.strides.K
    if n >= k:
        while stride_k // 2 >= k:
            stride_n *= 2
            stride_k //= 2
    else:
        while stride_n > 16 and stride_n // 2 >= n:
            stride_k *= 2
            stride_n //= 2
    return stride_n, stride_k


def plan_batch(m: int, n: int, k: int, geometry: list[Geometry], threads: int, rel, faithful: bool) -> SBGemmPlan:
    """The calls of ``MlasSBGemmBatch(M, N, K, BatchN, Data, ThreadPool)``, threads in id order."""
    part = thread_partition(m, n, k, len(geometry), threads, rel)
    calls, events = [], []
    for tid in range(part.threads_per_gemm * len(geometry)):
        gemm, thread = divmod(tid, part.threads_per_gemm)
        g = geometry[gemm]
        start_m, count_m, start_n, count_n = gemm_thread_range(thread, m, n, part.thread_count_m,
                                                               part.thread_count_n, kn.PACKED_N)
        if count_m <= 0 or count_n <= 0:
            continue
        a = ARead(g.a_offset + start_m * g.lda, g.lda, faithful and "AOverRead" in rel.sbgemm_defects,
                  "AOverRead" in rel.sbgemm_defects)
        c_off = g.c_offset + start_m * g.ldc + start_n
        where = (gemm, tid, start_m, count_m)
        if g.b_is_packed:
            _packed_operation(calls, events, where, start_n, count_n, kn.align_up(n, kn.PACKED_N), k, g, a, c_off,
                              rel, faithful)
        else:
            _non_packed_operation(calls, events, where, start_n, count_n, k, g, a, c_off, rel, faithful)
    return SBGemmPlan(tuple(calls), tuple(events))


def _packed_operation(calls, events, where, range_start_n, range_count_n, aligned_n, k, g, a, c_off, rel, faithful):
    """``MlasSBGemmPackedOperation``: N slices of 128 (jc), K slices of 256 (pc)."""
    defect = "PackedOffset" in rel.sbgemm_defects
    strides = SBGEMM_NEON.strides
    for n0 in range(0, range_count_n, strides.N):
        slice_start_n, count_n = range_start_n + n0, min(range_count_n - n0, strides.N)
        for k0 in range(0, k, strides.K):
            count_k = min(k - k0, strides.K)
            intended = aligned_n * k0 + kn.align_up(count_k, SBGEMM_NEON.packed_k) * slice_start_n
            shipped = aligned_n * k0 + count_k * slice_start_n
            offset = intended
            if shipped != intended and defect:
                events.append(("PackedOffset", f"columns {slice_start_n}-{slice_start_n + count_n - 1}, "
                                               f"K block {k0}-{k0 + count_k - 1}"))
                offset = shipped if faithful else intended
            if offset == intended and g.b_as_written and g.b_offset == 0:
                b = AsWritten(k0 * g.ldb + slice_start_n, g.ldb)
            else:
                b = PackedRead(g.b_offset + offset)
            bias = slice_start_n if (k0 == 0 and g.has_bias) else None
            calls.append(_call(where, slice_start_n, count_n, k0, count_k, a, b, c_off + n0, g.ldc, bias))


def _non_packed_operation(calls, events, where, range_start_n, n, k, g, a, c_off, rel, faithful):
    """``MlasSBGemmNonPackedOperation``: strides from the thread's N and K; each (jc, pc) slice of
    B is converted into the thread-local panel (``MlasSBGemmConvertPackB``) and read back."""
    stride_n, stride_k = non_packed_strides(n, k)
    defect = "NonPackedLayout" in rel.sbgemm_defects
    # Where a slice's reads depend on what the panel held before, follow the panel from the
    # thread's start: every pack writes the source indices of its elements.
    panel = np.full(PANEL_B_ELEMENTS, UNWRITTEN, np.int64) if (defect and faithful and stride_k > SBGEMM_NEON.strides.K) else None
    b_base = g.b_offset + range_start_n
    for n0 in range(0, n, stride_n):
        count_n = min(n - n0, stride_n)
        for k0 in range(0, k, stride_k):
            count_k = min(k - k0, stride_k)
            first = b_base + n0 + k0 * g.ldb
            b = AsWritten(first, g.ldb)
            if count_k > SBGEMM_NEON.strides.K and defect:
                events.append(("NonPackedLayout", f"columns {range_start_n + n0}-{range_start_n + n0 + count_n - 1}, "
                                                  f"K slice {k0}-{k0 + count_k - 1} read as one block"))
            if panel is not None:
                index = _pack_and_read_back(panel, first, count_k, count_n, g.ldb)
                if count_k > SBGEMM_NEON.strides.K:
                    b = Indexed(index)
            bias = None
            if k0 == 0 and g.has_bias:
                bias = n0 if faithful else range_start_n + n0
                if range_start_n:
                    events.append(("NonPackedBiasOffset", f"columns from {range_start_n} use bias[{n0}...]"))
            calls.append(_call(where, range_start_n + n0, count_n, k0, count_k, a, b, c_off + n0, g.ldc, bias))


def _call(where, n, count_n, k0, count_k, a, b, c_off, ldc, bias) -> SBGemmCall:
    gemm, thread, m, count_m = where
    return SBGemmCall(gemm, thread, m, count_m, n, count_n, k0, count_k, k0 == 0, ARead(a.offset + k0, a.lda,
                      a.over_read, a.defect), b, c_off, ldc, bias)


def _pack_and_read_back(panel, first, count_k, count_n, ldb) -> np.ndarray:
    """Pack the slice's source indices into ``panel`` as ``MlasSBGemmConvertPackB`` packs values,
    then read them back along the kernel's walk: the source of every lane."""
    index = first + np.arange(count_k)[:, None] * ldb + np.arange(count_n)[None, :]
    kn.convert_pack_b_into(panel, None, index, convert=False, fill=ZERO)
    where = kn.b_operand_index(0, count_n, count_k)
    inside = where < panel.size
    return np.where(inside, panel[np.where(inside, where, 0)], UNWRITTEN)
