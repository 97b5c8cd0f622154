"""ONNX ``MatMul`` and ``com.microsoft.FusedMatMul`` (float32) as ONNX Runtime runs them on Arm64.

Models ``onnxruntime/core/providers/cpu/math/matmul.cc`` (``MatMul<float>::PrePack`` and
``::Compute``, which ``contrib_ops/cpu/math/fused_matmul.cc`` reuses) and
``matmul_helper.h`` (``MatMulComputeHelper``: broadcasting, the flattening of a batched A
against a 2-D B, batch offsets, lda/ldb).

With the session option ``mlas.enable_gemm_fastmath_arm64_bfloat16=1`` (``fastmath=True``) and
a BF16 CPU, Compute runs MLAS SBGEMM (:mod:`mlas_emu.mlas.sbgemm`) when the release's gate lets
it; otherwise MLAS fp32 SGEMM (:mod:`mlas_emu.mlas.sgemm`). A 2-D constant B is pre-packed
(the packed path); a graph-input B, or a constant B of another rank, takes the non-packed path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import OrtDefectWarning, warn_caller
from ..mlas import sbgemm as sb
from ..mlas import sbgemm_kernel_neon as kn
from .session_config import fastmath_config, op_settings

#: ``kFastMathModeKernelsizeThreshold`` (matmul.h): fastmath needs N*K (and the packed B's
#: dim1*dim2) of at least 32.
FASTMATH_KERNELSIZE_THRESHOLD = 32


@dataclass
class MatMulPlan:
    """``MatMulComputeHelper``'s result: GEMM sizes, batch offsets, leading dimensions, output shape."""

    m: int
    n: int
    k: int
    out_shape: tuple
    left_offsets: list
    right_offsets: list
    out_offsets: list
    lda: int
    ldb: int


def plan_matmul(a_shape, b_shape, trans_a=False, trans_b=False) -> MatMulPlan:
    """``MatMulComputeHelper::Compute`` (numpy.matmul broadcasting, ORT's offsets and flattening)."""
    la, lb = len(a_shape), len(b_shape)
    if la < 1 or lb < 1:
        raise ValueError(f"MatMul inputs must have rank >= 1, got shapes {tuple(a_shape)} and {tuple(b_shape)}")
    if not trans_a and la >= 2 and lb >= 2 and la >= lb and int(np.prod(b_shape[:-2], dtype=np.int64)) == 1:
        # A: [M1, M2, ..., K] against a 2-D (or 1 x ... x 1 x K x N) B: one GEMM with M = M1*M2*...
        m = int(np.prod(a_shape[:-1], dtype=np.int64))
        k = a_shape[-1]
        n = b_shape[-2] if trans_b else b_shape[-1]
        if (b_shape[-1] if trans_b else b_shape[-2]) != k:
            raise ValueError(f"MatMul dimension mismatch: A {tuple(a_shape)} and B {tuple(b_shape)}")
        return MatMulPlan(m, n, k, tuple(a_shape[:-1]) + (n,), [0], [0], [0],
                          m if trans_a else k, k if trans_b else n)
    has_1d = la == 1 or lb == 1
    nd = max(la, lb)
    nd_pad = nd + (1 if lb == 1 else 0)
    left = [1] * nd_pad
    right = [1] * nd_pad
    if lb == 1:
        right[nd_pad - 2] = b_shape[0]
        if nd >= 2:
            left[: la - 2] = a_shape[: la - 2]
            left[nd_pad - 3] = a_shape[la - 1] if trans_a else a_shape[la - 2]
            left[nd_pad - 1] = a_shape[la - 2] if trans_a else a_shape[la - 1]
        else:
            left[nd_pad - la :] = a_shape
    else:
        left[nd_pad - la :] = a_shape
        right[nd_pad - lb :] = b_shape
    nb = nd_pad - 2
    out_b = []
    for i in range(nb):
        lo, ro = left[i], right[i]
        o = 0 if min(lo, ro) == 0 else max(lo, ro)
        if (lo != o and lo != 1) or (ro != o and ro != 1):
            raise ValueError(f"MatMul shapes {tuple(a_shape)} and {tuple(b_shape)} do not broadcast (dimension {i})")
        out_b.append(o)
    if trans_a:
        m = 1 if has_1d else a_shape[-1]
        k = a_shape[-2] if la >= 2 else a_shape[0]
    else:
        m = 1 if has_1d else a_shape[-2]
        k = a_shape[-1]
    if lb == 1:
        n = 1
        kb = b_shape[0]
    else:
        n = b_shape[-2] if trans_b else b_shape[-1]
        kb = b_shape[-1] if trans_b else b_shape[-2]
    if k != kb:
        raise ValueError(f"MatMul dimension mismatch: A {tuple(a_shape)} and B {tuple(b_shape)} (K {k} vs {kb})")
    if not has_1d:
        out_shape = tuple(out_b) + (m, n)
    elif la == 1 and lb != 1:
        out_shape = tuple(out_b) + (n,)
    else:  # B is 1-D: A's M is one of the broadcast dimensions (or both are 1-D: a scalar)
        out_shape = tuple(out_b)
    lo_off, ro_off, oo_off = _broadcast_offsets(left, right, out_b, m * k, k * n, m * n)
    return MatMulPlan(m, n, k, out_shape, lo_off, ro_off, oo_off, m if trans_a else k, k if trans_b else n)


