"""Operator overrides for ``onnx.reference.ReferenceEvaluator``: the GEMM operators run the emulated
ONNX Runtime operators (:mod:`mlas_emu.ort`), a few ONNX Runtime contrib operators that its graph
optimizer introduces get NumPy definitions.

The classes are built per run by :func:`make_ops`, bound to a :class:`Recorder` that receives
each GEMM node's inputs, output and the path it took.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..releases import release

#: GEMM operators replaced by emulated kernels: (domain, op_type).
GEMM_OPS = {
    ("", "MatMul"), ("", "Gemm"), ("com.microsoft", "FusedMatMul"), ("com.microsoft", "FusedGemm"),
    ("", "MatMulInteger"), ("com.microsoft", "DynamicQuantizeMatMul"),
    ("com.microsoft", "MatMulIntegerToFloat"), ("", "QLinearMatMul"),
}
#: Contrib operators written here in NumPy (not bit-exact models of ONNX Runtime's kernels).
CONTRIB_OPS = {("com.microsoft", "BiasGelu"), ("com.microsoft", "Gelu"), ("com.microsoft", "FastGelu"),
               ("com.microsoft", "SkipLayerNormalization"), ("", "DequantizeLinear")}


def op_key(node) -> tuple[str, str]:
    """``(domain, op_type)`` of a node as :data:`GEMM_OPS` and :data:`CONTRIB_OPS` spell it ("ai.onnx" is "")."""
    return (node.domain if node.domain != "ai.onnx" else "", node.op_type)


PATH_FASTMATH = "bf16 fastmath (SBGEMM)"
PATH_SGEMM = "fp32 SGEMM"
PATH_QGEMM = "int8 QGEMM"


@dataclass
class NodeRecord:
    """One GEMM node as it ran: which kernel path, the GEMM sizes, and (if captured) its tensors."""

    name: str
    op_type: str
    output: str
    path: str
    mnk: tuple
    attrs: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list, repr=False)
    result: np.ndarray | None = field(default=None, repr=False)


@dataclass
class Recorder:
    """Settings of one run and the GEMM nodes seen, in execution order."""

    fastmath: bool
    ort_version: str | None
    threads: int
    faithful: bool
    initializers: frozenset
    capture: bool = True
    records: list = field(default_factory=list)
    progress: object = None

    def add(self, node, path, mnk, inputs, result):
        rec = NodeRecord(node.name or node.output[0], node.op_type, node.output[0], path, mnk, _attrs(node),
                         [np.array(x) for x in inputs] if self.capture else [],
                         np.array(result) if self.capture else None)
        self.records.append(rec)
        if self.progress is not None:
            self.progress.update(1)


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def matmul_path(a_shape, b_shape, *, fastmath, trans_a=False, trans_b=False, alpha=1.0, ort_version=None,
                faithful=True) -> tuple[str, tuple[int, int, int]]:
    """Which MLAS routine ``MatMul<float>::Compute`` (matmul.cc) calls, SBGEMM or fp32 SGEMM, and (M, N, K).

    The gate of :func:`mlas_emu.ort.matmul_op.fused_matmul` (:func:`~mlas_emu.ort.matmul_op.sbgemm_gate`):
    fastmath on, transB off, N*K >= 32 (``kFastMathModeKernelsizeThreshold``), transA off from
    1.25; with ``faithful=False`` a FusedMatMul whose SBGEMM would ignore transA or alpha is
    computed with SGEMM.
    """
    from ..ort.matmul_op import plan_matmul, sbgemm_gate

    profile = release(ort_version)
    ta = bool(trans_a) and len(a_shape) != 1
    tb = bool(trans_b) and len(b_shape) != 1
    plan = plan_matmul(tuple(a_shape), tuple(b_shape), ta, tb)
    use = sbgemm_gate(profile, fastmath, plan.n, plan.k, bool(trans_a), ta, tb, float(np.float32(alpha)))
    if use and not faithful and (ta or float(np.float32(alpha)) != 1.0):
        use = False
    return (PATH_FASTMATH if use else PATH_SGEMM), (plan.m, plan.n, plan.k)


def _matmul_like(rec: Recorder, node, a, b, *, trans_a=False, trans_b=False, alpha=1.0, fused=False):
    from ..ort.matmul_op import fused_matmul, matmul

    b_init = node.input[1] in rec.initializers
    path, mnk = matmul_path(a.shape, b.shape, fastmath=rec.fastmath, trans_a=trans_a, trans_b=trans_b,
                            alpha=alpha, ort_version=rec.ort_version, faithful=rec.faithful)
    kw = dict(fastmath=rec.fastmath, b_is_initializer=b_init, ort_version=rec.ort_version,
              threads=rec.threads, faithful=rec.faithful)
    if fused:
        y = fused_matmul(a, b, trans_a=bool(trans_a), trans_b=bool(trans_b), alpha=float(alpha), **kw)
    else:
        y = matmul(a, b, **kw)
    rec.add(node, path, mnk, [a, b], y)
    return y


def _gemm(rec: Recorder, node, at, a, b, c=None, *, fused=False):
    """ONNX Gemm or com.microsoft FusedGemm by :func:`mlas_emu.ort.gemm` / :func:`~mlas_emu.ort.fused_gemm`
    (never fastmath); B is pre-packed when it is an initializer."""
    from ..ort import gemm_op

    kw = dict(alpha=float(at.get("alpha", 1.0)), beta=float(at.get("beta", 1.0)),
              trans_a=bool(at.get("transA", 0)), trans_b=bool(at.get("transB", 0)),
              b_is_initializer=node.input[1] in rec.initializers, ort_version=rec.ort_version, threads=rec.threads)
    if fused:
        act = at.get("activation", b"Relu")
        act = act.decode() if isinstance(act, bytes) else act
        if act not in gemm_op.ACTIVATIONS:
            raise ValueError(f"FusedGemm node {node.name!r}: activation {act!r} is not supported "
                             f"(supported: {', '.join(gemm_op.ACTIVATIONS)})")
        y = gemm_op.fused_gemm(a, b, c, activation=act, activation_alpha=at.get("activation_alpha"), **kw)
    else:
        y = gemm_op.gemm(a, b, c, **kw)
    mnk = gemm_op.gemm_shape(a.shape, b.shape, kw["trans_a"], kw["trans_b"])
    rec.add(node, PATH_SGEMM, mnk, [x for x in (a, b, c) if x is not None], y)
    return y


def _quantized(rec: Recorder, node, fn_name, inputs):
    from ..ort import quantization

    fn = getattr(quantization, fn_name)
    args = [None if (i >= len(node.input) or not node.input[i]) else x for i, x in enumerate(inputs)]
    while args and args[-1] is None:
        args.pop()
    b_index = 3 if node.op_type == "QLinearMatMul" else 1
    y = fn(*args, b_is_initializer=node.input[b_index] in rec.initializers, ort_version=rec.ort_version,
           threads=rec.threads)
    a, b = inputs[0], inputs[b_index]
    mnk = (int(np.prod(a.shape[:-1])), b.shape[-1], a.shape[-1])
    rec.add(node, PATH_QGEMM, mnk, list(inputs), y)
    return y


def _erf(x: np.ndarray) -> np.ndarray:
    import math

    return np.vectorize(math.erf, otypes=[np.float64])(x.astype(np.float64))


def _gelu_erf(x: np.ndarray) -> np.ndarray:
    """0.5 x (1 + erf(x / sqrt 2)), evaluated in float64 and rounded to float32."""
    x64 = x.astype(np.float64)
    return (0.5 * x64 * (1.0 + _erf(x64 / np.sqrt(2.0)))).astype(np.float32)


def _fast_gelu(x: np.ndarray) -> np.ndarray:
    """The tanh approximation of com.microsoft.FastGelu: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    x64 = x.astype(np.float64)
    return (0.5 * x64 * (1 + np.tanh(0.7978845608028654 * (x64 + 0.044715 * x64 ** 3)))).astype(np.float32)


