"""The independent exact reference: Arm ARM pseudocode transliterated with Python ints and Fractions.

Written from the Arm Architecture Reference Manual for A-profile, DDI0487 M.a.a, J1.3
(its float functions: BFUnpack, BFMulH, FPAdd_BF16, BFRound, BFDotAdd, FPUnpackBase,
FPRoundBase, FPAdd, FPDot, FPConvertBF, FPConvertNaN, FPProcessNaNs) and J1.3 MatMulAdd.
Where the pseudocode says ``real`` this module uses ``fractions.Fraction``; bit fields are
plain ints. It is slow and simple on purpose and shares no code with ``mlas_emu``.

Conventions: fp32 values are ``int`` bit patterns (0 .. 2**32-1), bf16 values ``int`` bit
patterns (0 .. 2**16-1). ``fpcr`` is ``None`` (every field zero: Graviton3 user space) or any
object with the attributes ``ebf, rmode ("RNE", "RZ", "RP", "RM"), fz, fiz, dn, ah`` (for
example ``mlas_emu.isa.FPCR``). FEAT_AFP and FEAT_EBF16 are taken as implemented, so ``ah``,
``fiz`` and ``ebf`` act when set. Exceptions and FPSR flags are not modelled.

Main entry points: :func:`bf_dot_add`, :func:`bfcvt`, :func:`bfmmla`, :func:`bfdot`,
:func:`mat_mul_add`, :func:`dot_add`.
"""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

ZERO, DENORMAL, NONZERO, INFINITY, QNAN, SNAN = "Zero", "Denormal", "Nonzero", "Infinity", "QNaN", "SNaN"
TIEEVEN, POSINF, NEGINF, TOZERO, ODD = "TIEEVEN", "POSINF", "NEGINF", "ZERO", "ODD"
_RMODE = {"RNE": TIEEVEN, "RP": POSINF, "RM": NEGINF, "RZ": TOZERO}

DEFAULT_FPCR = SimpleNamespace(ebf=False, rmode="RNE", fz=False, fiz=False, dn=False, ah=False)


def _fpcr(fpcr):
    return DEFAULT_FPCR if fpcr is None else fpcr


def _replace(fpcr, **changes):
    fields = {k: getattr(fpcr, k) for k in ("ebf", "rmode", "fz", "fiz", "dn", "ah")}
    fields.update(changes)
    return SimpleNamespace(**fields)


def _bit(x, n):
    return (x >> n) & 1


# --- constructors -------------------------------------------------------------------------

def fp_zero(sign, n=32):
    """FPZero(sign, N)."""
    return sign << (n - 1)


def fp_infinity(sign, n=32):
    """FPInfinity(sign, N) for N = 32."""
    assert n == 32
    return (sign << 31) | (0xFF << 23)


def fp_max_normal(sign, n=32):
    """FPMaxNormal(sign, 32)."""
    return (sign << 31) | (0xFE << 23) | ((1 << 23) - 1)


def fp_default_nan(fpcr, n=32):
    """FPDefaultNaN(fpcr, 32): sign = FPCR.AH (FEAT_AFP), exponent ones, frac '1':Zeros."""
    return (int(bool(_fpcr(fpcr).ah)) << 31) | (0xFF << 23) | (1 << 22)


def normalize_real(x: Fraction):
    """NormalizeReal: ``(mantissa, exponent)`` with ``x = mantissa * 2**exponent``, 1 <= mantissa < 2."""
    assert x > 0
    exponent = x.numerator.bit_length() - x.denominator.bit_length()
    mantissa = x / Fraction(2) ** exponent
    while mantissa >= 2:
        mantissa /= 2
        exponent += 1
    while mantissa < 1:
        mantissa *= 2
        exponent -= 1
    return mantissa, exponent


def _round_down(x: Fraction) -> int:
    return x.numerator // x.denominator


def _int_and_error(x: Fraction):
    """``(RoundDown(x), x - RoundDown(x))``: the int_mant / error pair of the rounding functions."""
    int_mant = _round_down(x)
    return int_mant, x - int_mant


def _fields(fpval, isbfloat16):
    """``(sign, exp, frac)`` of fp32 bits, or of bf16 bits widened to frac<6:0>:Zeros(16)."""
    if isbfloat16:
        return _bit(fpval, 15), (fpval >> 7) & 0xFF, (fpval & 0x7F) << 16
    return _bit(fpval, 31), (fpval >> 23) & 0xFF, fpval & 0x7FFFFF


