"""Approximate SBGEMM (``mode="approx"``): bf16-rounded inputs, an ordinary fp32 BLAS product.

NOT bit-exact. It keeps the part of ONNX Runtime's bf16 fastmath MatMul on Arm that moves results
the most (inputs rounded to bf16 by BFCVT, ``onnxruntime/core/mlas/lib/sbgemm_kernel_neon.cpp``,
with bf16 denormals read as zero as BFDotAdd's BFUnpack does, Arm ARM DDI0487 M.a.a) and replaces
the BFMMLA accumulation (round-to-odd BFDotAdd chains in K blocks of 256, see
:mod:`.sbgemm_kernel_neon`) by numpy's float32 matmul, whose summation order and rounding are the
BLAS library's. Use it to see the size of the bf16 effect on a whole model quickly; use
:func:`mlas_emu.sgemm_bf16` (the default everywhere) when the bits matter.

Distance from the exact result, per element (derived below, tested in
``tests/mlas/test_sbgemm_approx.py``), for finite inputs whose products and partial sums do not
overflow::

    |approx - exact| <= (2.1 * K + 8) * 2**-24 * (|Ah| @ |Bh| + |bias|) + 4 * K * 2**-126

where ``Ah``, ``Bh`` are the bf16-rounded inputs (``|bias|`` is 0 without a bias). Every partial
sum is at most ``S = |Ah| @ |Bh| + |bias|`` in magnitude. The exact chain (which starts from the
bias) loses less than one fp32 ulp of S per accumulating round-to-odd (K/2 + 1 per element),
at most two ulps of S in total in the rounded pair sums, and half an ulp per K-block join; an
fp32 BLAS with the final bias add loses at most half an ulp of S per addition. The absolute term
covers the products and partial sums that BFDotAdd flushes to zero below 2**-126.

Measured on standard-normal inputs at the BERT-base shapes (M=128; K, N = 768/3072) and at 512^3
(docs/benchmarks.md): 15-19% of elements identical, median distance 2 ulps, 99th percentile at
most 128 ulps, normwise relative error about 2e-7.

Bias: added after the product with one fp32 add (the exact kernel starts its chains from it).
"""

from __future__ import annotations

import numpy as np

from .._jit import njit
from ..isa import bfcvt
from ._checks import as_f32_bias, as_f32_matrix

_BF16_EXP = np.uint32(0x7F80)  # bf16 exponent field; all-zero means zero or denormal


def bf16_unpacked(x: np.ndarray) -> np.ndarray:
    """float32 -> bf16 by BFCVT (round to nearest even, Graviton3's FPCR), widened back to
    float32 with denormals flushed to signed zero as BFDotAdd's BFUnpack reads them (FPCR.EBF == 0)."""
    bits = bfcvt(x).view(np.uint16)
    wide = np.empty(bits.shape, dtype=np.uint32)
    _unpack_bf16(bits.reshape(-1), wide.reshape(-1))
    return wide.view(np.float32)


@njit
def _unpack_bf16(bits, out):
    for i in range(bits.size):
        b = np.uint32(bits[i])
        if b & _BF16_EXP == 0:  # zero or denormal: BFUnpack gives a signed zero
            out[i] = (b & np.uint32(0x8000)) << np.uint32(16)
        else:
            out[i] = b << np.uint32(16)


def sgemm_bf16_approx(A, B, bias=None) -> np.ndarray:
    """``C ~= bf16(A) @ bf16(B) (+ bias)`` in float32 by numpy's BLAS: fast, NOT bit-exact.

    A: (M, K) float32, B: (K, N) float32, bias: (N,) float32 or None. Returns a new (M, N)
    float32 array; inputs are not modified. ORT's defects (docs/defects.md) are not modelled:
    this computes the intended product. See the module docstring for the error bound.

    >>> import numpy as np
    >>> A = np.array([[1.00390625, 2.0]], dtype=np.float32)   # 1 + 2**-8 rounds to 1 in bf16
    >>> sgemm_bf16_approx(A, np.ones((2, 1), np.float32))
    array([[3.]], dtype=float32)
    """
    a = as_f32_matrix(A, "A")
    b = as_f32_matrix(B, "B")
    if b.shape[0] != a.shape[1]:
        raise ValueError(f"A is {a.shape} and B is {b.shape}: B must have K={a.shape[1]} rows")
    if a.shape[1] == 0:
        raise ValueError("K must be at least 1")
    bias = as_f32_bias(bias, b.shape[1])
    c = np.matmul(bf16_unpacked(a), bf16_unpacked(b))
    if bias is not None:
        c += bias
    return c
