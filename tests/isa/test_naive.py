"""The exact reference itself, on values worked out by hand from the Arm ARM text, so that
tests/naive.py is not only checked against the code it checks."""

from __future__ import annotations

from fractions import Fraction

import naive
from isa_strategies import bf16, f32


def test_normalize_real():
    assert naive.normalize_real(Fraction(3)) == (Fraction(3, 2), 1)
    assert naive.normalize_real(Fraction(1, 3)) == (Fraction(4, 3), -2)
    assert naive.normalize_real(Fraction(2) ** -200) == (Fraction(1), -200)


def test_bf_round_is_round_to_odd_with_fixed_flush():
    one = Fraction(1)
    assert naive.bf_round(one) == 0x3F800000
    assert naive.bf_round(one + Fraction(1, 2**24)) == 0x3F800001  # inexact: bit 0 forced to 1
    assert naive.bf_round(one + Fraction(3, 2**24)) == 0x3F800001  # truncates to 1+2^-23 (odd)
    assert naive.bf_round(one + Fraction(5, 2**24)) == 0x3F800003  # truncates to 1+2^-22, then odd
    assert naive.bf_round(-(Fraction(2) ** -127)) == 0x80000000  # below 2^-126: signed zero
    assert naive.bf_round(Fraction(2) ** 128) == 0x7F800000  # overflow: infinity
    assert naive.bf_round(Fraction(2) ** 128 - Fraction(2) ** 100) == 0x7F7FFFFF


def test_fp_round_base_modes():
    x = Fraction(1) + Fraction(1, 2**8)  # a bf16 tie
    fpcr = naive.DEFAULT_FPCR
    assert naive.fp_round_base(x, fpcr, naive.TIEEVEN, True) == 0x3F800000
    assert naive.fp_round_base(x, fpcr, naive.POSINF, True) == 0x3F810000
    assert naive.fp_round_base(-x, fpcr, naive.NEGINF, True) == 0xBF810000
    assert naive.fp_round_base(Fraction(2) ** -149, fpcr, naive.TIEEVEN, False) == 0x00000001  # denormal kept


def test_bf_dot_add_small_exact():
    assert naive.bf_dot_add(f32(1.0), bf16(2.0), bf16(3.0), bf16(4.0), bf16(5.0)) == f32(24.0)


def test_fp_convert_nan():
    assert naive.fp_convert_nan(0x7FA00000) == 0x7FE00000
    assert naive.fp_convert_nan(0xFF812345) == 0xFFC12345


def test_integer_reference():
    ones = [1] * 16
    assert naive.mat_mul_add([0, 0, 0, 0], [255] * 16, ones, False, False) == [(2**32 - 8)] * 4
    assert naive.mat_mul_add([0, 0, 0, 0], [255] * 16, ones, True, False) == [8 * 255] * 4
    assert naive.dot_add([2**32 - 1, 0, 0, 0], [1] * 16, [1] * 16, True, True) == [3, 4, 4, 4]
