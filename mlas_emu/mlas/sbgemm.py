"""MLAS's SBGEMM driver: ``MlasSBGemmBatch`` and the packed / non-packed operations.

Models ``onnxruntime/core/mlas/lib/sbgemm.h`` (``MlasSBGemmBatch``, ``MlasSBGemmOperation``,
``MlasSBGemmPackedOperation``, ``MlasSBGemmNonPackedOperation``) as shipped in the ONNX Runtime
1.17.1 to 1.27.0 aarch64 wheels, on top of the Neon kernel in :mod:`.sbgemm_kernel_neon`.

Matrices live in flat float32 buffers with offsets and leading dimensions, as in MLAS, because
ORT's own defects (docs/defects.md) depend on what lies *next to* a matrix in memory:

1. ``NonPackedLayout``: the non-packed path packs B in 256-row blocks but the kernel reads a
   slice of up to 2048 rows as one block (per-thread N <= 64 and K > 256).
2. ``PackedOffset``: the packed path offsets B by ``CountK * SliceStartN`` instead of the padded
   ``align(CountK, 4) * SliceStartN`` (last K block not a multiple of 4, slices at N >= 128 or
   threads whose N range does not start at 0).
3. ``AOverRead``: with ``CountK % 4 != 0`` the kernel loads 4 floats per row in its last step,
   reading up to 3 floats past each row of A.

And one MLAS-level quirk ORT never meets (it passes no bias): ``NonPackedBiasOffset``, the
non-packed path indexes the bias from the thread's first column, not the matrix's.

``faithful=True`` reproduces them (memory nothing wrote reads as NaN; A past the end of the
caller's buffer as finite, taken as 0.0); ``faithful=False`` computes what the code intended.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import OrtDefectWarning, warn_caller
from ..releases import release
from . import sbgemm_kernel_neon as kn
from ._checks import as_f32_bias, as_f32_matrix
from .threading import check_threads, gemm_thread_range, partition

#: Elements of the thread-local B panel (UpAlignSize(Strides.N * Strides.K * sizeof(bf16)) / 2).
PANEL_B_ELEMENTS = kn.STRIDE_N * kn.STRIDE_K

DEFECT_TEXT = {
    "NonPackedLayout": (
        "ONNX Runtime SBGEMM defect 1 (non-packed B, K slice > 256): B is packed in 256-row blocks "
        "but the kernel reads the slice as one block"
    ),
    "PackedOffset": (
        "ONNX Runtime SBGEMM defect 2 (pre-packed B, last K block not a multiple of 4, N slice "
        "starting past column 0): B is read at CountK*SliceStartN instead of align(CountK,4)*SliceStartN"
    ),
    "AOverRead": (
        "ONNX Runtime SBGEMM defect 3 (K % 4 != 0): the kernel reads up to 3 floats past each row of A"
    ),
    "NonPackedBiasOffset": (
        "MLAS SBGEMM quirk (non-packed B with bias, N split across threads): the bias is indexed "
        "from the thread's first column instead of the matrix's"
    ),
}


@dataclass
class DefectLog:
    """Conditions met during one emulated call, turned into warnings by :meth:`warn`."""

    faithful: bool = True
    events: dict = field(default_factory=dict)
    omitted: dict = field(default_factory=dict)

    #: Details kept per defect; more are counted. Notes about memory nothing wrote are always
    #: kept: they say which values are NaN.
    MAX_DETAILS = 4

    def note(self, name: str, detail: str) -> None:
        details = self.events.setdefault(name, [])
        if detail in details:
            return
        if len(details) < self.MAX_DETAILS or "nothing wrote" in detail:
            details.append(detail)
        else:
            self.omitted[name] = self.omitted.get(name, 0) + 1

    def warn(self) -> None:
        """One warning per defect, attributed to the line that called into mlas-emu."""
        for name, details in self.events.items():
            what = "reproduced" if self.faithful else "corrected (faithful=False)"
            more = f"; and {self.omitted[name]} more" if self.omitted.get(name) else ""
            warn_caller(f"{DEFECT_TEXT[name]}; {what}: {'; '.join(details)}{more}", OrtDefectWarning)


@dataclass
class SBGemmData:
    """``MLAS_SBGEMM_DATA_PARAMS``: one GEMM of a batch, as flat buffers plus offsets.

    ``b`` is fp32 (``b_is_packed=False``, the non-packed path, ``BIsfp32``) or the uint16
    packed buffer of :func:`~.sbgemm_kernel_neon.convert_pack_b`. ``c`` is written in place.
    """

    a: np.ndarray
    a_offset: int
    lda: int
    b: np.ndarray
    b_offset: int
    ldb: int
    b_is_packed: bool
    c: np.ndarray
    c_offset: int
    ldc: int
    bias: np.ndarray | None = None
    #: which elements of a packed ``b`` hold data (None: all); reads elsewhere are undefined
    b_known: np.ndarray | None = None
    #: the (K, N) fp32 matrix a packed ``b`` is ``convert_pack_b`` of, when it is; ``b`` may then be
    #: None until a path reads the buffer (the fast path takes B as written from here instead)
    b_source: np.ndarray | None = None

    def packed_buffer(self) -> np.ndarray:
        if self.b is None:
            self.b = kn.convert_pack_b(self.b_source)
        return self.b


@dataclass(frozen=True)
class Partition:
    """How ``MlasSBGemmBatch`` splits the work: threads per GEMM and the M/N thread grid."""

    threads_per_gemm: int
    thread_count_m: int
    thread_count_n: int


def thread_partition(m: int, n: int, k: int, batch: int, threads: int, ort_version=None) -> Partition:
    """``MlasSBGemmBatch`` (onnxruntime/core/mlas/lib/sbgemm.h): a target of M*N*K / 65536 + 1
    threads, at most the platform's 64 and the session's ``threads``, ceil(target / batch) per GEMM,
    then a 1-D split of M or of N (blocks of 16): the release's
    :attr:`~mlas_emu.releases.Release.sbgemm_threads` rule (:func:`mlas_emu.mlas.threading.partition`).

    The non-packed path's K blocks follow the per-thread N (defect 1 where they pass 256) and
    defect 2 follows the threads' first columns, so this decides bits. Checked bit for bit against
    ONNX Runtime under the oracle at 1 to 64 and 80 threads on 1.17.0, 1.27.0, 1.28.0 and 1.32.0
    (tests/mlas/test_threads_oracle.py); the cap of 64 also on 1.17.1, 1.23.2, 1.29.0, 1.30.0
    and 1.31.1.
    """
    rule = release(ort_version).sbgemm_threads
    count_m, count_n = partition(m, n, k, batch, threads, rule, kn.PACKED_N)
    return Partition(count_m * count_n, count_m, count_n)


def non_packed_strides(n: int, k: int) -> tuple[int, int]:
    """``MlasSBGemmNonPackedOperation``'s (StrideN, StrideK) for the thread's N and K."""
    stride_n, stride_k = kn.STRIDE_N, kn.STRIDE_K
    if n >= k:
        while stride_k // 2 >= k:
            stride_n *= 2
            stride_k //= 2
    else:
        while stride_n > 16 and stride_n // 2 >= n:
            stride_k *= 2
            stride_n //= 2
    return stride_n, stride_k


@dataclass
class _Run:
    """Per-call settings threaded through the drivers."""

    faithful: bool
    path: str
    log: DefectLog
    trace: list | None
    #: the defects the emulated release's MLAS has (:attr:`mlas_emu.releases.Release.sbgemm_defects`)
    defects: frozenset = frozenset()
    a_cache: dict = field(default_factory=dict)

    def reproduces(self, defect: str) -> bool:
        """Whether this call computes ``defect``'s wrong values (the release has it, faithful mode)."""
        return self.faithful and defect in self.defects