def _normal_value(exp, frac):
    """The magnitude of a normal number: 2^(exp-127) * (1 + frac * 2^-23)."""
    return Fraction(2) ** (exp - 127) * (1 + Fraction(frac, 2 ** 23))


# --- special cases shared by the arithmetic functions --------------------------------------

def _product_specials(type1, sign1, type2, sign2, fpcr):
    """op1 * op2 once NaNs are dealt with (BFMulH, FPMul): 0 x inf, inf, zero; else ``None``."""
    inf1, inf2 = type1 == INFINITY, type2 == INFINITY
    zero1, zero2 = type1 == ZERO, type2 == ZERO
    if (inf1 and zero2) or (zero1 and inf2):
        return fp_default_nan(fpcr)
    if inf1 or inf2:
        return fp_infinity(sign1 ^ sign2)
    if zero1 or zero2:
        return fp_zero(sign1 ^ sign2)
    return None


def _sum_specials(inf1, zero1, sign1, inf2, zero2, sign2, fpcr):
    """x + y once NaNs (and 0 x inf in products) are dealt with (FPAdd_BF16, FPAdd, FPDot,
    FPMulAdd): inf - inf, a signed infinity, zero + zero of one sign; else ``None``."""
    if inf1 and inf2 and sign1 != sign2:
        return fp_default_nan(fpcr)
    if (inf1 and sign1 == 0) or (inf2 and sign2 == 0):
        return fp_infinity(0)
    if (inf1 and sign1 == 1) or (inf2 and sign2 == 1):
        return fp_infinity(1)
    if zero1 and zero2 and sign1 == sign2:
        return fp_zero(sign1)
    return None


# --- BFloat16 behaviours (FEAT_EBF16 absent or FPCR.EBF == 0) ------------------------------

def bf_unpack(fpval, n):
    """BFUnpack(fpval) for N in {16, 32}: ``(fptype, sign, value)``; fixed flush to zero."""
    sign, exp, frac = _fields(fpval, isbfloat16=n == 16)
    if exp == 0:
        fptype, value = ZERO, Fraction(0)
    elif exp == 0xFF:
        if frac == 0:
            fptype, value = INFINITY, Fraction(2) ** 1000
        else:
            fptype, value = QNAN, Fraction(0)  # no SNaN for BF16 arithmetic
    else:
        fptype, value = NONZERO, _normal_value(exp, frac)
    if sign:
        value = -value
    return fptype, sign, value


def bf_round(op: Fraction) -> int:
    """BFRound(op): to single precision with round to odd, fixed flush to zero, overflow to inf."""
    assert op != 0
    minimum_exp, E, F = -126, 8, 23
    sign, mantissa = (1, -op) if op < 0 else (0, op)
    mantissa, exponent = normalize_real(mantissa)
    if exponent < minimum_exp:
        return fp_zero(sign)
    biased_exp = max(exponent - minimum_exp + 1, 0)
    if biased_exp == 0:
        mantissa = mantissa / Fraction(2) ** (minimum_exp - exponent)
    int_mant, error = _int_and_error(mantissa * 2 ** F)
    if error != 0 and int_mant % 2 == 0:
        int_mant += 1
    if biased_exp >= 2 ** E - 1:
        return fp_infinity(sign)
    return (sign << 31) | ((biased_exp & 0xFF) << 23) | (int_mant & ((1 << F) - 1))


def bf_mul(op1, op2, fpcr=None):
    """BFMulH(op1, op2, fpcr): bf16 bits x bf16 bits -> fp32 bits."""
    type1, sign1, value1 = bf_unpack(op1, 16)
    type2, sign2, value2 = bf_unpack(op2, 16)
    if type1 == QNAN or type2 == QNAN:
        return fp_default_nan(fpcr)
    special = _product_specials(type1, sign1, type2, sign2, fpcr)
    if special is not None:
        return special
    return bf_round(value1 * value2)


