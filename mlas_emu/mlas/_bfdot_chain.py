"""Fast per-element BFDotAdd chains: the arithmetic of the SBGEMM micro-kernel, vectorised.

BFMMLA (Arm ARM DDI0487 M.a.a, BFMatMulAddH, FEAT_EBF16 absent or FPCR.EBF == 0) updates every
accumulator lane with ``BFDotAdd(acc, a0, a1, b0, b1)`` twice per instruction, so one output
element of ``SbgemmKernelNeon.S`` is the chain

    acc = init;  for t in pairs of k:  acc = BFDotAdd(acc, a[2t], a[2t+1], b[2t], b[2t+1])

with ``BFDotAdd = FPAdd_BF16(acc, FPAdd_BF16(BFMulH(a0, b0), BFMulH(a1, b1)))`` and every
FPAdd_BF16/BFMulH rounded by BFRound: round to odd into fp32, flush-to-zero when the unrounded
exponent is below -126, infinity when it is 128 or more.

Each tile of 8 rows x 64 columns runs the fastest BFDotAdd tier of :mod:`mlas_emu.isa.tiers`
whose precondition its exponent statistics satisfy (:func:`~mlas_emu.isa.tiers.bfdot_tier`):
the float32 tier (16 lanes with AVX-512's embedded round toward zero, else TwoSum) when no
BFRound of the tile can flush or overflow, else the float64 tier. Elements whose inputs hold NaN
or infinity, or whose float64 chain overflowed, are recomputed with the specification
(:func:`mlas_emu.isa.bf16.bf_dot_add`).

Denormal bf16 inputs and addends are flushed (with their sign) before the chains, as BFUnpack does.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit, prange
from ..isa.bf16 import bf_dot_add
from ..isa.tiers import (
    HAS_AVX512,
    RZ_LANES,
    TIER_F32_RZ16,
    TIER_F64,
    bfdot_tier,
    dot_add_f32,
    dot_add_f64,
    dot_add_rz16,
    f32_chains_exact,
)


@njit
def _scalar_chain(acc_bits, a_row, b_bits, j):
    """The element's chain by the specification (for NaN, infinities and overflow)."""
    acc = np.uint32(acc_bits)
    for t in range(a_row.shape[0] // 2):
        acc = bf_dot_add(acc, a_row[2 * t], a_row[2 * t + 1], b_bits[2 * t, j], b_bits[2 * t + 1, j])
    return acc


_ROW_BLOCK = 8
_COL_TILE = 64
_NO_EXP = 255  # exponent statistic of an all-zero row or column: never limits the float32 tiers


@njit
def bfdot_chains(a_bits, b_bits, init_bits):
    """Per-element BFDotAdd chains over k pairs, in increasing k.

    a_bits: uint16 (rows, KA) bf16 bit patterns of A's rows (KA even);
    b_bits: uint16 (KA, n) bf16 bit patterns of B's columns;
    init_bits: uint32 (n,) the accumulator's initial value per column (bias, or +0).
    Returns uint32 (rows, n): fp32 bit patterns of the chains' results.
    """
    return bfdot_chains_unpacked(a_bits, unpack_rows(a_bits), b_bits, init_bits)


@njit(parallel=True)
def bfdot_chains_unpacked(a_bits, a_unpacked, b_bits, init_bits, unused=None):
    """:func:`bfdot_chains` with A already unpacked by :func:`unpack_rows` (reused across N slices).

    ``unused``: accepted for older callers and ignored (the tier is chosen per tile).
    """
    rows, ka = a_bits.shape
    n = b_bits.shape[1]
    out = np.empty((rows, n), dtype=np.uint32)
    af, a_special, a_emin, a_emax = a_unpacked
    bt, b_special, b_emin, b_emax = _unpack_bf16_cols(b_bits)
    init, i_special, i_emin, i_emax = _unpack_init(init_bits)
    n_rb = (rows + _ROW_BLOCK - 1) // _ROW_BLOCK
    n_ct = (n + _COL_TILE - 1) // _COL_TILE
    for task in prange(n_rb * n_ct):
        i0 = (task // n_ct) * _ROW_BLOCK
        j0 = (task % n_ct) * _COL_TILE
        i1 = min(i0 + _ROW_BLOCK, rows)
        j1 = min(j0 + _COL_TILE, n)
        tier = bfdot_tier(a_emin[i0:i1].min(), a_emax[i0:i1].max(), b_emin[j0:j1].min(),
                          b_emax[j0:j1].max(), i_emin[j0:j1].min(), i_emax[j0:j1].max(), ka, HAS_AVX512)
        if tier == TIER_F64:
            acc = np.empty((_ROW_BLOCK, _COL_TILE), dtype=np.float64)
            _fill_init(acc, init, i0, i1, j0, j1)
            _tile_chains_f64(af, bt, acc, i0, i1, j0, j1)
            _store_tile(out, acc, a_bits, b_bits, init_bits, a_special, b_special, i_special, i0, i1, j0, j1)
        else:
            acc32 = np.empty((_ROW_BLOCK, _COL_TILE), dtype=np.float32)
            _fill_init(acc32, init, i0, i1, j0, j1)
            if tier == TIER_F32_RZ16:
                _tile_chains_rz16(af, bt, acc32, i0, i1, j0, j1)
            else:
                _tile_chains_f32(af, bt, acc32, i0, i1, j0, j1)
            _store_tile(out, acc32, a_bits, b_bits, init_bits, a_special, b_special, i_special, i0, i1, j0, j1)
    return out


@njit(inline="always")
def _fill_init(acc, init, i0, i1, j0, j1):
    """Every row of a tile's accumulators starts as the columns' initial values."""
    for r in range(i1 - i0):
        for c in range(j1 - j0):
            acc[r, c] = init[j0 + c]


@njit(inline="always")
def _store_tile(out, acc, a_bits, b_bits, init_bits, a_special, b_special, i_special, i0, i1, j0, j1):
    """A tile's results as fp32 bits; elements with NaN/inf inputs or a NaN (overflowed float64
    chain) are recomputed bit by bit."""
    for r in range(i1 - i0):
        i = i0 + r
        for c in range(j1 - j0):
            j = j0 + c
            if np.isnan(acc[r, c]) or a_special[i] or b_special[j] or i_special[j]:
                out[i, j] = _scalar_chain(init_bits[j], a_bits[i], b_bits, j)
            else:
                out[i, j] = np.float32(acc[r, c]).view(np.uint32)


@njit
def _tile_chains_f32(af, bt, acc, i0, i1, j0, j1):
    """The float32-tier chains of rows i0..i1 x columns j0..j1, all k pairs, in place on ``acc``.

    The innermost loop runs along contiguous B rows so that LLVM vectorises it. Each tier writes
    this loop out with its own step: numba's on-disk cache can keep neither a loop that takes
    its step function as an argument nor a closure over it, and a recompile per process would
    cost seconds.
    """
    w = j1 - j0
    for t in range(af.shape[1] // 2):
        k = 2 * t
        b0 = bt[k, j0:j1]
        b1 = bt[k + 1, j0:j1]
        for r in range(i1 - i0):
            a0 = af[i0 + r, k]
            a1 = af[i0 + r, k + 1]
            ar = acc[r]
            for c in range(w):
                ar[c] = dot_add_f32(ar[c], a0, a1, b0[c], b1[c])


@njit
def _tile_chains_rz16_body(af, bt, acc, i0, i1, j0, j1):
    """:func:`_tile_chains_f32` 16 columns at a time with the AVX-512 step; the last columns
    (fewer than 16) with the float32 TwoSum step, which gives the same bits."""
    w = j1 - j0
    for t in range(af.shape[1] // 2):
        b0 = bt[2 * t]
        b1 = bt[2 * t + 1]
        for r in range(i1 - i0):
            a0 = af[i0 + r, 2 * t]
            a1 = af[i0 + r, 2 * t + 1]
            ar = acc[r]
            c = 0
            while c + RZ_LANES <= w:
                dot_add_rz16(ar, c, b0, b1, j0 + c, a0, a1)
                c += RZ_LANES
            for cc in range(c, w):
                ar[cc] = dot_add_f32(ar[cc], a0, a1, b0[j0 + cc], b1[j0 + cc])


_tile_chains_rz16 = _tile_chains_rz16_body if HAS_AVX512 else _tile_chains_f32  # never picked without


@njit
def _tile_chains_f64(af, bt, acc, i0, i1, j0, j1):
    """The float64-tier chains (flush handled, overflow reported as NaN) of a tile, in place."""
    w = j1 - j0
    for t in range(af.shape[1] // 2):
        k = 2 * t
        b0 = bt[k, j0:j1]
        b1 = bt[k + 1, j0:j1]
        for r in range(i1 - i0):
            a0 = np.float64(af[i0 + r, k])
            a1 = np.float64(af[i0 + r, k + 1])
            ar = acc[r]
            for c in range(w):
                ar[c] = dot_add_f64(ar[c], a0, a1, np.float64(b0[c]), np.float64(b1[c]))


@njit(inline="always")
def _unpack_bf16(b):
    """BFUnpack of one bf16 pattern: (float32 value with denormals flushed, special, exponent field)."""
    b = np.uint32(b)
    expo = np.int64((b >> 7) & 0xFF)
    if expo == 0xFF:
        return np.float32(0.0), True, expo
    if expo == 0:
        return (np.float32(-0.0) if (b & 0x8000) else np.float32(0.0)), False, expo
    return np.uint32(b << 16).view(np.float32), False, expo


@njit(parallel=True)
def unpack_rows(bits):
    """A's rows of bf16 patterns: float32 values, NaN/inf flag and non-zero exponent range per row."""
    rows, cols = bits.shape
    out = np.empty((rows, cols), dtype=np.float32)
    special = np.zeros(rows, dtype=np.bool_)
    emin = np.full(rows, _NO_EXP, dtype=np.int64)
    emax = np.zeros(rows, dtype=np.int64)
    for i in prange(rows):
        for k in range(cols):
            v, sp, expo = _unpack_bf16(bits[i, k])
            out[i, k] = v
            special[i] |= sp
            if 0 < expo < 0xFF:
                emin[i] = min(emin[i], expo)
                emax[i] = max(emax[i], expo)
    return out, special, emin, emax


@njit
def _unpack_bf16_cols(bits):
    """Like :func:`unpack_rows` with statistics per column (the layout stays (KA, n)).

    Written out rather than sharing a helper with :func:`unpack_rows`: with the statistics
    updated through a shared inlined function numba's code ran 10x slower here.
    """
    rows, cols = bits.shape
    out = np.empty((rows, cols), dtype=np.float32)
    special = np.zeros(cols, dtype=np.bool_)
    emin = np.full(cols, _NO_EXP, dtype=np.int64)
    emax = np.zeros(cols, dtype=np.int64)
    for k in range(rows):
        for j in range(cols):
            v, sp, expo = _unpack_bf16(bits[k, j])
            out[k, j] = v
            special[j] |= sp
            if 0 < expo < 0xFF:
                emin[j] = min(emin[j], expo)
                emax[j] = max(emax[j], expo)
    return out, special, emin, emax


@njit
def _unpack_init(init_bits):
    """Addend unpack (fp32, denormals flushed): values, NaN/inf flags and exponent fields."""
    n = init_bits.shape[0]
    out = np.empty(n, dtype=np.float32)
    special = np.zeros(n, dtype=np.bool_)
    emin = np.full(n, _NO_EXP, dtype=np.int64)
    emax = np.zeros(n, dtype=np.int64)
    for j in range(n):
        b = np.uint32(init_bits[j])
        expo = np.int64((b >> 23) & 0xFF)
        if expo == 0xFF:
            special[j] = True
            out[j] = 0.0
        elif expo == 0:
            out[j] = np.float32(-0.0) if (b & 0x80000000) else np.float32(0.0)
        else:
            out[j] = b.view(np.float32)
            emin[j] = expo
            emax[j] = expo
    return out, special, emin, emax


def fp32_tier(a_bits: np.ndarray, b_bits: np.ndarray, init_bits: np.ndarray) -> bool:
    """Whether a single tile with these operands runs in a float32 tier (for tests and teaching)."""
    _, _, a_emin, a_emax = unpack_rows(np.ascontiguousarray(a_bits, dtype=np.uint16))
    _, _, b_emin, b_emax = _unpack_bf16_cols(np.ascontiguousarray(b_bits, dtype=np.uint16))
    _, _, i_emin, i_emax = _unpack_init(np.ascontiguousarray(init_bits, dtype=np.uint32))
    return bool(f32_chains_exact(a_emin.min(), a_emax.max(), b_emin.min(), b_emax.max(),
                                 i_emin.min(), i_emax.max(), a_bits.shape[1]))
