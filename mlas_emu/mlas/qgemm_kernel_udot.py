"""MLAS's DOT-product QGEMM kernel for Arm CPUs without I8MM (UDOT; SDOT in the sibling module).

Models onnxruntime/core/mlas/lib ``qgemm_kernel_udot.cpp`` (``MLAS_GEMM_U8X8_KERNEL_UDOT``:
``PackedK = 8``, ``Strides{24, 128, 256}``, ``PackedStrides{24, 128, 384}``,
``MlasGemmU8X8CopyPackA`` / ``MlasGemmU8X8CopyPackB``) and ``aarch64/QgemmU8X8KernelUdot.S``
(``MlasGemmU8X8KernelUdot``), as shipped in ONNX Runtime 1.17.1. MLAS selects it for u8u8 and
u8s8 on CPUs with DotProd but without I8MM (``platform.cpp``); u8s8 flips B's sign bit
(XOR 0x80) so one unsigned kernel serves both.

Packed A (``MlasGemmU8X8CopyPackA``), rows grouped greedily 8, 4, 2, 1; K padded with zeros to
a multiple of 8 (the 1-row group to a multiple of 16). For a group of ``g`` rows, every 4 values
of K take ``4*g`` bytes, row after row::

    8 rows, k0..3: [r0k0 r0k1 r0k2 r0k3  r1k0 .. r3k3] [r4k0 .. r7k3]   (two 16-byte vectors)
    8 rows, k4..7: [r0k4 .. r3k7] [r4k4 .. r7k7]

Packed B (``MlasGemmU8X8CopyPackB``), 8-column panels, K padded to a multiple of 8, missing
columns padded; every 4 values of K take 32 bytes: ``[c0k0..3 c1k0..3 c2k0..3 c3k0..3]
[c4k0..3 .. c7k0..3]``, so one 16-byte vector holds 4 columns x 4 k, the operand of
``UDOT Vd.4S, Vn.16B, Vm.4B[e]`` whose element ``e`` picks one row of A.

The kernel routine's instructions are its schedule (:mod:`.qgemm_kernel_dot_asm`); this module
plans the calls the driver makes (:func:`dot_calls`), runs them on register images
(:func:`run_calls`, the instruction path) and names their records for traces
(:func:`trace_records`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .interpret import Memory, execute
from .qgemm_kernel_dot_asm import kernel_rows, schedule
from .qgemm_kernel_ummla import row_groups
from .schedule import KernelCall

#: ``MLAS_GEMM_U8X8_KERNEL_UDOT::PackedK``: K is packed in blocks of 8.
PACKED_K = 8
#: ``Strides`` (M, N, K) and ``PackedStrides`` of the DOT kernels.
STRIDES = (24, 128, 256)
PACKED_STRIDES = (24, 128, 384)


@dataclass(frozen=True)
class DotKernelSpec:
    """What distinguishes the UDOT and SDOT kernels: the instruction and the signedness."""

    mnemonic: str  # "udot" or "sdot"
    signed: bool  # operands are int8 (SDOT) or uint8 (UDOT)


UDOT = DotKernelSpec("udot", signed=False)


# --------------------------------------------------------------------------------------------
# Packing


def pack_a_layout(A: np.ndarray, pad) -> np.ndarray:
    """Arrange the (CountM, CountK) block ``A`` as ``MlasGemmU8X8CopyPackA`` lays out the DOT
    kernels' packed A; padding takes ``pad``. Any dtype (also index arrays, for traces)."""
    count_m, count_k = A.shape
    out = []
    r = 0
    for g in row_groups(count_m):  # MlasGemmU8X8CopyPackA's row groups
        block = A[r : r + g]
        if g == 1:  # contiguous row, zero padded to 16 bytes
            kp = -(-count_k // 16) * 16
            row = np.full(kp, pad, dtype=A.dtype)
            row[:count_k] = block[0]
            out.append(row)
        else:
            kp = -(-count_k // PACKED_K) * PACKED_K
            padded = np.full((g, kp), pad, dtype=A.dtype)
            padded[:, :count_k] = block
            # chunk c of 4 k: rows one after another, 4 bytes each
            out.append(padded.reshape(g, kp // 4, 4).transpose(1, 0, 2).reshape(-1))
        r += g
    return np.concatenate(out) if out else np.zeros(0, dtype=A.dtype)


def pack_b_layout(B: np.ndarray, pad) -> np.ndarray:
    """Arrange the (CountK, CountN) block ``B`` as ``MlasGemmU8X8CopyPackB`` lays out the DOT
    kernels' packed B: 8-column panels, 32 bytes per 4 k; padding takes ``pad``."""
    count_k, count_n = B.shape
    kp = -(-count_k // PACKED_K) * PACKED_K
    np_ = -(-count_n // 8) * 8
    padded = np.full((kp, np_), pad, dtype=B.dtype)
    padded[:count_k, :count_n] = B
    # (panel, chunk of 4 k, column in panel, k in chunk)
    return padded.reshape(kp // 4, 4, np_ // 8, 8).transpose(2, 0, 3, 1).reshape(-1)


def copy_pack_a(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``MlasGemmU8X8CopyPackA``: packed bytes of A (any 8-bit dtype) and its row sums (int32)."""
    packed = pack_a_layout(np.asarray(A), 0)
    row_sums = np.asarray(A).astype(np.int64).sum(axis=1)
    return packed, row_sums.astype(np.int64)


def copy_pack_b(B: np.ndarray, b_is_signed: bool, spec: DotKernelSpec = UDOT) -> tuple[np.ndarray, np.ndarray]:
    """``MlasGemmU8X8CopyPackB``: packed B and its column sums.

    For the UDOT kernel a signed B has its sign bit flipped (``b ^ 0x80``, i.e. ``b + 128`` as
    uint8) so that the unsigned kernel can be used; padding becomes 0 after the flip.
    """
    B = np.asarray(B)
    if spec.signed:
        values = B.astype(np.int8)
    elif b_is_signed:
        values = (B.view(np.uint8) ^ np.uint8(0x80)).astype(np.uint8)
    else:
        values = B.astype(np.uint8)
    return pack_b_layout(values, 0), values.astype(np.int64).sum(axis=0)


# --------------------------------------------------------------------------------------------
# The driver's plan: which kernel calls the GEMM makes


def dot_calls(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1, ort_version=None) -> list:
    """The :class:`~mlas_emu.mlas.schedule.KernelCall` s of one QGEMM on the DOT dispatch, threads
    in id order: ``MlasGemmBatch``'s thread ranges (:func:`mlas_emu.mlas.qgemm.thread_ranges`),
    then per thread ``MlasGemmQuantOperation`` (``Strides{24, 128, 256}``) or
    ``MlasGemmQuantPackedOperation`` (``PackedStrides{24, 128, 384}``), onnxruntime/core/mlas/lib
    qgemm.h: K slices, N slices, M panels, and in each panel the kernel called until its rows
    are handled (:func:`mlas_emu.mlas.qgemm_kernel_dot_asm.kernel_rows`)."""
    from .qgemm import thread_ranges

    stride_m, stride_n, stride_k = PACKED_STRIDES if packed_b else STRIDES
    calls = []
    for tid, (m0, count_m_thread, n0, count_n_thread) in enumerate(thread_ranges(M, N, K, threads,
                                                                               ort_version=ort_version)):
        if count_m_thread <= 0 or count_n_thread <= 0:
            continue
        for k in range(0, K, stride_k):
            count_k = min(K - k, stride_k)
            for n in range(0, count_n_thread, stride_n):
                count_n = min(count_n_thread - n, stride_n)
                for m in range(0, count_m_thread, stride_m):
                    count_m = min(count_m_thread - m, stride_m)
                    done = 0
                    while done < count_m:
                        rows = kernel_rows(count_m - done)
                        calls.append(KernelCall(tid, m0 + m + done, rows, n0 + n, count_n, k, count_k, k == 0))
                        done += rows
    return calls


# --------------------------------------------------------------------------------------------
# The instruction path: each call's schedule run on register images


@dataclass(frozen=True)
class _Operands:
    """What the driver hands the kernels, for the whole GEMM: A, B as packed (B's sign bit
    flipped for UDOT with int8 B), the zero points as ``MlasGemmQuantOperation`` fixes them up."""

    a: np.ndarray
    b: np.ndarray
    zero_point_a: int
    zero_point_b: object  # int (per tensor) or int64 array (per column), after the fixup
    packed_b: bool
    column_sums: np.ndarray | None  # MlasGemmPackB's sums over all of K (packed B only)


def _operands(a, b, zero_point_a, zero_point_b, packed_b, spec) -> _Operands:
    b_signed = b.dtype == np.int8
    if b_signed and not spec.signed:  # MlasGemmU8X8FixupZeroPointB: uint8(zp ^ 0x80)
        zpb = (np.asarray(zero_point_b, np.int64) ^ 0x80) & 0xFF
    else:
        zpb = np.asarray(zero_point_b, np.int64)
    flipped = b.view(np.uint8) ^ np.uint8(0x80) if b_signed and not spec.signed else b
    sums = flipped.astype(np.int64).sum(axis=0) if packed_b else None
    zpb = int(zpb) if zpb.ndim == 0 else zpb
    return _Operands(a, flipped, int(zero_point_a), zpb, packed_b, sums)


def call_memory(call: KernelCall, ops: _Operands, c: np.ndarray) -> Memory:
    """The operands one call reads and writes, in its coordinates (:mod:`.qgemm_kernel_dot_asm`):
    its A rows and B columns of the K slice, RowSumBuffer (``CopyPackA``'s sums, minus
    ``CountK * ZeroPointA``, times ``-ZeroPointB`` when per tensor), ColumnSumBuffer (``CopyPackB``'s
    sums times ``-ZeroPointA``; with a packed B ``MlasGemmPackB``'s sums over all of K in the
    first K slice and zeros after), ZeroPointB (``-ZeroPointB[n]``) and C (a view of ``c``)."""
    rows = slice(call.m, call.m + call.rows)
    cols = slice(call.n, call.n + call.count_n)
    depth = slice(call.k, call.k + call.count_k)
    a_block = ops.a[rows, depth]
    row_sums = a_block.astype(np.int64).sum(axis=1) - call.count_k * ops.zero_point_a
    per_column = not isinstance(ops.zero_point_b, int)
    if not per_column:
        row_sums = wrap_int32(row_sums).astype(np.int64) * -ops.zero_point_b
    if ops.packed_b:
        col_sums = ops.column_sums[cols] if call.k == 0 else np.zeros(call.count_n, np.int64)
    else:
        col_sums = ops.b[depth, cols].astype(np.int64).sum(axis=0)
    operands = {"A": a_block, "B": ops.b[depth, cols], "C": c[rows, cols],
                "RowSum": wrap_int32(row_sums)[None], "ColumnSum": wrap_int32(col_sums * -ops.zero_point_a)[None]}
    if per_column:
        operands["ZeroPointB"] = wrap_int32(-ops.zero_point_b[cols])[None]
    return Memory(**operands)


def wrap_int32(values) -> np.ndarray:
    """Integers -> int32 modulo 2^32."""
    return np.asarray(values).astype(np.int64).astype(np.uint32).view(np.int32)


def run_calls(calls, a, b, zero_point_a=0, zero_point_b=0, *, packed_b=True, spec: DotKernelSpec = UDOT,
              trace=None) -> np.ndarray:
    """The instruction path: every call's schedule (:func:`.qgemm_kernel_dot_asm.schedule`) run
    through :func:`mlas_emu.mlas.interpret.execute` on its operands; int32 C. ``trace``, if a list,
    receives the records relabelled to the GEMM's coordinates (:func:`global_records`)."""
    ops = _operands(a, b, zero_point_a, zero_point_b, packed_b, spec)
    c = np.zeros((a.shape[0], b.shape[1]), np.int32)
    per_column = not isinstance(ops.zero_point_b, int)
    for call in calls:
        records = schedule(call, kernel=spec.mnemonic, zero_point_b=per_column)
        execute(records, call_memory(call, ops, c))
        if trace is not None:
            trace += global_records(records, call)
    return c


def gemm(A, B, a_zero_point=0, b_zero_point=0, *, packed_b=False, spec: DotKernelSpec = UDOT, threads=1,
         ort_version=None, trace=None) -> np.ndarray:
    """QGEMM through the DOT kernel (``UDOT``; :mod:`.qgemm_kernel_sdot` for ``SDOT``) on the
    instruction path: the driver's calls (:func:`dot_calls`) run by :func:`run_calls`. Returns
    int32 (M, N). ``b_zero_point``: a scalar or an (N,) array (per column)."""
    A, B = np.asarray(A), np.asarray(B)
    M, K = A.shape
    N = B.shape[1]
    if K == 0:
        return np.zeros((M, N), np.int32)
    calls = dot_calls(M, N, K, packed_b=packed_b, threads=threads, ort_version=ort_version)
    return run_calls(calls, A, B, a_zero_point, b_zero_point, packed_b=packed_b, spec=spec, trace=trace)


# --------------------------------------------------------------------------------------------
# Traces

_GLOBAL = {
    "A": lambda call, i, j: ("A", call.m + i, call.k + j),
    "B": lambda call, i, j: ("B", call.k + i, call.n + j),
    "C": lambda call, i, j: ("C", call.m + i, call.n + j),
    "RowSum": lambda call, i, j: ("RowSum", call.k, call.m + j),
    "ColumnSum": lambda call, i, j: ("ColumnSum", call.k, call.n + j),
    "ZeroPointB": lambda call, i, j: ("ZeroPointB", 0, call.n + j),
}


def global_records(records, call: KernelCall) -> list:
    """``records`` of ``call`` with lanes named in the GEMM's coordinates: ``("A", i, k)``,
    ``("B", k, j)``, ``("C", i, j)``, ``("RowSum", k0, i)`` / ``("ColumnSum", k0, j)`` (the
    buffers of the K slice starting at k0), ``("ZeroPointB", 0, j)``."""
    out = []
    for rec in records:
        if rec.lanes:
            lanes = {reg: None if coords is None else tuple(None if c is None else _GLOBAL[c[0]](call, c[1], c[2])
                                                             for c in coords) for reg, coords in rec.lanes.items()}
            rec = replace(rec, lanes=lanes)
        out.append(rec)
    return out


KINDS = {"u8u8": (np.uint8, np.uint8), "u8s8": (np.uint8, np.int8), "s8s8": (np.int8, np.int8)}


def trace_records(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1, ort_version=None, cpu=None,
                  kind: str = "u8u8") -> list:
    """The records of every DOT-kernel call of an ``M x N x K`` QGEMM of ``kind`` ("u8u8",
    "u8s8": ``MlasGemmU8X8KernelUdot``; "s8s8": ``MlasGemmS8S8KernelSDot``) with per-tensor zero
    points, in execution order (threads in id order), lanes in the GEMM's coordinates
    (:func:`global_records`); the same plan (:func:`dot_calls`) the instruction path runs.
    ``cpu`` must be one without I8MM (default Graviton2)."""
    from ..cpus import resolve_cpu
    from .qgemm_kernel_sdot import SDOT

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {tuple(KINDS)}, got {kind!r}")
    desc = resolve_cpu("graviton2" if cpu is None else cpu)
    if desc.i8mm or not desc.dotprod:
        raise ValueError(f"MLAS runs the DOT-product QGEMM kernels only on CPUs with DotProd and without I8MM, "
                         f"not on {desc.name}")
    spec = SDOT if kind == "s8s8" else UDOT
    out = []
    for call in dot_calls(M, N, K, packed_b=packed_b, threads=threads, ort_version=ort_version):
        out += global_records(schedule(call, kernel=spec.mnemonic), call)
    return out