def _broadcast_offsets(left, right, out_b, left_size, right_size, out_size):
    """``MatMulComputeHelper::FillOffsets``: per output matrix, the start of its A, B and C."""
    nb = len(out_b)
    if nb == 0:
        return [0], [0], [0]
    lstr = [1] * nb
    rstr = [1] * nb
    for i in range(nb - 2, -1, -1):
        lstr[i] = lstr[i + 1] * left[i + 1]
        rstr[i] = rstr[i + 1] * right[i + 1]
    lo, ro, oo = [], [], []
    for idx, pos in enumerate(np.ndindex(*out_b) if all(out_b) else []):
        li = sum(p * (0 if left[d] == 1 else lstr[d]) for d, p in enumerate(pos))
        ri = sum(p * (0 if right[d] == 1 else rstr[d]) for d, p in enumerate(pos))
        lo.append(li * left_size)
        ro.append(ri * right_size)
        oo.append(idx * out_size)
    return lo, ro, oo


def _check_input(x, name):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of float32, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{name} must have dtype float32 (ONNX MatMul T=float), got {x.dtype}")
    if x.ndim < 1:
        raise ValueError(f"{name} must have rank >= 1, got a scalar")
    return np.ascontiguousarray(x)


def _check_flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def matmul(A, B, *, fastmath: bool | None = None, b_is_initializer: bool = True, ort_version: str | None = None,
           threads: int = 1, faithful: bool = True, mode: str = "exact", cpu: str | None = None,
           session_config=None) -> np.ndarray:
    """ONNX ``MatMul`` of float32 ``A`` and ``B`` as ONNX Runtime ``ort_version`` computes it on Graviton.

    ``fastmath`` sets the session option ``mlas.enable_gemm_fastmath_arm64_bfloat16`` (None: the
    ``session_config`` entry if given, else True); ``b_is_initializer`` says whether B is a
    constant initializer (pre-packed when 2-D, unless ``session.disable_prepacking=1``) or a
    graph input; ``threads`` is the session's intra-op thread count; ``ort_version`` the release
    (None: the newest); ``cpu`` one of :data:`mlas_emu.cpus.CPUS` (default "graviton3"; Graviton2
    has no BF16, so fastmath does not apply there; the oracle shows Graviton4 computing the same
    bits as Graviton3 here); ``session_config`` ORT session config entries
    (:mod:`mlas_emu.ort.session_config`). ``faithful=True`` reproduces
    ONNX Runtime's SBGEMM defects (docs/defects.md) with an ``OrtDefectWarning``.
    ``mode="approx"`` (opt-in, NOT bit-exact) replaces the SBGEMM path by bf16-rounded inputs and
    numpy's fp32 product; the fp32 SGEMM path stays exact.
    """
    return fused_matmul(A, B, fastmath=fastmath, b_is_initializer=b_is_initializer, ort_version=ort_version,
                        threads=threads, faithful=faithful, mode=mode, cpu=cpu, session_config=session_config,
                        _op="MatMul")


