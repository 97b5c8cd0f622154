"""BFCVT / BFCVTN: single precision to BFloat16 (Arm ARM DDI0487 M.a.a, C7.2.14, C7.2.15).

Both instructions apply FPConvertBF(op, FPCR) to each element. Compiled scalar cores on bit
patterns:

* :func:`fp_convert_bf` - the default FPCR (what Graviton3 user space runs): round to nearest
  even, denormals kept, NaNs converted by FPConvertNaN (quiet bit set, top payload bits kept);
* :func:`fp_convert_bf_fpcr` - any FPCR: RMode, FZ, FIZ, DN and AH as FPConvertBF reads them.

:func:`bfcvt` is the vectorised public function.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit
from ._operands import as_fp32_bits, bf16_from_bits
from .fp import (
    FPTYPE_INFINITY,
    FPTYPE_QNAN,
    FPTYPE_SNAN,
    FPTYPE_ZERO,
    QUIET_BIT,
    RNE,
    fp_default_nan,
    fp_infinity,
    fp_round_base,
    fp_rounding_mode,
    fp_unpack,
    fp_zero,
    fpcr_field,
)
from .fpcr import fpcr_bits


@njit(inline="always")
def fp_convert_nan(op):
    """FPConvertNaN(op, 32) for a 32-bit NaN: the same NaN with the quiet bit (frac<22>) set."""
    return np.uint32(np.uint32(op) | QUIET_BIT)


@njit
def fp_convert_bf(x_bits):
    """FPConvertBF(op, FPCR) for the default FPCR: fp32 bits -> bf16 bits (uint16).

    With RMode = RNE, FZ = 0 and AH = 0, FPRoundBF to 7 fraction bits is the classic
    "add 0x7FFF plus the lowest kept bit, keep the top half", which is also right for
    denormals (the grid is uniform there) and overflows to infinity as RNE must.
    NaNs take FPConvertNaN and the top 16 bits (payload truncated, never rounded).
    """
    x = np.uint32(x_bits)
    if (x & np.uint32(0x7F800000)) == np.uint32(0x7F800000) and (x & np.uint32(0x007FFFFF)) != 0:
        return np.uint16(fp_convert_nan(x) >> 16)
    lsb = (x >> 16) & np.uint32(1)
    return np.uint16((np.uint64(x) + np.uint64(0x7FFF) + np.uint64(lsb)) >> np.uint64(16))


@njit
def fp_convert_bf_fpcr(x_bits, fpcr):
    """FPConvertBF(op, fpcr) for any FPCR value (``FPCR.bits``): fp32 bits -> bf16 bits.

    FPCR.AH == 1 (FEAT_AFP): FIZ and FZ forced on, rounding forced to RNE, underflow after
    rounding. Otherwise FPCR.RMode rounds and FPCR.FZ/FIZ flush. FPCR.DN gives the default NaN.
    """
    fpcr = np.int64(fpcr)
    altfp = fpcr_field(fpcr, 1, 1) == 1
    rounding = fp_rounding_mode(fpcr)
    if altfp:
        fpcr = fpcr | (1 << 24) | 1  # fpcr.<FIZ,FZ> = '11'
        rounding = RNE
    fptype, sign, mag, exp = fp_unpack(x_bits, fpcr)
    if fptype == FPTYPE_QNAN or fptype == FPTYPE_SNAN:
        if fpcr_field(fpcr, 25, 1) == 1:
            result = fp_default_nan(fpcr)
        else:
            result = fp_convert_nan(x_bits)
    elif fptype == FPTYPE_INFINITY:
        result = fp_infinity(sign)
    elif fptype == FPTYPE_ZERO:
        result = fp_zero(sign)
    else:
        result = fp_round_base(sign, mag, exp, 7, rounding, fpcr_field(fpcr, 24, 1) == 1, altfp)
    return np.uint16(result >> 16)


@njit
def _convert_all(x, out):
    for i in range(x.size):
        out[i] = fp_convert_bf(x[i])


@njit
def _convert_all_fpcr(x, out, fpcr):
    for i in range(x.size):
        out[i] = fp_convert_bf_fpcr(x[i], fpcr)


def bfcvt(x, *, fpcr=None):
    """BFCVT / BFCVTN element by element: float32 array -> new ``ml_dtypes.bfloat16`` array.

    ``x``: float32 array of any shape (uint32 bit patterns accepted; Python floats and 0-d
    arrays are not guessed at: pass an array). ``fpcr``: :class:`~mlas_emu.isa.FPCR` or None
    (Graviton3's default: round to nearest even, denormals kept, NaN payloads kept and quieted).

    >>> import numpy as np
    >>> bfcvt(np.array([1.00390625, 1.01171875], dtype=np.float32)).astype(np.float32)  # ties to even
    array([1.      , 1.015625], dtype=float32)
    >>> bfcvt(np.array([0x7FA00000], dtype=np.uint32)).view(np.uint16)  # NaN: quieted, payload kept
    array([32736], dtype=uint16)
    """
    bits = fpcr_bits(fpcr)
    flat = np.ascontiguousarray(as_fp32_bits(x, "x")).reshape(-1)
    out = np.empty(flat.size, dtype=np.uint16)
    if bits == 0:
        _convert_all(flat, out)
    else:
        _convert_all_fpcr(flat, out, np.int64(bits))
    return bf16_from_bits(out.reshape(np.shape(x)))


def to_bf16(x, *, fpcr=None):
    """Round float32 values to bf16 as the Arm BFCVT instruction does (an alias of :func:`bfcvt`)."""
    return bfcvt(x, fpcr=fpcr)
