"""ONNX Runtime's quantized MatMul operators on Linux aarch64 with I8MM, bit for bit.

Models the CPU kernels of ONNX Runtime 1.17-1.32:
``onnxruntime/core/providers/cpu/quantization/matmul_integer.cc`` (MatMulInteger),
``onnxruntime/core/providers/cpu/quantization/quantize_linear_matmul.cc`` (QLinearMatMul),
``onnxruntime/contrib_ops/cpu/quantization/dynamic_quantize_matmul.cc`` (com.microsoft
DynamicQuantizeMatMul and MatMulIntegerToFloat) with ``matmul_integer_base.h``
(``IsBQuantParamSupported``, ``PrePack``). Each computes its int32 products with one call of the
MLAS QGEMM driver, ``MlasGemmBatch`` (:func:`mlas_emu.mlas.qgemm.gemm_batch`), over the GEMMs of
``MatMulComputeHelper``, with the session's intra-op threads, the release, the CPU and whether B
was pre-packed; then MLAS's output processors (:mod:`mlas_emu.mlas.quantize`).

Every operator takes the arguments shared by ``mlas_emu.ort``: ``ort_version`` (None: the newest),
``threads`` (intra-op threads), ``cpu`` (:data:`mlas_emu.cpus.CPUS`) and ``session_config`` (ORT
session config entries, :mod:`mlas_emu.ort.session_config`). The CPU changes no result here except
one (oracle, 1.17.0-1.32.0, docs/cpus.md): from 1.29.0 a NaN among the last len % 4 elements of
DynamicQuantizeMatMul's A poisons the range on Graviton3/4 and is skipped on Graviton2.

Shapes follow ONNX MatMul (NumPy ``matmul``): 1-D operands are promoted and the promoted axis
dropped, batch axes broadcast. Integer results are exact modulo 2^32; float results follow the
Arm build's fused multiply-add. The intra-op thread count and whether B is an initializer (a
constant 2-D B is pre-packed by ``MlasGemmPackB`` unless ``session.disable_prepacking=1``) reach
the QGEMM driver as ONNX Runtime passes them; they shape its work, not its int32 sums. An int8
constant B whose zero point is a constant zero is packed for ``MlasSymmQgemmBatch`` instead
(``TrySymmetricPrePack``), where the platform has that kernel: the same exact int32 sums.
Graviton3 has no SME, so the KleidiAI DynamicQuantizeMatMul of 1.23+ (SME only) is never taken.
"""

from __future__ import annotations

import math

import numpy as np

from ..mlas.qgemm import check_zero_point, gemm_batch
from ..mlas.quantize import quantization_parameters_u8, quantize_linear, requantize_output, scale_bias_output
from .matmul_op import plan_matmul
from .session_config import op_settings

_U8, _S8 = np.dtype(np.uint8), np.dtype(np.int8)

#: (A dtype, B dtype) pairs each operator registers on the CPU provider
#: (``ONNX_OPERATOR_TYPED_KERNEL_EX`` in the files above), the same in every release 1.17-1.27
#: (int8 x int8 MatMulIntegerToFloat checked to run on 1.17.1, 1.23.2 and 1.27.0).
_TYPES = {
    "MatMulInteger": ((_U8, _U8), (_U8, _S8), (_S8, _S8)),
    "MatMulIntegerToFloat": ((_U8, _U8), (_U8, _S8), (_S8, _S8)),
    "QLinearMatMul": ((_U8, _U8), (_U8, _S8), (_S8, _S8)),
    "DynamicQuantizeMatMul": ((np.dtype(np.float32), _U8), (np.dtype(np.float32), _S8)),
}


def _profile(ort_version, threads, b_is_initializer=True, cpu=None, session_config=None):
    """Validate the settings every operator here shares (:func:`~.session_config.op_settings`).
    These four operators compute the same bits in every release 1.17.0-1.32.0 on Graviton3 (no
    SME; measured on 1.17.1, 1.23.2, 1.27.0 and, for MatMulInteger and DynamicQuantizeMatMul,
    1.28.0-1.32.0), so no release-specific behaviour is selected here."""
    if not isinstance(b_is_initializer, (bool, np.bool_)):
        raise TypeError(f"b_is_initializer must be a bool, got {type(b_is_initializer).__name__}")
    return op_settings(ort_version, cpu, threads, session_config)


def _array(x, name):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (ONNX MatMul), got a 0-d array")
    return x


