"""BFDotAdd and its parts (mlas_emu.isa.bf16) against the exact reference tests/naive.py,
plus named edge cases whose expected bits are derived by hand from the Arm ARM text."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import naive
from isa_strategies import bf16, bf16_bits, bf16_pairs_near_range_limits, f32, fp32_bits
from mlas_emu.isa import FPCR
from mlas_emu.isa.bf16 import bf_add, bf_add_fpcr, bf_dot_add, bf_dot_add_fpcr, bf_mul, bf_mul_fpcr

NAN = 0x7FC00000  # FPDefaultNaN, FPCR.AH == 0
NEG_NAN = 0xFFC00000  # FPDefaultNaN, FPCR.AH == 1
INF, NEG_INF = 0x7F800000, 0xFF800000
ONE, MINUS_ONE, ZERO16, NEG_ZERO16 = bf16(1.0), bf16(-1.0), 0x0000, 0x8000


def dot(addend, a0, a1, b0, b1, fpcr=None):
    args = (np.uint32(addend), np.uint16(a0), np.uint16(a1), np.uint16(b0), np.uint16(b1))
    got = bf_dot_add(*args) if fpcr is None else bf_dot_add_fpcr(*args, fpcr.bits)
    return int(got)


def many(*elements):
    """Lists of operand tuples: one hypothesis example checks many cases (cheap to run)."""
    return st.lists(st.tuples(*elements), min_size=1, max_size=40)


DOT_OPERANDS = many(fp32_bits(), bf16_bits(), bf16_bits(), bf16_bits(), bf16_bits())


@settings(max_examples=120, deadline=None)
@given(DOT_OPERANDS)
@example([(0x7F7FFFFF, bf16(2.0**127), 0, bf16(1.0), 0)])  # overflow of the final sum
@example([(0x00000001, ONE, 0, ONE, 0)])  # denormal addend
@example([(0x80000000, NEG_ZERO16, ZERO16, ONE, MINUS_ONE)])  # -0 + (-0 + -0)
def test_bf_dot_add_matches_exact_reference(cases):
    """Raw bit patterns of every class, against the pseudocode with exact rationals."""
    for addend, a0, a1, b0, b1 in cases:
        assert dot(addend, a0, a1, b0, b1) == naive.bf_dot_add(addend, a0, a1, b0, b1), (addend, a0, a1, b0, b1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.tuples(bf16_bits(), bf16_bits()), bf16_pairs_near_range_limits()), min_size=1, max_size=40))
@example([(bf16(2.0**-63), bf16(2.0**-64))])  # 2^-127: below 2^-126, flushed
@example([(bf16(2.0**-63), bf16(2.0**-63))])  # exactly 2^-126: kept
@example([(bf16(2.0**127), bf16(2.0))])  # 2^128: overflow
@example([(bf16(1.5 * 2.0**-64), bf16(2.0**-63))])  # 1.5 * 2^-127: flushed
def test_bf_mul_matches_exact_reference(cases):
    for op1, op2 in cases:
        assert int(bf_mul(np.uint16(op1), np.uint16(op2))) == naive.bf_mul(op1, op2), (op1, op2)


@settings(max_examples=60, deadline=None)
@given(many(fp32_bits(), fp32_bits()))
@example([(0x3F800000, 0x33800000)])  # 1 + 2^-24: off the grid, round to odd
@example([(0x7F7FFFFF, 0xF3800000)])  # max - 2^104: exponents 24 apart
@example([(0x3F800000, 0x00000001)])  # 1 + denormal (flushed)
@example([(0x3F800000, 0x0D000000)])  # exponents 100 apart: only the sign of the small one matters
@example([(0x3F800000, 0x8D000000)])
def test_bf_add_matches_exact_reference(cases):
    for op1, op2 in cases:
        assert int(bf_add(np.uint32(op1), np.uint32(op2))) == naive.bf_add(op1, op2), (op1, op2)


FPCRS = [
    FPCR(ah=True),
    FPCR(ebf=True),
    FPCR(ebf=True, rmode="RZ"),
    FPCR(ebf=True, rmode="RP", fz=True),
    FPCR(ebf=True, rmode="RM"),
    FPCR(ebf=True, fiz=True),
    FPCR(ebf=True, ah=True),
    FPCR(ebf=True, ah=True, fz=True, rmode="RM"),
    FPCR(rmode="RZ", fz=True, dn=True),  # ignored when EBF == 0
]


@pytest.mark.parametrize("fpcr", FPCRS, ids=repr)
@settings(max_examples=20, deadline=None)
@given(DOT_OPERANDS)
def test_bf_dot_add_fpcr_matches_exact_reference(fpcr, cases):
    for args in cases:
        assert dot(*args, fpcr) == naive.bf_dot_add(*args, fpcr), args


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(fp32_bits(), bf16_pairs_near_range_limits(), bf16_pairs_near_range_limits()),
                min_size=1, max_size=40))
def test_bf_dot_add_near_flush_and_overflow_thresholds(cases):
    for addend, (a0, b0), (a1, b1) in cases:
        for fpcr in (None, FPCR(ebf=True)):
            args = (addend, a0, a1, b0, b1)
            assert dot(*args, fpcr) == naive.bf_dot_add(*args, fpcr), (args, fpcr)


# Named cases. Each expected value follows from BFDotAdd (DDI0487 M.a.a: unfused, round to odd,
# fixed flush-to-zero, default NaN) worked out by hand; `naive` must agree as well.
NAMED = {
    "product_underflow_keeps_sign": ((0x80000000, bf16(-(2.0**-64)), NEG_ZERO16, bf16(2.0**-63), ONE), 0x80000000),
    "product_underflow_then_plus_zero": ((0x80000000, bf16(2.0**-64), ZERO16, bf16(2.0**-63), ONE), 0x00000000),
    "product_underflow_non_power_of_two": ((0, bf16(1.5 * 2.0**-64), ZERO16, bf16(2.0**-63), ZERO16), 0x00000000),
    "product_just_above_min_normal": ((0, bf16(1.5 * 2.0**-63), ZERO16, bf16(2.0**-63), ZERO16), 0x00C00000),
    "product_significands_carry_into_normal": ((0, bf16(1.5 * 2.0**-64), ZERO16, bf16(1.5 * 2.0**-63), ZERO16), 0x00900000),
    "product_overflow_non_power_of_two": ((0, bf16(1.5 * 2.0**127), ZERO16, bf16(-1.5), ZERO16), NEG_INF),
    "product_exactly_min_normal": ((0, bf16(2.0**-63), ZERO16, bf16(2.0**-63), ONE), 0x00800000),
    "exact_cancellation_is_plus_zero": ((f32(1.0), ONE, ZERO16, MINUS_ONE, ZERO16), 0x00000000),
    "exact_cancellation_negative_addend": ((f32(-1.0), ONE, ZERO16, ONE, ZERO16), 0x00000000),
    "product_overflow_to_inf": ((0, bf16(2.0**127), ZERO16, bf16(2.0), ONE), INF),
    "sum_overflow_to_inf": ((0x7F7FFFFF, bf16(2.0**127), ZERO16, ONE, ONE), INF),
    "negative_overflow_to_minus_inf": ((0xFF7FFFFF, bf16(-(2.0**127)), ZERO16, ONE, ONE), NEG_INF),
    "max_normal_plus_one_stays_max": ((0x7F7FFFFF, ONE, ZERO16, ONE, ZERO16), 0x7F7FFFFF),
    "inf_minus_inf": ((INF, bf16(float("-inf")), ZERO16, ONE, ZERO16), NAN),
    "zero_times_inf": ((0, ZERO16, ONE, bf16(float("inf")), ONE), NAN),
    "inf_plus_finite": ((f32(5.0), bf16(float("inf")), ONE, ONE, ONE), INF),
    "minus_zero_plus_minus_zero": ((0x80000000, NEG_ZERO16, ZERO16, ONE, MINUS_ONE), 0x80000000),
    "minus_zero_plus_plus_zero": ((0x80000000, ZERO16, ZERO16, ONE, ONE), 0x00000000),
    "denormal_addend_flushed": ((0x00000001, ZERO16, ZERO16, ONE, ONE), 0x00000000),
    "negative_denormal_addend_keeps_sign": ((0x807FFFFF, NEG_ZERO16, NEG_ZERO16, ONE, ONE), 0x80000000),
    "denormal_addend_leaves_no_sticky_bit": ((0x00000001, ONE, ZERO16, ONE, ZERO16), f32(1.0)),
    "denormal_bf16_input_flushed": ((f32(1.0), 0x0001, ZERO16, bf16(2.0**100), ZERO16), f32(1.0)),
    "on_grid_one_ulp": ((f32(1.0), bf16(2.0**-23), ZERO16, ONE, ZERO16), 0x3F800001),
    "on_grid_two_ulp": ((f32(1.0), bf16(2.0**-22), ZERO16, ONE, ZERO16), 0x3F800002),
    "half_ulp_off_grid_rounds_to_odd": ((f32(1.0), bf16(2.0**-24), ZERO16, ONE, ZERO16), 0x3F800001),
    "quarter_ulp_off_grid_rounds_to_odd": ((f32(1.0), bf16(2.0**-25), ZERO16, ONE, ZERO16), 0x3F800001),
    "below_one_on_grid": ((f32(1.0), bf16(-(2.0**-24)), ZERO16, ONE, ZERO16), 0x3F7FFFFF),
    "below_one_off_grid_truncates": ((f32(1.0), bf16(-(2.0**-25)), ZERO16, ONE, ZERO16), 0x3F7FFFFF),
    "odd_already_stays": ((f32(1.0) + 1, bf16(2.0**-25), ZERO16, ONE, ZERO16), 0x3F800001),
    # 1 + 2^-30 rounds to odd (1 + 2^-23) before -1 is added: 2^-23, not the exact 2^-30.
    "products_sum_rounded_before_addend": ((f32(-1.0), ONE, bf16(2.0**-30), ONE, ONE), 0x34000000),
    "signalling_nan_gives_default_nan": ((0, 0x7F81, ZERO16, ONE, ZERO16), NAN),
    "nan_addend_payload_dropped": ((0xFFB12345, ONE, ZERO16, ONE, ZERO16), NAN),
}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_named_case(name):
    args, expected = NAMED[name]
    assert dot(*args) == expected
    assert naive.bf_dot_add(*args) == expected


@settings(max_examples=30, deadline=None)
@given(many(bf16_bits(), bf16_bits(), fp32_bits(), fp32_bits()))
def test_fpcr_variants_of_the_parts(cases):
    for fpcr in (FPCR(), FPCR(ah=True)):
        for a, b, x, y in cases:
            assert int(bf_mul_fpcr(np.uint16(a), np.uint16(b), fpcr.bits)) == naive.bf_mul(a, b, fpcr)
            assert int(bf_add_fpcr(np.uint32(x), np.uint32(y), fpcr.bits)) == naive.bf_add(x, y, fpcr)


def test_default_nan_sign_follows_ah():
    """FPDefaultNaN honours FPCR.AH (FEAT_AFP); nothing else in the EBF == 0 path does."""
    args = (INF, bf16(float("-inf")), ZERO16, ONE, ZERO16)
    assert dot(*args, FPCR(ah=True)) == NEG_NAN
    assert dot(*args, FPCR(rmode="RM", fz=True, dn=True)) == NAN


EBF_NAMED = {
    # fused: 1 + 2^-30 rounded once (RNE) -> 1.0; the unfused form gives 1 + 2^-23
    "fused_rounds_once": ((0, ONE, bf16(2.0**-30), ONE, ONE), FPCR(ebf=True), f32(1.0)),
    "fused_round_up": ((0, ONE, bf16(2.0**-30), ONE, ONE), FPCR(ebf=True, rmode="RP"), 0x3F800001),
    "denormal_bf16_kept": ((0, 0x0001, ZERO16, bf16(2.0**100), ZERO16), FPCR(ebf=True), f32(2.0**-33)),
    "denormal_bf16_flushed_fz": ((0, 0x0001, ZERO16, bf16(2.0**100), ZERO16), FPCR(ebf=True, fz=True), 0),
    "denormal_result_kept": ((0, bf16(2.0**-70), ZERO16, bf16(2.0**-70), ZERO16), FPCR(ebf=True), 1 << 9),
    "denormal_result_flushed_fz": ((0, bf16(2.0**-70), ZERO16, bf16(2.0**-70), ZERO16), FPCR(ebf=True, fz=True), 0),
    "exact_zero_is_minus_zero_rm": ((f32(1.0), ONE, ZERO16, MINUS_ONE, ZERO16), FPCR(ebf=True, rmode="RM"), 0x80000000),
    "overflow_rz_to_max_normal": ((0x7F7FFFFF, bf16(2.0**127), ZERO16, ONE, ZERO16), FPCR(ebf=True, rmode="RZ"), 0x7F7FFFFF),
    "nan_is_default_nan_even_without_dn": ((0x7FA00001, ONE, ONE, ONE, ONE), FPCR(ebf=True), NAN),
}


@pytest.mark.parametrize("name", sorted(EBF_NAMED))
def test_ebf_named_case(name):
    args, fpcr, expected = EBF_NAMED[name]
    assert dot(*args, fpcr) == expected
    assert naive.bf_dot_add(*args, fpcr) == expected


def test_times_one_plus_zero_is_identity_or_flush():
    """All 65,536 bf16 a: a x 1.0 + 0 is a widened to fp32, +0 if a is zero or denormal
    (flushed, then -0 + +0 = +0), the default NaN if a is a NaN."""
    for a in range(1 << 16):
        got = dot(0, a, ZERO16, ONE, ZERO16)
        exp_field = (a >> 7) & 0xFF
        if exp_field == 0xFF and a & 0x7F:
            assert got == NAN, a
        elif exp_field == 0:
            assert got == 0, a
        else:
            assert got == a << 16, a
