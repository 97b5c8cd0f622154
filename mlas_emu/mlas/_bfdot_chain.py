"""Fast per-element BFDotAdd chains: the arithmetic of the SBGEMM micro-kernel, vectorised.

BFMMLA (Arm ARM DDI0487 M.a.a, BFMatMulAddH, FEAT_EBF16 absent or FPCR.EBF == 0) updates every
accumulator lane with ``BFDotAdd(acc, a0, a1, b0, b1)`` twice per instruction, so one output
element of ``SbgemmKernelNeon.S`` is the chain

    acc = init;  for t in pairs of k:  acc = BFDotAdd(acc, a[2t], a[2t+1], b[2t], b[2t+1])

with ``BFDotAdd = FPAdd_BF16(acc, FPAdd_BF16(BFMulH(a0, b0), BFMulH(a1, b1)))`` and every
FPAdd_BF16/BFMulH rounded by BFRound: round to odd into fp32, flush-to-zero when the unrounded
exponent is below -126, infinity when it is 128 or more.

Every BFRound here rounds a sum ``x + y`` of two fp32 values. The error-free transformation
TwoSum gives ``s = RNE(x + y)`` and the exact rest ``e`` (``s + e == x + y``); round to odd is then
read from ``s`` and the sign of ``e`` (:func:`_round_to_odd32`). Three tiers, chosen per tile of
8 rows x 64 columns from exponent statistics of its rows, columns and initial values:

* **fp32 tier** (the common case): float32 arithmetic, 8 lanes per AVX2 vector. On x86 hosts the
  additions run with MXCSR set to round toward zero (:mod:`mlas_emu._host_fp`), so round to odd
  is the truncated sum with bit 0 set when the sum was inexact (:func:`_round_to_odd_rz`);
  elsewhere TwoSum under round to nearest gives it (:func:`_round_to_odd32`). Exact when no
  value of the chain can reach the flush or overflow ranges, which :func:`_fp32_tier_exact`
  proves before the tile runs: every value of a chain is a multiple of the smallest product of
  ulps (so a non-zero one is at least that) and bounded by ``|init| + sum |a||b|`` grown by at
  most 2x of round-to-odd steps.
* **careful tier**: float64 arithmetic with explicit flush and overflow handling (products of
  two bf16 values are exact in float64), for tiles with very small or very large values.
* **bit-level tier**: elements whose inputs hold NaN or infinity, or whose chain overflowed in
  the careful tier, are recomputed with the scalar ``bf_dot_add`` of :mod:`mlas_emu.isa.bf16`.

Denormal bf16 inputs and addends are flushed (with their sign) before the chains, as BFUnpack does.
"""

from __future__ import annotations

import numpy as np

from .._host_fp import HAS_MXCSR, MXCSR_ROUND_TOWARD_ZERO
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
    """Knuth's TwoSum: ``s = fl(x + y)`` and the exact error ``e = (x + y) - s`` (float64 or,
    for the fp32 tier, float32: numba keeps the operands' type)."""
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
_NO_EXP = 255  # exponent statistic of an all-zero row or column: never limits the fp32 tier


@njit
def bfdot_chains(a_bits, b_bits, init_bits):
    """Per-element BFDotAdd chains over k pairs, in increasing k.

    a_bits: uint16 (rows, KA) bf16 bit patterns of A's rows (KA even);
    b_bits: uint16 (KA, n) bf16 bit patterns of B's columns;
    init_bits: uint32 (n,) the accumulator's initial value per column (bias, or +0).
    Returns uint32 (rows, n): fp32 bit patterns of the chains' results.
    """
    return bfdot_chains_unpacked(a_bits, unpack_rows(a_bits), b_bits, init_bits, HAS_MXCSR)


