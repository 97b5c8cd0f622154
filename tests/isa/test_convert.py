"""BFCVT / BFCVTN (mlas_emu.isa.convert): against ml_dtypes for every non-NaN class, against the
exact reference for every rounding mode and FPCR field, and NaNs against the Arm rule."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import naive
from isa_strategies import fp32_bits
from mlas_emu.isa import FPCR, bfcvt, to_bf16
from mlas_emu.isa.convert import fp_convert_bf, fp_convert_bf_fpcr


def is_nan(bits):
    return ((bits & 0x7F800000) == 0x7F800000) & ((bits & 0x7FFFFF) != 0)


def ml_dtypes_bits(bits):
    return bits.view(np.float32).astype(ml_dtypes.bfloat16).view(np.uint16)


def test_every_bf16_neighbourhood_matches_ml_dtypes():
    """Every upper half, with low halves exactly on, just below, at and just past the tie."""
    upper = np.arange(1 << 16, dtype=np.uint32) << 16
    lows = np.array([0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF], np.uint32)
    x = (upper[:, None] | lows[None, :]).reshape(-1)
    x = x[~is_nan(x)]
    got = bfcvt(x.view(np.float32)).view(np.uint16)
    np.testing.assert_array_equal(got, ml_dtypes_bits(x))


def test_random_non_nan_inputs_match_ml_dtypes():
    x = np.random.default_rng(2024).integers(0, 2**32, 2_000_000, dtype=np.uint64).astype(np.uint32)
    x = x[~is_nan(x)]
    np.testing.assert_array_equal(bfcvt(x.view(np.float32)).view(np.uint16), ml_dtypes_bits(x))


@pytest.mark.parametrize("x, expected", [
    (0x7FA00000, 0x7FE0),  # real-instruction results (signalling NaNs quieted, payload kept)
    (0x7FB12345, 0x7FF1),
    (0xFF8F0000, 0xFFCF),
    (0x7F810000, 0x7FC1),
    (0x7FC00000, 0x7FC0),
    (0xFFFFFFFF, 0xFFFF),  # quiet NaN: payload truncated, never rounded into the exponent
])
def test_nan_examples_follow_fp_convert_nan(x, expected):
    got = bfcvt(np.array([x], np.uint32))
    assert got.dtype == ml_dtypes.bfloat16
    assert int(got.view(np.uint16)[0]) == expected
    assert naive.bfcvt(x) == expected


def test_every_nan_upper_half_follows_fp_convert_nan():
    """FPConvertNaN: sign, all-ones exponent, quiet bit set, frac<21:16> kept, low bits dropped."""
    upper = np.arange(1 << 16, dtype=np.uint32) << 16
    x = (upper[:, None] | np.array([0, 1, 0x8000, 0xFFFF], np.uint32)[None, :]).reshape(-1)
    x = x[is_nan(x)]
    got = bfcvt(x.view(np.float32)).view(np.uint16).astype(np.uint32)
    np.testing.assert_array_equal(got, (x >> 16) | 0x0040)
    sample = x[:: 997]
    assert [naive.bfcvt(int(v)) for v in sample] == [int(g) for g in got[:: 997]]


FPCRS = [FPCR(rmode=m) for m in ("RNE", "RZ", "RP", "RM")] + [
    FPCR(fz=True), FPCR(fz=True, rmode="RP"), FPCR(fiz=True), FPCR(dn=True),
    FPCR(ah=True), FPCR(ah=True, rmode="RZ", dn=True), FPCR(ah=True, fz=False, rmode="RM"),
]


@pytest.mark.parametrize("fpcr", FPCRS, ids=repr)
@settings(max_examples=25, deadline=None)
@given(st.lists(fp32_bits(), min_size=1, max_size=60))
def test_matches_exact_reference(fpcr, xs):
    x = np.array(xs, np.uint32)
    got = bfcvt(x, fpcr=fpcr).view(np.uint16)
    expected = [naive.bfcvt(v, fpcr) for v in xs]
    assert got.tolist() == expected
    assert [int(fp_convert_bf_fpcr(np.uint32(v), fpcr.bits)) for v in xs] == expected


@settings(max_examples=40, deadline=None)
@given(st.lists(fp32_bits(), min_size=1, max_size=60))
def test_default_core_matches_exact_reference(xs):
    assert [int(fp_convert_bf(np.uint32(v))) for v in xs] == [naive.bfcvt(v) for v in xs]


# Rounding-mode edge cases derived by hand: 1 + 2^-8 is a tie between 1.0 (0x3F80) and
# 1 + 2^-7 (0x3F81); max normal fp32 overflows only when rounding away from zero.
@pytest.mark.parametrize("x, fpcr, expected", [
    (0x3F808000, FPCR(), 0x3F80),
    (0x3F818000, FPCR(), 0x3F82),
    (0x3F808000, FPCR(rmode="RP"), 0x3F81),
    (0xBF808000, FPCR(rmode="RP"), 0xBF80),
    (0xBF808000, FPCR(rmode="RM"), 0xBF81),
    (0x3F80FFFF, FPCR(rmode="RZ"), 0x3F80),
    (0x7F7FFFFF, FPCR(), 0x7F80),
    (0x7F7FFFFF, FPCR(rmode="RZ"), 0x7F7F),
    (0xFF7FFFFF, FPCR(rmode="RP"), 0xFF7F),
    (0xFF7FFFFF, FPCR(rmode="RM"), 0xFF80),
    (0x00400000, FPCR(), 0x0040),  # denormal kept by default
    (0x80400000, FPCR(fz=True), 0x8000),  # flushed, sign kept
    (0x00400000, FPCR(fiz=True), 0x0000),
    (0x007FFFFF, FPCR(), 0x0080),  # largest denormal rounds up to the smallest normal
    (0x007FFFFF, FPCR(ah=True), 0x0000),  # AH: input denormals flushed
    (0x00800001, FPCR(ah=True, rmode="RP"), 0x0080),  # AH forces RNE
    (0x7FA00000, FPCR(dn=True), 0x7FC0),
    (0x7FA00000, FPCR(dn=True, ah=True), 0xFFC0),
])
def test_fpcr_examples(x, fpcr, expected):
    assert int(bfcvt(np.array([x], np.uint32), fpcr=fpcr).view(np.uint16)[0]) == expected
    assert naive.bfcvt(x, fpcr) == expected


def test_shape_dtype_and_no_aliasing():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
    before = x.copy()
    got = bfcvt(x)
    assert got.shape == x.shape and got.dtype == ml_dtypes.bfloat16
    assert not np.shares_memory(got, x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(got.view(np.uint16), bfcvt(x.view(np.uint32)).view(np.uint16))
    np.testing.assert_array_equal(to_bf16(x).view(np.uint16), got.view(np.uint16))
    x_strided = np.arange(40, dtype=np.float32)[::3]
    np.testing.assert_array_equal(bfcvt(x_strided).view(np.uint16), ml_dtypes_bits(x_strided.view(np.uint32)))


@pytest.mark.parametrize("bad, error, match", [
    (np.zeros(3, np.float64), TypeError, "float32"),
    (np.zeros(3, np.int32), TypeError, "uint32 bit patterns"),
    ([1.0, 2.0], TypeError, "numpy.ndarray"),
    (1.5, TypeError, "numpy.ndarray"),
])
def test_bad_input(bad, error, match):
    with pytest.raises(error, match=match):
        bfcvt(bad)


def test_bad_fpcr():
    with pytest.raises(TypeError, match="FPCR"):
        bfcvt(np.zeros(2, np.float32), fpcr={"rmode": "RZ"})
    with pytest.raises(ValueError, match="rmode"):
        FPCR(rmode="RNA")
