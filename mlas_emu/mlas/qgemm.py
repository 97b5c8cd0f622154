"""QGEMM as MLAS runs it on Arm64 with I8MM: dispatch, K/N/M slices, zero-point algebra, threads.

Models ``onnxruntime/core/mlas/lib/qgemm.h`` (``MlasGemmQuantGetDispatch``,
``MlasGemmQuantOperation``, ``MlasGemmQuantPackedOperation``) and
``onnxruntime/core/mlas/lib/qgemm.cpp`` (``MlasGemmBatch``, ``MlasGemmQuantThreaded``,
``MlasGemmPackB``) of ONNX Runtime 1.17-1.27 built for Linux aarch64 (the PyPI wheels), on a CPU
with I8MM: u8u8 and u8s8 run the UMMLA kernel (u8s8 through the 0x80 flip), s8s8 the SMMLA
kernel, s8u8 is rejected.

Every step is int32 arithmetic that wraps modulo 2^32, so the result is
``sum_k (A[m,k] - zpA) * (B[k,n] - zpB[n])`` modulo 2^32 whatever the slicing, tiling, kernel
or thread split. Two paths compute it:

* ``path="fast"``: float32 BLAS on the zero-point-shifted operands in K chunks
  (:func:`exact_int_matmul`): each product is at most 255 * 255 in magnitude and a chunk keeps
  every partial sum an integer within 2^24, so any summation order is exact; chunks are added
  in int32, which wraps modulo 2^32 like the hardware.
* ``path="instructions"``: the driver plan (:func:`plan_calls`: the MLAS driver loops as a list
  of kernel calls) run call by call (:func:`run_plan`): the routine's schedule
  (:mod:`mlas_emu.mlas.qgemm_kernel_mmla_asm`, every instruction of QgemmU8X8KernelUmmla.S /
  QgemmS8S8KernelSmmla.S) interpreted on register images through :mod:`mlas_emu.isa`,
  optionally recording a trace (:func:`trace_records` gives the same records without running).
  Slow; for teaching and for checking the fast path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..cpus import resolve_cpu
from ..releases import release
from . import qgemm_kernel_mmla_asm as mmla_asm
from . import qgemm_kernel_sve_asm as sve_asm
from . import qgemm_kernel_smmla, qgemm_kernel_ummla
from .dispatch import QGEMM_SVE, QGEMM_UMMLA, Dispatch
from .interpret import Memory, Registers, execute
from .schedule import KernelCall
from .threading import check_threads, gemm_thread_ranges, partition

#: ``MLAS_QGEMM_STRIDEN_THREAD_ALIGN``: N ranges of threads and the packed column sums align to 16.
STRIDEN_THREAD_ALIGN = 16

#: float32 holds every integer of magnitude up to 2^24 exactly.
_F32_EXACT_INT = 1 << 24

PATHS = ("fast", "instructions")


def kernel_family(a_is_signed: bool, b_is_signed: bool):
    """``MlasGemmQuantGetDispatch`` on Linux aarch64 with I8MM: the kernel module for the types.

    Raises ``TypeError`` for int8 A with uint8 B, which MLAS does not support (and which no
    ONNX Runtime operator registers).
    """
    if a_is_signed and not b_is_signed:
        raise TypeError("QGEMM with int8 A and uint8 B is not supported by MLAS (AIsSigned=1, BIsSigned=0); "
                        "use uint8 A with uint8/int8 B, or int8 A with int8 B")
    return qgemm_kernel_smmla if a_is_signed else qgemm_kernel_ummla


def wrap_int32(values) -> np.ndarray:
    """Integers (any width) -> int32 modulo 2^32, as two's-complement hardware wraps."""
    return np.asarray(values).astype(np.int64).astype(np.uint32).view(np.int32)


