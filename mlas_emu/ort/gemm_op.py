"""ONNX ``Gemm`` and ``com.microsoft.FusedGemm`` (float32) as ONNX Runtime runs them on Arm64.

Models ``onnxruntime/core/providers/cpu/math/gemm.cc`` (``Gemm<float>::PrePack`` with
``GemmPackBFp32``, ``Gemm<float>::Compute``, ``ComputeGemm``), ``gemm_helper.h`` (``GemmHelper``:
M, N, K and the shapes C may have; ``GemmBroadcastBias``) and
``contrib_ops/cpu/fused_gemm.cc`` (``FusedGemm``: Gemm, then its activation on the output).

``Y = alpha * op(A) @ op(B) + beta * C``: a given C (with beta != 0) is first broadcast into Y,
then one MLAS fp32 SGEMM (``MlasGemm``, :func:`mlas_emu.mlas.sgemm.sgemm`) computes
``alpha * op(A) @ op(B) + beta * Y``, with beta 0 when there is no C. A constant B is pre-packed
(``MlasGemmPackB``) unless ``session.disable_prepacking=1``. Gemm never runs bf16 fastmath: only
``MatMul<float>`` reads ``mlas.enable_gemm_fastmath_arm64_bfloat16`` (matmul.cc).
"""

from __future__ import annotations

import numpy as np

from .session_config import op_settings

#: FusedGemm activations (``GemmActivationFusion`` folds these into FusedGemm), in NumPy:
#: Relu and LeakyRelu are their float32 definitions; Sigmoid and Tanh are float64 values rounded
#: to float32, not ONNX Runtime's ``MlasComputeLogistic`` / ``MlasComputeTanh``, which can differ
#: in the last bits.
ACTIVATIONS = {
    "Relu": lambda y, alpha: np.maximum(y, np.float32(0)),
    "LeakyRelu": lambda y, alpha: np.where(y >= 0, y, y * np.float32(alpha)),
    "Sigmoid": lambda y, alpha: (1 / (1 + np.exp(-y.astype(np.float64)))).astype(np.float32),
    "Tanh": lambda y, alpha: np.tanh(y),
}
#: FusedGemm's ``activation_alpha`` when the node has none (LeakyRelu's default slope).
DEFAULT_ACTIVATION_ALPHA = 0.01


def gemm(A, B, C=None, *, alpha: float = 1.0, beta: float = 1.0, trans_a: bool = False, trans_b: bool = False,
         b_is_initializer: bool = True, ort_version: str | None = None, threads: int = 1, cpu: str | None = None,
         session_config=None) -> np.ndarray:
    """ONNX ``Gemm`` (opsets 7-13) of float32 A and B as ONNX Runtime ``ort_version`` computes it on Graviton.

    ``Y = alpha * op(A) @ op(B) + beta * C``, where op transposes when ``trans_a`` / ``trans_b``
    (the transA / transB attributes). A and B are 2-D float32 arrays; C is None or float32 of a
    shape ``GemmHelper`` accepts: a single element ((), (1,), (1, 1)), (N,), (1, N), (M, 1) or
    (M, N). ``b_is_initializer``: B is a constant initializer (pre-packed) rather than a graph
    input. ``threads`` (intra-op threads), ``ort_version`` (None: the newest), ``cpu``
    (:data:`mlas_emu.cpus.CPUS`) and ``session_config`` (:mod:`mlas_emu.ort.session_config`) as for
    :func:`mlas_emu.ort.matmul`; the fastmath entry does not apply to Gemm. Returns a new float32
    (M, N) array; inputs are never modified.
    """
    settings = op_settings(ort_version, cpu, threads, session_config)
    a, b = _matrix(A, "A"), _matrix(B, "B")
    trans_a, trans_b = _flag(trans_a, "trans_a"), _flag(trans_b, "trans_b")
    alpha32, beta32 = _real(alpha, "alpha"), _real(beta, "beta")
    packed = _flag(b_is_initializer, "b_is_initializer") and settings.prepacking  # Gemm<float>::PrePack
    m, n, k = gemm_shape(a.shape, b.shape, trans_a, trans_b)
    c = _bias(C, m, n)
    if m == 0 or n == 0:
        return np.zeros((m, n), np.float32)
    if k == 0:
        raise ValueError("Gemm with K = 0 is not modelled: ONNX Runtime releases differ (1.17.1 refuses it in "
                         "GemmHelper, 1.32.0 returns beta * C, or zeros without C, without calling MLAS)")
    from ..mlas.sgemm import sgemm

    with_c = {}
    if c is not None and beta32 != 0:  # GemmBroadcastBias, then MlasGemm with beta
        with_c = dict(beta=beta32, C=np.ascontiguousarray(np.broadcast_to(c, (m, n))))
    return sgemm(a, b, trans_a=trans_a, trans_b=trans_b, alpha=alpha32, packed_b=packed, threads=settings.threads,
                 ort_version=settings.release, **with_c)


