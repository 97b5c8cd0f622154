"""Faster formulations of the isa specifications, each registered beside its precondition.

The specifications are written once, from the Arm ARM pseudocode (DDI0487 M.a.a, J1.3):
BFDotAdd with FPCR.EBF == 0 in :func:`.bf16.bf_dot_add` (BFMulH, FPAdd_BF16, BFRound), round to
odd in :func:`.bf16.bf_round` (BFRound), fused multiply-add in :func:`.fp32.fp_mul_add`
(FPMulAdd). A formulation here returns the specification's bits whenever its precondition holds;
:data:`TIERS` lists each with that precondition, :func:`bfdot_tier` picks the fastest BFDotAdd
tier whose precondition a tile of chains satisfies, and ``tests/isa/test_tiers.py`` checks each
tier against the specification and against the exact rationals of ``tests/naive.py``.

Every BFRound of BFDotAdd rounds a sum ``x + y`` of two fp32 values (products of two bf16 values
are exact in fp32). With ``s = x + y`` rounded by the host and the exact rest ``e`` (TwoSum,
``s + e == x + y``), round to odd is ``s`` when exact, else the truncation of the exact sum with
bit 0 set: ``s`` itself when ``e`` has the sign of ``s``, the value one step below ``s`` in
magnitude otherwise.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

import numpy as np

from .._jit import njit


@dataclass(frozen=True)
class Tier:
    """A faster formulation: it returns ``spec``'s bits whenever ``precondition`` holds."""

    name: str
    spec: str
    formulation: str
    precondition: str
    available: bool = True


# --------------------------------------------------------------------------------------------
# BFDotAdd, float64 tier

_F64_MIN_NORMAL_F32 = np.int64(897 << 52)  # 2^-126 as float64 bits
_F64_OVERFLOW_F32 = np.int64(1151 << 52)  # 2^128
_LOW29 = np.int64((1 << 29) - 1)  # float64 fraction bits below fp32's 23
_ULP24 = np.int64(1 << 29)  # one fp32 ulp, in float64 fraction units
_MAG = np.int64(0x7FFFFFFFFFFFFFFF)
_F64_NAN = np.int64(0x7FF8000000000000)
_TINY = 2.0**-126


@njit(inline="always")
def two_sum(x, y):
    """Knuth's TwoSum: ``s = fl(x + y)`` and the exact rest ``e = (x + y) - s`` (float32 or
    float64, round to nearest; exact unless ``s`` overflows or the rest underflows)."""
    s = x + y
    yy = s - x
    e = (x - (s - yy)) + (y - yy)
    return s, e


@njit(inline="always")
def _bf_round_f64(s, e):
    """BFRound of the exact ``s + e`` (TwoSum output, float64) as a float64; NaN where BFRound
    gives infinity (the exponent reached 128), so that the chain's caller can redo it."""
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
def _bf_mul_f64(a, b):
    """BFMulH of two finite flushed bf16 values: exact, flushed below 2^-126 (NaN on overflow)."""
    p = a * b
    ap = abs(p)
    p = p if ap >= _TINY else p * 0.0
    return p if ap < 2.0**128 else np.nan


@njit(inline="always")
def dot_add_f64(acc, a0, a1, b0, b1):
    """BFDotAdd on float64 images of finite, already flushed fp32/bf16 values; NaN once any
    BFRound overflowed (the specification gives a signed infinity there)."""
    s, e = two_sum(_bf_mul_f64(a0, b0), _bf_mul_f64(a1, b1))
    s, e = two_sum(acc, _bf_round_f64(s, e))
    return _bf_round_f64(s, e)


# --------------------------------------------------------------------------------------------
# BFDotAdd, float32 tiers