def sbgemm_batch(m: int, n: int, k: int, data: list[SBGemmData], *, threads: int = 1,
                 faithful: bool = True, path: str = "fast", trace: list | None = None,
                 ort_version=None) -> DefectLog:
    """``MlasSBGemmBatch(M, N, K, BatchN, Data, ThreadPool)``: every GEMM of the batch, all threads.

    Threads are emulated one after another (their C regions are disjoint); each thread's
    non-packed B panel starts with unknown contents. ``ort_version``: a release string or
    :class:`~mlas_emu.releases.Release` (None: the newest), which decides the defects present
    and the thread partition (:func:`thread_partition`). Returns the :class:`DefectLog`.
    """
    check_threads(threads)
    if path not in ("fast", "instructions"):
        raise ValueError(f"path must be 'fast' or 'instructions', got {path!r}")
    rel = release(ort_version)
    run = _Run(faithful, path, DefectLog(faithful), trace, rel.sbgemm_defects)
    part = thread_partition(m, n, k, len(data), threads, rel)
    for tid in range(part.threads_per_gemm * len(data)):
        gemm, thread = divmod(tid, part.threads_per_gemm)
        sbgemm_operation(part, m, n, k, data[gemm], thread, run)
    return run.log


def sbgemm_operation(part: Partition, m, n, k, d: SBGemmData, thread_id: int, run: _Run) -> None:
    """``MlasSBGemmOperation``: this thread's M and N ranges, then the packed or non-packed path."""
    start_m, count_m, start_n, count_n = gemm_thread_range(thread_id, m, n, part.thread_count_m,
                                                           part.thread_count_n, kn.PACKED_N)
    if count_m <= 0 or count_n <= 0:
        return
    a_off = d.a_offset + start_m * d.lda
    c_off = d.c_offset + start_m * d.ldc + start_n
    if d.b_is_packed:
        _packed_operation(count_m, start_n, count_n, kn.align_up(n, kn.PACKED_N), k, d, a_off, c_off, run)
    else:
        _non_packed_operation(count_m, start_n, count_n, k, d, a_off, c_off, run)


