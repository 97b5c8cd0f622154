"""Single-precision FMLA and FMUL on fp32 bit patterns, compiled, and FMLA on registers.

Arm ARM DDI0487 M.a.a: J1.3 FPMulAdd (FMLA's lane operation, fused: one rounding), FPMul
(FMUL), FPProcessNaNs3 and FPProcessNaNs; C7.2 FMLA (vector) ``FMLA Vd.4S, Vn.4S, Vm.4S``.
Unpacking, NaN processing and FPRound are the shared pieces of :mod:`.fp`.

The product of two 24-bit significands is exact in 48 bits; the sum with the addend is formed by
:func:`~mlas_emu.isa.fp.exact_add` (exact for the single FPRound that follows). This is the one
specification of fused multiply-add; the host's ``llvm.fma.f32`` equals it under the precondition
registered in :mod:`.tiers`. ``fpcr`` is the register value; FPCR.AH = 1 (FEAT_AFP's alternative
NaN and flush rules for FMLA) is not modelled and refused by :func:`fmla`.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit
from ._operands import as_fp32_bits, broadcast_batch, segments
from .fp import (
    FPTYPE_INFINITY,
    FPTYPE_QNAN,
    FPTYPE_SNAN,
    FPTYPE_ZERO,
    RM,
    exact_add,
    fp_default_nan,
    fp_infinity,
    fp_process_nans,
    fp_round,
    fp_rounding_mode,
    fp_unpack,
    fp_zero,
)
from .fpcr import AH_BIT, fpcr_bits


@njit(inline="always")
def _process_nans3(type_a, type1, type2, addend, op1, op2, fpcr):
    """FPProcessNaNs3 for N=32 with FPCR.AH = 0: the first SNaN, else the first QNaN."""
    if type_a == FPTYPE_SNAN:
        return fp_process_nans(type_a, FPTYPE_ZERO, addend, 0, fpcr)
    if type1 == FPTYPE_SNAN or type2 == FPTYPE_SNAN:
        return fp_process_nans(type1, type2, op1, op2, fpcr)
    if type_a == FPTYPE_QNAN:
        return fp_process_nans(type_a, FPTYPE_ZERO, addend, 0, fpcr)
    return fp_process_nans(type1, type2, op1, op2, fpcr)


@njit
def fp_mul_add_fpcr(addend, op1, op2, fpcr):
    """FPMulAdd(addend, op1, op2, fpcr) for N=32 -> fp32 bits: ``addend + op1*op2`` rounded
    once (FMLA: addend = Vd lane, op1 = Vn lane, op2 = Vm lane or element).

    NaNs per FPProcessNaNs3(addend, op1, op2), except that a quiet-NaN addend with 0 x inf
    gives the default NaN; 0 x inf and inf - inf give FPDefaultNaN; an exact zero sum of
    differently signed terms is +0 (-0 when rounding toward minus infinity).
    """
    type_a, sign_a, mag_a, exp_a = fp_unpack(addend, fpcr)
    type1, sign1, mag1, exp1 = fp_unpack(op1, fpcr)
    type2, sign2, mag2, exp2 = fp_unpack(op2, fpcr)
    inf1 = type1 == FPTYPE_INFINITY
    inf2 = type2 == FPTYPE_INFINITY
    zero1 = type1 == FPTYPE_ZERO
    zero2 = type2 == FPTYPE_ZERO
    inf_zero = (inf1 and zero2) or (zero1 and inf2)
    done, result = _process_nans3(type_a, type1, type2, addend, op1, op2, fpcr)
    if type_a == FPTYPE_QNAN and inf_zero:
        return fp_default_nan(fpcr)
    if done:
        return result
    inf_a = type_a == FPTYPE_INFINITY
    sign_p = sign1 ^ sign2
    inf_p = inf1 or inf2
    zero_p = zero1 or zero2
    if inf_zero or (inf_a and inf_p and sign_a != sign_p):
        return fp_default_nan(fpcr)
    if (inf_a and sign_a == 0) or (inf_p and sign_p == 0):
        return fp_infinity(0)
    if inf_a or inf_p:
        return fp_infinity(1)
    if type_a == FPTYPE_ZERO and zero_p and sign_a == sign_p:
        return fp_zero(sign_a)
    rounding = fp_rounding_mode(fpcr)
    mag_p = mag1 * mag2 if not zero_p else np.int64(0)  # exact: at most 48 bits
    s, m, e = exact_add(sign_a, mag_a, exp_a, sign_p, mag_p, exp1 + exp2)
    if m == 0:
        return fp_zero(1 if rounding == RM else 0)
    return fp_round(s, m, e, fpcr, rounding)


@njit
def fp_mul_fpcr(op1, op2, fpcr):
    """FPMul(op1, op2, fpcr) for N=32 -> fp32 bits (FMUL); NaNs per FPProcessNaNs,
    0 x inf gives FPDefaultNaN."""
    type1, sign1, mag1, exp1 = fp_unpack(op1, fpcr)
    type2, sign2, mag2, exp2 = fp_unpack(op2, fpcr)
    done, result = fp_process_nans(type1, type2, op1, op2, fpcr)
    if done:
        return result
    inf1 = type1 == FPTYPE_INFINITY
    inf2 = type2 == FPTYPE_INFINITY
    zero1 = type1 == FPTYPE_ZERO
    zero2 = type2 == FPTYPE_ZERO
    if (inf1 and zero2) or (zero1 and inf2):
        return fp_default_nan(fpcr)
    if inf1 or inf2:
        return fp_infinity(sign1 ^ sign2)
    if zero1 or zero2:
        return fp_zero(sign1 ^ sign2)
    return fp_round(sign1 ^ sign2, mag1 * mag2, exp1 + exp2, fpcr, fp_rounding_mode(fpcr))


@njit
def fp_mul_add(addend, op1, op2):
    """FPMulAdd with the Linux user-space FPCR (RNE, FZ = DN = AH = 0), as MLAS's FMLA runs."""
    return fp_mul_add_fpcr(addend, op1, op2, 0)