def bf_add(op1, op2, fpcr=None):
    """FPAdd_BF16(op1, op2, fpcr): fp32 bits + fp32 bits -> fp32 bits."""
    type1, sign1, value1 = bf_unpack(op1, 32)
    type2, sign2, value2 = bf_unpack(op2, 32)
    if type1 == QNAN or type2 == QNAN:
        return fp_default_nan(fpcr)
    special = _sum_specials(type1 == INFINITY, type1 == ZERO, sign1,
                            type2 == INFINITY, type2 == ZERO, sign2, fpcr)
    if special is not None:
        return special
    result_value = value1 + value2
    if result_value == 0:
        return fp_zero(0)  # positive sign when round to odd
    return bf_round(result_value)


def bf_dot_add(addend, a0, a1, b0, b1, fpcr=None):
    """BFDotAdd(addend, op1_a=a0, op1_b=a1, op2_a=b0, op2_b=b1, fpcr) -> fp32 bits.

    ``addend`` fp32 bits, the others bf16 bits. FPCR.EBF == 0 (default): the unfused
    round-to-odd form; FPCR.EBF == 1: FPAdd(addend, FPDot(...)) with FPCR.DN forced to 1.
    """
    fpcr = _fpcr(fpcr)
    if not fpcr.ebf:
        prod = bf_add(bf_mul(a0, b0, fpcr), bf_mul(a1, b1, fpcr), fpcr)
        return bf_add(addend, prod, fpcr)
    fpcr = _replace(fpcr, dn=True)
    prod = fp_dot(a0, a1, b0, b1, fpcr)
    return fp_add(addend, prod, fpcr)


# --- FPCR-governed behaviours --------------------------------------------------------------

def fp_rounding_mode(fpcr):
    """FPRoundingMode(fpcr) = FPDecodeRounding(FPCR.RMode)."""
    return _RMODE[_fpcr(fpcr).rmode]


def fp_unpack(fpval, fpcr, isbfloat16=False):
    """FPUnpackBase(fpval, fpcr, fpexc, isbfloat16) for fp32 bits, or bf16 bits when isbfloat16."""
    fpcr = _fpcr(fpcr)
    altfp = True  # FEAT_AFP implemented, AArch64
    fiz = altfp and bool(fpcr.fiz)
    fz = bool(fpcr.fz) and not (altfp and fpcr.ah)
    sign, exp32, frac32 = _fields(fpval, isbfloat16)
    if exp32 == 0:
        if frac32 == 0 or fz or fiz:
            fptype, value = ZERO, Fraction(0)
        else:
            fptype, value = DENORMAL, Fraction(2) ** -126 * Fraction(frac32, 2 ** 23)
    elif exp32 == 0xFF:
        if frac32 == 0:
            fptype, value = INFINITY, Fraction(2) ** 1000
        else:
            fptype, value = (QNAN if _bit(frac32, 22) else SNAN), Fraction(0)
    else:
        fptype, value = NONZERO, _normal_value(exp32, frac32)
    if sign:
        value = -value
    return fptype, sign, value


def fp_round_base(op: Fraction, fpcr, rounding, isbfloat16) -> int:
    """FPRoundBase(op, fpcr, rounding, isbfloat16, fpexc, satoflo=FALSE, N=32) -> 32 bits.

    With isbfloat16 the BFloat16 result is in the top 16 bits (FPBits: F = 7), else F = 23.
    """
    fpcr = _fpcr(fpcr)
    assert op != 0 and rounding != "TIEAWAY"
    F, minimum_exp = (7, -126) if isbfloat16 else (23, -126)
    zeros = 16 if isbfloat16 else 0
    N = 32
    E = N - (F + 1 + zeros)
    sign, mantissa = (1, -op) if op < 0 else (0, op)
    mantissa, exponent = normalize_real(mantissa)
    altfp = bool(fpcr.ah)
    if not altfp and fpcr.fz and exponent < minimum_exp:
        return fp_zero(sign)
    biased_exp_unconstrained = exponent - minimum_exp + 1
    int_mant_unconstrained, error_unconstrained = _int_and_error(mantissa * 2 ** F)
    biased_exp = max(exponent - minimum_exp + 1, 0)
    if biased_exp == 0:
        mantissa = mantissa / Fraction(2) ** (minimum_exp - exponent)
    int_mant, error = _int_and_error(mantissa * 2 ** F)

    def decide(err, im):
        if rounding == TIEEVEN:
            return (err > Fraction(1, 2) or (err == Fraction(1, 2) and im % 2 == 1)), True
        if rounding == POSINF:
            return (err != 0 and sign == 0), sign == 0
        if rounding == NEGINF:
            return (err != 0 and sign == 1), sign == 1
        return False, False  # ZERO, ODD

    if altfp:
        round_up_unconstrained, _ = decide(error_unconstrained, int_mant_unconstrained)
        if round_up_unconstrained:
            int_mant_unconstrained += 1
            if int_mant_unconstrained == 2 ** (F + 1):
                biased_exp_unconstrained += 1
                int_mant_unconstrained //= 2
        if biased_exp_unconstrained < 1 and int_mant_unconstrained != 0:
            if fpcr.fz:
                return fp_zero(sign)
    round_up, overflow_to_inf = decide(error, int_mant)
    if round_up:
        int_mant += 1
        if int_mant == 2 ** F:
            biased_exp = 1
        if int_mant == 2 ** (F + 1):
            biased_exp += 1
            int_mant //= 2
    if error != 0 and rounding == ODD and int_mant % 2 == 0:
        int_mant += 1
    if biased_exp >= 2 ** E - 1:
        return fp_infinity(sign) if overflow_to_inf else fp_max_normal(sign)
    return (sign << 31) | ((biased_exp % 2 ** E) << (F + zeros)) | ((int_mant % 2 ** F) << zeros)