def _packed_operation(m, range_start_n, range_count_n, aligned_n, k, d, a_off, c_off, run):
    """``MlasSBGemmPackedOperation``: N slices of 128, K slices of 256, B from the shared packed buffer."""
    slices = [(range_start_n + n0, min(range_count_n - n0, kn.STRIDE_N)) for n0 in range(0, range_count_n, kn.STRIDE_N)]
    blocks = [(k0, min(k - k0, kn.STRIDE_K)) for k0 in range(0, k, kn.STRIDE_K)]
    offsets = [_packed_b_offsets(aligned_n, k0, ck, s0) for s0, _ in slices for k0, ck in blocks]
    offset_defect = "PackedOffset" in run.defects
    if run.path == "fast" and (not offset_defect or all(i == s for i, s in offsets)):
        # A column's chain does not depend on the N slice it is computed in, and without the
        # offset defect the slices of a K block read B as one run: one kernel call per K block.
        slices = [(range_start_n, range_count_n)]
        if d.b_source is not None and d.b_known is None and d.b_offset == 0:
            # ... and that run is B as written: take it from the fp32 source, no buffer needed.
            cols = slice(range_start_n, range_start_n + range_count_n)
            for k0, count_k in blocks:
                bias = d.bias[cols] if (k0 == 0 and d.bias is not None) else None
                operand = _b_operand_as_written(d.b_source[k0 : k0 + count_k, cols])
                sbgemm_kernel(m, range_count_n, count_k, d.a, a_off + k0, d.lda, None, None, 0, d.c, c_off,
                              d.ldc, bias, k0 == 0, run, b_operand=operand)
            return
    for slice_start_n, count_n in slices:  # jc
        n0 = slice_start_n - range_start_n
        for k0, count_k in blocks:  # pc
            zero_mode = k0 == 0
            pb, shipped = _packed_b_offsets(aligned_n, k0, count_k, slice_start_n)
            if shipped != pb and offset_defect:
                run.log.note("PackedOffset", f"columns {slice_start_n}-{slice_start_n + count_n - 1}, "
                                             f"K block {k0}-{k0 + count_k - 1}")
                if run.faithful:
                    pb = shipped
            bias = None
            if zero_mode and d.bias is not None:
                bias = d.bias[slice_start_n : slice_start_n + count_n]
            sbgemm_kernel(m, count_n, count_k, d.a, a_off + k0, d.lda, d.packed_buffer(), d.b_known,
                          d.b_offset + pb, d.c, c_off + n0, d.ldc, bias, zero_mode, run)


