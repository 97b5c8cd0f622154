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
plans the calls the driver makes (:func:`plan`), runs them on register images
(:func:`run_calls`, the instruction path) and names their records for traces
(:func:`trace_records`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dispatch import QGEMM_DOT
from .interpret import execute
from .qgemm_kernel_dot_asm import kernel_rows, schedule
from .qgemm_kernel_ummla import row_groups

#: ``MLAS_GEMM_U8X8_KERNEL_UDOT::PackedK`` (:data:`mlas_emu.mlas.dispatch.QGEMM_DOT`).
PACKED_K = QGEMM_DOT.packed_k


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
# The instruction path and traces: the driver plan of mlas.qgemm (the same driver loops,
# MlasGemmQuantOperation / MlasGemmQuantPackedOperation, run both dispatches) with this
# dispatch's row selection, each call running the DOT routine's schedule.


def plan(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1, ort_version=None) -> tuple:
    """The DOT dispatch's kernel calls: :func:`mlas_emu.mlas.qgemm.plan_calls` with the DOT
    routines' row selection (:func:`.qgemm_kernel_dot_asm.kernel_rows`). Its strides are this
    dispatch's: ``Strides{24, 128, 256}`` / ``PackedStrides{24, 128, 384}`` are the UMMLA ones too."""
    from .qgemm import plan_calls

    return plan_calls(M, N, K, packed_b=packed_b, threads=threads, ort_version=ort_version, dispatch=QGEMM_DOT)


def run_calls(calls, a, b, zero_point_a=0, zero_point_b=0, *, packed_b=True, spec: DotKernelSpec = UDOT,
              trace=None) -> np.ndarray:
    """The instruction path: every call's schedule (:func:`.qgemm_kernel_dot_asm.schedule`) run
    by :func:`mlas_emu.mlas.interpret.execute` on its operands
    (:func:`mlas_emu.mlas.qgemm.call_memory`: the DOT dispatch flips int8 B and fixes up its zero
    point as the UMMLA one does, ``MlasGemmU8X8FixupZeroPointB``); int32 C. ``trace``, if a list,
    receives the records in the GEMM's coordinates (:func:`mlas_emu.mlas.qgemm.global_records`)."""
    from .qgemm import GemmOperands, call_memory, global_records

    ops = GemmOperands.of(a, b, zero_point_a, zero_point_b, packed_b=packed_b)
    per_column = np.ndim(ops.zero_point_b) == 1
    c = np.zeros((a.shape[0], b.shape[1]), np.int32)
    for call in calls:
        records = schedule(call, kernel=spec.mnemonic, zero_point_b=per_column)
        execute(records, call_memory(call, ops, c))
        if trace is not None:
            trace += global_records(records, call)
    return c


def gemm(A, B, a_zero_point=0, b_zero_point=0, *, packed_b=False, spec: DotKernelSpec = UDOT, threads=1,
         ort_version=None, trace=None) -> np.ndarray:
    """QGEMM through the DOT kernel (``UDOT``; :mod:`.qgemm_kernel_sdot` for ``SDOT``) on the
    instruction path: the driver's calls (:func:`plan`) run by :func:`run_calls`. Returns
    int32 (M, N). ``b_zero_point``: a scalar or an (N,) array (per column)."""
    A, B = np.asarray(A), np.asarray(B)
    M, K = A.shape
    N = B.shape[1]
    if K == 0:
        return np.zeros((M, N), np.int32)
    calls = plan(M, N, K, packed_b=packed_b, threads=threads, ort_version=ort_version)
    return run_calls(calls, A, B, a_zero_point, b_zero_point, packed_b=packed_b, spec=spec, trace=trace)


def trace_records(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1, ort_version=None, cpu=None,
                  kind: str = "u8u8", per_column: bool = False) -> list:
    """The records of every DOT-kernel call of an ``M x N x K`` QGEMM of ``kind`` ("u8u8",
    "u8s8": ``MlasGemmU8X8KernelUdot``; "s8s8": ``MlasGemmS8S8KernelSDot``) in execution order
    (threads in id order), lanes in the GEMM's coordinates
    (:func:`mlas_emu.mlas.qgemm.global_records`), from the plan the instruction path runs
    (:func:`plan`). ``per_column``: per-column zero points of B (ZeroPointB not null). ``cpu``
    must have DotProd and no I8MM (default Graviton2)."""
    from ..cpus import resolve_cpu
    from .qgemm import KINDS, global_records

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {tuple(KINDS)}, got {kind!r}")
    desc = resolve_cpu("graviton2" if cpu is None else cpu)
    if desc.i8mm or not desc.dotprod:
        raise ValueError(f"MLAS runs the DOT-product QGEMM kernels only on CPUs with DotProd and without I8MM, "
                         f"not on {desc.name} (mlas_emu.mlas.qgemm.trace_records: the MMLA kernels)")
    mnemonic = "sdot" if kind == "s8s8" else "udot"
    out = []
    for call in plan(M, N, K, packed_b=packed_b, threads=threads, ort_version=ort_version):
        out += global_records(schedule(call, kernel=mnemonic, zero_point_b=per_column), call)
    return out
