"""Matrix views of the MMLA instructions, for people learning them.

One BFMMLA computes ``C + A @ B`` for a 2x4 bf16 tile A, a 4x2 bf16 tile B and a 2x2 fp32
accumulator C; SMMLA / UMMLA / USMMLA do the same with 2x8 and 8x2 8-bit tiles. The registers
hold the tiles like this (lane numbers of one 128-bit segment)::

    vn = A row-major          vm = B column-major (B transposed)    vd = C row-major
    BFMMLA: A[i, k] -> 4*i + k        B[k, j] -> 4*j + k            C[i, j] -> 2*i + j
    xMMLA:  A[i, k] -> 8*i + k        B[k, j] -> 8*j + k            C[i, j] -> 2*i + j

:func:`tile_to_registers` performs exactly that mapping; the tile functions call the register
functions of this package with it, so both views give the same bits. Leading axes broadcast.
The layouts are those of the Arm ARM (DDI0487 M.a.a) pseudocode functions BFMatMulAddH (BFMMLA)
and MatMulAdd (SMMLA, UMMLA, USMMLA).
"""

from __future__ import annotations

import numpy as np

from .bfloat import bfmmla
from .integer import smmla, ummla, usmmla


def tile_to_registers(C, A, B):
    """``(vd, vn, vm)`` lanes for tiles C (..., 2, 2), A (..., 2, K) and B (..., K, 2)."""
    for x, name in ((C, "C"), (A, "A"), (B, "B")):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    k = A.shape[-1] if A.ndim >= 2 else None
    if C.shape[-2:] != (2, 2) or A.ndim < 2 or A.shape[-2] != 2 or B.shape[-2:] != (k, 2):
        raise ValueError(f"expected C (..., 2, 2), A (..., 2, K) and B (..., K, 2); got C {C.shape}, "
                         f"A {A.shape}, B {B.shape}")
    vd = C.reshape(C.shape[:-2] + (4,))
    vn = A.reshape(A.shape[:-2] + (2 * k,))
    vm = np.swapaxes(B, -1, -2).reshape(B.shape[:-2] + (2 * k,))
    return vd, vn, vm


def _check_k(A, k, instr):
    if A.ndim >= 2 and A.shape[-1] != k:
        raise ValueError(f"{instr} multiplies a 2x{k} tile by a {k}x2 tile; got A {A.shape}")


def bfmmla_tile(C, A, B, *, fpcr=None):
    """``C + A @ B`` as one BFMMLA computes it: C float32 (..., 2, 2), A bf16 (..., 2, 4),
    B bf16 (..., 4, 2) (uint32/uint16 bit patterns accepted) -> new float32 (..., 2, 2)."""
    _check_k(A, 4, "BFMMLA")
    vd, vn, vm = tile_to_registers(C, A, B)
    out = bfmmla(vd, vn, vm, fpcr=fpcr)
    return out.reshape(out.shape[:-1] + (2, 2))


_MMLA_BY_TYPES = {
    (np.dtype(np.int8), np.dtype(np.int8)): smmla,
    (np.dtype(np.uint8), np.dtype(np.uint8)): ummla,
    (np.dtype(np.uint8), np.dtype(np.int8)): usmmla,
}


def mmla_tile(C, A, B):
    """``C + A @ B`` as one SMMLA (int8 A, int8 B), UMMLA (uint8, uint8) or USMMLA (uint8 A,
    int8 B) computes it, wrapping in 32 bits: C (..., 2, 2) int32/uint32, A (..., 2, 8),
    B (..., 8, 2) -> new (..., 2, 2) array (uint32 for UMMLA, else int32)."""
    _check_k(A, 8, "xMMLA")
    for x, name in ((A, "A"), (B, "B")):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    instr = _MMLA_BY_TYPES.get((A.dtype, B.dtype))
    if instr is None:
        raise TypeError(f"A and B must be int8/int8 (SMMLA), uint8/uint8 (UMMLA) or uint8/int8 "
                        f"(USMMLA); got {A.dtype}/{B.dtype}")
    vd, vn, vm = tile_to_registers(C, A, B)
    out = instr(vd, vn, vm)
    return out.reshape(out.shape[:-1] + (2, 2))


__all__ = ["bfmmla_tile", "mmla_tile", "tile_to_registers"]