@njit
def fp_mul(op1, op2):
    """FPMul with the Linux user-space FPCR (RNE, FZ = DN = AH = 0), as MLAS's FMUL runs."""
    return fp_mul_fpcr(op1, op2, 0)


@njit
def fmla_lanes(vd, vn, vm, out, fpcr):
    """FMLA (vector) over rows of (batch, 4s) uint32 arrays: lane e = FPMulAdd(vd, vn, vm)."""
    for r in range(vd.shape[0]):
        for e in range(vd.shape[1]):
            out[r, e] = fp_mul_add_fpcr(vd[r, e], vn[r, e], vm[r, e], fpcr)


def fmla(vd, vn, vm, *, fpcr=None):
    """FMLA Vd.4S, Vn.4S, Vm.4S (vector; SVE FMLA for s > 1 segments) -> new float32 array.

    Lane-wise fused ``vd + vn*vm`` with one rounding (FPMulAdd). ``vd``, ``vn``, ``vm``:
    float32 (..., 4*s) (uint32 bit patterns accepted); leading axes broadcast. ``fpcr``:
    :class:`~mlas_emu.isa.FPCR` (RMode, FZ, FIZ, DN are honoured; EBF does not apply to
    FMLA), None = Graviton3 Linux user space (RNE, denormals kept, NaNs propagate).
    """
    bits = fpcr_bits(fpcr)
    if (bits >> AH_BIT) & 1:
        raise ValueError("fmla does not model FPCR.AH = 1 (FEAT_AFP alternative behaviour); "
                         "use an FPCR with ah=False")
    ops = [as_fp32_bits(vd, "vd"), as_fp32_bits(vn, "vn"), as_fp32_bits(vm, "vm")]
    names = ("vd", "vn", "vm")
    segments(ops, names, (4, 4, 4))
    batch, (d, n, m) = broadcast_batch(ops, names)
    out = np.empty_like(d)
    fmla_lanes(d, n, m, out, np.int64(bits))
    return out.reshape(batch + d.shape[-1:]).view(np.float32)