def _b_operand_as_written(block):
    """What :func:`~.sbgemm_kernel_neon.read_b_operand` returns for one K block (at most 256
    rows) of B packed by ``MlasSBGemmConvertPackB`` and read at the intended offsets: the fp32
    ``block``'s bf16 bits (BFCVT), zero rows up to a multiple of 4 (the packer's padding), all
    defined."""
    count_k, count_n = block.shape
    bits = np.zeros((kn.align_up(count_k, kn.PACKED_K), count_n), dtype=np.uint16)
    bits[:count_k] = kn.bfcvtn_bits(block)
    return bits, np.ones(bits.shape, dtype=np.bool_)


def _packed_b_offsets(aligned_n, k0, count_k, slice_start_n):
    """(intended, shipped) B offsets of a slice of ``MlasSBGemmPackedOperation``; they differ
    under defect 2.

    Intended: ``AlignedN * k0 + align(CountK, 4) * SliceStartN``; shipped: ``CountK * SliceStartN``.
    """
    intended = aligned_n * k0 + kn.align_up(count_k, kn.PACKED_K) * slice_start_n
    shipped = aligned_n * k0 + count_k * slice_start_n
    return intended, shipped


def _non_packed_operation(m, range_start_n, n, k, d, a_off, c_off, run):
    """``MlasSBGemmNonPackedOperation``: strides from the thread's N and K, B packed per slice."""
    stride_n, stride_k = non_packed_strides(n, k)
    if run.path == "fast" and stride_k <= kn.STRIDE_K and (d.bias is None or range_start_n == 0):
        _non_packed_merged(m, range_start_n, n, k, stride_k, d, a_off, c_off, run)
        return
    panel = np.zeros(PANEL_B_ELEMENTS, dtype=np.uint16)
    known = np.zeros(PANEL_B_ELEMENTS, dtype=np.bool_)  # thread-local buffer: contents unknown
    b_base = d.b_offset + range_start_n
    for n0 in range(0, n, stride_n):  # jc
        count_n = min(n - n0, stride_n)
        for k0 in range(0, k, stride_k):  # pc
            count_k = min(k - k0, stride_k)
            block = _gather(d.b, b_base + n0 + k0 * d.ldb, count_k, count_n, d.ldb)
            if count_k > kn.STRIDE_K and "NonPackedLayout" in run.defects:
                run.log.note("NonPackedLayout", f"columns {range_start_n + n0}-{range_start_n + n0 + count_n - 1}, "
                                                f"K slice {k0}-{k0 + count_k - 1} read as one block")
            if count_k > kn.STRIDE_K and not run.reproduces("NonPackedLayout"):
                buf = kn.convert_copy_pack_b(kn.bfcvtn_bits(block))
                buf_known = None
            else:
                kn.convert_pack_b_into(panel, known, block)
                buf, buf_known = panel, known
            zero_mode = k0 == 0
            bias = None
            if zero_mode and d.bias is not None:
                first = n0 if run.faithful else range_start_n + n0
                if range_start_n:
                    run.log.note("NonPackedBiasOffset", f"columns from {range_start_n} use bias[{n0}...]")
                bias = d.bias[first : first + count_n]
            sbgemm_kernel(m, count_n, count_k, d.a, a_off + k0, d.lda, buf, buf_known, 0,
                          d.c, c_off + n0, d.ldc, bias, zero_mode, run)


def _non_packed_merged(m, range_start_n, n, k, stride_k, d, a_off, c_off, run):
    """The non-packed path with the N slices of each K slice in one kernel call.

    Without defect 1 (every K slice within 256) and without the bias quirk, a slice's panel holds
    exactly its columns of B, packed and read back: every column's operand is B as written
    (:func:`_b_operand_as_written`, no panel needed), and a column's chain does not depend on its slice.
    """
    b_base = d.b_offset + range_start_n
    for k0 in range(0, k, stride_k):  # pc
        count_k = min(k - k0, stride_k)
        operand = _b_operand_as_written(_gather(d.b, b_base + k0 * d.ldb, count_k, n, d.ldb))
        zero_mode = k0 == 0
        bias = d.bias[:n] if (zero_mode and d.bias is not None) else None
        sbgemm_kernel(m, n, count_k, d.a, a_off + k0, d.lda, None, None, 0, d.c, c_off, d.ldc, bias, zero_mode,
                      run, b_operand=operand)