def _check_types(op, a, b):
    pair = (a.dtype, b.dtype)
    if pair not in _TYPES[op]:
        allowed = ", ".join(f"({x}, {y})" for x, y in _TYPES[op])
        raise TypeError(f"{op}: ONNX Runtime's CPU provider has no kernel for A {a.dtype} with B {b.dtype}; "
                        f"accepted (A, B): {allowed}")


def _matmul_shape(a_shape, b_shape):
    """Output shape of ONNX MatMul (``MatMulComputeHelper``, :func:`~.matmul_op.plan_matmul`:
    shapes only, no product), or ValueError."""
    if len(a_shape) == 1 and len(b_shape) == 1 and a_shape == b_shape:
        return (1,)
    try:
        return plan_matmul(tuple(a_shape), tuple(b_shape)).out_shape
    except ValueError as exc:
        raise ValueError(f"A {tuple(a_shape)} and B {tuple(b_shape)} are not MatMul-compatible: {exc}") from None


def _scalar_param(value, name, *, dtype=None, kind="zero point"):
    """A per-tensor parameter: Python scalar, 0-d array or 1-element 1-D array."""
    arr = np.asarray(value)
    if not (arr.ndim == 0 or arr.shape == (1,)):
        raise ValueError(f"{name} must be a scalar or a 1-element 1-D array ({kind} per tensor), got shape {arr.shape}")
    _check_param_dtype(value, arr, name, dtype)
    return arr.reshape(())


def _check_param_dtype(value, arr, name, dtype):
    """Zero points are integers (any integer dtype; the range is checked against the matrix type)."""
    if dtype is not None and (arr.dtype.kind not in "iu"):
        raise TypeError(f"{name} must be an integer or integer array (values of {np.dtype(dtype)}), got {arr.dtype}")


def _b_param(value, name, b_shape, *, dtype=None, kind="zero point"):
    """B's zero point or scale in a form ``IsBQuantParamSupported`` accepts.

    Scalar or 1-element; (N,) when B is 2-D; or B's shape with the second-to-last axis 1
    (per column, per batch matrix). Returns an array that broadcasts against ``A @ B``'s
    last axes: shape () or (..., 1, N) / (N,).
    """
    arr = np.asarray(value)
    _check_param_dtype(value, arr, name, dtype)
    if arr.ndim == 0 or arr.shape == (1,):
        return arr.reshape(())
    n = b_shape[-1]
    if arr.ndim == 1 and len(b_shape) == 2 and arr.shape == (n,):
        return arr
    if arr.ndim == len(b_shape) and arr.ndim >= 2 and arr.shape[-2] == 1 and \
            all(arr.shape[i] == b_shape[i] for i in range(arr.ndim) if i != arr.ndim - 2):
        return arr
    raise ValueError(f"{name} has shape {arr.shape}; for B of shape {tuple(b_shape)} ONNX Runtime accepts a scalar, "
                     f"shape (1,), " + (f"shape ({n},), " if len(b_shape) == 2 else "")
                     + f"or B's shape with axis -2 equal to 1 ({kind} per column)")


def _zero_point(value, name, dtype, b_shape=None):
    if value is None:
        return 0
    if b_shape is not None:
        arr = _b_param(value, name, b_shape, dtype=dtype)
    else:
        arr = _scalar_param(value, name, dtype=dtype)
    if arr.ndim:
        check_zero_point(arr.reshape(-1), dtype, name, length=arr.size)
        return arr.astype(np.int64)
    info = _RANGES[dtype]
    if arr.dtype.kind in "iu" and info[0] <= int(arr) <= info[1]:  # the common case, without np.iinfo
        return int(arr)
    return check_zero_point(arr, dtype, name)


#: The value range of each operand type.
_RANGES = {_U8: (0, 255), _S8: (-128, 127)}


