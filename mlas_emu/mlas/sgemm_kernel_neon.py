"""MLAS's fp32 SGEMM arithmetic for Arm64 NEON (FMLA), fast, and the B packing layout.

Models onnxruntime/core/mlas/lib ``aarch64/SgemmKernelNeon.S`` (``MlasSgemmKernelZero`` /
``MlasSgemmKernelAdd``), ``aarch64/SgemvKernelNeon.S`` (``MlasGemvFloatKernel``, the M = 1
path) and the B packing of ``sgemm.cpp`` (``MlasSgemmCopyPackB``, ``MlasGemmPackB``), unchanged
from ONNX Runtime 1.17 to 1.32 (the routines' code is the same in the 1.17.1 and 1.32.0
wheels) and checked against the 1.17.1, 1.23.2 and 1.27.0 aarch64 wheels. The routines' instruction sequences are in :mod:`mlas_emu.mlas.sgemm_kernel_asm`
(the instruction path of :func:`mlas_emu.mlas.sgemm.sgemm` interprets them).

Arithmetic, per element of C and per K block handed to the kernel (``CountK`` values of k)::

    acc = +0                                   # movi v16.16b,#0
    for k in block, increasing:                # fmla v16.4s, v4.4s (B), v8.s[i] (A)
        acc = FPMulAdd(acc, B[k, j], A[i, k])  # one rounding (fused)
    ZeroMode: C = FPMul(acc, alpha)            # fmul, then str
    AddMode:  C = FPMulAdd(C, acc, alpha)      # ld1 C; fmla v4.4s, v16.4s, v0.s[0]; st1

The tile (4 rows x 16 columns in v16-v31, 8-column remainder, column tails stored 8/4/2/1)
decides which register holds an element, never the order of its chain. ``MlasGemvFloatKernel``
runs one unbroken chain over all of K per column, starting from +0 (ZeroMode) or from C itself.

Floating point follows the Arm ARM (DDI0487 M.a.a) pseudocode ``FPMulAdd``, ``FPMul``,
``FPProcessNaNs3`` / ``FPProcessNaNs`` with the Linux user-space FPCR (round to nearest even,
FZ = 0 so denormals are kept, DN = 0 so NaN operands propagate quieted, AH = 0).

:func:`chain_rows` computes those chains compiled with numba around the host's correctly
rounded ``llvm.fma.f32``; elements that end as NaN are recomputed with the Arm NaN rules
(:func:`element_bits`, :func:`fp_mul_add`), since x86 propagates and generates NaNs differently.
"""

from __future__ import annotations

import numpy as np

from mlas_emu._jit import njit, prange
from mlas_emu.isa.fp32 import fp_mul, fp_mul_add
from mlas_emu.isa.tiers import fmaf as _fmaf
from mlas_emu.isa.tiers import host_keeps_denormals


#: ``MLAS_SGEMM_STRIDEN`` / ``MLAS_SGEMM_STRIDEK`` (mlasi.h): non-packed slices.
STRIDE_N = 128
STRIDE_K = 128
#: ``MLAS_SGEMM_PACKED_STRIDEN`` / ``MLAS_SGEMM_PACKED_STRIDEK`` (mlasi.h): pre-packed B.
PACKED_STRIDE_N = 128
PACKED_STRIDE_K = 256
#: ``MLAS_SGEMM_STRIDEN_THREAD_ALIGN`` (mlasi.h): N split between threads in blocks of 16,
#: also the width of a packed-B panel (``MlasSgemmCopyPackB``).
STRIDEN_THREAD_ALIGN = 16
PANEL_WIDTH = 16
#: ``MLAS_SGEMM_TRANSA_ROWS`` (sgemm.cpp): rows of A transposed at a time into PanelA.
TRANSA_ROWS = 12

# --------------------------------------------------------------------------------------------
# Packing (data movement only: bits are copied, never converted)


