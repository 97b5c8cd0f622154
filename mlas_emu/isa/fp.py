"""Shared floating-point pieces of the Arm ARM pseudocode, on bit patterns, compiled.

Arm ARM DDI0487 M.a.a, J1.3 (float functions of the shared pseudocode): FPUnpackBase,
FPRoundBase, FPRound, FPAdd, FPDot, FPDefaultNaN, FPProcessNaNs. These serve the paths that follow
FPCR: BFCVT and the FEAT_EBF16 (``FPCR.EBF == 1``) BFDotAdd. The fixed-behaviour BFloat16
arithmetic is in :mod:`.bf16`.

Where the pseudocode uses unbounded reals, values here are exact triples ``(sign, mag, exp)``
meaning ``(-1)**sign * mag * 2**exp`` with ``0 <= mag < 2**63`` (int64). Every operation is
exact until one rounding function turns the triple into bits. ``fpcr`` is the register value
(see :mod:`.fpcr`); FEAT_AFP is taken as implemented, so ``FIZ`` and ``AH`` act when set.
Floating-point exceptions and FPSR flags are not modelled (the instructions modelled here do
not update the cumulative flags, or their flags are not observable by MLAS).
"""

from __future__ import annotations

import numpy as np

from numba import config as numba_config
from numba.cpython.unsafe.numbers import leading_zeros  # LLVM ctlz intrinsic

from .._jit import njit

# FPType (J1.3 FPType): the classes FPUnpackBase distinguishes.
FPTYPE_ZERO = 0
FPTYPE_NONZERO = 1  # normal or denormal (FPType_Nonzero / FPType_Denormal)
FPTYPE_INFINITY = 2
FPTYPE_QNAN = 3
FPTYPE_SNAN = 4

# fp32 fields (IEEE 754 binary32).
SIGN_MASK = np.uint32(0x80000000)
EXP_MASK = np.uint32(0x7F800000)
FRAC_MASK = np.uint32(0x007FFFFF)
QUIET_BIT = np.uint32(0x00400000)  # frac<22>
DEFAULT_NAN = np.uint32(0x7FC00000)  # FPDefaultNaN(fpcr, 32) with sign '0'
MIN_EXP = -126  # FPBits(32, _): minimum_exp

# Rounding modes (FPDecodeRounding order). Round to odd is BFRound (:func:`.bf16.bf_round`).
RNE, RP, RM, RZ = 0, 1, 2, 3


@njit(inline="always")
def fpcr_field(fpcr, shift, width):
    """``fpcr<shift+width-1:shift>`` as an int64."""
    return (np.int64(fpcr) >> shift) & ((1 << width) - 1)


@njit(inline="always")
def fp_rounding_mode(fpcr):
    """FPRoundingMode(fpcr) = FPDecodeRounding(FPCR.RMode): 0 RNE, 1 RP, 2 RM, 3 RZ."""
    return fpcr_field(fpcr, 22, 2)


@njit(inline="always")
def fp_zero(sign):
    """FPZero(sign, 32)."""
    return np.uint32(np.uint32(sign) << 31)


@njit(inline="always")
def fp_infinity(sign):
    """FPInfinity(sign, 32)."""
    return np.uint32((np.uint32(sign) << 31) | EXP_MASK)


@njit(inline="always")
def fp_default_nan(fpcr):
    """FPDefaultNaN(fpcr, 32): quiet NaN, sign = FPCR.AH (FEAT_AFP)."""
    return np.uint32((np.uint32(fpcr_field(fpcr, 1, 1)) << 31) | DEFAULT_NAN)


if numba_config.DISABLE_JIT:  # plain Python (coverage runs): the intrinsic cannot run

    def bit_length(x):
        """Number of significant bits of a non-negative integer (0 for 0)."""
        return np.int64(int(x).bit_length())

else:

    @njit(inline="always")
    def bit_length(x):
        """Number of significant bits of a non-negative int64 (0 for 0): 64 - count leading zeros."""
        return np.int64(64 - leading_zeros(np.uint64(x)))


