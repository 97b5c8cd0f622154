"""An a-priori componentwise error bound for MLAS SBGEMM (bf16 fastmath), ``|C_emulated - A B| <= bound``.

The model bounded (docs/sbgemm.md, "Per element"; ``sbgemm.h`` ``MlasSBGemmOperation`` and
``sbgemm_kernel_neon.cpp`` in ONNX Runtime 1.17-1.27; BFDotAdd in the Arm ARM, DDI0487 M.a.a):

1. each element of A and B is rounded to bf16 (BFCVTN, round to nearest even): |a~ - a| <= alpha|a|
   with alpha = 2^-8, and BFDotAdd's BFUnpack flushes bf16 denormals to zero, which the term
   lambda = 2^-126 covers (|a~ - a| <= alpha|a| + lambda holds in both cases);
2. per output element and K block, one BFDotAdd chain over k in pairs: the products of two bf16
   values (8-bit significands) are exact in fp32 unless they fall below 2^-126 (flushed: error <
   lambda); each BFAdd rounds to odd (|error| < u|x| with u = 2^-23) or flushes (error < lambda).
   A pair of products meets at most P roundings in a block of P pairs (its pair sum, then one
   per later step; adding the first pair to +0 is exact), so the chain's error is at most
   gamma_P(u) sum|a~ b~| plus the flushes;
3. the nb block results are added to C with ordinary fp32 adds (round to nearest even, u_n =
   2^-24, gradual underflow: at most 2^-150 absolute each).

Classical forward analysis (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.,
sections 3.1-3.5, gamma_n = n u / (1 - n u)) then gives, with S = |A||B| (fp32 inputs) and S~ =
(1 + alpha)^2 S (what the bf16 inputs can reach)::

    bound = (2 alpha + alpha^2) S + lambda ((1 + alpha) colsum|B| + rowsum|A|)     input rounding
          + gamma_P(u) S~ + U                                                       chains
          + gamma_{nb-1}(u_n) ((1 + gamma_P(u)) S~ + U) + 2 (nb - 1) 2^-150         block sums

where U = nb (4P - 1) lambda (1 + gamma_P(u)) counts every possible flush. ``inputs="exact"``
replaces the first line by the actual effect of the bf16 rounding, |A~ B~ - A B| (the bf16
values are known before the GEMM runs, so the bound stays a-priori), and S~ by |A~||B~|.

The bound assumes no overflow (elements that could overflow get ``inf``) and ONNX Runtime's
intended results (its defects, docs/defects.md, are outside any bound).
"""

from __future__ import annotations

import math

import numpy as np

from ..mlas._checks import as_f32_matrix

#: bf16 unit roundoff for round to nearest even: 8-bit significand, 2^-8.
BF16_UNIT_ROUNDOFF = 2.0 ** -8
#: BFRound's round to odd keeps 24 significand bits: |error| < 1 ulp <= 2^-23 |x|.
ROUND_TO_ODD_UNIT = 2.0 ** -23
#: fp32 round to nearest even: 2^-24.
FP32_UNIT_ROUNDOFF = 2.0 ** -24
#: Flush threshold of BFUnpack / BFRound (FPCR.EBF == 0): the smallest normal fp32, 2^-126.
FLUSH_THRESHOLD = 2.0 ** -126
#: Largest absolute error of a round-to-nearest fp32 add in the subnormal range: half of 2^-149.
FP32_SUBNORMAL_HALF_ULP = 2.0 ** -150
#: Largest finite float32, (2 - 2^-23) 2^127.
FLT_MAX = float(np.finfo(np.float32).max)

#: ``MlasSBGemmPackedOperation`` walks K in blocks of 256 (``MLAS_SBGEMM_STRIDEK``).
PACKED_BLOCK_K = 256


def gamma(n: int, u: float) -> float:
    """Higham's gamma_n = n u / (1 - n u), the bound on |prod (1 + delta_i)^{+-1} - 1| for n roundings."""
    if n <= 0:
        return 0.0
    if n * u >= 1:
        return math.inf
    return n * u / (1 - n * u)


def _block_counts(K: int, block_k: int | None) -> tuple[int, int]:
    """(P, nb): pairs in the longest block and the number of K blocks."""
    if block_k is None:  # one chain over all of K: the worst case of any blocking with >= 2 pairs per block
        return (K + 1) // 2, 1
    if isinstance(block_k, bool) or not isinstance(block_k, (int, np.integer)) or block_k < 2:
        raise ValueError(f"block_k must be an int >= 2 (K block length) or None, got {block_k!r}")
    block_k = int(block_k)
    return (min(K, block_k) + 1) // 2, -(-K // block_k)


def _bf16_flushed(x: np.ndarray) -> np.ndarray:
    """x as BFDotAdd sees it: BFCVTN to bf16 (RNE), then BFUnpack's flush of denormals, in float64."""
    import ml_dtypes

    y = x.astype(ml_dtypes.bfloat16).astype(np.float64)
    return np.where(np.abs(y) < FLUSH_THRESHOLD, 0.0, y)


