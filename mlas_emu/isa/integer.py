"""8-bit integer matrix multiply and dot product instructions (Arm ARM DDI0487 M.a.a).

SMMLA / UMMLA / USMMLA Vd.4S, Vn.16B, Vm.16B (C7.2; SVE C8.2) follow the pseudocode MatMulAdd:
per 128-bit segment, ``vn`` holds A (2x8 row-major: lane ``8*i + k`` = ``A[i, k]``), ``vm`` holds
B transposed (lane ``8*j + k`` = ``B[k, j]``) and ``vd[2*i + j] += sum_k A[i, k] * B[k, j]``.
SDOT / UDOT / USDOT (vector): ``vd[i] += sum of vn[4i+t] * vm[4i+t]`` for t = 0..3.
All sums are 32-bit two's complement and wrap (``bits(32) sum = sum + prod``), never saturate.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit
from ._operands import as_bytes, as_int32_bits, broadcast_batch, segments

_MASK32 = np.int64(0xFFFFFFFF)


@njit
def mat_mul_add(vd, vn, vm, out):
    """MatMulAdd over rows of (batch, 4s) uint32 / (batch, 16s) 8-bit arrays.

    The signedness of each operand is its array's dtype (int8: SInt, uint8: UInt).
    """
    for r in range(vd.shape[0]):
        for s in range(vd.shape[1] // 4):
            for i in range(2):
                for j in range(2):
                    acc = np.int64(vd[r, 4 * s + 2 * i + j])
                    for k in range(8):
                        acc += np.int64(vn[r, 16 * s + 8 * i + k]) * np.int64(vm[r, 16 * s + 8 * j + k])
                    out[r, 4 * s + 2 * i + j] = np.uint32(acc & _MASK32)


@njit
def dot_lanes(vd, vn, vm, out):
    """SDOT/UDOT/USDOT (vector) over rows: lane e += sum of 4 byte products, wrapping."""
    for r in range(vd.shape[0]):
        for e in range(vd.shape[1]):
            acc = np.int64(vd[r, e])
            for t in range(4):
                acc += np.int64(vn[r, 4 * e + t]) * np.int64(vm[r, 4 * e + t])
            out[r, e] = np.uint32(acc & _MASK32)


def _run(kernel, vd, vn, vm, n_dtype, m_dtype, out_dtype):
    ops = [as_int32_bits(vd, "vd"), as_bytes(vn, "vn", n_dtype), as_bytes(vm, "vm", m_dtype)]
    names = ("vd", "vn", "vm")
    segments(ops, names, (4, 16, 16))
    batch, (d, n, m) = broadcast_batch(ops, names)
    out = np.empty_like(d)
    kernel(d, n, m, out)
    return out.reshape(batch + d.shape[-1:]).view(out_dtype)


def smmla(vd, vn, vm):
    """SMMLA: int32 vd (..., 4s), int8 vn and vm (..., 16s) -> new int32 array (wrapping)."""
    return _run(mat_mul_add, vd, vn, vm, np.int8, np.int8, np.int32)


def ummla(vd, vn, vm):
    """UMMLA: uint32 vd (..., 4s), uint8 vn and vm (..., 16s) -> new uint32 array (wrapping)."""
    return _run(mat_mul_add, vd, vn, vm, np.uint8, np.uint8, np.uint32)


def usmmla(vd, vn, vm):
    """USMMLA: int32 vd, uint8 vn (A), int8 vm (B) -> new int32 array (wrapping)."""
    return _run(mat_mul_add, vd, vn, vm, np.uint8, np.int8, np.int32)


def sdot(vd, vn, vm):
    """SDOT (vector): int32 vd (..., 4s), int8 vn and vm (..., 16s) -> new int32 array."""
    return _run(dot_lanes, vd, vn, vm, np.int8, np.int8, np.int32)


def udot(vd, vn, vm):
    """UDOT (vector): uint32 vd (..., 4s), uint8 vn and vm (..., 16s) -> new uint32 array."""
    return _run(dot_lanes, vd, vn, vm, np.uint8, np.uint8, np.uint32)


def usdot(vd, vn, vm):
    """USDOT (vector): int32 vd, uint8 vn, int8 vm (..., 16s) -> new int32 array."""
    return _run(dot_lanes, vd, vn, vm, np.uint8, np.int8, np.int32)