@njit(inline="always")
def fp_unpack_fields(sign, biased, frac, frac_bits, fpcr):
    """FPUnpackBase for the binary32 layout, also reached by bf16 (isbfloat16: frac<6:0>:Zeros(16)).

    ``frac`` has ``frac_bits`` bits (23 for fp32, 7 for bf16). Denormals are flushed when
    ``fz = FPCR.FZ && !FPCR.AH`` or ``fiz = FPCR.FIZ`` (FEAT_AFP). Returns ``(fptype, sign, mag, exp)``.
    """
    fz = fpcr_field(fpcr, 24, 1) == 1 and fpcr_field(fpcr, 1, 1) == 0
    fiz = fpcr_field(fpcr, 0, 1) == 1
    sign = np.int64(sign)
    frac = np.int64(frac)
    biased = np.int64(biased)
    if biased == 0:
        if frac == 0 or fz or fiz:
            return FPTYPE_ZERO, sign, np.int64(0), np.int64(0)
        return FPTYPE_NONZERO, sign, frac, np.int64(MIN_EXP - frac_bits)
    if biased == 255:
        if frac == 0:
            return FPTYPE_INFINITY, sign, np.int64(0), np.int64(0)
        quiet = (frac >> (frac_bits - 1)) & 1
        return (FPTYPE_QNAN if quiet else FPTYPE_SNAN), sign, np.int64(0), np.int64(0)
    return FPTYPE_NONZERO, sign, frac | (np.int64(1) << frac_bits), biased - 127 - frac_bits


@njit(inline="always")
def fp_unpack(op, fpcr):
    """FPUnpack(op, fpcr) for a 32-bit op: ``(fptype, sign, mag, exp)``."""
    op = np.uint32(op)
    return fp_unpack_fields(op >> 31, (op >> 23) & 0xFF, op & FRAC_MASK, 23, fpcr)


@njit(inline="always")
def fp_unpack_bf16(op, fpcr):
    """FPUnpackBase(op, fpcr, fpexc, isbfloat16=TRUE) for a 16-bit bf16 op."""
    op = np.uint32(np.uint16(op))
    return fp_unpack_fields(op >> 15, (op >> 7) & 0xFF, op & 0x7F, 7, fpcr)


@njit(inline="always")
def normalize61(mag, exp):
    """Scale a non-zero mag of at most 61 bits so its top bit is bit 60 (value unchanged)."""
    shift = 61 - bit_length(mag)
    return mag << shift, exp - shift


@njit
def exact_add(s1, m1, e1, s2, m2, e2):
    """``x + y`` for triples with mags below 2**61, exact for every later rounding to at most 58 bits.

    The pseudocode adds reals. Here both mags are scaled to 61 bits; when the exponents differ
    by 2 or more, the bits of the smaller operand below the larger one's unit are replaced by a
    sticky bit (truncate, then set bit 0 if anything was dropped). The sum then has at least 60
    bits above that unit and lies in the same open interval between consecutive units as the
    exact sum (same binade, same side of every rounding point of a 58-bit grid, zero only when
    exact). Returns ``(sign, mag, exp)``; ``mag == 0`` means an exact zero (sign 0).
    """
    if m1 == 0:
        return s2, m2, e2
    if m2 == 0:
        return s1, m1, e1
    m1, e1 = normalize61(m1, e1)
    m2, e2 = normalize61(m2, e2)
    if e1 < e2:
        s1, m1, e1, s2, m2, e2 = s2, m2, e2, s1, m1, e1
    d = e1 - e2
    if d <= 1:  # exact: at most 62 bits
        m1 <<= d
        e = e2
    else:
        if d >= 61:
            m2 = np.int64(1)  # entirely below the larger's unit: the sticky bit only
        else:
            kept = m2 >> d
            m2 = kept | np.int64((kept << d) != m2)
        e = e1
    v = (-m1 if s1 else m1) + (-m2 if s2 else m2)
    if v == 0:
        return np.int64(0), np.int64(0), np.int64(0)
    if v < 0:
        return np.int64(1), -v, e
    return np.int64(0), v, e


@njit(inline="always")
def split_at(mag, shift):
    """``(floor(mag / 2**shift), error class)``: 0 exact, 1 below half, 2 half, 3 above half."""
    if shift <= 0:
        return mag << (-shift), 0
    if shift > 63:
        return np.int64(0), 1
    kept = mag >> shift
    rem = mag - (kept << shift)
    if rem == 0:
        return kept, 0
    half = np.int64(1) << (shift - 1)
    if rem < half:
        return kept, 1
    if rem == half:
        return kept, 2
    return kept, 3