def _gather(flat, offset, rows, cols, ld):
    """``flat[offset + i * ld + j]`` as a (rows, cols) array: a view of ``flat`` when inside it."""
    view = kn.strided_view(flat, offset, rows, ld, cols)
    if view is not None:
        return view
    return flat[offset + np.arange(rows)[:, None] * ld + np.arange(cols)[None, :]]


def sbgemm_kernel(count_m, count_n, count_k, a, a_off, lda, buf, known, b_off, c, c_off, ldc,
                  bias, zero_mode, run: _Run, b_operand=None) -> None:
    """``MlasSBGemmKernel<MLAS_SBGEMM_KERNEL_NEON>`` with the 1.17-1.27 wrapper: the assembly on A in place.

    Loads the operands as the assembly does, runs the micro-kernel (fast or instruction
    path), then stores (ZeroMode) or adds (Add mode) into C.
    """
    rows = a_off + np.arange(count_m) * lda
    key = (id(a), a_off, lda, count_m, count_k)
    a_op = run.a_cache.get(key)
    if a_op is None:  # the same A block serves every N slice of a K block
        a_op = run.a_cache[key] = kn.read_a_operand(a, rows, count_k)
    bits = a_op.bits
    over = a_op.over_read
    over_read = "AOverRead" in run.defects
    if over.any() and over_read:
        lanes = np.where(over & ~a_op.past_end, bits, np.uint16(0))
        special_rows = np.nonzero(((lanes & 0x7F80) == 0x7F80).any(axis=1))[0]
        if special_rows.size:
            run.log.note("AOverRead", f"Inf/NaN just past rows {_rows_text(rows[special_rows] // max(lda, 1))} "
                                      f"of A (K block of {count_k}) makes those rows NaN")
        if run.faithful and (a_op.past_end & over).any():
            run.log.note("AOverRead", "the last row reads past the end of A; that memory is taken as finite (0.0)")
    if over.any() and not run.reproduces("AOverRead"):
        bits = np.where(over, np.uint16(0), bits)
    if b_operand is None:
        b_operand = kn.read_b_operand(buf, known, b_off, count_n, count_k)
    b_bits, defined = b_operand
    if run.path == "fast":
        acc = kn.kernel_fast(bits, b_bits, bias, a_op.unpacked_rows() if bits is a_op.bits else None)
    else:
        acc = kn.kernel_instructions(bits, b_bits, bias, run.trace)
    undefined_cols = ~defined.all(axis=0)
    if undefined_cols.any():
        acc[:, undefined_cols] = 0x7FC00000
        run.log.note("NonPackedLayout", f"{int(undefined_cols.sum())} columns read memory nothing wrote: NaN")
    if run.reproduces("AOverRead") and a_op.past_end.any():
        # A read past the caller's buffer only vanishes against B lanes that are zero.
        live = ((b_bits & 0x7FFF) != 0) | ~defined
        hit = (a_op.past_end.astype(np.int64) @ live.astype(np.int64)) > 0
        if hit.any():
            acc[hit] = 0x7FC00000
            run.log.note("AOverRead", "A read past its end meets non-zero B data: those elements depend on "
                                      "memory nothing wrote (NaN)")
    tile = kn.strided_view(c, c_off, count_m, ldc, count_n) if ldc >= count_n else None
    if tile is not None:  # C in place (rows do not overlap)
        kn.store_tile(tile, acc, zero_mode)
        return
    cidx = c_off + np.arange(count_m)[:, None] * ldc + np.arange(count_n)[None, :]
    tile = c[cidx]
    kn.store_tile(tile, acc, zero_mode)
    c[cidx] = tile


def _rows_text(rows) -> str:
    rows = list(rows)
    return ", ".join(str(r) for r in rows[:6]) + (" ..." if len(rows) > 6 else "")


