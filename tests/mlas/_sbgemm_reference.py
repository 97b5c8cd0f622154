"""Exact reference for SBGEMM tests, written from the Arm ARM pseudocode (DDI0487 M.a.a).

BFDotAdd with FPCR.EBF == 0 (BFMulH, FPAdd_BF16, BFRound, BFUnpack) on Python ints and
``fractions.Fraction``, and the per-element SBGEMM model of DESIGN section 3 (bf16 by round to
nearest even, one BFDotAdd chain per K block, blocks joined by fp32 adds). Slow; small shapes.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

DEFAULT_NAN = 0x7FC00000


def _unpack(bits: int, ebits: int, fbits: int):
    """BFUnpack: (kind, sign, value); denormals are zero (kind 'zero')."""
    n = 1 + ebits + fbits
    sign = bits >> (n - 1)
    exp = (bits >> fbits) & ((1 << ebits) - 1)
    frac = bits & ((1 << fbits) - 1)
    if exp == (1 << ebits) - 1:
        return ("nan" if frac else "inf", sign, None)
    if exp == 0:
        return ("zero", sign, Fraction(0))
    v = Fraction((1 << fbits) | frac, 1 << fbits) * Fraction(2) ** (exp - ((1 << (ebits - 1)) - 1))
    return ("num", sign, -v if sign else v)


def bf_round(v: Fraction) -> int:
    """BFRound: round to odd into fp32, zero below 2^-126 (before rounding), inf from 2^128."""
    sign = 1 if v < 0 else 0
    m = -v if sign else v
    e = 0
    while m >= 2:
        m /= 2
        e += 1
    while m < 1:
        m *= 2
        e -= 1
    if e < -126:
        return sign << 31
    if e >= 128:
        return (sign << 31) | 0x7F800000
    scaled = m * (1 << 23)
    mant = int(scaled)
    if scaled != mant:
        mant |= 1
    return (sign << 31) | ((e + 127) << 23) | (mant & 0x7FFFFF)


def _add(x, y) -> int:
    (t1, s1, v1), (t2, s2, v2) = x, y
    if t1 == "nan" or t2 == "nan":
        return DEFAULT_NAN
    if t1 == "inf" and t2 == "inf" and s1 != s2:
        return DEFAULT_NAN
    if t1 == "inf":
        return (s1 << 31) | 0x7F800000
    if t2 == "inf":
        return (s2 << 31) | 0x7F800000
    if t1 == "zero" and t2 == "zero" and s1 == s2:
        return s1 << 31
    r = v1 + v2
    return 0 if r == 0 else bf_round(r)


def _mul(x, y) -> int:
    (t1, s1, v1), (t2, s2, v2) = x, y
    if t1 == "nan" or t2 == "nan":
        return DEFAULT_NAN
    if (t1 == "inf" and t2 == "zero") or (t2 == "inf" and t1 == "zero"):
        return DEFAULT_NAN
    if t1 == "inf" or t2 == "inf":
        return ((s1 ^ s2) << 31) | 0x7F800000
    if t1 == "zero" or t2 == "zero":
        return (s1 ^ s2) << 31
    return bf_round(v1 * v2)


def bf_dot_add(addend: int, a0: int, a1: int, b0: int, b1: int) -> int:
    """BFDotAdd(addend, a0, a1, b0, b1) with FPCR.EBF == 0: fp32 bits."""
    bf = lambda b: _unpack(int(b), 8, 7)  # noqa: E731
    f32 = lambda b: _unpack(int(b), 8, 23)  # noqa: E731
    prod = _add(f32(_mul(bf(a0), bf(b0))), f32(_mul(bf(a1), bf(b1))))
    return _add(f32(int(addend)), f32(prod))


def bfcvt(x: np.ndarray) -> np.ndarray:
    """BFCVT, round to nearest even (finite and infinite inputs; NaN quietened keeping its top bits)."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.int64)
    out = []
    for v in u.reshape(-1).tolist():
        if (v >> 23) & 0xFF == 0xFF and v & 0x7FFFFF:
            out.append((v >> 16) | 0x40)
            continue
        low = v & 0xFFFF
        hi = v >> 16
        if low > 0x8000 or (low == 0x8000 and hi & 1):
            hi += 1
        out.append(hi)
    return np.array(out, dtype=np.uint16).reshape(np.shape(x))


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