@njit(inline="always")
def round_up_for(rounding, cls, sign, int_mant):
    """The ``round_up`` decision of FPRoundBase for an error class from :func:`split_at`."""
    if rounding == RNE:
        return cls == 3 or (cls == 2 and (int_mant & 1) == 1)
    if rounding == RP:
        return cls != 0 and sign == 0
    if rounding == RM:
        return cls != 0 and sign == 1
    return False  # RZ


@njit
def fp_round_base(sign, mag, exp, frac_bits, rounding, fz, altfp):
    """FPRoundBase(op, fpcr, rounding, isbfloat16, fpexc, satoflo=FALSE, N=32) -> fp32 bits.

    ``frac_bits`` is F: 23 for single precision (FPRound), 7 for BFloat16 (FPRoundBF, the
    result in the top 16 bits). ``fz`` is FPCR.FZ; ``altfp`` is FPCR.AH (FEAT_AFP): then
    flush-to-zero is decided after rounding with an unbounded exponent. ``mag > 0``.
    """
    F = frac_bits
    exponent = exp + bit_length(mag) - 1  # NormalizeReal: value = mantissa * 2^exponent
    if not altfp and fz and exponent < MIN_EXP:
        return fp_zero(sign)
    if altfp:
        im_u, cls_u = split_at(mag, exponent - F - exp)
        exp_u = exponent
        if round_up_for(rounding, cls_u, sign, im_u):
            im_u += 1
            if im_u == np.int64(1) << (F + 1):
                exp_u += 1
        if exp_u < MIN_EXP and fz:
            return fp_zero(sign)
    biased_exp = max(exponent - MIN_EXP + 1, 0)
    lsb_exp = exponent - F if biased_exp > 0 else MIN_EXP - F
    int_mant, cls = split_at(mag, lsb_exp - exp)
    if round_up_for(rounding, cls, sign, int_mant):
        int_mant += 1
        if int_mant == np.int64(1) << F:  # rounded up from denormalized to normalized
            biased_exp = 1
        if int_mant == np.int64(1) << (F + 1):  # rounded up to the next exponent
            biased_exp += 1
            int_mant >>= 1
    if biased_exp >= 255:
        if rounding == RNE or (rounding == RP and sign == 0) or (rounding == RM and sign == 1):
            return fp_infinity(sign)
        # FPMaxNormal(sign, 32); its top 16 bits are also the BFloat16 maximum normal.
        return np.uint32((np.uint32(sign) << 31) | np.uint32(0x7F7FFFFF))
    frac = (int_mant & ((np.int64(1) << F) - 1)) << (23 - F)
    return np.uint32((np.int64(sign) << 31) | (np.int64(biased_exp) << 23) | frac)


@njit(inline="always")
def fp_round(sign, mag, exp, fpcr, rounding):
    """FPRound(op, fpcr, rounding, fpexc, 32): FPRoundBase to single precision with FPCR.FZ, AH."""
    return fp_round_base(sign, mag, exp, 23, rounding, fpcr_field(fpcr, 24, 1) == 1, fpcr_field(fpcr, 1, 1) == 1)


@njit
def fp_process_nans(type1, type2, op1, op2, fpcr):
    """FPProcessNaNs for N=32: ``(done, result)``; quiets an SNaN, honours DN and AH."""
    nan1 = type1 == FPTYPE_QNAN or type1 == FPTYPE_SNAN
    nan2 = type2 == FPTYPE_QNAN or type2 == FPTYPE_SNAN
    if not (nan1 or nan2):
        return False, np.uint32(0)
    if fpcr_field(fpcr, 25, 1) == 1:
        return True, fp_default_nan(fpcr)
    altfp = fpcr_field(fpcr, 1, 1) == 1
    if altfp and nan1 and nan2:
        pick = np.uint32(op1)
    elif type1 == FPTYPE_SNAN:
        pick = np.uint32(op1)
    elif type2 == FPTYPE_SNAN:
        pick = np.uint32(op2)
    elif nan1:
        pick = np.uint32(op1)
    else:
        pick = np.uint32(op2)
    return True, np.uint32(pick | QUIET_BIT)  # FPProcessNaN: result<22> = '1'