def thread_ranges(m: int, n: int, k: int, threads: int, batch: int = 1,
                  ort_version=None) -> list[tuple[int, int, int, int]]:
    """``MlasGemmBatch`` + ``MlasGemmQuantThreaded`` (onnxruntime/core/mlas/lib/qgemm.cpp):
    ``(start_m, count_m, start_n, count_n)`` per thread of one GEMM.

    The release's :attr:`~mlas_emu.releases.Release.qgemm_threads` rule
    (:func:`mlas_emu.mlas.threading.partition`): a target of M*N*K*batch / 65536 + 1 threads, at
    most the platform's 64 before 1.22.0 (#23815 dropped that cap), at most the session's
    ``threads``; max(target // batch, 1) per GEMM; wide products split N in 16-column blocks,
    others split M. Taken from the sources of 1.17 to 1.25 (integer results do not depend on
    it, so the oracle cannot check it through values; it shapes the instruction path and traces).
    """
    count_m_threads, count_n_threads = partition(m, n, k, batch, threads, release(ort_version).qgemm_threads,
                                                 STRIDEN_THREAD_ALIGN)
    return gemm_thread_ranges(m, n, count_m_threads, count_n_threads, STRIDEN_THREAD_ALIGN)


def instruction_release(ort_version, cpu):
    """The release whose QGEMM kernel the instruction path and traces model on ``cpu``:
    ``ort_version``'s (None: the newest). From 1.30.0 a CPU with SVE and I8MM runs the SVE kernel
    (:attr:`~mlas_emu.releases.Release.qgemm_sve_kernel`, :func:`sve_bits`)."""
    resolve_cpu(cpu)
    return release(ort_version)


def sve_bits(rel, cpu) -> int:
    """The SVE vector length QGEMM's kernel runs at under release ``rel`` on ``cpu``, 0 for the
    Advanced SIMD kernels: the SVE dispatch (``MlasGemmU8X8DispatchUmmlaSve``, installed when
    ``HasArmSVE_I8MM``) from 1.30.0 on a CPU with SVE and I8MM."""
    desc = resolve_cpu(cpu)
    return desc.sve_bits if release(rel).qgemm_sve_kernel and desc.sve_bits and desc.i8mm else 0


def plan_calls(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1, ort_version=None,
               dispatch: Dispatch = QGEMM_UMMLA) -> tuple[KernelCall, ...]:
    """The driver plan of one ``M x N x K`` QGEMM: every kernel call, threads in id order.

    ``MlasGemmBatch``'s thread ranges (:func:`thread_ranges`), then per thread
    ``MlasGemmQuantOperation`` (``Strides{24, 128, 256}``, B packed on the fly) or
    ``MlasGemmQuantPackedOperation`` (``PackedStrides{24, 128, 384}``, ``packed_b``), qgemm.h: K
    slices, N slices, M panels of 24, and in each panel ``MlasGemmQuantKernel`` called until its
    rows are handled (``kernel_rows(CountM)`` rows per call, the MMLA routines' by default).
    ZeroMode is the first K slice (``IsAccumulateMode`` is never set by the operators modelled).
    ``dispatch``: the constants (:mod:`mlas_emu.mlas.dispatch`): the MMLA ones (UMMLA and SMMLA
    are equal), the DOT ones, or the SVE dispatch of 1.30+ (panels of 12 rows).
    """
    strides = dispatch.driver_strides(packed_b)
    kernel_rows = dispatch.kernel_rows
    calls = []
    for tid, (m0, count_m, n0, count_n) in enumerate(thread_ranges(M, N, K, threads, ort_version=ort_version)):
        if count_m <= 0 or count_n <= 0:
            continue
        for k in range(0, K, strides.K):
            count_k = min(K - k, strides.K)
            for n in range(0, count_n, strides.N):
                width = min(count_n - n, strides.N)
                for m in range(0, count_m, strides.M):
                    panel = min(count_m - m, strides.M)
                    done = 0
                    while done < panel:
                        rows = kernel_rows(panel - done)
                        calls.append(KernelCall(tid, m0 + m + done, rows, n0 + n, width, k, count_k, k == 0))
                        done += rows
    return tuple(calls)