def fp_round(op: Fraction, fpcr, rounding=None) -> int:
    """FPRound(op, fpcr, rounding, fpexc, 32): single precision (isbfloat16 = FALSE)."""
    return fp_round_base(op, fpcr, rounding or fp_rounding_mode(fpcr), isbfloat16=False)


def _round_sum(result_value: Fraction, fpcr, rounding) -> int:
    """The end of FPAdd, FPDot and FPMulAdd: an exact zero sum is +0 (-0 when rounding toward
    minus infinity), anything else goes through FPRound."""
    if result_value == 0:
        return fp_zero(1 if rounding == NEGINF else 0)
    return fp_round(result_value, fpcr, rounding)


def _process_nan(op, fpcr):
    """FPProcessNaN for N = 32: quiet the NaN, or the default NaN under FPCR.DN."""
    return fp_default_nan(fpcr) if _fpcr(fpcr).dn else op | (1 << 22)


def fp_process_nans(type1, type2, op1, op2, fpcr):
    """FPProcessNaNs for N = 32: ``(done, result)``."""
    nan1, nan2 = type1 in (SNAN, QNAN), type2 in (SNAN, QNAN)
    if _fpcr(fpcr).ah and nan1 and nan2:
        return True, _process_nan(op1, fpcr)
    if type1 == SNAN:
        return True, _process_nan(op1, fpcr)
    if type2 == SNAN:
        return True, _process_nan(op2, fpcr)
    if type1 == QNAN:
        return True, _process_nan(op1, fpcr)
    if type2 == QNAN:
        return True, _process_nan(op2, fpcr)
    return False, 0


def fp_add(op1, op2, fpcr=None):
    """FPAdd(op1, op2, fpcr, fpexc) for N = 32 -> fp32 bits."""
    rounding = fp_rounding_mode(fpcr)
    type1, sign1, value1 = fp_unpack(op1, fpcr)
    type2, sign2, value2 = fp_unpack(op2, fpcr)
    done, result = fp_process_nans(type1, type2, op1, op2, fpcr)
    if done:
        return result
    special = _sum_specials(type1 == INFINITY, type1 == ZERO, sign1,
                            type2 == INFINITY, type2 == ZERO, sign2, fpcr)
    if special is not None:
        return special
    return _round_sum(value1 + value2, fpcr, rounding)