def copy_pack_b(B: np.ndarray) -> np.ndarray:
    """``MlasSgemmCopyPackB``: a (CountK, CountN) block of B as 16-column panels.

    Panel p holds columns 16p..16p+15, one row of 16 values per k; a last panel narrower
    than 16 is zero-padded::

        panel 0: [B[0,0] .. B[0,15]] [B[1,0] .. B[1,15]] ... [B[K-1,0] .. B[K-1,15]]
        panel 1: [B[0,16] .. B[0,31]] ...

    Returns a flat uint32 array of ``ceil(CountN/16) * 16 * CountK`` bit patterns.
    """
    bits = np.ascontiguousarray(B).view(np.uint32)
    count_k, count_n = bits.shape
    panels = -(-count_n // PANEL_WIDTH)
    out = np.zeros((panels, count_k, PANEL_WIDTH), dtype=np.uint32)
    for p in range(panels):
        cols = bits[:, p * PANEL_WIDTH : (p + 1) * PANEL_WIDTH]
        out[p, :, : cols.shape[1]] = cols
    return out.reshape(-1)


def pack_b(B: np.ndarray, *, trans_b: bool = False) -> np.ndarray:
    """``MlasGemmPackB``: K blocks of ``PACKED_STRIDE_K`` one after another, each block all N
    columns in 16-column panels (``AlignedN * CountK`` values per block)."""
    b = np.asarray(B).T if trans_b else np.asarray(B)
    count_k = b.shape[0]
    blocks = [copy_pack_b(b[k : k + PACKED_STRIDE_K]) for k in range(0, count_k, PACKED_STRIDE_K)]
    return np.concatenate(blocks) if blocks else np.zeros(0, np.uint32)


# --------------------------------------------------------------------------------------------
# Fast path: the same chains, vectorised over columns around the host's fused multiply-add


@njit
def element_bits(a_bits, b_bits, c_bits, i, j, kb, alpha, beta, beta_mode, gemv):
    """One element of C with the Arm rules throughout (:func:`fp_mul_add` / :func:`fp_mul`):
    the reference the fast path falls back to for elements that end as NaN.

    ``kb``: K block bounds [0, ..., K]; ``beta_mode``: 0 (beta = 0: ZeroMode first block),
    1 (beta = 1) or 2 (other beta: C = C*beta first, ``MlasSgemmMultiplyBeta``); ``gemv``:
    one chain over all of K from +0 or C, no alpha (``MlasGemvFloatKernel``).
    """
    cur = 0
    if beta_mode == 1:
        cur = c_bits[i, j]
    elif beta_mode == 2:
        cur = fp_mul(c_bits[i, j], beta)
    if gemv:
        acc = cur
        for k in range(kb[0], kb[kb.size - 1]):
            acc = fp_mul_add(acc, b_bits[k, j], a_bits[i, k])
        return acc
    for blk in range(kb.size - 1):
        acc = 0
        for k in range(kb[blk], kb[blk + 1]):
            acc = fp_mul_add(acc, b_bits[k, j], a_bits[i, k])
        if blk == 0 and beta_mode == 0:
            cur = fp_mul(acc, alpha)
        else:
            cur = fp_mul_add(cur, acc, alpha)
    return cur


_ROW_BLOCK = 8
_COL_TILE = 64


@njit(parallel=True)
def chain_rows(a, b, c_in, out, r0, r1, c0, c1, kb, alpha, beta, beta_mode, gemv):
    """Rows ``r0:r1`` x columns ``c0:c1`` of C as one MLAS kernel segment computes them (see
    :func:`element_bits` for the arguments), into ``out``; ``a`` (M, K), ``b`` (K, N) and
    ``c_in`` (M, N) are contiguous float32. Chains run in increasing k per element, in tiles
    of 8 rows x 64 columns (parallel); the loop over a tile's columns is innermost so it
    vectorises without reordering any chain."""
    a_bits = a.view(np.uint32)
    b_bits = b.view(np.uint32)
    c_bits = c_in.view(np.uint32)
    alpha_bits = np.uint32(np.array([alpha], np.float32).view(np.uint32)[0])
    beta_bits = np.uint32(np.array([beta], np.float32).view(np.uint32)[0])
    n_rb = (r1 - r0 + _ROW_BLOCK - 1) // _ROW_BLOCK
    n_ct = (c1 - c0 + _COL_TILE - 1) // _COL_TILE
    for task in prange(n_rb * n_ct):
        i0 = r0 + (task // n_ct) * _ROW_BLOCK
        j0 = c0 + (task % n_ct) * _COL_TILE
        i1 = min(i0 + _ROW_BLOCK, r1)
        j1 = min(j0 + _COL_TILE, c1)
        _tile(a, b, c_in, out, i0, i1, j0, j1, kb, alpha, beta, beta_mode, gemv)
        for i in range(i0, i1):
            out_bits = out[i].view(np.uint32)
            for j in range(j0, j1):
                if out[i, j] != out[i, j]:  # NaN: the host's NaN is not Arm's; redo with Arm rules
                    out_bits[j] = element_bits(a_bits, b_bits, c_bits, i, j, kb,
                                               alpha_bits, beta_bits, beta_mode, gemv)


@njit
def _tile(a, b, c_in, out, i0, i1, j0, j1, kb, alpha, beta, beta_mode, gemv):
    """One tile's chains (host FMA, NaN not yet Arm's) into ``out[i0:i1, j0:j1]``."""
    rows, w = i1 - i0, j1 - j0
    cur = np.zeros((_ROW_BLOCK, _COL_TILE), np.float32)
    acc = np.empty((_ROW_BLOCK, _COL_TILE), np.float32)
    for r in range(rows):
        if beta_mode == 1:
            cur[r, :w] = c_in[i0 + r, j0:j1]
        elif beta_mode == 2:
            for c in range(w):
                cur[r, c] = c_in[i0 + r, j0 + c] * beta
    if gemv:
        _fma_chains(a, b, cur, i0, rows, j0, j1, kb[0], kb[kb.size - 1])
    else:
        for blk in range(kb.size - 1):
            acc[:, :] = 0.0
            _fma_chains(a, b, acc, i0, rows, j0, j1, kb[blk], kb[blk + 1])
            for r in range(rows):
                cr = cur[r]
                ar = acc[r]
                if blk == 0 and beta_mode == 0:
                    for c in range(w):
                        cr[c] = ar[c] * alpha
                else:
                    for c in range(w):
                        cr[c] = _fmaf(ar[c], alpha, cr[c])
    for r in range(rows):
        out[i0 + r, j0:j1] = cur[r, :w]


@njit
def _fma_chains(a, b, acc, i0, rows, j0, j1, k0, k1):
    """``acc[r, c] = fma(B[k, j0 + c], A[i0 + r, k], acc[r, c])`` for k in k0..k1, in order."""
    w = j1 - j0
    for k in range(k0, k1):
        brow = b[k, j0:j1]
        for r in range(rows):
            x = a[i0 + r, k]
            ar = acc[r]
            for c in range(w):
                ar[c] = _fmaf(brow[c], x, ar[c])


def check_host_keeps_denormals():
    """Raise ``RuntimeError`` if this thread's FPU flushes denormals (x86 MXCSR FTZ/DAZ, which
    a library built with -ffast-math can set when loaded): the fast path would then lose the
    denormals that Arm keeps (FPCR.FZ = 0)."""
    if not host_keeps_denormals():
        raise RuntimeError(
            "the host FPU flushes denormals to zero (FTZ/DAZ set in this thread, e.g. by a "
            "library compiled with -ffast-math); mlas_emu's fast SGEMM path would not be exact"
        )
