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

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import OrtDefectWarning, warn_caller
from ..releases import release
from . import sbgemm_kernel_asm as asm
from . import sbgemm_kernel_neon as kn
from . import sbgemm_plan as plan
from .dispatch import SBGEMM_NEON
from ._checks import as_f32_bias, as_f32_matrix
from .interpret import Memory, execute
from .schedule import KernelCall
from .threading import check_threads

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


def thread_partition(m: int, n: int, k: int, batch: int, threads: int, ort_version=None) -> plan.Partition:
    """``MlasSBGemmBatch`` (onnxruntime/core/mlas/lib/sbgemm.h): threads per GEMM and the M/N
    thread grid (:func:`mlas_emu.mlas.sbgemm_plan.thread_partition`) for the release.

    The non-packed path's K blocks follow the per-thread N (defect 1 where they pass 256) and
    defect 2 follows the threads' first columns, so this decides bits. Checked bit for bit against
    ONNX Runtime under the oracle at 1 to 64 and 80 threads on 1.17.0, 1.27.0, 1.28.0 and 1.32.0
    (tests/mlas/test_threads_oracle.py); the cap of 64 also on 1.17.1, 1.23.2, 1.29.0, 1.30.0
    and 1.31.1.
    """
    return plan.thread_partition(m, n, k, batch, threads, release(ort_version))


non_packed_strides = plan.non_packed_strides


def sbgemm_batch(m: int, n: int, k: int, data: list[SBGemmData], *, threads: int = 1,
                 faithful: bool = True, path: str = "fast", trace: list | None = None,
                 ort_version=None) -> DefectLog:
    """``MlasSBGemmBatch(M, N, K, BatchN, Data, ThreadPool)``: every GEMM of the batch, all threads.

    Builds the plan (:func:`mlas_emu.mlas.sbgemm_plan.plan_batch`: the calls, their operand
    maps and ORT's defects for ``ort_version``, a release string or
    :class:`~mlas_emu.releases.Release`, None: the newest) and executes it: ``path="fast"`` with
    the BFDotAdd chains, ``"instructions"`` by interpreting the kernel routine's schedule
    (:mod:`.sbgemm_kernel_asm`) on register images, appending the records to ``trace`` (global
    coordinates). Threads run one after another (their C regions are disjoint). Returns the
    :class:`DefectLog`.
    """
    check_threads(threads)
    if path not in _EXECUTORS:
        raise ValueError(f"path must be 'fast' or 'instructions', got {path!r}")
    batch_plan = plan.plan_batch(m, n, k, [_geometry(d) for d in data], threads, release(ort_version), faithful)
    log = DefectLog(faithful)
    for name, detail in batch_plan.events:
        log.note(name, detail)
    _EXECUTORS[path](batch_plan, data, log, trace)
    return log


def _geometry(d: SBGemmData) -> plan.Geometry:
    as_written = d.b_is_packed and d.b_source is not None and d.b_known is None
    ldb = d.b_source.shape[1] if as_written else d.ldb
    return plan.Geometry(d.a_offset, d.lda, d.b_offset, ldb, d.b_is_packed, d.c_offset, d.ldc, d.bias is not None,
                         as_written)


def _fp32_b(d: SBGemmData) -> np.ndarray:
    """The flat fp32 B that :class:`~.sbgemm_plan.AsWritten` and ``Indexed`` maps index."""
    return d.b_source.reshape(-1) if d.b_is_packed else d.b


class _Operands:
    """The operands of one call as its loads read them (:func:`_operands`)."""

    def __init__(self, a, b_bits, poison):
        self.a, self.b_bits, self.poison = a, b_bits, poison