def sgemm_bf16(A, B, bias=None, *, packed_b: bool = True, threads: int = 1, faithful: bool = True,
               path: str = "fast", trace: list | None = None, mode: str = "exact",
               ort_version: str | None = None, cpu: str | None = None) -> np.ndarray:
    """MLAS SBGEMM ``C = A @ B (+ bias)`` with bf16 inputs and BFMMLA, as Graviton computes it.

    A: (M, K) float32, B: (K, N) float32, bias: (N,) float32 or None. ``packed_b`` chooses the
    path (B pre-packed by ``MlasSBGemmConvertPackB``, or converted per slice); ``threads`` is the
    intra-op thread count MLAS partitions for; ``ort_version`` the release whose MLAS is emulated
    (None: the newest, :data:`mlas_emu.releases.DEFAULT_ORT_VERSION`); ``cpu`` a name of
    :data:`mlas_emu.cpus.CPUS` with BF16 (no effect among those: the oracle shows the same bits on
    Graviton3 and Graviton4; Graviton2 has no BFMMLA and raises). ``faithful=True`` reproduces MLAS's defects with an
    :class:`~mlas_emu.errors.OrtDefectWarning`; ``faithful=False`` computes the intended result.
    ``path="instructions"`` runs the BFMMLA sequence instead of the fast chains (same bits) and
    fills ``trace`` with instruction records. Inputs are not modified.

    ``mode="approx"`` (opt-in) is NOT bit-exact: bf16-rounded inputs and numpy's fp32 product
    (:func:`mlas_emu.mlas.sbgemm_approx.sgemm_bf16_approx`, error bound in its docstring); it models
    no defect and ignores ``packed_b``, ``threads``, ``faithful`` and ``path``.

    >>> import numpy as np
    >>> A = np.array([[1.00390625, 2.0]], np.float32)  # 1 + 2**-8 rounds to 1 in bf16
    >>> sgemm_bf16(A, np.ones((2, 1), np.float32), bias=np.array([0.5], np.float32))
    array([[3.5]], dtype=float32)
    >>> A = np.array([[1, 1, 0, 0]], np.float32); B = np.array([[1], [2**-24], [0], [0]], np.float32)
    >>> sgemm_bf16(A, B), A @ B  # 1 + 2**-24: BFMMLA rounds to odd, fp32 to even
    (array([[1.0000001]], dtype=float32), array([[1.]], dtype=float32))
    """
    if mode not in ("exact", "approx"):
        raise ValueError(f"mode must be 'exact' or 'approx', got {mode!r}")
    rel = release(ort_version)
    _require_bf16(cpu)
    if mode == "approx":
        from .sbgemm_approx import sgemm_bf16_approx

        return sgemm_bf16_approx(A, B, bias)
    a = np.ascontiguousarray(as_f32_matrix(A, "A"))
    b = np.ascontiguousarray(as_f32_matrix(B, "B"))
    m, k = a.shape
    if b.shape[0] != k:
        raise ValueError(f"A is {a.shape} and B is {b.shape}: B must have K={k} rows")
    n = b.shape[1]
    bias = as_f32_bias(bias, n)
    if bias is not None:
        bias = np.ascontiguousarray(bias)
    if not isinstance(packed_b, bool) or not isinstance(faithful, bool):
        raise TypeError("packed_b and faithful must be bool")
    c = np.zeros(m * n, dtype=np.float32)
    if m == 0 or n == 0:
        return c.reshape(m, n)
    if k == 0:
        raise ValueError("K must be at least 1")
    bb = None if packed_b else b.reshape(-1)  # the packed buffer is built when a path reads it
    d = SBGemmData(a.reshape(-1), 0, k, bb, 0, n, packed_b, c, 0, n, bias, b_source=b if packed_b else None)
    log = sbgemm_batch(m, n, k, [d], threads=threads, faithful=faithful, path=path, trace=trace,
                       ort_version=rel)
    log.warn()
    return c.reshape(m, n)


def _require_bf16(cpu) -> None:
    """SBGEMM runs only where the CPU has BFMMLA (``MlasBf16AccelerationSupported``)."""
    from ..cpus import resolve_cpu

    desc = resolve_cpu(cpu)
    if not desc.bf16:
        raise ValueError(f"{desc.name} ({desc.core}) has no BF16 instructions: MLAS has no SBGEMM there "
                         "(ONNX Runtime runs fp32 SGEMM instead; see mlas_emu.ort.matmul)")