@njit(parallel=True)
def bfdot_chains_unpacked(a_bits, a_unpacked, b_bits, init_bits, toward_zero):
    """:func:`bfdot_chains` with A already unpacked by :func:`unpack_rows` (reused across N slices).

    ``toward_zero``: run the fp32 tier with the host's round-toward-zero mode (x86 only; both
    formulations give the same bits).
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
        fp32 = _fp32_tier_exact(a_emin[i0:i1].min(), a_emax[i0:i1].max(), b_emin[j0:j1].min(),
                                b_emax[j0:j1].max(), i_emin[j0:j1].min(), i_emax[j0:j1].max(), ka)
        if fp32:
            acc32 = np.empty((_ROW_BLOCK, _COL_TILE), dtype=np.float32)
            _fill_init(acc32, init, i0, i1, j0, j1)
            if toward_zero:
                _tile_chains_rz(af, bt, acc32, i0, i1, j0, j1)
            else:
                _tile_chains_fp32(af, bt, acc32, i0, i1, j0, j1)
            _store_tile(out, acc32, a_bits, b_bits, init_bits, a_special, b_special, i_special, i0, i1, j0, j1)
        else:
            acc = np.empty((_ROW_BLOCK, _COL_TILE), dtype=np.float64)
            _fill_init(acc, init, i0, i1, j0, j1)
            _tile_chains_careful(af, bt, acc, i0, i1, j0, j1)
            _store_tile(out, acc, a_bits, b_bits, init_bits, a_special, b_special, i_special, i0, i1, j0, j1)
    return out


@njit(inline="always")
def _fill_init(acc, init, i0, i1, j0, j1):
    """Every row of a tile's accumulators starts as the columns' initial values."""
    for r in range(i1 - i0):
        for c in range(j1 - j0):
            acc[r, c] = init[j0 + c]


@njit(inline="always")
def _store_tile(out, acc, a_bits, b_bits, init_bits, a_special, b_special, i_special, i0, i1, j0, j1):
    """A tile's results as fp32 bits; elements with NaN/inf inputs or a NaN (overflowed careful
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
def _fp32_tier_exact(a_emin, a_emax, b_emin, b_emax, i_emin, i_emax, ka):
    """Whether float32 TwoSum chains give BFRound's bits for every element of a tile.

    Arguments are biased exponent fields (bf16 and fp32 share the bias 127) of the tile's
    non-zero finite values: the smallest and largest over its A rows, B columns and initial
    values. The tier is exact when no BFRound can flush or overflow, and then no float32
    operation underflows or overflows either, so TwoSum and :func:`_round_to_odd32` are exact:

    * bf16 values are multiples of their ulp ``2^(e-134)``, products of two of them multiples of
      ``g = 2^(ea+eb-268)``, fp32 initial values multiples of ``2^(ei-150)``. Sums of multiples of
      ``g`` are multiples of ``g``, and so is their round to odd (it lands on a grid at least as
      coarse). So every non-zero value is at least ``g`` (and the smallest initial ulp): both
      at least ``2^-126`` means nothing flushes.
    * every value is below ``(ka * 2^(ea+eb-252) + 2^(ei-126)) * (1 + 2^-23)^ka``; keeping that
      under ``2^127`` (2x margin for the rounding growth, ka < 2^22) means nothing overflows.
    """
    if a_emin + b_emin < 142 or i_emin < 24 or ka >= (1 << 22):
        return False
    bound = ka * 2.0 ** (a_emax + b_emax - 252) + 2.0 ** (i_emax - 126)
    return bound <= 2.0**126


@njit(inline="always")
def _round_to_odd32(s, e):
    """BFRound's round to odd of the exact ``s + e`` (TwoSum output, no flush or overflow).

    Truncation toward zero is ``s`` when ``e`` has the sign of ``s`` and the fp32 value just
    below ``s`` in magnitude (bit pattern ``s - 1``) when it has the other sign; then bit 0 is
    set. ``e == 0`` means ``s`` is exact.
    """
    sb = np.float32(s).view(np.int32)
    eb = np.float32(e).view(np.int32)
    odd = np.int32(np.int32(sb + np.int32((sb ^ eb) >> 31)) | np.int32(1))
    rb = odd if e != np.float32(0.0) else sb
    return np.int32(rb).view(np.float32)


