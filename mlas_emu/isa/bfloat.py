"""BFMMLA and BFDOT on registers (Arm ARM DDI0487 M.a.a, C7.2.20 BFMMLA, C7.2 BFDOT (vector);
SVE C8.2.67 BFMMLA, C8.2.49 BFDOT (vectors)).

Lane layout of one 128-bit segment (Arm ARM DDI0487 M.a.a, BFMatMulAddH and the BFMMLA operand
description; checked against the instruction run under qemu-aarch64):

* ``vn`` (8 bf16) holds A, 2x4 row-major: lane ``4*i + k`` = ``A[i, k]``;
* ``vm`` (8 bf16) holds B transposed: lane ``4*j + k`` = ``B[k, j]``;
* ``vd`` (4 fp32) holds C, 2x2 row-major: lane ``2*i + j`` = ``C[i, j]``;

and each C lane is updated by two chained BFDotAdd steps (k = 0, 1 then 2, 3). BFDOT: lane
``i`` of vd takes ``BFDotAdd(vd[i], vn[2i], vn[2i+1], vm[2i], vm[2i+1])``. SVE forms apply
the same per 128-bit segment. The loops run over the flattened broadcast batch.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit
from ._operands import as_bf16_bits, as_fp32_bits, broadcast_batch, segments
from .bf16 import bf_dot_add, bf_dot_add_fpcr
from .fpcr import fpcr_bits


@njit
def bf_mat_mul_add_h(vd, vn, vm, out):
    """BFMatMulAddH over rows of (batch, 4s) / (batch, 8s) bit arrays, default FPCR."""
    for r in range(vd.shape[0]):
        for s in range(vd.shape[1] // 4):
            for i in range(2):
                for j in range(2):
                    acc = vd[r, 4 * s + 2 * i + j]
                    for k in range(2):
                        a = 8 * s + 4 * i + 2 * k
                        b = 8 * s + 4 * j + 2 * k
                        acc = bf_dot_add(acc, vn[r, a], vn[r, a + 1], vm[r, b], vm[r, b + 1])
                    out[r, 4 * s + 2 * i + j] = acc


@njit
def bf_mat_mul_add_h_fpcr(vd, vn, vm, out, fpcr):
    """BFMatMulAddH with an explicit FPCR value (``FPCR.bits``)."""
    for r in range(vd.shape[0]):
        for s in range(vd.shape[1] // 4):
            for i in range(2):
                for j in range(2):
                    acc = vd[r, 4 * s + 2 * i + j]
                    for k in range(2):
                        a = 8 * s + 4 * i + 2 * k
                        b = 8 * s + 4 * j + 2 * k
                        acc = bf_dot_add_fpcr(acc, vn[r, a], vn[r, a + 1], vm[r, b], vm[r, b + 1], fpcr)
                    out[r, 4 * s + 2 * i + j] = acc


@njit
def bf_dot_lanes(vd, vn, vm, out):
    """BFDOT (vector) over rows, default FPCR."""
    for r in range(vd.shape[0]):
        for e in range(vd.shape[1]):
            out[r, e] = bf_dot_add(vd[r, e], vn[r, 2 * e], vn[r, 2 * e + 1], vm[r, 2 * e], vm[r, 2 * e + 1])


@njit
def bf_dot_lanes_fpcr(vd, vn, vm, out, fpcr):
    """BFDOT (vector) over rows with an explicit FPCR value."""
    for r in range(vd.shape[0]):
        for e in range(vd.shape[1]):
            out[r, e] = bf_dot_add_fpcr(vd[r, e], vn[r, 2 * e], vn[r, 2 * e + 1],
                                        vm[r, 2 * e], vm[r, 2 * e + 1], fpcr)


def _run(kernel, kernel_fpcr, vd, vn, vm, fpcr):
    bits = fpcr_bits(fpcr)
    ops = [as_fp32_bits(vd, "vd"), as_bf16_bits(vn, "vn"), as_bf16_bits(vm, "vm")]
    names = ("vd", "vn", "vm")
    segments(ops, names, (4, 8, 8))
    batch, (d, n, m) = broadcast_batch(ops, names)
    out = np.empty_like(d)
    if bits == 0:
        kernel(d, n, m, out)
    else:
        kernel_fpcr(d, n, m, out, np.int64(bits))
    return out.reshape(batch + d.shape[-1:]).view(np.float32)


def bfmmla(vd, vn, vm, *, fpcr=None):
    """BFMMLA Vd.4S, Vn.8H, Vm.8H (and the SVE form for s > 1 segments) -> new float32 array.

    ``vd``: float32 (..., 4*s) (uint32 bit patterns accepted); ``vn``, ``vm``:
    ``ml_dtypes.bfloat16`` (..., 8*s) (uint16 bit patterns accepted); leading axes broadcast.
    ``fpcr``: :class:`~mlas_emu.isa.FPCR`, None = Graviton3 (no FEAT_EBF16: round to odd).
    Per segment: ``vd`` = C (2x2) + A (2x4, ``vn``) @ B (4x2, stored transposed in ``vm``).
    """
    return _run(bf_mat_mul_add_h, bf_mat_mul_add_h_fpcr, vd, vn, vm, fpcr)


def bfdot(vd, vn, vm, *, fpcr=None):
    """BFDOT Vd.4S, Vn.8H, Vm.8H (and the SVE form) -> new float32 array.

    Lane ``i``: ``BFDotAdd(vd[i], vn[2i], vn[2i+1], vm[2i], vm[2i+1])``. Operands as for
    :func:`bfmmla`.
    """
    return _run(bf_dot_lanes, bf_dot_lanes_fpcr, vd, vn, vm, fpcr)