def fp_dot(op1_a, op1_b, op2_a, op2_b, fpcr):
    """FPDot(op1_a, op1_b, op2_a, op2_b, fpcr, isbfloat16=TRUE, fpexc=FALSE) -> fp32 bits.

    Only the FPCR.DN == 1 form (as BFDotAdd calls it) is written: any NaN gives the default NaN.
    """
    fpcr = _fpcr(fpcr)
    assert fpcr.dn, "FPDot is modelled as BFDotAdd calls it, with FPCR.DN == 1"
    rounding = fp_rounding_mode(fpcr)
    t1a, s1a, v1a = fp_unpack(op1_a, fpcr, isbfloat16=True)
    t1b, s1b, v1b = fp_unpack(op1_b, fpcr, isbfloat16=True)
    t2a, s2a, v2a = fp_unpack(op2_a, fpcr, isbfloat16=True)
    t2b, s2b, v2b = fp_unpack(op2_b, fpcr, isbfloat16=True)
    if any(t in (SNAN, QNAN) for t in (t1a, t1b, t2a, t2b)):
        return fp_default_nan(fpcr)  # FPProcessNaNs4 + FPConvertNaN under DN
    inf1a, inf1b, inf2a, inf2b = (t == INFINITY for t in (t1a, t1b, t2a, t2b))
    zero1a, zero1b, zero2a, zero2b = (t == ZERO for t in (t1a, t1b, t2a, t2b))
    sign_pa, sign_pb = s1a ^ s2a, s1b ^ s2b
    inf_pa, inf_pb = inf1a or inf2a, inf1b or inf2b
    zero_pa, zero_pb = zero1a or zero2a, zero1b or zero2b
    if (inf1a and zero2a) or (zero1a and inf2a) or (inf1b and zero2b) or (zero1b and inf2b):
        return fp_default_nan(fpcr)  # invalidop (inf - inf of the products: _sum_specials)
    special = _sum_specials(inf_pa, zero_pa, sign_pa, inf_pb, zero_pb, sign_pb, fpcr)
    if special is not None:
        return special
    return _round_sum(v1a * v2a + v1b * v2b, fpcr, rounding)


def fp_convert_nan(op, n=32, m=32):
    """FPConvertNaN(op, M) from N = 32 to M = 32 (quiet bit set, payload kept)."""
    assert n == 32 and m == 32
    sign = _bit(op, 31)
    frac = (op & ((1 << 22) - 1)) << 29  # op<21:0> : Zeros(29), a 51-bit field
    return (sign << 31) | (((1 << 9) - 1) << 22) | (frac >> 29)


def fp_convert_bf(op, fpcr=None) -> int:
    """FPConvertBF(op, fpcr, FPRoundingMode(fpcr)): fp32 bits -> bf16 bits (BFCVT, BFCVTN)."""
    fpcr = _fpcr(fpcr)
    rounding = fp_rounding_mode(fpcr)
    altfp = bool(fpcr.ah)
    if altfp:
        fpcr = _replace(fpcr, fiz=True, fz=True)
        rounding = TIEEVEN
    fptype, sign, value = fp_unpack(op, fpcr)
    if fptype in (SNAN, QNAN):
        result = fp_default_nan(fpcr) if fpcr.dn else fp_convert_nan(op)
    elif fptype == INFINITY:
        result = fp_infinity(sign)
    elif fptype == ZERO:
        result = fp_zero(sign)
    else:
        result = fp_round_base(value, fpcr, rounding, isbfloat16=True)  # FPRoundBF
    return result >> 16


bfcvt = fp_convert_bf


# --- register-level instructions (lists or 1-D arrays of bit patterns) --------------------

def bf_mat_mul_add_h(addend, op1, op2, fpcr=None):
    """BFMatMulAddH on one 128-bit segment: 4 fp32 bits, 8 bf16 bits, 8 bf16 bits -> 4 fp32 bits."""
    result = [0] * 4
    for i in range(2):
        for j in range(2):
            total = int(addend[2 * i + j])
            for k in range(2):
                total = bf_dot_add(total, int(op1[4 * i + 2 * k]), int(op1[4 * i + 2 * k + 1]),
                                   int(op2[4 * j + 2 * k]), int(op2[4 * j + 2 * k + 1]), fpcr)
            result[2 * i + j] = total
    return result


