"""BFloat16 arithmetic of BFMMLA and BFDOT, on bit patterns, compiled.

Corresponds to the Arm ARM pseudocode (DDI0487 M.a.a, J1.3, float functions):

    BFDotAdd(addend, op1_a, op1_b, op2_a, op2_b, fpcr)      -> bf_dot_add / bf_dot_add_fpcr
      FEAT_EBF16 absent or FPCR.EBF == 0:
        FPAdd_BF16(addend, FPAdd_BF16(BFMulH(op1_a, op2_a), BFMulH(op1_b, op2_b)))
      FPCR.EBF == 1 (FPCR.DN forced to 1):
        FPAdd(addend, FPDot(op1_a, op1_b, op2_a, op2_b))  -> see :mod:`.fp`
    BFMulH -> bf_mul,  FPAdd_BF16 -> bf_add,  BFRound -> bf_round,  BFUnpack -> bf_unpack

Operands are uint16 (bf16) and uint32 (fp32) bit patterns; results are uint32 fp32 bits.
The EBF == 0 behaviour is fixed: inputs and results flushed to zero (as if FZ, FIZ = 1, 1),
round to odd, overflow to infinity, only the default NaN. It reads FPCR.AH alone (the sign
of the default NaN), which is why ``bf_mul``/``bf_add``/``bf_dot_add`` take no fpcr and the
``*_fpcr`` variants do. Graviton3 runs ``bf_dot_add`` (no FEAT_EBF16, FPCR.AH == 0).

Values between unpacking and rounding are exact triples ``(sign, mag, exp)``: see :mod:`.fp`.
Every case follows the pseudocode line by line; this is the one specification of BFDotAdd and
of round to odd (:func:`bf_round`). Faster formulations that equal it under stated
preconditions are registered in :mod:`.tiers`.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit
from .fp import (
    FPTYPE_INFINITY,
    FPTYPE_NONZERO,
    FPTYPE_QNAN,
    FPTYPE_ZERO,
    bit_length,
    exact_add,
    fp_add,
    fp_default_nan,
    fp_dot,
    fp_infinity,
    fp_zero,
)
from .fpcr import EBF_BIT


@njit(inline="always")
def bf_unpack(fpval, n):
    """BFUnpack(fpval) for N = 16 (bf16 bits) or N = 32 (fp32 bits): ``(fptype, sign, mag, exp)``.

    Fixed flush to zero: a zero exponent field is FPType_Zero (the sign is kept). Every NaN is
    FPType_QNaN ("no SNaN for BF16 arithmetic").
    """
    if n == 16:
        bits = np.uint32(np.uint16(fpval)) << 16
    else:
        bits = np.uint32(fpval)
    sign = np.int64(bits >> 31)
    biased = np.int64((bits >> 23) & 0xFF)
    frac = np.int64(bits & 0x7FFFFF)
    if biased == 0:
        return FPTYPE_ZERO, sign, np.int64(0), np.int64(0)
    if biased == 255:
        if frac == 0:
            return FPTYPE_INFINITY, sign, np.int64(0), np.int64(0)
        return FPTYPE_QNAN, sign, np.int64(0), np.int64(0)
    return FPTYPE_NONZERO, sign, frac | (1 << 23), biased - 150


@njit
def bf_round(sign, mag, exp):
    """BFRound(op) for op = (-1)**sign * mag * 2**exp != 0 -> fp32 bits.

    Round to single precision (24-bit significand; BFRound rounds to fp32, not to bf16) with
    round to odd: truncate toward zero, then set bit 0 if anything was discarded. Fixed
    flush to zero when the unrounded exponent is below -126; overflow gives a signed infinity.
    """
    nbits = bit_length(mag)
    exponent = exp + nbits - 1
    if exponent < -126:
        return fp_zero(sign)
    if exponent + 127 >= 255:
        return fp_infinity(sign)
    if nbits > 24:
        shift = nbits - 24
        int_mant = mag >> shift
        if (int_mant << shift) != mag:
            int_mant |= 1  # round to odd; int_mant < 2**24 stays below 2**24
    else:
        int_mant = mag << (24 - nbits)
    return np.uint32((np.int64(sign) << 31) | ((exponent + 127) << 23) | (int_mant & 0x7FFFFF))


@njit
def bf_mul_ah(op1, op2, dnan):
    """BFMulH(op1, op2, fpcr) with the default NaN ``dnan`` (FPDefaultNaN(fpcr, 32))."""
    type1, sign1, m1, e1 = bf_unpack(op1, 16)
    type2, sign2, m2, e2 = bf_unpack(op2, 16)
    if type1 == FPTYPE_QNAN or type2 == FPTYPE_QNAN:
        return np.uint32(dnan)
    inf1 = type1 == FPTYPE_INFINITY
    inf2 = type2 == FPTYPE_INFINITY
    zero1 = type1 == FPTYPE_ZERO
    zero2 = type2 == FPTYPE_ZERO
    if (inf1 and zero2) or (zero1 and inf2):
        return np.uint32(dnan)
    if inf1 or inf2:
        return fp_infinity(sign1 ^ sign2)
    if zero1 or zero2:
        return fp_zero(sign1 ^ sign2)
    # Significands of bf16 values carry 8 bits: m1 = m1' * 2**16, so drop those zeros first.
    return bf_round(sign1 ^ sign2, (m1 >> 16) * (m2 >> 16), e1 + e2 + 32)


@njit
def bf_add_ah(op1, op2, dnan):
    """FPAdd_BF16(op1, op2, fpcr) with the default NaN ``dnan`` (FPDefaultNaN(fpcr, 32))."""
    type1, sign1, m1, e1 = bf_unpack(op1, 32)
    type2, sign2, m2, e2 = bf_unpack(op2, 32)
    if type1 == FPTYPE_QNAN or type2 == FPTYPE_QNAN:
        return np.uint32(dnan)
    inf1 = type1 == FPTYPE_INFINITY
    inf2 = type2 == FPTYPE_INFINITY
    if inf1 and inf2 and sign1 != sign2:
        return np.uint32(dnan)
    if (inf1 and sign1 == 0) or (inf2 and sign2 == 0):
        return fp_infinity(0)
    if inf1 or inf2:
        return fp_infinity(1)
    if type1 == FPTYPE_ZERO and type2 == FPTYPE_ZERO and sign1 == sign2:
        return fp_zero(sign1)
    s, m, e = exact_add(sign1, m1, e1, sign2, m2, e2)
    if m == 0:
        return fp_zero(0)  # positive sign when round to odd
    return bf_round(s, m, e)


_DNAN = np.uint32(0x7FC00000)


@njit
def bf_mul(op1, op2):
    """BFMulH(op1, op2, fpcr) with FPCR.AH == 0: bf16 bits x bf16 bits -> fp32 bits."""
    return bf_mul_ah(op1, op2, _DNAN)


@njit
def bf_add(op1, op2):
    """FPAdd_BF16(op1, op2, fpcr) with FPCR.AH == 0: fp32 bits + fp32 bits -> fp32 bits."""
    return bf_add_ah(op1, op2, _DNAN)


@njit
def bf_mul_fpcr(op1, op2, fpcr):
    """BFMulH(op1, op2, fpcr) for any FPCR value (only FPCR.AH is read: the default NaN's sign)."""
    return bf_mul_ah(op1, op2, fp_default_nan(fpcr))


@njit
def bf_add_fpcr(op1, op2, fpcr):
    """FPAdd_BF16(op1, op2, fpcr) for any FPCR value (only FPCR.AH is read)."""
    return bf_add_ah(op1, op2, fp_default_nan(fpcr))


@njit
def bf_dot_add_ah(addend, a0, a1, b0, b1, dnan):
    """BFDotAdd with FPCR.EBF == 0 and the default NaN ``dnan`` (FPDefaultNaN(fpcr, 32)):
    ``FPAdd_BF16(addend, FPAdd_BF16(BFMulH(a0, b0), BFMulH(a1, b1)))``."""
    prod = bf_add_ah(bf_mul_ah(a0, b0, dnan), bf_mul_ah(a1, b1, dnan), dnan)
    return bf_add_ah(addend, prod, dnan)


@njit
def bf_dot_add(addend, a0, a1, b0, b1):
    """BFDotAdd(addend, a0, a1, b0, b1, FPCR) as Graviton3 runs it (no FEAT_EBF16, AH == 0).

    ``addend`` fp32 bits, ``a0, a1, b0, b1`` bf16 bits (op1_a, op1_b, op2_a, op2_b);
    returns fp32 bits of ``addend + (a0*b0 + a1*b1)`` with three round-to-odd roundings.
    Corresponds to the Arm ARM pseudocode function BFDotAdd (DDI0487 M.a.a), specialized for
    the FPCR.EBF == 0 case.
    """
    return bf_dot_add_ah(addend, a0, a1, b0, b1, _DNAN)


@njit
def bf_dot_add_fpcr(addend, a0, a1, b0, b1, fpcr):
    """BFDotAdd(addend, a0, a1, b0, b1, fpcr) for any FPCR value (``FPCR.bits``).

    FPCR.EBF == 0: as :func:`bf_dot_add`, with the default NaN's sign taken from FPCR.AH.
    FPCR.EBF == 1 (FEAT_EBF16): ``FPAdd(addend, FPDot(a0, a1, b0, b1))`` with FPCR.DN forced
    to 1, following FPCR.RMode, FZ, FIZ and AH.
    """
    fpcr = np.int64(fpcr)
    if (fpcr >> EBF_BIT) & 1:
        fpcr_dn = fpcr | (1 << 25)
        return fp_add(addend, fp_dot(a0, a1, b0, b1, fpcr_dn), fpcr_dn)
    return bf_dot_add_ah(addend, a0, a1, b0, b1, fp_default_nan(fpcr))
