"""Fast per-element BFDotAdd chains: the arithmetic of the SBGEMM micro-kernel, vectorised.

BFMMLA (Arm ARM DDI0487 M.a.a, BFMatMulAddH, FEAT_EBF16 absent or FPCR.EBF == 0) updates every
accumulator lane with ``BFDotAdd(acc, a0, a1, b0, b1)`` twice per instruction, so one output
element of ``SbgemmKernelNeon.S`` is the chain

    acc = init;  for t in pairs of k:  acc = BFDotAdd(acc, a[2t], a[2t+1], b[2t], b[2t+1])

with ``BFDotAdd = FPAdd_BF16(acc, FPAdd_BF16(BFMulH(a0, b0), BFMulH(a1, b1)))`` and every
FPAdd_BF16/BFMulH rounded by BFRound: round to odd into fp32, flush-to-zero when the unrounded
exponent is below -126, infinity when it is 128 or more.

This module computes those chains without bit-level emulation when nothing special happens:

* a product of two bf16 values (8-bit significands) is exact in float64;
* a sum of two float64 values is made exact by the error-free transformation TwoSum
  (``s + e == x + y`` exactly), and round-to-odd of ``x + y`` into 24 bits is read from ``s``'s
  bit pattern and the sign of ``e`` (see :func:`_round_to_odd`).

Elements whose inputs hold NaN or infinity, or whose chain overflows, are recomputed with the
scalar bit-level ``bf_dot_add`` of :mod:`mlas_emu.isa.bf16`. Denormal bf16 inputs and addends are
flushed (with their sign) before the fast loop, as BFUnpack does.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit, prange
from ..isa.bf16 import bf_dot_add

# float64 bit patterns of fp32 range limits (BFRound: exponent < -126 flushes, >= 128 overflows).
_F64_MIN_NORMAL_F32 = np.int64(897 << 52)  # 2^-126
_F64_OVERFLOW_F32 = np.int64(1151 << 52)  # 2^128
_LOW29 = np.int64((1 << 29) - 1)  # float64 fraction bits below fp32's 23
_ULP24 = np.int64(1 << 29)  # one fp32 ulp, in float64 fraction units
_MAG = np.int64(0x7FFFFFFFFFFFFFFF)
_F64_NAN = np.int64(0x7FF8000000000000)
_TINY = 2.0**-126


@njit(inline="always")
def _two_sum(x, y):
    """Knuth's TwoSum: ``s = fl(x + y)`` and the exact error ``e = (x + y) - s``."""
    s = x + y
    yy = s - x
    e = (x - (s - yy)) + (y - yy)
    return s, e


@njit(inline="always")
def _round_to_odd(s, e):
    """BFRound of the exact value ``s + e`` (``s = fl64(s + e)``, TwoSum output), as a float64.

    Round to odd = truncate toward zero, then set the last kept bit if anything was dropped;
    below 2^-126 the result is a signed zero. When the unrounded exponent reaches 128 (BFRound
    returns infinity) the result is NaN instead: NaN survives the rest of the chain, and the
    caller recomputes such elements bit by bit.
    """
    bits = np.float64(s).view(np.int64)
    mag = bits & _MAG
    sign = bits ^ mag
    low = mag & _LOW29
    trunc = mag ^ low
    e_nonzero = e != 0.0
    # s on the fp32 grid and the exact value below it in magnitude: one fp32 step toward zero.
    step_down = e_nonzero & (low == 0) & ((e > 0.0) != (s > 0.0))
    inexact = (low != 0) | e_nonzero
    r = (trunc - _ULP24) if step_down else trunc
    r = (r | _ULP24) if inexact else r
    r = r if r >= _F64_MIN_NORMAL_F32 else np.int64(0)
    r = r if r < _F64_OVERFLOW_F32 else _F64_NAN
    return np.int64(r | sign).view(np.float64)


@njit(inline="always")
def _bf_mul(a, b):
    """BFMulH of two finite flushed bf16 values: exact, flushed below 2^-126 (NaN on overflow)."""
    p = a * b
    ap = abs(p)
    p = p if ap >= _TINY else p * 0.0
    return p if ap < 2.0**128 else np.nan


@njit(inline="always")
def _dot_add_step(acc, a0, a1, b0, b1):
    """One finite BFDotAdd on float64 images of fp32/bf16 values (NaN once anything overflowed)."""
    s, e = _two_sum(_bf_mul(a0, b0), _bf_mul(a1, b1))
    s, e = _two_sum(acc, _round_to_odd(s, e))
    return _round_to_odd(s, e)