def _operands(call: plan.SBGemmCall, d: SBGemmData, log: DefectLog, cache: dict) -> _Operands:
    """A and B through the call's operand maps; ``poison``: C elements that depend on memory
    nothing wrote (NaN after the kernel), or None."""
    a = _a_operand(call, d, log, cache)
    b_bits, defined = _b_operand(call, d, cache)
    poison = None
    undefined_cols = ~defined.all(axis=0)
    if undefined_cols.any():
        poison = np.zeros((call.count_m, call.count_n), bool)
        poison[:, undefined_cols] = True
        log.note("NonPackedLayout", f"{int(undefined_cols.sum())} columns read memory nothing wrote: NaN")
    if call.a.over_read and a.past_end.any():
        # A read past the caller's buffer only vanishes against B lanes that are zero.
        live = ((b_bits & 0x7FFF) != 0) | ~defined
        hit = (a.past_end.astype(np.int64) @ live.astype(np.int64)) > 0
        if hit.any():
            poison = hit if poison is None else poison | hit
            log.note("AOverRead", "A read past its end meets non-zero B data: those elements depend on "
                                  "memory nothing wrote (NaN)")
    return _Operands(a, b_bits, poison)


def _a_operand(call, d, log, cache) -> kn.AOperand:
    """``ARead``: the rows' 4-k loads; lanes past CountK read memory (defect 3) or zero."""
    key = (call.gemm, call.a.offset, call.count_m, call.count_k, call.a.over_read)
    if key in cache:  # the same A block serves every N slice of a K block
        return cache[key]
    rows = call.a.offset + np.arange(call.count_m) * call.a.lda
    a = kn.read_a_operand(d.a, rows, call.count_k)
    over = a.over_read
    if over.any() and call.a.defect:
        lanes = np.where(over & ~a.past_end, a.bits, np.uint16(0))
        special = np.nonzero(((lanes & 0x7F80) == 0x7F80).any(axis=1))[0]
        if special.size:
            log.note("AOverRead", f"Inf/NaN just past rows {_rows_text(rows[special] // max(call.a.lda, 1))} "
                                  f"of A (K block of {call.count_k}) makes those rows NaN")
        if call.a.over_read and (a.past_end & over).any():
            log.note("AOverRead", "the last row reads past the end of A; that memory is taken as finite (0.0)")
    if over.any() and not call.a.over_read:
        a = a.zero_lanes(over)
    cache[key] = a
    return a


def _b_operand(call, d, cache):
    """(bf16 bits (4*ceil(CountK/4), CountN), defined) of the call's B map."""
    b = call.b
    if isinstance(b, plan.AsWritten):
        block = _gather(_fp32_b(d), b.offset, call.count_k, call.count_n, b.ld)
        bits = np.zeros((kn.align_up(call.count_k, SBGEMM_NEON.packed_k), call.count_n), dtype=np.uint16)
        bits[: call.count_k] = kn.bfcvtn_bits(block)
        return bits, np.ones(bits.shape, dtype=np.bool_)
    if isinstance(b, plan.PackedRead):
        return kn.read_b_operand(d.packed_buffer(), d.b_known, b.offset, call.count_n, call.count_k)
    key = ("fp32 bits", call.gemm)
    if key not in cache:
        cache[key] = kn.bfcvtn_bits(_fp32_b(d))
    src = cache[key]
    bits = np.where(b.index >= 0, src[np.maximum(b.index, 0)], np.uint16(0)).astype(np.uint16)
    return bits, b.index != plan.UNWRITTEN


def _bias(call, d) -> np.ndarray | None:
    if call.bias_first is None:
        return None
    return d.bias[call.bias_first : call.bias_first + call.count_n]


def _c_tile(call, d):
    """C's (CountM, CountN) block: a view when rows do not overlap, else (copy, scatter-back)."""
    view = kn.strided_view(d.c, call.c_offset, call.count_m, call.ldc, call.count_n) if call.ldc >= call.count_n else None
    if view is not None:
        return view, None
    idx = call.c_offset + np.arange(call.count_m)[:, None] * call.ldc + np.arange(call.count_n)[None, :]
    return d.c[idx], idx


def _store(call, d, write) -> None:
    """Run ``write(tile)`` on the call's C block, in place."""
    tile, idx = _c_tile(call, d)
    write(tile)
    if idx is not None:
        d.c[idx] = tile


def _poisoned(tile, poison) -> None:
    if poison is not None:
        tile[poison] = np.uint32(0x7FC00000).view(np.float32)


