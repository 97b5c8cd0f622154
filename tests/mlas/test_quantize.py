"""Output processors and A's dynamic quantization against exact rational arithmetic.

Reference: ``fractions.Fraction`` values rounded once to binary32 (nearest, ties to even,
overflow to infinity), transliterating the float operations the Arm build performs
(``qpostprocessor.cpp``, ``quantize.cpp``, ``qmath.h``). The real-Arm checks of the same code
paths run through DynamicQuantizeMatMul / QLinearMatMul in ``tests/ort/test_quantization.py``.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu.mlas.quantize import (fmaf, quantization_parameters_u8, quantize_linear, requantize_output,
                                    scale_bias_output)

F32_MAX = Fraction(float(np.finfo(np.float32).max))
OVERFLOW = F32_MAX + Fraction(2) ** 103  # halfway between FLT_MAX and 2^128


def round_f32(x: Fraction) -> np.float32:
    """Nearest binary32 to the exact value x, ties to even; overflow to a signed infinity."""
    if abs(x) >= OVERFLOW:
        return np.float32(np.inf if x > 0 else -np.inf)
    guess = np.float32(float(x)) if abs(x) <= F32_MAX else np.float32(np.copysign(np.finfo(np.float32).max, float(x)))
    best = None
    for cand in (np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))):
        if not np.isfinite(cand):
            continue
        d = abs(Fraction(float(cand)) - x)
        even = int(np.array(cand, np.float32).view(np.uint32)) & 1 == 0
        if best is None or d < best[0] or (d == best[0] and even):
            best = (d, cand)
    value = best[1]
    if value == 0:  # an underflow keeps the sign of the exact value; exact zeros: see fma_ref
        return np.float32(-0.0 if x < 0 else 0.0)
    return np.float32(value)


def fma_ref(a, b, c) -> np.float32:
    """IEEE 754 fusedMultiplyAdd in binary32, round to nearest even, for finite inputs."""
    a, b, c = np.float32(a), np.float32(b), np.float32(c)
    exact = f32(a) * f32(b) + f32(c)
    if exact == 0:
        product_negative = bool(np.signbit(a)) != bool(np.signbit(b))
        if f32(a) * f32(b) == 0 and f32(c) == 0 and product_negative == bool(np.signbit(c)):
            return np.float32(-0.0 if product_negative else 0.0)  # zeros of one sign keep it
        return np.float32(0.0)  # otherwise an exact zero sum is +0
    return round_f32(exact)


def f32(x):
    return Fraction(float(np.float32(x)))


finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(a=finite_f32, b=finite_f32, c=finite_f32)
@example(a=1.0 + 2**-23, b=1.0 - 2**-24, c=-1.0)  # product needs 48 bits; one rounding
@example(a=2**-149, b=0.5, c=2**-149)  # subnormal halfway
@example(a=3.0e38, b=2.0, c=-3.0e38)  # intermediate beyond FLT_MAX, exact result finite
@example(a=1.0, b=1.0, c=-1.0)  # exact zero: +0
@example(a=0.0, b=-0.0, c=-0.0)  # -0 + -0 = -0
@example(a=-1e-30, b=1e-30, c=0.0)  # underflow keeps the sign: -0
def test_fmaf_rounds_once(a, b, c):
    got = fmaf(np.float32(a), np.float32(b), np.float32(c))
    expected = fma_ref(a, b, c)
    assert got.view(np.uint32) == np.float32(expected).view(np.uint32), (a, b, c, got, expected)


def test_fmaf_double_rounding_case():
    """float32(float64 sum) would round twice here; the fused result differs in the last bit."""
    a = np.float32(1 + 2**-12)
    b = np.float32(1 + 2**-12)  # a*b = 1 + 2^-11 + 2^-24 exactly
    c = np.float32(2**-50)
    expected = round_f32(f32(a) * f32(b) + f32(c))
    assert fmaf(a, b, c) == expected
    assert fmaf(a, b, c) != np.float32(np.float32(a) * np.float32(b) + c)


acc_values = st.integers(-(2**31), 2**31 - 1)
positive_scale = st.floats(min_value=2.0**-100, max_value=2.0**33, width=32)


@settings(max_examples=200, deadline=None)
@given(acc=acc_values, scale=positive_scale, bias=st.one_of(st.none(), finite_f32))
@example(acc=2**31 - 1, scale=1.0, bias=None)
@example(acc=16777217, scale=1.0, bias=0.5)  # float(acc) rounds (to even) before the FMA
def test_scale_bias_output(acc, scale, bias):
    got = scale_bias_output(np.array([acc], np.int32), np.float32(scale),
                            None if bias is None else np.array([bias], np.float32))[0]
    facc = round_f32(Fraction(acc))
    if bias is None:
        expected = round_f32(Fraction(float(facc)) * f32(scale)) if acc else np.float32(0.0)
    else:
        expected = fma_ref(facc, scale, bias)
    assert got.view(np.uint32) == np.float32(expected).view(np.uint32)


def test_scale_bias_output_per_column():
    acc = np.array([[3, -7, 11]], np.int32)
    scale = np.array([0.5, 0.25, 0.1], np.float32)
    bias = np.array([1.0, 2.0, 3.0], np.float32)
    got = scale_bias_output(acc, scale, bias)
    for j in range(3):
        assert got[0, j] == round_f32(Fraction(int(acc[0, j])) * f32(scale[j]) + f32(bias[j]))


@settings(max_examples=200, deadline=None)
@given(acc=acc_values, scale=st.floats(min_value=2.0**-40, max_value=1024.0, width=32), zp=st.integers(0, 255),
       signed=st.booleans())
@example(acc=5, scale=0.5, zp=0, signed=False)  # 2.5 -> 2 (ties to even)
@example(acc=7, scale=0.5, zp=0, signed=False)  # 3.5 -> 4
@example(acc=2**31 - 1, scale=1000.0, zp=10, signed=True)  # saturates
def test_requantize_output(acc, scale, zp, signed):
    dtype = np.int8 if signed else np.uint8
    zp = zp - 128 if signed else zp
    got = requantize_output(np.array([acc], np.int32), np.float32(scale), zp, dtype)[0]
    product = round_f32(Fraction(float(round_f32(Fraction(acc)))) * f32(scale))
    r = Fraction(float(product))
    n = int(np.rint(float(product))) if abs(r) < 2**31 else (2**31 - 1 if r > 0 else -(2**31))
    n = max(-32768, min(32767, n))
    n = max(-32768, min(32767, n + zp))
    info = np.iinfo(dtype)
    assert int(got) == max(info.min, min(info.max, n))


def ref_quantization_parameters(values):
    lo = min(min(float(v) for v in values), 0.0)
    hi = max(max(float(v) for v in values), 0.0)
    if hi == lo:
        scale = np.float32(1.0)
    else:
        scale = round_f32(f32(round_f32(Fraction(hi) - Fraction(lo))) / 255)
    if scale == 0:  # (max - min) / 255 underflowed: min / 0 is NaN or -inf, both clamp to 255
        return scale, 255
    initial = round_f32(-f32(round_f32(Fraction(lo) / f32(scale))))
    clamped = min(max(Fraction(float(initial)), Fraction(0)), Fraction(255))
    zp = round(clamped)  # Python's round: ties to even
    return scale, int(zp)


values_f32 = st.lists(st.floats(min_value=-2.0**20, max_value=2.0**20, width=32), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(values=values_f32)
@example(values=[0.0, 0.0])
@example(values=[1.0, 2.0, 3.0])  # all positive: min widened to 0
@example(values=[-5.0, -1.0])  # all negative: zp = 255
@example(values=[-1.0, 1.0])  # zp = 127.5 -> 128 (ties to even)
@example(values=[1.401298464324817e-45])  # the scale underflows to 0
def test_quantization_parameters_u8(values):
    a = np.array(values, np.float32)
    scale, zp = quantization_parameters_u8(a)
    ref_scale, ref_zp = ref_quantization_parameters(a)
    assert np.float32(scale).view(np.uint32) == np.float32(ref_scale).view(np.uint32)
    assert zp == ref_zp


@settings(max_examples=200, deadline=None)
@given(values=values_f32, scale=st.floats(min_value=2.0**-20, max_value=2.0**14, width=32), zp=st.integers(0, 255))
@example(values=[2.5, 3.5, -0.5], scale=1.0, zp=0)
def test_quantize_linear_u8(values, scale, zp):
    a = np.array(values, np.float32)
    got = quantize_linear(a, np.float32(scale), zp, np.uint8)
    for x, g in zip(a, got):
        q = Fraction(float(round_f32(f32(x) / f32(scale))))
        q = min(max(q, Fraction(-zp)), Fraction(255 - zp))
        assert int(g) == round(q) + zp


def test_quantize_linear_nan_maps_to_qmin():
    got = quantize_linear(np.array([np.nan, 1.0], np.float32), np.float32(1.0), 7, np.uint8)
    assert got.tolist() == [0, 8]


def test_inputs_not_modified():
    acc = np.array([1, 2, 3], np.int32)
    bias = np.ones(3, np.float32)
    a = np.array([1.5, -2.0], np.float32)
    copies = [acc.copy(), bias.copy(), a.copy()]
    scale_bias_output(acc, np.float32(0.5), bias)
    requantize_output(acc, np.float32(0.5), 3, np.uint8)
    quantize_linear(a, *quantization_parameters_u8(a))
    for x, y in zip((acc, bias, a), copies):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("out_dtype", [np.uint8, np.int8])
def test_requantize_per_column_scale(out_dtype):
    acc = np.array([[100, 100]], np.int32)
    got = requantize_output(acc, np.array([0.5, 0.25], np.float32), 0, out_dtype)
    assert got.tolist() == [[50, 25]]


def test_min_max_nan_in_vector_part_wins_nan_in_tail_is_skipped():
    """MlasReduceMinimumMaximumF32Kernel: FMIN/FMAX over 4-wide vectors, std::min/max on the tail."""
    from mlas_emu.mlas.quantize import reduce_min_max_f32

    x = np.array([1.0, -2.0, 3.0, 0.5, 7.0, -9.0], np.float32)  # tail: the last 2
    assert reduce_min_max_f32(x) == (np.float32(-9.0), np.float32(7.0))
    y = x.copy()
    y[5] = np.nan
    assert reduce_min_max_f32(y) == (np.float32(-2.0), np.float32(7.0))
    y = x.copy()
    y[1] = np.nan
    lo, hi = reduce_min_max_f32(y)
    assert np.isnan(lo) and np.isnan(hi)
    z = np.array([np.inf, np.inf], np.float32)  # scalar path only: std::min(FLT_MAX, inf)
    assert reduce_min_max_f32(z) == (np.finfo(np.float32).max, np.float32(np.inf))