def bound(A, B, *, block_k: int | None = PACKED_BLOCK_K, inputs: str = "worst") -> np.ndarray:
    """Componentwise bound on |SBGEMM(A, B) - A B| (exact product of the float32 inputs), float64 (M, N).

    ``block_k``: the K block length (256 on the packed path, the default; ``None`` gives a bound
    valid for every blocking, e.g. the non-packed path whose strides depend on N, K and threads).
    ``inputs``: ``"worst"`` bounds the bf16 input rounding by 2^-8 per operand; ``"exact"`` uses the
    bf16 values themselves (tighter, still computed before the GEMM).
    """
    A = as_f32_matrix(A, "A")
    B = as_f32_matrix(B, "B")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"A is {A.shape[0]}x{A.shape[1]} but B is {B.shape[0]}x{B.shape[1]}: K must agree")
    if inputs not in ("worst", "exact"):
        raise ValueError(f"inputs must be 'worst' or 'exact', got {inputs!r}")
    M, K = A.shape
    N = B.shape[1]
    if K == 0:
        return np.zeros((M, N))
    P, nb = _block_counts(K, block_k)
    with np.errstate(invalid="ignore", over="ignore"):
        a = np.abs(A.astype(np.float64))
        b = np.abs(B.astype(np.float64))
        S = a @ b
        f64 = gamma(K + 2, 2.0 ** -53)  # float64 evaluation of the sums below
        if inputs == "worst":
            alpha = BF16_UNIT_ROUNDOFF
            s_bf = (1 + alpha) ** 2 * S
            e_in = ((2 * alpha + alpha ** 2) * S
                    + FLUSH_THRESHOLD * ((1 + alpha) * b.sum(axis=0)[None, :] + a.sum(axis=1)[:, None]))
        else:
            a16, b16 = _bf16_flushed(A), _bf16_flushed(B)
            s_bf = np.abs(a16) @ np.abs(b16)
            e_in = np.abs(a16 @ b16 - A.astype(np.float64) @ B.astype(np.float64)) + f64 * (s_bf + S)
        gp = gamma(P, ROUND_TO_ODD_UNIT)
        flushes = nb * (4 * P - 1) * FLUSH_THRESHOLD * (1 + gp)
        chains = gp * s_bf + flushes
        blocks = (gamma(nb - 1, FP32_UNIT_ROUNDOFF) * ((1 + gp) * s_bf + flushes)
                  + 2 * (nb - 1) * FP32_SUBNORMAL_HALF_ULP)
        total = (e_in + chains + blocks + f64 * s_bf) * (1 + 2.0 ** -40)
        reach = (1 + gp) * (1 + gamma(nb - 1, FP32_UNIT_ROUNDOFF)) * s_bf
        risky = ~np.isfinite(total) | (reach >= FLT_MAX) | _overflow_rows_cols(A, B)
    return np.where(risky, np.inf, total)


def _overflow_rows_cols(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Rows of A / columns of B holding a value that is not finite or rounds to a bf16 infinity."""
    import ml_dtypes

    bad_a = ~np.isfinite(A.astype(ml_dtypes.bfloat16).astype(np.float32)).all(axis=1)
    bad_b = ~np.isfinite(B.astype(ml_dtypes.bfloat16).astype(np.float32)).all(axis=0)
    return bad_a[:, None] | bad_b[None, :]


def tightness(A, B, result, *, block_k: int | None = PACKED_BLOCK_K, inputs: str = "worst") -> dict:
    """How close ``result`` (an SBGEMM of A and B) comes to :func:`bound`: observed / bound ratios.

    The exact product is taken with ``math.fsum`` per element (correctly rounded to float64, a
    relative error of 2^-53 that is added to the bound). Returns max and median of the ratio over
    the elements with a non-zero finite bound, and ``violations`` (elements above the bound).
    """
    A = as_f32_matrix(A, "A")
    B = as_f32_matrix(B, "B")
    result = np.asarray(result)
    if result.shape != (A.shape[0], B.shape[1]):
        raise ValueError(f"result must have shape {(A.shape[0], B.shape[1])}, got {result.shape}")
    exact = exact_product(A, B)
    bnd = bound(A, B, block_k=block_k, inputs=inputs) + np.abs(exact) * 2.0 ** -52
    observed = np.abs(result.astype(np.float64) - exact)
    ok = np.isfinite(bnd) & (bnd > 0) & np.isfinite(observed)
    ratio = observed[ok] / bnd[ok]
    return {
        "elements": int(ok.sum()),
        "violations": int((observed[ok] > bnd[ok]).sum()),
        "max_ratio": float(ratio.max()) if ratio.size else float("nan"),
        "median_ratio": float(np.median(ratio)) if ratio.size else float("nan"),
    }


def exact_product(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A B with each element correctly rounded to float64 (``math.fsum`` of the exact products)."""
    a = A.astype(np.float64)
    b = B.astype(np.float64)
    out = np.empty((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        prods = a[i][:, None] * b  # float32 x float32 is exact in float64
        for j in range(b.shape[1]):
            out[i, j] = math.fsum(prods[:, j])
    return out