def _execute_fast(batch_plan, data, log, trace) -> None:
    """The plan on the BFDotAdd chains (:func:`~.sbgemm_kernel_neon.kernel_fast`).

    Calls of one K block whose B is read as written are merged across N slices: a column's chain
    does not depend on the slice it is computed in (a consistency check against the instruction
    path tests it)."""
    cache: dict = {}
    for call in _merged(batch_plan.calls):
        d = data[call.gemm]
        ops = _operands(call, d, log, cache)
        a = ops.a
        acc = kn.kernel_fast(a.bits, ops.b_bits, _bias(call, d), a.unpacked_rows())

        def write(tile, acc=acc, ops=ops, zero=call.zero_mode):
            kn.store_tile(tile, acc, zero)
            _poisoned(tile, ops.poison)

        _store(call, d, write)


def _merged(calls):
    """The calls grouped by (GEMM, thread, rows, K block) in K order, with neighbouring
    as-written column ranges joined."""
    groups: dict = {}
    for call in calls:
        groups.setdefault((call.gemm, call.thread, call.m, call.k), []).append(call)
    for group in groups.values():
        merged = [group[0]]
        for call in group[1:]:
            prev = merged[-1]
            if _joinable(prev, call):
                merged[-1] = replace(prev, count_n=prev.count_n + call.count_n)
            else:
                merged.append(call)
        yield from merged


def _joinable(prev, call) -> bool:
    return (isinstance(prev.b, plan.AsWritten) and isinstance(call.b, plan.AsWritten) and prev.b.ld == call.b.ld
            and call.b.offset == prev.b.offset + prev.count_n and call.c_offset == prev.c_offset + prev.count_n
            and call.n == prev.n + prev.count_n and prev.a == call.a
            and (prev.bias_first is None) == (call.bias_first is None)
            and (call.bias_first is None or call.bias_first == prev.bias_first + prev.count_n))


def _execute_instructions(batch_plan, data, log, trace) -> None:
    """The plan by interpreting ``MlasSbgemmKernelZero/Add``'s schedule on register images, one
    routine call per 8, 4, 2 or 1 rows (the C++ wrapper's loop)."""
    cache: dict = {}
    for call in batch_plan.calls:
        d = data[call.gemm]
        ops = _operands(call, d, log, cache)
        bias = _bias(call, d)
        z = (np.zeros(call.count_n, np.float32) if bias is None else bias).view(np.uint32)[None, :]

        def write(tile, call=call, ops=ops, z=z):
            c_bits = tile.view(np.uint32)
            for kcall in routine_calls(call):
                rows = slice(kcall.m - call.m, kcall.m - call.m + kcall.rows)
                records = asm.schedule(kcall)
                execute(records, Memory(A=ops.a.raw[rows], B=ops.b_bits, Z=z, C=c_bits[rows]))
                if trace is not None:
                    trace.extend(relabel(records, call, kcall, d))
            _poisoned(tile, ops.poison)

        _store(call, d, write)


_EXECUTORS = {"fast": _execute_fast, "instructions": _execute_instructions}


def routine_calls(call: plan.SBGemmCall) -> list[KernelCall]:
    """The assembly routine's calls for one wrapper call: 8, 4, 2 or 1 rows at a time.

    Releases without defect 3 (1.28.0 on) copy A into a zero-padded buffer and pass CountK
    rounded up to a multiple of 4: the routine then runs only full 4-k steps (the oracle counts
    the same BFMMLA but one more ``sub``/``tbz`` per former padded step)."""
    count_k = call.count_k if call.a.defect else kn.align_up(call.count_k, SBGEMM_NEON.packed_k)
    out, m = [], 0
    while m < call.count_m:
        rows = SBGEMM_NEON.kernel_rows(call.count_m - m)
        out.append(KernelCall(call.thread, call.m + m, rows, call.n, call.count_n, call.k, count_k,
                              call.zero_mode, call.bias_first is not None))
        m += rows
    return out


def relabel(records, call: plan.SBGemmCall, kcall: KernelCall, d: SBGemmData | None = None) -> list:
    """``records`` with lanes named in the whole GEMM's coordinates, through the call's operand
    maps: ("A", i, k) of the element a lane really holds (an over-read lane: the next elements
    in memory), ("B", k, j), ("C", i, j), ("bias", 0, j); None for zero padding or memory outside
    the operands. A's and B's leading dimensions are those of a plain (M, K) and (K, N) pair."""
    names = _LaneNames(call, kcall, d)
    return [replace(r, lanes={reg: tuple(names(c) for c in lanes) for reg, lanes in r.lanes.items()})
            if r.lanes else r for r in records]