def bfmmla(vd, vn, vm, fpcr=None):
    """BFMMLA (and its SVE form) on one register: segments of 4 / 8 / 8 lanes of bit patterns."""
    out = []
    for s in range(len(vd) // 4):
        out += bf_mat_mul_add_h(vd[4 * s:4 * s + 4], vn[8 * s:8 * s + 8], vm[8 * s:8 * s + 8], fpcr)
    return out


def bfdot(vd, vn, vm, fpcr=None):
    """BFDOT: lane e = BFDotAdd(vd[e], vn[2e], vn[2e+1], vm[2e], vm[2e+1])."""
    return [bf_dot_add(int(vd[e]), int(vn[2 * e]), int(vn[2 * e + 1]), int(vm[2 * e]), int(vm[2 * e + 1]), fpcr)
            for e in range(len(vd))]


def _int(bits, width, unsigned):
    bits = int(bits) % (1 << width)
    return bits if unsigned or bits < (1 << (width - 1)) else bits - (1 << width)


def mat_mul_add(addend, op1, op2, op1_unsigned, op2_unsigned):
    """MatMulAdd on one segment: 4 x 32-bit, 16 x 8-bit, 16 x 8-bit -> 4 unsigned 32-bit ints."""
    result = [0] * 4
    for i in range(2):
        for j in range(2):
            total = _int(addend[2 * i + j], 32, True)
            for k in range(8):
                total += _int(op1[8 * i + k], 8, op1_unsigned) * _int(op2[8 * j + k], 8, op2_unsigned)
            result[2 * i + j] = total % (1 << 32)
    return result


def dot_add(addend, op1, op2, op1_unsigned, op2_unsigned):
    """SDOT/UDOT/USDOT (vector): lane e += sum of 4 byte products; unsigned 32-bit results."""
    return [(_int(addend[e], 32, True)
             + sum(_int(op1[4 * e + t], 8, op1_unsigned) * _int(op2[4 * e + t], 8, op2_unsigned)
                   for t in range(4))) % (1 << 32)
            for e in range(len(addend))]


# --- FMLA / FMUL (single precision) ----------------------------------------------------------

def fp_process_nans3(type1, type2, type3, op1, op2, op3, fpcr):
    """FPProcessNaNs3 for N = 32 with FPCR.AH = 0: ``(done, result)``."""
    fpcr = _fpcr(fpcr)
    assert not fpcr.ah, "FPCR.AH = 1 (FEAT_AFP NaN rules) is not written here"
    for kind in (SNAN, QNAN):
        for fptype, op in ((type1, op1), (type2, op2), (type3, op3)):
            if fptype == kind:
                return True, _process_nan(op, fpcr)
    return False, 0


def fp_mul_add(addend, op1, op2, fpcr=None):
    """FPMulAdd(addend, op1, op2, fpcr, fpexc) for N = 32 with FPCR.AH = 0 -> fp32 bits."""
    rounding = fp_rounding_mode(fpcr)
    type_a, sign_a, value_a = fp_unpack(addend, fpcr)
    type1, sign1, value1 = fp_unpack(op1, fpcr)
    type2, sign2, value2 = fp_unpack(op2, fpcr)
    inf1, zero1 = type1 == INFINITY, type1 == ZERO
    inf2, zero2 = type2 == INFINITY, type2 == ZERO
    inf_times_zero = (inf1 and zero2) or (zero1 and inf2)
    done, result = fp_process_nans3(type_a, type1, type2, addend, op1, op2, fpcr)
    if type_a == QNAN and inf_times_zero:
        return fp_default_nan(fpcr)
    if done:
        return result
    if inf_times_zero:
        return fp_default_nan(fpcr)  # invalidop (inf - inf: _sum_specials)
    inf_a, zero_a = type_a == INFINITY, type_a == ZERO
    sign_p = sign1 ^ sign2
    inf_p, zero_p = inf1 or inf2, zero1 or zero2
    special = _sum_specials(inf_a, zero_a, sign_a, inf_p, zero_p, sign_p, fpcr)
    if special is not None:
        return special
    return _round_sum(value_a + value1 * value2, fpcr, rounding)


def fp_mul(op1, op2, fpcr=None):
    """FPMul(op1, op2, fpcr, fpexc) for N = 32 -> fp32 bits."""
    type1, sign1, value1 = fp_unpack(op1, fpcr)
    type2, sign2, value2 = fp_unpack(op2, fpcr)
    done, result = fp_process_nans(type1, type2, op1, op2, fpcr)
    if done:
        return result
    special = _product_specials(type1, sign1, type2, sign2, fpcr)
    if special is not None:
        return special
    return fp_round(value1 * value2, fpcr)


def fmla(vd, vn, vm, fpcr=None):
    """FMLA Vd.4S, Vn.4S, Vm.4S: lane e = FPMulAdd(vd[e], vn[e], vm[e])."""
    return [fp_mul_add(int(d), int(n), int(m), fpcr) for d, n, m in zip(vd, vn, vm)]
