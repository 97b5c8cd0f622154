"""Exact reference for SBGEMM tests, written from the Arm ARM pseudocode (DDI0487 M.a.a).

BFDotAdd with FPCR.EBF == 0 is the shared exact reference's (tests/naive.py: BFMulH,
FPAdd_BF16, BFRound, BFUnpack on Python ints and ``fractions.Fraction``); this module adds BFCVT
on arrays and the per-element SBGEMM model of docs/sbgemm.md (bf16 by round to nearest even,
one BFDotAdd chain per K block, blocks joined by fp32 adds). Slow; small shapes.
"""

from __future__ import annotations

import numpy as np

import naive  # tests/ is on sys.path (tests/conftest.py)

DEFAULT_NAN = 0x7FC00000


def bf_dot_add(addend: int, a0: int, a1: int, b0: int, b1: int) -> int:
    """BFDotAdd(addend, a0, a1, b0, b1) with FPCR.EBF == 0: fp32 bits (NumPy scalars accepted)."""
    return naive.bf_dot_add(int(addend), int(a0), int(a1), int(b0), int(b1))


def bfcvt(x: np.ndarray) -> np.ndarray:
    """BFCVT, round to nearest even (finite and infinite inputs; NaN quietened keeping its top bits)."""
    v = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.int64)
    hi, low = v >> 16, v & 0xFFFF
    hi = hi + ((low > 0x8000) | ((low == 0x8000) & ((hi & 1) == 1)))
    nan = (((v >> 23) & 0xFF) == 0xFF) & ((v & 0x7FFFFF) != 0)
    return np.where(nan, (v >> 16) | 0x40, hi).astype(np.uint16)


def chain(init_bits: int, a_bits, b_bits) -> int:
    """One element's BFDotAdd chain over k pairs (both operand lists padded to even length)."""
    acc = int(init_bits)
    for t in range(0, len(a_bits), 2):
        acc = bf_dot_add(acc, a_bits[t], a_bits[t + 1], b_bits[t], b_bits[t + 1])
    return acc


def f32_add(x: np.float32, y: np.float32) -> np.float32:
    """fp32 FADD (RNE) as Arm computes it: any NaN result is the default NaN here."""
    with np.errstate(all="ignore"):
        s = np.float32(x) + np.float32(y)
    return np.uint32(DEFAULT_NAN).view(np.float32) if np.isnan(s) else s


def sbgemm(A: np.ndarray, B: np.ndarray, bias=None, k_block: int = 256) -> np.ndarray:
    """The intended SBGEMM result: per element, chains over K blocks of ``k_block`` (padded to 4
    with zeros), the first starting from the bias, blocks joined by fp32 adds."""
    M, K = A.shape
    N = B.shape[1]
    a = bfcvt(A)
    b = bfcvt(B)
    C = np.zeros((M, N), dtype=np.float32)
    for i in range(M):
        for j in range(N):
            total = None
            for k0 in range(0, K, k_block):
                kb = min(K - k0, k_block)
                lanes = (kb + 3) // 4 * 4
                av = [int(a[i, k0 + t]) if t < kb else 0 for t in range(lanes)]
                bv = [int(b[k0 + t, j]) if t < kb else 0 for t in range(lanes)]
                init = int(np.float32(bias[j]).view(np.uint32)) if (bias is not None and k0 == 0) else 0
                v = np.uint32(chain(init, av, bv)).view(np.float32)
                total = v if total is None else f32_add(total, v)
            C[i, j] = total
    return C