def fused_matmul(A, B, *, trans_a: bool = False, trans_b: bool = False, alpha: float = 1.0,
                 fastmath: bool | None = None, b_is_initializer: bool = True, ort_version: str | None = None,
                 threads: int = 1, faithful: bool = True, mode: str = "exact", cpu: str | None = None,
                 session_config=None, _op: str = "FusedMatMul") -> np.ndarray:
    """``com.microsoft.FusedMatMul``: ``alpha * op(A) @ op(B)``, run by ``MatMul<float>`` (same gating).

    Releases 1.17-1.24 ignore transA on the SBGEMM path (A is read untransposed with
    lda = M) and 1.17-1.27 ignore alpha there; from 1.25 a 1-D A with transA=1 and a 2-D
    constant B makes SBGEMM read B's fp32-packed buffer as bf16. ``faithful=True`` reproduces
    these with an ``OrtDefectWarning``; ``faithful=False`` computes the operator's definition
    the way the fixed releases do (fp32 SGEMM); from 1.30 alpha != 1 runs fp32 SGEMM. Other
    arguments as in :func:`matmul`.
    """
    if mode not in ("exact", "approx"):
        raise ValueError(f"mode must be 'exact' or 'approx', got {mode!r}")
    settings = op_settings(ort_version, cpu, threads, fastmath_config(fastmath, session_config))
    profile = settings.release
    a = _check_input(A, "A")
    b = _check_input(B, "B")
    fastmath = settings.fastmath
    b_init = _check_flag(b_is_initializer, "b_is_initializer") and settings.prepacking
    faithful = _check_flag(faithful, "faithful")
    trans_a_attr = _check_flag(trans_a, "trans_a")
    trans_b_attr = _check_flag(trans_b, "trans_b")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)):
        raise TypeError(f"alpha must be a float, got {alpha!r}")
    alpha = float(np.float32(alpha))
    # Compute: "ignore transpose for vectors"
    ta = trans_a_attr and a.ndim != 1
    tb = trans_b_attr and b.ndim != 1
    plan = plan_matmul(a.shape, b.shape, ta, tb)
    out = np.zeros(int(np.prod(plan.out_shape, dtype=np.int64)), dtype=np.float32)
    if out.size == 0 or plan.k == 0:
        return out.reshape(plan.out_shape)
    packable = b_init and b.ndim == 2
    alpha_ok = not profile.fastmath_alpha_gate or alpha == 1.0
    bf16_packed = (packable and fastmath and not trans_b_attr and alpha_ok
                   and (not profile.fastmath_trans_a_gate or not trans_a_attr)
                   and b.shape[0] * b.shape[1] >= FASTMATH_KERNELSIZE_THRESHOLD)
    use_sbgemm = sbgemm_gate(profile, fastmath, plan.n, plan.k, trans_a_attr, ta, tb, alpha)
    if mode == "approx" and use_sbgemm:
        return _approx_sbgemm(a, b, ta, alpha).reshape(plan.out_shape)
    notes = []
    # 1.25-1.27: PrePack tests the transA attribute, Compute the effective transA (false for a
    # 1-D A), so B is packed for fp32 SGEMM and SBGEMM reads that buffer as bf16.
    fp32_buffer_as_bf16 = use_sbgemm and packable and not bf16_packed
    if fp32_buffer_as_bf16:
        notes.append("B was pre-packed for fp32 SGEMM (transA=1 with a 1-D A) but SBGEMM reads that "
                     "buffer as packed bf16")
    if use_sbgemm and ta:
        notes.append("transA is ignored on the SBGEMM path (A read untransposed with lda = M)")
    if use_sbgemm and alpha != 1.0:
        notes.append(f"alpha={alpha} is ignored on the SBGEMM path")
    if notes and not faithful:
        use_sbgemm = fp32_buffer_as_bf16 = False
    if notes:
        verb = "reproduced" if faithful else "corrected (fp32 SGEMM, as later releases compute it)"
        warn_caller(f"ONNX Runtime {_op} defect: {'; '.join(notes)}; {verb}", OrtDefectWarning)
    if use_sbgemm:
        _run_sbgemm(a, b, plan, out, bf16_packed or fp32_buffer_as_bf16, threads, faithful, profile,
                    fp32_buffer=fp32_buffer_as_bf16)
    else:
        _run_sgemm(a, b, plan, out, ta, tb, alpha, packable, threads, profile)
    return out.reshape(plan.out_shape)


