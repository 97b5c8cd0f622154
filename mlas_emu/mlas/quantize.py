"""QGEMM output processors and the quantization of A, as ONNX Runtime's Linux aarch64 wheels run them.

Models ``MLAS_QGEMM_SCALE_BIAS_OUTPUT_PROCESSOR`` (``onnxruntime/core/mlas/lib/qpostprocessor.cpp``),
``MlasRequantizeOutput`` (NEON branch of ``onnxruntime/core/mlas/lib/quantize.cpp``), and the
dynamic quantization of A in DynamicQuantizeMatMul: ``GetQuantizationParameter`` (``onnxruntime/
core/util/qmath.h``) and ``MlasQuantizeLinear`` (NEON branch of ``quantize.cpp``), ONNX Runtime
1.17-1.27.

The processors are elementwise and MLAS calls them once per output element, after the last K
slice; applying them to the whole int32 matrix therefore gives the same bits.

The wheels are built by GCC with ``-std=gnu++17``, which contracts ``vmulq_f32`` + ``vaddq_f32``
into ``fmla`` (and ``c*s + b`` into ``fmadd``): the scale-bias output is ``fmaf(float(acc), scale,
bias)`` with one rounding. This matched every element of every case tried on 1.17.1, 1.23.2 and
1.27.0 under the real-Arm oracle; x86 builds round twice and differ in about a third of elements.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit
from ..isa.tiers import fmaf as tier_fmaf
from ..isa.tiers import host_keeps_denormals
from .qgemm import wrap_int32

_F32 = np.float32


def fmaf(a, b, c) -> np.ndarray:
    """IEEE fused multiply-add in binary32 (``fmadd``/``fmla``, round to nearest even), elementwise
    over broadcast float32 arrays: the host-FMA tier of :mod:`mlas_emu.isa.tiers` (``llvm.fma.f32``),
    whose precondition (the host keeps denormals) is checked first."""
    if not host_keeps_denormals():
        raise RuntimeError("the host FPU flushes denormals to zero (FTZ/DAZ set in this thread); "
                           "the fused multiply-add of the output step would not be exact")
    a, b, c = np.broadcast_arrays(np.asarray(a, _F32), np.asarray(b, _F32), np.asarray(c, _F32))
    out = np.empty(a.shape, _F32)
    _fmaf_lanes(np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1),
                np.ascontiguousarray(c).reshape(-1), out.reshape(-1))
    return out


@njit
def _fmaf_lanes(a, b, c, out):
    for i in range(out.size):
        out[i] = tier_fmaf(a[i], b[i], c[i])


def scale_bias_output(acc, scale, bias=None) -> np.ndarray:
    """``MLAS_QGEMM_SCALE_BIAS_OUTPUT_PROCESSOR`` in ZeroMode, as compiled for Linux aarch64.

    ``acc`` is the int32 QGEMM result (..., N); ``scale`` a float32 scalar or (N,) per-column
    multipliers; ``bias`` None or float32 (N,). Returns ``float(acc) * scale`` without bias and
    ``fmaf(float(acc), scale, bias)`` with it (``scvtf`` rounds to nearest even).
    """
    f = np.asarray(acc, np.int32).astype(_F32)
    scale = np.asarray(scale, _F32)
    with np.errstate(invalid="ignore", over="ignore"):
        if bias is None:
            out = f * scale
        else:
            bias = np.asarray(bias, _F32)
            out = fmaf(f, scale, bias)
    return _arm_nans(out, None if bias is None else bias)


def _arm_nans(out, propagated):
    """NaN results as Arm produces them: an input NaN propagates quieted (FPProcessNaN), a NaN
    created by an invalid operation (0 * inf, inf - inf) is the default NaN 0x7FC00000 (x86
    would give 0xFFC00000)."""
    nan = np.isnan(out)
    if not nan.any():
        return out
    fill = np.broadcast_to(DEFAULT_NAN, out.shape)
    if propagated is not None:
        p = np.broadcast_to(propagated, out.shape)
        quiet = (p.view(np.uint32) | np.uint32(0x00400000)).view(_F32)
        fill = np.where(np.isnan(p), quiet, fill)
    return np.where(nan, fill, out).astype(_F32)


def requantize_output(acc, scale, zero_point, out_dtype, bias=None) -> np.ndarray:
    """``MlasRequantizeOutput`` (NEON): int32 -> int8/uint8 for QLinearMatMul.

    Per element: ``acc + bias`` (int32, wrapping), ``scvtf`` (nearest even), one ``fmul`` by the
    scale (scalar or per column), ``fcvtns`` (nearest even, saturating, NaN -> 0), ``sqxtn`` to
    int16, ``sqadd`` of the zero point in int16, then ``sqxtn``/``sqxtun`` to the output type.
    """
    v = np.asarray(acc, np.int32)
    if bias is not None:
        v = wrap_int32(v.astype(np.int64) + np.asarray(bias, np.int64))
    f = v.astype(_F32) * np.asarray(scale, _F32)
    i32 = _fcvtns(f)
    i16 = np.clip(i32, -32768, 32767)
    i16 = np.clip(i16 + int(zero_point), -32768, 32767)
    info = np.iinfo(out_dtype)
    return np.clip(i16, info.min, info.max).astype(out_dtype)


def _fcvtns(f) -> np.ndarray:
    """FCVTNS (float32 -> int32): round to nearest even, saturate, NaN -> 0."""
    f = np.asarray(f, _F32).astype(np.float64)
    r = np.rint(np.nan_to_num(f, nan=0.0, posinf=2.0**31, neginf=-(2.0**31)))
    return np.clip(r, -(2.0**31), 2.0**31 - 1).astype(np.int64)


def round_half_to_even(x):
    """``RoundHalfToEven`` (qmath.h): ``x - remainderf(x, 1)``; non-finite values pass through."""
    return np.rint(np.asarray(x, _F32))


_FLT_MAX = _F32(np.finfo(np.float32).max)
#: Arm's default NaN (FPDefaultNaN): what an invalid operation such as inf - inf returns.
DEFAULT_NAN = np.uint32(0x7FC00000).view(_F32)


def _std_min(a, b):
    """``std::min(a, b)``: ``(b < a) ? b : a`` (a NaN ``b`` is ignored, a NaN ``a`` kept)."""
    return b if b < a else a


def _std_max(a, b):
    """``std::max(a, b)``: ``(a < b) ? b : a``."""
    return b if a < b else a


def reduce_min_max_f32(x, *, sve: bool = False) -> tuple[np.float32, np.float32]:
    """``MlasReduceMinimumMaximumF32Kernel``: ``(min, max)``.

    NEON kernel (platform.cpp's default): the first ``4 * (N // 4)`` elements go through
    ``vminq_f32``/``vmaxq_f32`` (FMIN/FMAX: a NaN wins) seeded with ``FLT_MAX``/``-FLT_MAX``; the
    last ``N % 4`` through ``std::min``/``std::max``, which skip a NaN element. ``sve=True``: the
    SVE kernel (``lib/sve/elementwise_sve.cpp``, ORT 1.29+ on SVE CPUs) covers the tail with a
    predicate, so a NaN anywhere wins (measured with the oracle on 1.29.0 and 1.32.0, Graviton3
    and Graviton4; Graviton2 keeps the NEON kernel). Without NaN both are the exact min and max.
    """
    x = np.asarray(x, _F32).reshape(-1)
    lo, hi = _FLT_MAX, -_FLT_MAX
    vec = len(x) if sve else (len(x) // 4) * 4
    if vec:
        head = x[:vec]
        if np.isnan(head).any():
            lo = hi = DEFAULT_NAN
        else:
            lo, hi = _F32(min(lo, head.min())), _F32(max(hi, head.max()))
    for t in x[vec:]:
        hi = _std_max(hi, t)
        lo = _std_min(lo, t)
    return _F32(lo), _F32(hi)


def find_min_max(a, *, sve: bool = False) -> tuple[np.float32, np.float32]:
    """The min/max search of ``GetQuantizationParameter`` (qmath.h): ``MlasFindMinMaxElement``.

    With several intra-op threads ORT may cut a large tensor into blocks of a multiple of 128
    elements, reduce them separately and join the results with ``std::min``/``std::max``; the
    split follows the thread pool's cost model and was not seen on the shapes measured (a NaN
    anywhere in the vector part poisoned the result with 3 threads as with 1). It only matters
    when A holds a NaN; one block is modelled. ``sve``: as in :func:`reduce_min_max_f32`.
    """
    return reduce_min_max_f32(a, sve=sve)


def quantization_parameters_u8(a, *, sve: bool = False) -> tuple[np.float32, int]:
    """``GetQuantizationParameter<uint8_t>`` (qmath.h): A's scale and zero point in DynamicQuantizeMatMul.

    ``min``/``max`` (:func:`find_min_max`) widened to include 0 with ``std::min``/``std::max``;
    ``scale = (max - min) / 255.0f`` (fsub, fdiv; 1.0 when max == min);
    ``zp = RoundHalfToEven(std::max(0.0f, std::min(255.0f, 0.0f - min / scale)))``.
    """
    lo, hi = find_min_max(a, sve=sve)
    lo = _std_min(lo, _F32(0.0))
    hi = _std_max(hi, _F32(0.0))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        scale = _F32(1.0) if hi == lo else _F32(_F32(hi - lo) / _F32(255.0))
        initial = _F32(_F32(0.0) - _F32(lo / scale))
    zp = int(round_half_to_even(_std_max(_F32(0.0), _std_min(_F32(255.0), initial))))
    return scale, zp


def quantize_linear(x, scale, zero_point, out_dtype=np.uint8) -> np.ndarray:
    """``MlasQuantizeLinear`` (NEON): ``fcvtns(minnm(maxnm(x / scale, qmin - zp), qmax - zp)) + zp``.

    True float32 division; FMAXNM/FMINNM return the number when the other operand is NaN, so a
    NaN input becomes ``qmin``.
    """
    info = np.iinfo(out_dtype)
    zp = int(zero_point)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        v = np.asarray(x, _F32) / _F32(scale)
    v = np.fmax(v, _F32(info.min - zp))
    v = np.fmin(v, _F32(info.max - zp))
    return (np.rint(v).astype(np.int32) + zp).astype(out_dtype)
