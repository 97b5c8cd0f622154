"""Exact integer reference for SMMLA / UMMLA, written from the Arm ARM pseudocode.

DDI0487 M.a.a, ``MatMulAdd``: for i, j in {0, 1}, ``result[2i+j] = addend[2i+j] +
sum_k op1[8i+k] * op2[8j+k]`` over k = 0..7, the bytes taken as signed or unsigned, computed
in (unbounded) integers and truncated to 32 bits. Used to drive the MLAS kernel walk
independently of :mod:`mlas_emu.isa`.
"""

from __future__ import annotations

import numpy as np


def matmul_add(vd, vn, vm, *, signed: bool):
    vd, vn, vm = np.asarray(vd), np.asarray(vn), np.asarray(vm)
    shape = np.broadcast_shapes(vd.shape[:-1], vn.shape[:-1], vm.shape[:-1])
    vd = np.broadcast_to(vd, shape + (4,)).view(np.uint32).astype(np.int64)
    byte = np.int8 if signed else np.uint8
    a = np.broadcast_to(vn, shape + (16,)).view(byte).astype(np.int64).reshape(shape + (2, 8))
    b = np.broadcast_to(vm, shape + (16,)).view(byte).astype(np.int64).reshape(shape + (2, 8))
    prod = np.einsum("...ik,...jk->...ij", a, b).reshape(shape + (4,))
    out = (vd + prod).astype(np.uint32)
    return out.view(np.int32) if signed else out


def smmla(vd, vn, vm):
    return matmul_add(vd, vn, vm, signed=True)


def ummla(vd, vn, vm):
    return matmul_add(vd, vn, vm, signed=False)