def _scale(value, name, b_shape=None):
    """A positive, finite scale, as float32 (ONNX tensor(float)); per tensor, or per column of B."""
    arr = _b_param(value, name, b_shape, kind="scale") if b_shape is not None else \
        _scalar_param(value, name, kind="scale")
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a float, got {arr.dtype}")
    with np.errstate(over="ignore"):
        f = arr.astype(np.float32)
    if not np.all(np.isfinite(f)) or np.any(f <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return f


def _int_matmul(a, b, zero_point_a, zero_point_b, out_shape, settings, b_is_initializer):
    """int32 ``(A - zpA) @ (B - zpB)`` modulo 2^32 in ONNX MatMul's output shape ``out_shape``, by
    one ``MlasGemmBatch`` call over ``MatMulComputeHelper``'s GEMMs (:func:`_helper_gemms`)."""
    a_g, b_g, zpb_g = _helper_gemms(a, b, zero_point_b)
    packed = bool(b_is_initializer) and b.ndim == 2 and settings.prepacking  # MatMulIntegerBase::PrePack
    out = gemm_batch(a_g, b_g, zero_point_a, zpb_g, threads=settings.threads, packed_b=packed,
                     ort_version=settings.release, cpu=settings.cpu.name)
    return out.reshape(out_shape)


def _helper_gemms(a, b, zero_point_b):
    """The GEMMs ``MatMulComputeHelper::Compute`` (matmul_helper.h) hands to MLAS, as broadcast stacks.

    A 1-D A is one row and a 1-D B one column (each GEMM of a 1-D B has M = 1: A's rows become
    batch axes); an A of rank >= 2 against a B of no larger rank whose batch axes are all 1 is one
    GEMM of all of A's rows; otherwise one GEMM per broadcast batch matrix.
    """
    if a.ndim == 2 and b.ndim == 2:
        return a, b, zero_point_b
    if b.ndim == 1:
        return a.reshape(a.shape[:-1] + (1, a.shape[-1])), b.reshape(-1, 1), zero_point_b
    if a.ndim == 1:
        return a.reshape(1, -1), b, zero_point_b
    if a.ndim >= b.ndim and math.prod(b.shape[:-2]) == 1:
        k, n = b.shape[-2:]
        zpb = zero_point_b.reshape(n) if np.ndim(zero_point_b) else zero_point_b
        return a.reshape(math.prod(a.shape[:-1]), k), b.reshape(k, n), zpb
    return a, b, zero_point_b


def _bias(bias, n):
    if bias is None:
        return None
    if not isinstance(bias, np.ndarray) or bias.dtype.kind != "f":
        raise TypeError(f"bias must be a float numpy array of shape ({n},) (taken as float32), got "
                        f"{getattr(bias, 'dtype', type(bias).__name__)}")
    bias = bias.astype(np.float32)
    if bias.shape != (n,):
        raise ValueError(f"bias must have shape ({n},) (one value per column of B), got {bias.shape}")
    return bias


def matmul_integer(A, B, a_zero_point=None, b_zero_point=None, *, b_is_initializer=True, ort_version=None,
                   threads=1, cpu=None, session_config=None):
    """ONNX MatMulInteger (opset 10) as ONNX Runtime computes it on Arm: int32 ``(A - a_zp) @ (B - b_zp)``.

    (A, B) dtypes: (uint8, uint8), (uint8, int8) or (int8, int8). ``a_zero_point``: scalar or
    1-element, of A's type. ``b_zero_point``: scalar, 1-element, (N,) for 2-D B, or B's shape
    with axis -2 of size 1 (per column), of B's type. Sums wrap modulo 2^32 as MLAS's do.
    """
    settings = _profile(ort_version, threads, b_is_initializer, cpu, session_config)
    A = _array(A, "A")
    B = _array(B, "B")
    _check_types("MatMulInteger", A, B)
    out_shape = _matmul_shape(A.shape, B.shape)
    zpa = _zero_point(a_zero_point, "a_zero_point", A.dtype)
    zpb = _zero_point(b_zero_point, "b_zero_point", B.dtype, B.shape)
    return _int_matmul(A, B, zpa, zpb, out_shape, settings, b_is_initializer)


def dynamic_quantize_matmul(A, B, b_scale, b_zero_point=None, bias=None, *, b_is_initializer=True, ort_version=None,
                            threads=1, cpu=None, session_config=None):
    """com.microsoft DynamicQuantizeMatMul as ONNX Runtime computes it on Arm (float32 result).

    A (float32) is quantized to uint8 over the whole tensor (``GetQuantizationParameter``,
    ``MlasQuantizeLinear``), multiplied with B (uint8 or int8) by QGEMM, and the int32 sums are
    scaled by ``a_scale * b_scale`` (one float32 product, per tensor or per column) with the
    bias added in the same fused multiply-add. ``b_scale``: float32 > 0, scalar, 1-element, (N,)
    for 2-D B, or B's shape with axis -2 of size 1; ``b_zero_point`` likewise, of B's type;
    ``bias``: float32 (N,).
    """
    settings = _profile(ort_version, threads, b_is_initializer, cpu, session_config)
    A = _array(A, "A")
    B = _array(B, "B")
    _check_types("DynamicQuantizeMatMul", A, B)
    out_shape = _matmul_shape(A.shape, B.shape)
    scale_b = _scale(b_scale, "b_scale", B.shape)
    zpb = _zero_point(b_zero_point, "b_zero_point", B.dtype, B.shape)
    bias = _bias(bias, B.shape[-1] if B.ndim > 1 else 1)
    if A.size == 0 or np.prod(out_shape) == 0:
        return np.zeros(out_shape, np.float32)
    if not np.isfinite(A).all():
        _warn_non_finite(A)
    a_scale, a_zp = quantization_parameters_u8(A, sve=settings.release.sve_min_max and settings.cpu.sve_bits > 0)
    qa = quantize_linear(A, a_scale, a_zp, np.uint8)
    acc = _int_matmul(qa, B, a_zp, zpb, out_shape, settings, b_is_initializer)
    return scale_bias_output(acc, np.float32(a_scale) * scale_b, bias)


def _warn_non_finite(A):
    from ..errors import OrtDefectWarning, warn_caller

    warn_caller(
        "DynamicQuantizeMatMul: A holds Inf or NaN. ONNX Runtime quantizes A with a range taken "
        "over the whole tensor, so an infinity makes the scale infinite and most outputs NaN, and a "
        "NaN is either ignored (when it lies in the last len(A) % 4 elements of a min/max block, "
        "before 1.29.0 or on a CPU without SVE) or makes every output NaN. The emulator returns "
        "exactly what Arm ONNX Runtime returns.",
        OrtDefectWarning)


def matmul_integer_to_float(A, B, a_scale, b_scale, a_zero_point=None, b_zero_point=None, bias=None, *,
                            b_is_initializer=True, ort_version=None, threads=1, cpu=None,
                            session_config=None):
    """com.microsoft MatMulIntegerToFloat as ONNX Runtime computes it on Arm (float32 result).

    ``float((A - a_zp) @ (B - b_zp)) * (a_scale * b_scale)``, with ``bias`` added in the same
    fused multiply-add. (A, B) dtypes: (uint8, uint8), (uint8, int8), (int8, int8). ``a_scale``
    and ``a_zero_point`` per tensor; ``b_scale`` and ``b_zero_point`` per tensor or per column
    (as for :func:`dynamic_quantize_matmul`).
    """
    settings = _profile(ort_version, threads, b_is_initializer, cpu, session_config)
    A = _array(A, "A")
    B = _array(B, "B")
    _check_types("MatMulIntegerToFloat", A, B)
    out_shape = _matmul_shape(A.shape, B.shape)
    scale_a = _scale(a_scale, "a_scale")
    scale_b = _scale(b_scale, "b_scale", B.shape)
    zpa = _zero_point(a_zero_point, "a_zero_point", A.dtype)
    zpb = _zero_point(b_zero_point, "b_zero_point", B.dtype, B.shape)
    bias = _bias(bias, B.shape[-1] if B.ndim > 1 else 1)
    acc = _int_matmul(A, B, zpa, zpb, out_shape, settings, b_is_initializer)
    return scale_bias_output(acc, scale_a * scale_b, bias)


def qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point, *,
                   b_is_initializer=True, ort_version=None, threads=1, cpu=None, session_config=None):
    """ONNX QLinearMatMul (opset 10) as ONNX Runtime computes it on Arm: int8/uint8 like ``a``.

    The int32 product ``(a - a_zp) @ (b - b_zp)`` is requantized by ``MlasRequantizeOutput``
    with the multiplier ``a_scale * b_scale / y_scale`` (float32 fmul then fdiv, per tensor or
    per column): round to nearest even, add ``y_zero_point``, saturate. (a, b) dtypes:
    (uint8, uint8), (uint8, int8), (int8, int8); the output has a's dtype.
    """
    settings = _profile(ort_version, threads, b_is_initializer, cpu, session_config)
    a = _array(a, "a")
    b = _array(b, "b")
    _check_types("QLinearMatMul", a, b)
    out_shape = _matmul_shape(a.shape, b.shape)
    if a_zero_point is None or b_zero_point is None or y_zero_point is None:
        raise ValueError("QLinearMatMul needs a_zero_point, b_zero_point and y_zero_point (required ONNX inputs)")
    scale_a = _scale(a_scale, "a_scale")
    scale_b = _scale(b_scale, "b_scale", b.shape)
    scale_y = _scale(y_scale, "y_scale")
    zpa = _zero_point(a_zero_point, "a_zero_point", a.dtype)
    zpb = _zero_point(b_zero_point, "b_zero_point", b.dtype, b.shape)
    zpy = int(_zero_point(y_zero_point, "y_zero_point", a.dtype))
    acc = _int_matmul(a, b, zpa, zpb, out_shape, settings, b_is_initializer)
    return requantize_output(acc, (scale_a * scale_b) / scale_y, zpy, a.dtype)