@njit
def f32_chains_exact(a_emin, a_emax, b_emin, b_emax, i_emin, i_emax, ka):
    """Precondition of the float32 tiers for chains ``acc = init; acc = BFDotAdd(acc, ...)``
    over ``ka`` values of k: no BFRound of any chain can flush or overflow.

    Arguments are biased exponent fields (bf16 and fp32 share the bias 127) of the non-zero
    finite operands: the smallest and largest over the A rows, the B columns and the initial
    values. Then no float32 operation underflows or overflows either, so TwoSum is exact:

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
def _bf_round_f32(s, e):
    """BFRound's round to odd of the exact ``s + e`` (float32 TwoSum output, no flush or
    overflow): ``s - 1`` as bits when ``e`` and ``s`` differ in sign, then bit 0 set."""
    sb = np.float32(s).view(np.int32)
    eb = np.float32(e).view(np.int32)
    odd = np.int32(np.int32(sb + np.int32((sb ^ eb) >> 31)) | np.int32(1))
    rb = odd if e != np.float32(0.0) else sb
    return np.int32(rb).view(np.float32)


@njit(inline="always")
def dot_add_f32(acc, a0, a1, b0, b1):
    """BFDotAdd in float32 with TwoSum under round to nearest (products of bf16 values are exact)."""
    s, e = two_sum(a0 * b0, a1 * b1)
    s, e = two_sum(acc, _bf_round_f32(s, e))
    return _bf_round_f32(s, e)


def _avx512_available() -> bool:
    """Whether compiled code may use AVX-512F: an x86-64 host whose features numba targets
    include it, with the JIT enabled (intrinsics cannot run as Python)."""
    import numba
    from numba.core import config

    if numba.config.DISABLE_JIT or platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    if config.CPU_FEATURES is not None:  # NUMBA_CPU_FEATURES: numba targets exactly these
        return "+avx512f" in config.CPU_FEATURES.split(",")
    if config.CPU_NAME not in (None, "host"):
        return False
    from llvmlite import binding

    return bool(binding.get_host_cpu_features().get("avx512f", False))


#: AVX-512F: additions with the rounding mode in the instruction (EVEX embedded rounding).
HAS_AVX512 = _avx512_available()
#: Lanes of one :func:`dot_add_rz16` call.
RZ_LANES = 16


def _rz16_intrinsic():
    """``dot_add_rz16``: :func:`dot_add_f32` on 16 lanes, with ``vaddps {rz-sae}``.

    ``llvm.x86.avx512.add.ps.512(x, y, 11)`` rounds toward zero by its operand (11 =
    _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC) and leaves MXCSR alone, so nothing depends on the
    thread's rounding mode and LLVM's default-environment assumption holds for every other
    instruction. ``t = RZ(x + y)`` is the truncation; the sum was exact iff ``t - x == y`` and
    ``t - y == x`` (with ``|x| >= |y|`` the subtraction ``t - x`` is exact for any faithful
    ``t``, so an inexact sum fails one test and an exact one passes both); bit 0 is then set
    when inexact. Only the additions need the embedded rounding: the products of bf16 values
    and the exact subtractions are the same under any rounding mode.
    """
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    f32x16 = ir.VectorType(ir.FloatType(), RZ_LANES)
    i32x16 = ir.VectorType(ir.IntType(32), RZ_LANES)
    i32 = ir.IntType(32)

    def _row(arr_t):
        return isinstance(arr_t, types.Array) and arr_t.dtype == types.float32 and arr_t.ndim == 1 \
            and arr_t.layout == "C"

    @intrinsic
    def dot_add_rz16(typingctx, acc, c, b0, b1, j, a0, a1):
        """``acc[c:c+16] = BFDotAdd(acc[c:c+16], a0, a1, b0[j:j+16], b1[j:j+16])`` for float32
        C-contiguous rows (no bounds check: the caller keeps ``c + 16`` and ``j + 16`` in range)."""
        if not (_row(acc) and _row(b0) and _row(b1)):
            return None
        sig = types.none(acc, types.intp, b0, b1, types.intp, types.float32, types.float32)

        def codegen(context, builder, signature, args):
            acc_v, c_v, b0_v, b1_v, j_v, a0_v, a1_v = args
            tys = signature.args

            def lanes(k, arr, offset):
                data = context.make_array(tys[k])(context, builder, arr).data
                return builder.bitcast(builder.gep(data, [offset]), f32x16.as_pointer())

            def splat(x):
                undef = ir.Constant(f32x16, ir.Undefined)
                one = builder.insert_element(undef, x, ir.Constant(i32, 0))
                return builder.shuffle_vector(one, undef, ir.Constant(i32x16, [0] * RZ_LANES))

            add_rz = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(f32x16, [f32x16, f32x16, i32]), "llvm.x86.avx512.add.ps.512")

            def round_to_odd_sum(x, y):
                t = builder.call(add_rz, [x, y, ir.Constant(i32, 11)])
                inexact = builder.or_(builder.fcmp_unordered("!=", builder.fsub(t, x), y),
                                      builder.fcmp_unordered("!=", builder.fsub(t, y), x))
                odd = builder.or_(builder.bitcast(t, i32x16), builder.zext(inexact, i32x16))
                return builder.bitcast(odd, f32x16)

            p_acc = lanes(0, acc_v, c_v)
            p0 = builder.fmul(splat(a0_v), builder.load(lanes(2, b0_v, j_v), align=4))
            p1 = builder.fmul(splat(a1_v), builder.load(lanes(3, b1_v, j_v), align=4))
            result = round_to_odd_sum(builder.load(p_acc, align=4), round_to_odd_sum(p0, p1))
            builder.store(result, p_acc, align=4)
            return context.get_dummy_value()

        return sig, codegen

    return dot_add_rz16


if HAS_AVX512:
    dot_add_rz16 = _rz16_intrinsic()
else:
    dot_add_rz16 = None  # never called: bfdot_tier does not pick TIER_F32_RZ16

# Tier codes returned by bfdot_tier, fastest first.
TIER_F32_RZ16, TIER_F32, TIER_F64 = 0, 1, 2


@njit
def bfdot_tier(a_emin, a_emax, b_emin, b_emax, i_emin, i_emax, ka, has_avx512):
    """The BFDotAdd tier for a tile of chains with these exponent statistics (see
    :func:`f32_chains_exact`): the fastest whose precondition holds. Elements with NaN or
    infinite operands, and those the float64 tier returns as NaN, go to the specification."""
    if f32_chains_exact(a_emin, a_emax, b_emin, b_emax, i_emin, i_emax, ka):
        return TIER_F32_RZ16 if has_avx512 else TIER_F32
    return TIER_F64


# --------------------------------------------------------------------------------------------
# Fused multiply-add: the host's


def _fmaf_intrinsic():
    """``llvm.fma.f32``: IEEE fusedMultiplyAdd, one rounding (never ``llvm.fmuladd``, which may
    split). Lowered to vfmadd on x86 with FMA, else to libm's correctly rounded ``fmaf``."""
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def fmaf(typingctx, x, y, z):
        """``x * y + z`` in float32 with one rounding (the host's, to nearest even)."""
        sig = types.float32(types.float32, types.float32, types.float32)

        def codegen(context, builder, signature, args):
            flt = ir.FloatType()
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(flt, [flt, flt, flt]),
                                                "llvm.fma.f32")
            return builder.call(fn, args)

        return sig, codegen

    return fmaf