def _skip_layer_norm(x, skip, gamma, beta=None, bias=None, *, epsilon=1e-12):
    s = x.astype(np.float32) + skip.astype(np.float32)
    if bias is not None:
        s = s + bias
    s64 = s.astype(np.float64)
    mean = s64.mean(axis=-1, keepdims=True)
    var = ((s64 - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (s64 - mean) / np.sqrt(var + epsilon) * gamma
    if beta is not None:
        y = y + beta
    return y.astype(np.float32), s


def _dequantize_linear(x, scale, zero_point=None, *, axis=1):
    """ONNX DequantizeLinear (opsets 10-13 forms: per-tensor or per-axis): float32 (x - zp) * scale,
    as ONNX Runtime's CPU kernel computes it (int32 difference, one float32 multiply)."""
    scale = np.asarray(scale, dtype=np.float32)
    zp = np.zeros_like(scale, dtype=np.int32) if zero_point is None else np.asarray(zero_point).astype(np.int32)
    if scale.ndim == 1 and x.ndim > 0:
        shape = [1] * x.ndim
        shape[axis % x.ndim] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return ((x.astype(np.int32) - zp).astype(np.float32) * scale).astype(np.float32)


#: (domain, op_type) -> body(rec, node, attrs, *inputs).
_BODIES = {
    ("", "MatMul"): lambda rec, n, at, a, b: _matmul_like(rec, n, a, b),
    ("com.microsoft", "FusedMatMul"): lambda rec, n, at, a, b: _fused(rec, n, at, a, b),
    ("", "Gemm"): lambda rec, n, at, *x: _gemm(rec, n, at, *x),
    ("com.microsoft", "FusedGemm"): lambda rec, n, at, *x: _gemm(rec, n, at, *x, fused=True),
    ("", "MatMulInteger"): lambda rec, n, at, *x: _quantized(rec, n, "matmul_integer", x),
    ("com.microsoft", "DynamicQuantizeMatMul"): lambda rec, n, at, *x: _quantized(rec, n, "dynamic_quantize_matmul", x),
    ("com.microsoft", "MatMulIntegerToFloat"): lambda rec, n, at, *x: _quantized(rec, n, "matmul_integer_to_float", x),
    ("", "QLinearMatMul"): lambda rec, n, at, *x: _quantized(rec, n, "qlinear_matmul", x),
    ("com.microsoft", "BiasGelu"): lambda rec, n, at, x, b: _gelu_erf(x + b),
    ("com.microsoft", "Gelu"): lambda rec, n, at, x: _gelu_erf(x),
    ("com.microsoft", "FastGelu"): lambda rec, n, at, x, b=None: _fast_gelu(x if b is None else x + b),
    ("", "DequantizeLinear"): lambda rec, n, at, *x: _dequantize_linear(*x, axis=at.get("axis", 1)),
    ("com.microsoft", "SkipLayerNormalization"): lambda rec, n, at, *x: _skip_ln_outputs(n, at, x),
}


def run_node(rec: Recorder, node, inputs) -> tuple:
    """Run one overridden node on ``inputs`` (None for an empty optional input); its outputs as a tuple."""
    out = _BODIES[op_key(node)](rec, node, _attrs(node), *inputs)
    return out if isinstance(out, tuple) else (out,)


def make_ops(rec: Recorder) -> list:
    """OpRun subclasses for ``ReferenceEvaluator(new_ops=...)``, bound to ``rec``."""
    from onnx.reference.op_run import OpRun

    def _run(self, *inputs, **_attributes):  # attributes are read from the node itself
        return run_node(rec, self.onnx_node, inputs)

    return [type(op_type, (OpRun,), {"op_domain": domain, "_run": _run}) for domain, op_type in _BODIES]


def _fused(rec, node, at, a, b):
    if at.get("transBatchA", 0) or at.get("transBatchB", 0):
        raise ValueError(f"FusedMatMul node {node.name!r}: transBatchA/transBatchB are not supported")
    return _matmul_like(rec, node, a, b, trans_a=at.get("transA", 0), trans_b=at.get("transB", 0),
                        alpha=at.get("alpha", 1.0), fused=True)


def _skip_ln_outputs(node, at, x):
    y, s = _skip_layer_norm(*x, epsilon=at.get("epsilon", 1e-12))
    outs = [y] + [None] * (len(node.output) - 1)
    if len(node.output) >= 4 and node.output[3]:
        outs[3] = s
    return tuple(outs)