@njit
def _scalar_chain(acc_bits, a_row, b_bits, j):
    """The element's chain with the bit-level BFDotAdd (for NaN, infinities and overflow)."""
    acc = np.uint32(acc_bits)
    for t in range(a_row.shape[0] // 2):
        acc = bf_dot_add(acc, a_row[2 * t], a_row[2 * t + 1], b_bits[2 * t, j], b_bits[2 * t + 1, j])
    return acc


_ROW_BLOCK = 8
_COL_TILE = 64


@njit(parallel=True)
def bfdot_chains(a_bits, b_bits, init_bits):
    """Per-element BFDotAdd chains over k pairs, in increasing k.

    a_bits: uint16 (rows, KA) bf16 bit patterns of A's rows (KA even);
    b_bits: uint16 (KA, n) bf16 bit patterns of B's columns;
    init_bits: uint32 (n,) the accumulator's initial value per column (bias, or +0).
    Returns uint32 (rows, n): fp32 bit patterns of the chains' results.
    """
    rows, ka = a_bits.shape
    n = b_bits.shape[1]
    out = np.empty((rows, n), dtype=np.uint32)
    af, a_special = _bf16_to_f64(a_bits)
    bf, b_special_t = _bf16_to_f64(b_bits.T.copy())
    bt = bf.T.copy()  # (KA, n) again, float64
    b_special = np.zeros(n, dtype=np.bool_)
    for j in range(n):
        b_special[j] = b_special_t[j]
    init = np.empty(n, dtype=np.float64)
    for j in range(n):
        v, special = _f32_bits_to_f64(init_bits[j])
        init[j] = v
        if special:
            b_special[j] = True
    n_rb = (rows + _ROW_BLOCK - 1) // _ROW_BLOCK
    n_ct = (n + _COL_TILE - 1) // _COL_TILE
    for task in prange(n_rb * n_ct):
        i0 = (task // n_ct) * _ROW_BLOCK
        j0 = (task % n_ct) * _COL_TILE
        i1 = min(i0 + _ROW_BLOCK, rows)
        j1 = min(j0 + _COL_TILE, n)
        acc = np.empty((_ROW_BLOCK, _COL_TILE), dtype=np.float64)
        for r in range(i1 - i0):
            for c in range(j1 - j0):
                acc[r, c] = init[j0 + c]
        _tile_chains(af, bt, acc, i0, i1, j0, j1)
        for r in range(i1 - i0):
            i = i0 + r
            for c in range(j1 - j0):
                j = j0 + c
                if np.isnan(acc[r, c]) or a_special[i] or b_special[j]:
                    out[i, j] = _scalar_chain(init_bits[j], a_bits[i], b_bits, j)
                else:
                    out[i, j] = np.uint32(np.float32(acc[r, c]).view(np.uint32))
    return out


@njit
def _tile_chains(af, bt, acc, i0, i1, j0, j1):
    """The fast chains of rows i0..i1 x columns j0..j1, all k pairs, in place on ``acc``."""
    w = j1 - j0
    for t in range(af.shape[1] // 2):
        k = 2 * t
        for r in range(i1 - i0):
            a0 = af[i0 + r, k]
            a1 = af[i0 + r, k + 1]
            for c in range(w):
                acc[r, c] = _dot_add_step(acc[r, c], a0, a1, bt[k, j0 + c], bt[k + 1, j0 + c])


@njit
def _bf16_to_f64(bits):
    """float64 images of bf16 patterns with denormals flushed (BFUnpack); rows holding NaN/inf flagged."""
    rows, cols = bits.shape
    out = np.empty((rows, cols), dtype=np.float64)
    special = np.zeros(rows, dtype=np.bool_)
    for i in range(rows):
        for k in range(cols):
            b = np.uint32(bits[i, k])
            expo = (b >> 7) & 0xFF
            if expo == 0xFF:
                special[i] = True
                out[i, k] = 0.0
            elif expo == 0:
                out[i, k] = -0.0 if (b & 0x8000) else 0.0
            else:
                out[i, k] = np.float64(np.uint32(b << 16).view(np.float32))
    return out, special


@njit
def _f32_bits_to_f64(b):
    """Addend unpack: fp32 bits to float64 with denormal flush; flags NaN/inf."""
    b = np.uint32(b)
    expo = (b >> 23) & 0xFF
    if expo == 0xFF:
        return 0.0, True
    if expo == 0:
        return (-0.0 if (b & 0x80000000) else 0.0), False
    return np.float64(b.view(np.float32)), False