@njit
def fp_add(op1, op2, fpcr):
    """FPAdd(op1, op2, fpcr, fpexc=FALSE) for N=32 -> fp32 bits (DDI0487 M.a.a, J1.3)."""
    rounding = fp_rounding_mode(fpcr)
    type1, sign1, m1, e1 = fp_unpack(op1, fpcr)
    type2, sign2, m2, e2 = fp_unpack(op2, fpcr)
    done, result = fp_process_nans(type1, type2, op1, op2, fpcr)
    if done:
        return result
    inf1 = type1 == FPTYPE_INFINITY
    inf2 = type2 == FPTYPE_INFINITY
    if inf1 and inf2 and sign1 != sign2:
        return fp_default_nan(fpcr)
    if (inf1 and sign1 == 0) or (inf2 and sign2 == 0):
        return fp_infinity(0)
    if inf1 or inf2:
        return fp_infinity(1)
    if type1 == FPTYPE_ZERO and type2 == FPTYPE_ZERO and sign1 == sign2:
        return fp_zero(sign1)
    s, m, e = exact_add(sign1, m1, e1, sign2, m2, e2)
    if m == 0:  # sign of an exact zero depends on the rounding mode
        return fp_zero(1 if rounding == RM else 0)
    return fp_round(s, m, e, fpcr, rounding)


@njit
def fp_dot(op1_a, op1_b, op2_a, op2_b, fpcr):
    """FPDot(op1_a, op1_b, op2_a, op2_b, fpcr, isbfloat16=TRUE, fpexc=FALSE) -> fp32 bits.

    Both products and their sum are exact; one FPRound (FPCR.RMode, FZ, AH). Modelled as
    BFDotAdd calls it, with FPCR.DN forced to 1: any NaN operand gives the default NaN (the
    DN == 0 payload path of FPProcessNaNs4 is not reachable from BFDotAdd).
    """
    rounding = fp_rounding_mode(fpcr)
    t1a, s1a, m1a, e1a = fp_unpack_bf16(op1_a, fpcr)
    t1b, s1b, m1b, e1b = fp_unpack_bf16(op1_b, fpcr)
    t2a, s2a, m2a, e2a = fp_unpack_bf16(op2_a, fpcr)
    t2b, s2b, m2b, e2b = fp_unpack_bf16(op2_b, fpcr)
    if t1a >= FPTYPE_QNAN or t1b >= FPTYPE_QNAN or t2a >= FPTYPE_QNAN or t2b >= FPTYPE_QNAN:  # QNaN, SNaN
        return fp_default_nan(fpcr)
    inf1a = t1a == FPTYPE_INFINITY
    inf1b = t1b == FPTYPE_INFINITY
    inf2a = t2a == FPTYPE_INFINITY
    inf2b = t2b == FPTYPE_INFINITY
    zero1a = t1a == FPTYPE_ZERO
    zero1b = t1b == FPTYPE_ZERO
    zero2a = t2a == FPTYPE_ZERO
    zero2b = t2b == FPTYPE_ZERO
    sign_pa = s1a ^ s2a
    sign_pb = s1b ^ s2b
    inf_pa = inf1a or inf2a
    inf_pb = inf1b or inf2b
    zero_pa = zero1a or zero2a
    zero_pb = zero1b or zero2b
    invalid = ((inf1a and zero2a) or (zero1a and inf2a) or (inf1b and zero2b) or (zero1b and inf2b)
               or (inf_pa and inf_pb and sign_pa != sign_pb))
    if invalid:
        return fp_default_nan(fpcr)
    if (inf_pa and sign_pa == 0) or (inf_pb and sign_pb == 0):
        return fp_infinity(0)
    if inf_pa or inf_pb:
        return fp_infinity(1)
    if zero_pa and zero_pb and sign_pa == sign_pb:
        return fp_zero(sign_pa)
    # Products of two 8-bit significands are exact in 16 bits.
    ma = m1a * m2a if not zero_pa else np.int64(0)
    mb = m1b * m2b if not zero_pb else np.int64(0)
    s, m, e = exact_add(sign_pa, ma, e1a + e2a, sign_pb, mb, e1b + e2b)
    if m == 0:
        return fp_zero(1 if rounding == RM else 0)
    return fp_round(s, m, e, fpcr, rounding)