def sbgemm_gate(rel, fastmath: bool, n: int, k: int, trans_a_attr: bool, ta: bool, tb: bool,
                alpha: float) -> bool:
    """``MatMul<float>::Compute``'s test for SBGEMM (matmul.cc), per release descriptor ``rel``.

    fastmath on (and a BF16 CPU), effective transB off, N*K >= 32; from 1.25 transA off, read
    from the effective transA (false for a 1-D A) until 1.27 and from the attribute from 1.28;
    from 1.30 alpha == 1.
    """
    trans_a = trans_a_attr if rel.fastmath_trans_a_attribute_gate else ta
    return (fastmath and not tb and n * k >= FASTMATH_KERNELSIZE_THRESHOLD
            and (not rel.fastmath_alpha_gate or alpha == 1.0)
            and (not rel.fastmath_trans_a_gate or not trans_a))


def _approx_sbgemm(a, b, ta, alpha):
    """``mode="approx"``: the operator's definition on bf16-rounded inputs by numpy's fp32 BLAS
    (not bit-exact, no defect modelled; see :mod:`mlas_emu.mlas.sbgemm_approx`)."""
    from ..mlas.sbgemm_approx import bf16_unpacked

    res = np.matmul(bf16_unpacked(np.swapaxes(a, -1, -2) if ta else a), bf16_unpacked(b))
    return res * np.float32(alpha) if alpha != 1.0 else res


def _run_sbgemm(a, b, plan, out, packed, threads, faithful, rel, fp32_buffer=False):
    """``MlasSBGemmBatch`` with one ``MLAS_SBGEMM_DATA_PARAMS`` per output matrix (Bias = null, ldc = N)."""
    a_flat = a.reshape(-1)
    known = source = None
    if fp32_buffer:
        b_buf, known = _fp32_packed_as_bf16(b)
    elif packed:  # ``convert_pack_b(b)``, built when a path reads the buffer
        b_buf, source = None, b
    else:
        b_buf = b.reshape(-1)
    data = [
        sb.SBGemmData(a_flat, lo, plan.lda, b_buf, 0 if packed else ro, plan.ldb, packed, out, oo, plan.n, None,
                      known, source)
        for lo, ro, oo in zip(plan.left_offsets, plan.right_offsets, plan.out_offsets)
    ]
    log = sb.sbgemm_batch(plan.m, plan.n, plan.k, data, threads=threads, faithful=faithful, ort_version=rel)
    log.warn()


def _fp32_packed_as_bf16(b):
    """``GemmPackBFp32``'s buffer (``MlasGemmPackB`` into a zeroed ``MlasGemmPackBSize`` buffer of
    align(N,16)*K floats, rounded up to 64 bytes) seen as bf16 elements: each float's low half
    first (little endian). Elements past the buffer are unknown."""
    from ..mlas.sgemm_kernel_neon import pack_b

    k, n = b.shape
    floats = kn.align_up(kn.align_up(n, kn.PACKED_N) * k * 4, kn.BUFFER_ALIGNMENT_BYTES) // 4
    fp32 = np.zeros(floats, dtype=np.uint32)
    packed = pack_b(b)
    fp32[: packed.size] = packed
    halves = fp32.view(np.uint16)
    size = max(halves.size, kn.pack_b_size(n, k) // 2)
    buf = np.zeros(size, dtype=np.uint16)
    buf[: halves.size] = halves
    known = np.arange(size) < halves.size
    return buf, known


def _run_sgemm(a, b, plan, out, ta, tb, alpha, packable, threads, rel):
    """``MlasGemmBatch`` (fp32 SGEMM) over the helper's batch offsets, one call for the batch."""
    from ..mlas.sgemm import sgemm

    a_flat, b_flat = a.reshape(-1), b.reshape(-1)
    m, n, k = plan.m, plan.n, plan.k
    a_stack = np.stack([a_flat[o : o + m * k].reshape((k, m) if ta else (m, k)) for o in plan.left_offsets])
    if len(set(plan.right_offsets)) == 1:
        b_arg = b_flat[plan.right_offsets[0] : plan.right_offsets[0] + k * n].reshape((n, k) if tb else (k, n))
    else:
        b_arg = np.stack([b_flat[o : o + k * n].reshape((n, k) if tb else (k, n)) for o in plan.right_offsets])
    c = sgemm(a_stack, b_arg, trans_a=ta, trans_b=tb, alpha=alpha, packed_b=packable, threads=threads,
              ort_version=rel)
    c = np.asarray(c, dtype=np.float32).reshape(len(plan.out_offsets), m * n)
    for i, o in enumerate(plan.out_offsets):
        out[o : o + m * n] = c[i]