@njit(inline="always")
def _dot_add_step32(acc, a0, a1, b0, b1):
    """One BFDotAdd in float32 for the fp32 tier (products of bf16 values are exact in fp32)."""
    s, e = _two_sum(a0 * b0, a1 * b1)
    s, e = _two_sum(acc, _round_to_odd32(s, e))
    return _round_to_odd32(s, e)


@njit
def _tile_chains_fp32(af, bt, acc, i0, i1, j0, j1):
    """The fp32-tier chains of rows i0..i1 x columns j0..j1, all k pairs, in place on ``acc``.

    The innermost loop runs along contiguous B rows so that LLVM vectorises it. The three tiers
    write this loop out each with its own step: numba's on-disk cache can keep neither a loop that
    takes its step function as an argument nor a closure over it, and a recompile per process
    would cost seconds.
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
                ar[c] = _dot_add_step32(ar[c], a0, a1, b0[c], b1[c])


@njit(inline="always")
def _round_to_odd_rz(x, y):
    """BFRound's round to odd of ``x + y`` with MXCSR rounding toward zero (no flush or overflow).

    ``s = RZ(x + y)`` is the truncation; the sum was exact iff ``s - x == y`` and ``s - y == x``
    (with ``|x| >= |y|``, ``s - x`` is exact under any faithful rounding, so an inexact sum fails
    one of the two tests; an exact one passes both). Then bit 0 is set when inexact.
    """
    s = x + y
    inexact = ((s - x) != y) | ((s - y) != x)
    sb = np.float32(s).view(np.int32)
    rb = np.int32(sb | np.int32(1)) if inexact else sb
    return np.int32(rb).view(np.float32)


@njit(inline="always")
def _dot_add_step_rz(acc, a0, a1, b0, b1):
    """One BFDotAdd in float32 under round toward zero (products of bf16 values are exact)."""
    return _round_to_odd_rz(acc, _round_to_odd_rz(a0 * b0, a1 * b1))


@njit
def _tile_rz_body(af, bt, acc, i0, i1, j0, j1):
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
                ar[c] = _dot_add_step_rz(ar[c], a0, a1, b0[c], b1[c])


if HAS_MXCSR:
    from .._host_fp import mxcsr_get, mxcsr_set

    @njit
    def _tile_chains_rz(af, bt, acc, i0, i1, j0, j1):
        """:func:`_tile_chains_fp32` with this thread's MXCSR set to round toward zero, then restored."""
        saved = mxcsr_get()
        mxcsr_set(np.uint32(saved | MXCSR_ROUND_TOWARD_ZERO))
        _tile_rz_body(af, bt, acc, i0, i1, j0, j1)
        mxcsr_set(saved)

else:
    _tile_chains_rz = _tile_chains_fp32  # never selected: toward_zero is False off x86


@njit
def _tile_chains_careful(af, bt, acc, i0, i1, j0, j1):
    """The careful-tier chains (float64, flush and overflow handled) of a tile, in place on ``acc``."""
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
                ar[c] = _dot_add_step(ar[c], a0, a1, np.float64(b0[c]), np.float64(b1[c]))


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
    """Whether a single tile with these operands runs in the fp32 tier (for tests and teaching)."""
    _, _, a_emin, a_emax = unpack_rows(np.ascontiguousarray(a_bits, dtype=np.uint16))
    _, _, b_emin, b_emax = _unpack_bf16_cols(np.ascontiguousarray(b_bits, dtype=np.uint16))
    _, _, i_emin, i_emax = _unpack_init(np.ascontiguousarray(init_bits, dtype=np.uint32))
    return bool(_fp32_tier_exact(a_emin.min(), a_emax.max(), b_emin.min(), b_emax.max(),
                                 i_emin.min(), i_emax.max(), a_bits.shape[1]))