@dataclass(frozen=True)
class GemmOperands:
    """What the driver hands the kernel routines, for the whole GEMM: A's bytes, B as the packed
    buffers hold it (XOR 0x80 when an unsigned kernel runs int8 B), the zero points as
    ``MlasGemmQuantOperation`` fixes them up (per column: an int64 array), and with a pre-packed B
    ``MlasGemmPackB``'s column sums over all of K."""

    a: np.ndarray
    b: np.ndarray
    zero_point_a: int
    zero_point_b: object
    column_sums: np.ndarray | None

    @classmethod
    def of(cls, a, b, zero_point_a, zero_point_b, *, packed_b: bool) -> "GemmOperands":
        family = kernel_family(a.dtype == np.int8, b.dtype == np.int8)
        b_signed = b.dtype == np.int8
        zpb = np.asarray(zero_point_b, np.int64)
        fixed = np.array([family.fixup_zero_point_b(int(z), b_signed) for z in zpb.reshape(-1)], np.int64)
        zpb = int(fixed[0]) if zpb.ndim == 0 else fixed
        flip = b_signed and family is qgemm_kernel_ummla
        packed = b.view(np.uint8) ^ np.uint8(0x80) if flip else b
        sums = packed.astype(np.int64).sum(axis=0) if packed_b else None
        return cls(a, packed, int(zero_point_a), zpb, sums)


def call_memory(call: KernelCall, ops: GemmOperands, c: np.ndarray) -> Memory:
    """The operands one call reads and writes, in its coordinates: its A rows and B columns of the
    K slice, RowSumBuffer (``CopyPackA``'s sums minus ``CountK * ZeroPointA``, times
    ``-ZeroPointB`` when per tensor), ColumnSumBuffer (``CopyPackB``'s sums times ``-ZeroPointA``;
    with a packed B ``MlasGemmPackB``'s sums over all of K in the first K slice, zeros after),
    ZeroPointB (``-ZeroPointB[n]``, per column) and C (a view of ``c``); int32 sums wrap."""
    rows = slice(call.m, call.m + call.rows)
    cols = slice(call.n, call.n + call.count_n)
    depth = slice(call.k, call.k + call.count_k)
    row_sums = ops.a[rows, depth].astype(np.int64).sum(axis=1) - call.count_k * ops.zero_point_a
    per_column = np.ndim(ops.zero_point_b) == 1
    if not per_column:
        row_sums = wrap_int32(row_sums).astype(np.int64) * -ops.zero_point_b
    if ops.column_sums is not None:
        col_sums = ops.column_sums[cols] if call.k == 0 else np.zeros(call.count_n, np.int64)
    else:
        col_sums = ops.b[depth, cols].astype(np.int64).sum(axis=0)
    operands = {"A": ops.a[rows, depth], "B": ops.b[depth, cols], "C": c[rows, cols],
                "RowSum": wrap_int32(row_sums)[None], "ColumnSum": wrap_int32(col_sums * -ops.zero_point_a)[None]}
    if per_column:
        operands["ZeroPointB"] = wrap_int32(-ops.zero_point_b[cols])[None]
    return Memory(**operands)


#: call coordinates -> the GEMM's (RowSum / ColumnSum: the buffers of the K slice at call.k)
_GLOBAL = {
    "A": lambda call, i, j: ("A", call.m + i, call.k + j),
    "B": lambda call, i, j: ("B", call.k + i, call.n + j),
    "C": lambda call, i, j: ("C", call.m + i, call.n + j),
    "RowSum": lambda call, i, j: ("RowSum", call.k, call.m + j),
    "ColumnSum": lambda call, i, j: ("ColumnSum", call.k, call.n + j),
    "ZeroPointB": lambda call, i, j: ("ZeroPointB", 0, call.n + j),
}