def _fmaf_python(x, y, z):
    """``x * y + z`` by the specification, for runs with numba's JIT disabled (no intrinsics)."""
    from .fp32 import fp_mul_add

    bits = fp_mul_add(int(np.float32(z).view(np.uint32)), int(np.float32(x).view(np.uint32)),
                      int(np.float32(y).view(np.uint32)))
    return np.uint32(bits).view(np.float32)


def _select_fmaf():
    import numba

    return _fmaf_python if numba.config.DISABLE_JIT else _fmaf_intrinsic()


#: ``fmaf(x, y, z)``: the host's fused multiply-add on float32 values, in compiled code.
fmaf = _select_fmaf()


@njit
def _denormal_probe(tiny):
    return fmaf(tiny, np.float32(1.0), np.float32(0.0)), np.float32(np.float64(tiny) * 0.5)


def host_keeps_denormals() -> bool:
    """Whether this thread's FPU keeps denormals (x86 MXCSR FTZ and DAZ clear), part of the
    host-FMA tier's precondition: a library built with -ffast-math can set them when loaded."""
    tiny = np.float32(2.0**-148)
    fused, converted = _denormal_probe(tiny)
    return bool(fused == tiny and converted == np.float32(2.0**-149))


# --------------------------------------------------------------------------------------------
# The registry

_F32_PRE = ("every operand finite and not denormal, and f32_chains_exact(exponent statistics of "
            "the tile's A rows, B columns and initial values, ka): no BFRound of the chain can "
            "flush (unrounded exponent < -126) or overflow")

TIERS = (
    Tier("bfdot-f32-rz16", "bf16.bf_dot_add", "dot_add_rz16: float32, 16 lanes, vaddps {rz-sae}",
         _F32_PRE + "; AVX-512F", HAS_AVX512),
    Tier("bfdot-f32", "bf16.bf_dot_add", "dot_add_f32: float32, TwoSum under round to nearest", _F32_PRE),
    Tier("bfdot-f64", "bf16.bf_dot_add", "dot_add_f64: float64, TwoSum, explicit flush",
         "every operand finite, bf16 and fp32 denormals already flushed to signed zero (BFUnpack), "
         "and the result not NaN (NaN reports a BFRound overflow)"),
    Tier("fma-host", "fp32.fp_mul_add", "fmaf: llvm.fma.f32",
         "the default FPCR (RNE, FZ = DN = AH = 0), the result not NaN (Arm's NaN rules differ "
         "from the host's), and host_keeps_denormals()"),
)