class _LaneNames:
    def __init__(self, call, kcall, d):
        self.call, self.row0, self.d = call, kcall.m - call.m, d
        self.packed_index = None

    def __call__(self, coord):
        if coord is None:
            return None
        kind, i, j = coord
        call = self.call
        if kind == "C":
            return ("C", call.m + self.row0 + i, call.n + j)
        if kind == "Z":
            return ("bias", 0, call.bias_first + j)
        if kind == "A":
            if j >= call.count_k and not call.a.over_read:
                return None
            return ("A", *divmod(call.a.offset - call.k * 0 + (self.row0 + i) * call.a.lda + j, call.a.lda))
        return self._b(i, j)

    def _b(self, kk, c):
        call, b = self.call, self.call.b
        if isinstance(b, plan.AsWritten):
            return ("B", *divmod(b.offset + kk * b.ld + c, b.ld)) if kk < call.count_k else None
        if isinstance(b, plan.Indexed):
            src = int(b.index[kk, c])
        else:
            src = int(self._packed()[kk, c])
        ld = self.d.ldb if self.d is not None else call.ldc
        return ("B", *divmod(src, ld)) if src >= 0 else None

    def _packed(self):
        if self.packed_index is None:
            self.packed_index = _packed_source_index(self.d, self.call)
        return self.packed_index


def _packed_source_index(d, call):
    """For a read of the pre-packed buffer: the flat source index of B each lane holds."""
    source = d.b_source
    k, n = source.shape
    buf = np.full(kn.pack_b_size(n, k) // 2, plan.UNWRITTEN, np.int64)
    kn.convert_pack_b_into(buf, None, np.arange(k * n).reshape(k, n), convert=False, fill=plan.ZERO)
    where = kn.b_operand_index(call.b.offset, call.count_n, call.count_k)
    inside = where < buf.size
    return np.where(inside, buf[np.where(inside, where, 0)], plan.UNWRITTEN)


def plan_gemm(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1, ort_version=None,
              faithful: bool = True) -> plan.SBGemmPlan:
    """The plan of one plain product (A (M, K), B (K, N), C (M, N), no bias), as ``sgemm_bf16`` runs it."""
    geometry = plan.Geometry(0, K, 0, N, packed_b, 0, N, False, packed_b)
    return plan.plan_batch(M, N, K, [geometry], check_threads(threads), release(ort_version), faithful)


def kernel_calls(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1, ort_version=None) -> list:
    """Every call of the assembly routine for one plain product, in execution order."""
    return [kc for call in plan_gemm(M, N, K, packed_b=packed_b, threads=threads, ort_version=ort_version).calls
            for kc in routine_calls(call)]


def trace_records(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1, ort_version=None,
                  faithful: bool = True) -> list:
    """The records of every routine call of one plain product (the schedule of
    :mod:`.sbgemm_kernel_asm` over the plan), lanes in the product's coordinates; nothing is computed."""
    shape_only = SBGemmData(np.empty(0, np.float32), 0, K, None, 0, N, packed_b, np.empty(0, np.float32), 0, N,
                            b_source=np.broadcast_to(np.float32(0), (K, N)) if packed_b else None)
    out = []
    for call in plan_gemm(M, N, K, packed_b=packed_b, threads=threads, ort_version=ort_version,
                          faithful=faithful).calls:
        for kcall in routine_calls(call):
            out += relabel(asm.schedule(kcall), call, kcall, shape_only)
    return out


def _gather(flat, offset, rows, cols, ld):
    """``flat[offset + i * ld + j]`` as a (rows, cols) array: a view of ``flat`` when inside it."""
    view = kn.strided_view(flat, offset, rows, ld, cols)
    if view is not None:
        return view
    return flat[offset + np.arange(rows)[:, None] * ld + np.arange(cols)[None, :]]


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