def global_records(records, call: KernelCall) -> list:
    """``records`` of ``call`` with lanes in the GEMM's coordinates: ``("A", i, k)``,
    ``("B", k, j)``, ``("C", i, j)``, ``("RowSum", k0, i)`` / ``("ColumnSum", k0, j)`` (the
    buffers of the K slice starting at k0), ``("ZeroPointB", 0, j)``; padding stays ``None``."""
    out = []
    for rec in records:
        if rec.lanes:
            lanes = {reg: tuple(None if c is None else _GLOBAL[c[0]](call, c[1], c[2]) for c in coords)
                     for reg, coords in rec.lanes.items()}
            rec = replace(rec, lanes=lanes)
        out.append(rec)
    return out


def run_plan(calls, a, b, zero_point_a=0, zero_point_b=0, *, packed_b=True, trace=None, sve_bits=0) -> np.ndarray:
    """The instruction path: each call's schedule (:func:`.qgemm_kernel_mmla_asm.schedule`, UMMLA or
    SMMLA by the types; with ``sve_bits`` the SVE routine's, :func:`.qgemm_kernel_sve_asm.schedule`)
    run by :func:`mlas_emu.mlas.interpret.execute` on its operands (:func:`call_memory`); returns C
    (int32). ``trace``, if a list, receives the records in the GEMM's coordinates
    (:func:`global_records`)."""
    kernel = kernel_family(a.dtype == np.int8, b.dtype == np.int8).MNEMONIC
    ops = GemmOperands.of(a, b, zero_point_a, zero_point_b, packed_b=packed_b)
    per_column = np.ndim(ops.zero_point_b) == 1
    c = np.zeros((a.shape[0], b.shape[1]), np.int32)
    for call in calls:
        records = _schedule(call, kernel, per_column, sve_bits)
        execute(records, call_memory(call, ops, c), Registers(vl=sve_bits // 8))
        if trace is not None:
            trace += global_records(records, call)
    return c


def _schedule(call, kernel, per_column, bits):
    if bits:
        return sve_asm.schedule(call, kernel=kernel, zero_point_b=per_column, vector_bits=bits)
    return mmla_asm.schedule(call, kernel=kernel, zero_point_b=per_column)


def qgemm_instructions(a, b, zero_point_a=0, zero_point_b=0, *, threads=1, packed_b=True, trace=None,
                       ort_version=None, sve_bits=0):
    """One QGEMM on a CPU with I8MM, instruction by instruction: the plan (:func:`plan_calls`)
    run by :func:`run_plan`. ``zero_point_b``: an int, or an (N,) array (per column).
    ``sve_bits``: the SVE kernel's vector length (:func:`sve_bits`), 0 for the MMLA kernel."""
    m, k = a.shape
    calls = plan_calls(m, b.shape[1], k, packed_b=packed_b, threads=threads, ort_version=ort_version,
                       dispatch=QGEMM_SVE if sve_bits else QGEMM_UMMLA)
    return run_plan(calls, a, b, zero_point_a, zero_point_b, packed_b=packed_b, trace=trace, sve_bits=sve_bits)


KINDS = {"u8u8": (np.uint8, np.uint8), "u8s8": (np.uint8, np.int8), "s8s8": (np.int8, np.int8)}


def trace_records(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1, ort_version=None, cpu=None,
                  kind: str = "u8u8", per_column: bool = False) -> list:
    """The records of every MMLA-routine call of an ``M x N x K`` QGEMM of ``kind`` ("u8u8",
    "u8s8": ``MlasGemmU8X8KernelUmmla{Zero,Add}``; "s8s8": ``MlasGemmS8S8KernelSmmla{Zero,Add}``;
    from 1.30.0 on a CPU with SVE: ``MlasGemmU8X8KernelUmmlaSveImpl`` /
    ``MlasGemmS8S8KernelSmmlaSveImpl``, every instruction, see :mod:`.qgemm_kernel_sve_asm`) in
    execution order (threads in id order), lanes in the GEMM's coordinates (:func:`global_records`),
    from the plan the instruction path runs (:func:`plan_calls`). ``per_column``: per-column zero
    points of B. ``cpu`` needs I8MM (default Graviton3); the release is :func:`instruction_release`'s."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {tuple(KINDS)}, got {kind!r}")
    desc = resolve_cpu(cpu)
    if not desc.i8mm:
        raise ValueError(f"{desc.name} has no I8MM: MLAS runs its DOT kernels there "
                         "(mlas_emu.mlas.qgemm_kernel_udot.trace_records)")
    rel = instruction_release(ort_version, desc.name)
    bits = sve_bits(rel, desc.name)
    kernel = "smmla" if kind == "s8s8" else "ummla"
    out = []
    for call in plan_calls(M, N, K, packed_b=packed_b, threads=threads, ort_version=rel,
                           dispatch=QGEMM_SVE if bits else QGEMM_UMMLA):
        out += global_records(_schedule(call, kernel, per_column, bits), call)
    return out


def qgemm_fast(a, b, zero_point_a=0, zero_point_b=0) -> np.ndarray:
    """``sum_k (A - zpA)(B - zpB)`` modulo 2^32 through float32 BLAS in exactly representable chunks."""
    return gemm_batch_exact(a, b, zero_point_a, zero_point_b)


def gemm_batch(A, B, a_zero_point=0, b_zero_point=0, *, threads=1, packed_b=True, ort_version=None, cpu=None,
               path="fast", trace=None) -> np.ndarray:
    """``MlasGemmBatch`` (onnxruntime/core/mlas/lib/qgemm.cpp) over NumPy-broadcast batches: int32
    ``(A - a_zero_point) @ (B - b_zero_point)``, sums wrapping modulo 2^32.

    A is ``(..., M, K)`` and B ``(..., K, N)``, int8 or uint8 (the pairs of :func:`kernel_family`);
    their batch axes broadcast like ``numpy.matmul``, one ``MLAS_GEMM_QUANT_DATA_PARAMS`` per output
    matrix and ``BatchN`` their number. ``a_zero_point`` (``ZeroPointA``): a scalar of A's type.
    ``b_zero_point`` (``ZeroPointB``): a scalar, or an array of B's type that broadcasts against
    B's shape with axis -2 of size 1 (``PerColumnZeroPoints``: ``(N,)``, or ``(..., 1, N)`` per
    batch matrix). ``threads``: the emulated session's intra-op thread count; the thread target
    counts the whole batch (M*N*K*BatchN) and each GEMM gets ``max(target // BatchN, 1)`` threads
    (:func:`thread_ranges`). ``packed_b``: B was pre-packed by ``MlasGemmPackB`` (ONNX Runtime packs
    a constant 2-D B only, so a batched B with ``packed_b=True`` raises). ``ort_version``, ``cpu``,
    ``path`` and ``trace`` as in :func:`qgemm`.

    ``path="fast"`` (:func:`gemm_batch_exact`) is the exact product: every step of MLAS's QGEMM is
    int32 arithmetic that wraps, so tiling, kernel and threads never change the result.
    ``path="instructions"`` runs each GEMM of the batch through the instruction-level driver
    (:func:`qgemm_instructions` with I8MM, :func:`qgemm_dot_instructions` without) with its share
    of the threads; ``trace`` receives the records of all of them, GEMM after GEMM.
    """
    a, b, zpa, zpb, batch_shape = _check_batch(A, B, a_zero_point, b_zero_point, packed_b)
    check_threads(threads)
    desc = resolve_cpu(cpu)
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    if trace is not None and path != "instructions":
        raise ValueError("a trace is only recorded with path='instructions'")
    if path == "fast":
        release(ort_version)  # validated on every path
        return gemm_batch_exact(a, b, zpa, zpb)
    return _gemm_batch_instructions(a, b, zpa, zpb, batch_shape, threads, packed_b, instruction_release(
        ort_version, desc.name), desc, trace)


def _check_batch(A, B, a_zero_point, b_zero_point, packed_b):
    """:func:`gemm_batch`'s operands and zero points, checked; the broadcast batch shape."""
    for x, name in ((A, "A"), (B, "B")):
        if not isinstance(x, np.ndarray) or x.dtype not in _RANGES:
            raise TypeError(f"{name} must be a numpy array of int8 or uint8, got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        if x.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., rows, columns), got shape {x.shape}; "
                             "ONNX MatMul's 1-D promotion lives in mlas_emu.ort")
    if A.shape[-1] != B.shape[-2]:
        raise ValueError(f"A is {A.shape} and B is {B.shape}: K (A's last axis, B's axis -2) must match")
    try:
        batch_shape = np.broadcast_shapes(A.shape[:-2], B.shape[:-2]) if A.ndim > 2 or B.ndim > 2 else ()
    except ValueError:
        raise ValueError(f"the batch axes of A {A.shape} and B {B.shape} do not broadcast") from None
    if not isinstance(packed_b, (bool, np.bool_)):
        raise TypeError(f"packed_b must be a bool, got {type(packed_b).__name__}")
    if packed_b and B.ndim != 2:
        raise ValueError(f"packed_b=True needs a 2-D B (MlasGemmPackB packs one matrix), got shape {B.shape}")
    kernel_family(A.dtype.kind == "i", B.dtype.kind == "i")
    zpa = _scalar_zero_point(a_zero_point, A.dtype, "a_zero_point")
    return A, B, zpa, _batch_zero_point_b(b_zero_point, B), batch_shape


#: The value range of each operand type (``np.iinfo``, looked up once).
_RANGES = {np.dtype(np.int8): (-128, 127), np.dtype(np.uint8): (0, 255)}


def _scalar_zero_point(value, dtype, name):
    """An integer scalar (Python int, NumPy integer, 0-d integer array) in the range of ``dtype``, as
    an int: the common case of :func:`check_zero_point` without its array work (operators call
    this for every product); anything else goes through :func:`check_zero_point`."""
    kind = getattr(value, "dtype", None)
    if type(value) is int or (kind is not None and kind.kind in "iu" and np.ndim(value) == 0):
        lo, hi = _RANGES[dtype]
        if lo <= int(value) <= hi:
            return int(value)
    return check_zero_point(value, dtype, name)


def _batch_zero_point_b(value, B):
    """B's zero point: an int, or an int64 array broadcasting against B's shape with axis -2 of size 1."""
    if np.ndim(value) == 0:
        return _scalar_zero_point(value, B.dtype, "b_zero_point")
    arr = np.asarray(value)
    target = B.shape[:-2] + (1, B.shape[-1])
    ok = arr.ndim <= len(target) and (arr.ndim == 1 or arr.shape[-2] == 1)
    try:
        ok = ok and np.broadcast_shapes(arr.shape, target) == target
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"b_zero_point has shape {arr.shape}; for B of shape {B.shape} it must be a scalar or "
                         f"broadcast to {target} (per column)")
    return check_zero_point(arr.reshape(-1), B.dtype, "b_zero_point", length=arr.size).reshape(arr.shape)


def _gemm_batch_instructions(a, b, zpa, zpb, batch_shape, threads, packed_b, rel, cpu, trace):
    """Every GEMM of the batch through the instruction-level driver, each with the threads
    ``MlasGemmBatch`` gives it: passing ``max(target // BatchN, 1)`` as one GEMM's thread count
    reproduces its partition (that GEMM's own target is never smaller)."""
    from .threading import thread_target, threads_per_gemm

    m, k = a.shape[-2:]
    n = b.shape[-1]
    count = int(np.prod(batch_shape, dtype=np.int64))
    rule = rel.qgemm_threads
    per_gemm = threads_per_gemm(thread_target(m, n, k, count, threads, rule), count, rule)
    a_all = np.broadcast_to(a, batch_shape + (m, k)).reshape(count, m, k)
    b_all = np.broadcast_to(b, batch_shape + (k, n)).reshape(count, k, n)
    zp_all = (np.broadcast_to(zpb, batch_shape + (1, n)).reshape(count, n) if np.ndim(zpb) else [zpb] * count)
    run = qgemm_instructions if cpu.i8mm else qgemm_dot_instructions
    extra = {"sve_bits": sve_bits(rel, cpu.name)} if cpu.i8mm else {}
    out = np.zeros((count, m, n), dtype=np.int32)
    for i in range(count):
        out[i] = run(a_all[i], b_all[i], zpa, zp_all[i], threads=per_gemm, packed_b=packed_b, trace=trace,
                     ort_version=rel, **extra)
    return out.reshape(batch_shape + (m, n))


def gemm_batch_exact(a, b, zero_point_a=0, zero_point_b=0) -> np.ndarray:
    """The fast path of :func:`gemm_batch` (no checks): ``matmul(A - zpA, B - zpB)`` modulo 2^32, int32.

    ``zero_point_b`` may be a scalar or any array that broadcasts against ``b`` (per column, per
    batch matrix). Same bits as the instruction path on each 2-D product.
    """
    ad = a.astype(np.float32)
    ad -= np.float32(zero_point_a)
    bd = b.astype(np.float32)
    bd -= np.asarray(zero_point_b, np.float32)
    return exact_int_matmul(ad, bd)


def exact_int_matmul(ad: np.ndarray, bd: np.ndarray) -> np.ndarray:
    """``matmul`` of integer-valued float32 operands, exactly, wrapped modulo 2^32 to int32.

    float32 BLAS runs over K chunks short enough that every partial sum, in whatever order the
    BLAS adds, is an integer of magnitude at most 2^24 (``chunk * max|A| * max|B| <= 2^24``), so
    no addition rounds; chunks are then added in int32, which wraps like the hardware's adds.
    """
    k = ad.shape[-1]
    bound = _max_abs(ad) * _max_abs(bd)
    chunk = max(k, 1) if bound == 0 else max(1, int(_F32_EXACT_INT // bound))  # K = 0: one empty product
    total = None
    for k0 in range(0, max(k, 1), chunk):
        b_rows = bd[k0 : k0 + chunk] if bd.ndim == 1 else bd[..., k0 : k0 + chunk, :]
        part = np.matmul(ad[..., k0 : k0 + chunk], b_rows).astype(np.int32)
        if total is None:
            total = part
        else:
            total += part  # int32: wraps modulo 2^32
    return total


def _max_abs(x: np.ndarray) -> float:
    """``max |x|`` (0 for an empty array) without an ``abs`` copy of ``x``."""
    return max(float(x.max(initial=0)), -float(x.min(initial=0)))


def _check_operand(x, name):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array of int8 or uint8, got {type(x).__name__}")
    if x.dtype not in (np.int8, np.uint8):
        raise TypeError(f"{name} must have dtype int8 or uint8, got {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (got shape {x.shape}); batched products live in mlas_emu.ort")
    return x


def check_zero_point(value, dtype, name, *, length=None):
    """A zero point as an int (scalar or 0-d) or, with ``length``, also an int array of shape (length,).

    Values must lie in the range of ``dtype`` (the type of the matrix they belong to).
    """
    info = np.iinfo(dtype)
    arr = np.asarray(value)
    if arr.dtype.kind not in "iub" or arr.dtype == np.bool_:
        raise TypeError(f"{name} must be an integer (or integer array), got {arr.dtype}")
    if arr.ndim == 1 and length is not None:
        if arr.shape != (length,):
            raise ValueError(f"{name} per column must have shape ({length},), got {arr.shape}")
    elif arr.ndim != 0:
        allowed = f"a scalar or shape ({length},)" if length is not None else "a scalar"
        raise ValueError(f"{name} must be {allowed}, got shape {arr.shape}")
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise ValueError(f"{name} must lie in [{info.min}, {info.max}] (the range of {np.dtype(dtype)}), got {value!r}")
    return arr.astype(np.int64) if arr.ndim == 1 else int(arr)


def qgemm(A, B, a_zero_point=0, b_zero_point=0, *, threads=1, packed_b=True, path="fast", trace=None,
          ort_version=None, cpu=None):
    """``MlasGemmBatch`` for one product (:func:`gemm_batch` with a batch of one):
    ``C = (A - a_zero_point) @ (B - b_zero_point)`` in int32.

    A is ``M x K`` and B ``K x N``, each int8 or uint8 (uint8 x uint8, uint8 x int8 and int8 x int8;
    int8 x uint8 raises ``TypeError``). ``a_zero_point`` is a scalar of A's type;
    ``b_zero_point`` a scalar or an (N,) array of B's type (per-column zero points). The result
    is the int32 matrix MLAS writes, sums wrapping modulo 2^32. ``threads`` is the emulated
    ONNX Runtime session's intra-op thread count and ``packed_b`` whether B was pre-packed (a constant
    initializer); neither changes the result, both shape the instruction trace, as does
    ``ort_version`` (the release, a string or :class:`~mlas_emu.releases.Release`; None: the
    newest, or on the instruction path :func:`instruction_release`'s choice) through the thread
    partition (:func:`thread_ranges`). ``cpu`` (a name of
    :data:`mlas_emu.cpus.CPUS`, default Graviton3) chooses the kernel MLAS dispatches: UMMLA/SMMLA
    with I8MM (Graviton3/4), UDOT/SDOT without (Graviton2); the int32 result is the same.
    ``path="instructions"`` runs MLAS's packing and micro-kernel instruction by instruction
    (optionally appending :class:`~mlas_emu.mlas.trace.InstructionRecord` s to ``trace``);
    ``"fast"`` computes the same bits with float32 BLAS in exact K chunks.

    >>> import numpy as np
    >>> A = np.array([[255, 0]], np.uint8); B = np.array([[1], [2]], np.int8)
    >>> qgemm(A, B, a_zero_point=128, b_zero_point=-1)
    array([[-130]], dtype=int32)
    """
    A = _check_operand(A, "A")
    B = _check_operand(B, "B")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"A is {A.shape[0]}x{A.shape[1]} and B is {B.shape[0]}x{B.shape[1]}: K must match")
    kernel_family(A.dtype == np.int8, B.dtype == np.int8)
    zpa = check_zero_point(a_zero_point, A.dtype, "a_zero_point")
    zpb = check_zero_point(b_zero_point, B.dtype, "b_zero_point", length=B.shape[1])
    return gemm_batch(A, B, zpa, zpb, threads=threads, packed_b=packed_b, ort_version=ort_version, cpu=cpu,
                      path=path, trace=trace)


def qgemm_dot_instructions(a, b, zero_point_a=0, zero_point_b=0, *, threads=1, packed_b=True, trace=None,
                           ort_version=None, with_coords=True):
    """The whole MLAS QGEMM on a CPU with DotProd and without I8MM (Graviton2): the DOT
    dispatch's kernel calls (:func:`.qgemm_kernel_udot.plan`) run through the UDOT / SDOT
    routine's schedule (:mod:`.qgemm_kernel_dot_asm`); ``trace`` receives the records in the
    GEMM's coordinates (``with_coords`` is accepted for older callers: lanes are always named)."""
    from . import qgemm_kernel_sdot, qgemm_kernel_udot

    mod = qgemm_kernel_sdot if a.dtype == np.int8 else qgemm_kernel_udot
    return mod.gemm(a, b, zero_point_a, zero_point_b, packed_b=packed_b, threads=threads, ort_version=ort_version,
                    trace=trace)