def fused_gemm(A, B, C=None, *, activation: str = "Relu", activation_alpha: float | None = None, alpha: float = 1.0,
               beta: float = 1.0, trans_a: bool = False, trans_b: bool = False, b_is_initializer: bool = True,
               ort_version: str | None = None, threads: int = 1, cpu: str | None = None,
               session_config=None) -> np.ndarray:
    """``com.microsoft.FusedGemm``: :func:`gemm`, then ``activation`` (a name of :data:`ACTIVATIONS`)
    on every element (``Gemm<float>::ComputeActivation``). ``activation_alpha`` is LeakyRelu's
    slope (None: 0.01). Other arguments as in :func:`gemm`.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"FusedGemm activation {activation!r} is not supported (supported: {', '.join(ACTIVATIONS)})")
    slope = _real(DEFAULT_ACTIVATION_ALPHA if activation_alpha is None else activation_alpha, "activation_alpha")
    y = gemm(A, B, C, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b, b_is_initializer=b_is_initializer,
             ort_version=ort_version, threads=threads, cpu=cpu, session_config=session_config)
    return ACTIVATIONS[activation](y, slope).astype(np.float32)


def gemm_shape(a_shape, b_shape, trans_a: bool, trans_b: bool) -> tuple[int, int, int]:
    """``GemmHelper``: (M, N, K) of ``op(A) @ op(B)`` for 2-D A and B, or ``ValueError``."""
    m, k = (a_shape[1], a_shape[0]) if trans_a else a_shape
    n, k_b = (b_shape[0], b_shape[1]) if trans_b else (b_shape[1], b_shape[0])
    if k != k_b:
        raise ValueError(f"Gemm dimension mismatch: op(A) is {m}x{k} and op(B) is {k_b}x{n} "
                         f"(A {tuple(a_shape)}, B {tuple(b_shape)}, trans_a={trans_a}, trans_b={trans_b})")
    return m, n, k


def _bias(C, m, n):
    """C if its shape is one ``GemmHelper::IsValidBroadcast`` accepts for an (m, n) output."""
    if C is None:
        return None
    if not isinstance(C, np.ndarray) or C.dtype != np.float32:
        raise TypeError(f"C must be None or a float32 numpy.ndarray, got {getattr(C, 'dtype', type(C).__name__)}")
    ok = C.size == 1 and C.ndim <= 2 or C.shape in ((n,), (1, n), (m, 1), (m, n))
    if not ok:
        raise ValueError(f"C has shape {C.shape}; for a {m}x{n} output ONNX Runtime's Gemm accepts one element, "
                         f"({n},), (1, {n}), ({m}, 1) or ({m}, {n})")
    return C


def _matrix(x, name):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of float32, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{name} must have dtype float32 (ONNX Gemm T=float), got {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (ONNX Gemm), got shape {x.shape}")
    return x


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _real(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return np.float32(value)
