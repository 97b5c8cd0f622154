"""FMLA (vector) and the FPMulAdd / FPMul cores (mlas_emu.isa.fp32) against the exact reference
tests/naive.py (Arm ARM DDI0487 M.a.a FPMulAdd, FPMul, written with Fractions)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import naive
from isa_strategies import f32, fp32_bits
from mlas_emu.isa import FPCR, fmla
from mlas_emu.isa.fp32 import fp_mul_add_fpcr, fp_mul_fpcr

#: every class: signed zeros, smallest/largest denormals and normals, one, infinities,
#: quiet and signalling NaNs with payloads
SPECIALS = [0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000, 0xFF7FFFFF, 0x3F800000,
            0xBF800001, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC12345, 0x7F800001, 0xFFA00000]
FPCRS = [FPCR(), FPCR(fz=True), FPCR(dn=True), FPCR(fz=True, dn=True), FPCR(rmode="RZ"),
         FPCR(rmode="RP"), FPCR(rmode="RM", fz=True), FPCR(fiz=True)]
words = st.one_of(fp32_bits(), st.sampled_from(SPECIALS), st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("fpcr", FPCRS, ids=repr)
def test_special_triples_match_reference(fpcr):
    bits = fpcr.bits
    bad = [(a, x, y) for a, x, y in itertools.product(SPECIALS, repeat=3)
           if fp_mul_add_fpcr(a, x, y, bits) != naive.fp_mul_add(a, x, y, fpcr)]
    assert bad == []
    bad = [(x, y) for x, y in itertools.product(SPECIALS, repeat=2)
           if fp_mul_fpcr(x, y, bits) != naive.fp_mul(x, y, fpcr)]
    assert bad == []


@pytest.mark.parametrize("fpcr", FPCRS, ids=repr)
@settings(max_examples=150, deadline=None)
@given(words, words, words)
@example(f32(1.0), 0x33800000, 0x3F800001)  # 1 + 2**-24*(1+2**-23): the double-rounding trap
@example(0x00000001, 0x00000001, 0x3F000000)  # denormal + half a denormal
@example(0x00800000, 0x80800000, 0x3F7FFFFF)  # result just below the normal range (FZ flushes)
@example(0x7F7FFFFF, 0x7F7FFFFF, f32(1.0))  # overflow: inf or max normal by rounding mode
@example(f32(1.0), f32(-1.0), f32(1.0))  # exact zero: +0, or -0 rounding toward minus
def test_fp_mul_add_matches_reference(fpcr, addend, op1, op2):
    assert fp_mul_add_fpcr(addend, op1, op2, fpcr.bits) == naive.fp_mul_add(addend, op1, op2, fpcr)


@pytest.mark.parametrize("fpcr", FPCRS[:5], ids=repr)
@settings(max_examples=100, deadline=None)
@given(words, words)
@example(0x00000001, 0x3F000000)
@example(0x00FFFFFF, 0x3F000001)
def test_fp_mul_matches_reference(fpcr, op1, op2):
    assert fp_mul_fpcr(op1, op2, fpcr.bits) == naive.fp_mul(op1, op2, fpcr)


@st.composite
def registers(draw, max_segments=3):
    s = draw(st.integers(1, max_segments))
    return tuple(np.array(draw(st.lists(words, min_size=4 * s, max_size=4 * s)), np.uint32)
                 for _ in range(3))


@settings(max_examples=40, deadline=None)
@given(registers(), st.sampled_from(FPCRS + [None]))
def test_fmla_matches_reference(regs, fpcr):
    vd, vn, vm = regs
    got = fmla(vd.view(np.float32), vn.view(np.float32), vm.view(np.float32), fpcr=fpcr)
    assert got.dtype == np.float32 and got.shape == vd.shape
    assert got.view(np.uint32).tolist() == naive.fmla(vd, vn, vm, fpcr)


def test_fmla_is_fused():
    """(1 + 2**-12)**2 - (1 + 2**-11) = 2**-24: lost if the product were rounded first."""
    x = np.full(4, 1 + 2.0**-12, np.float32)
    got = fmla(np.full(4, -(1 + 2.0**-11), np.float32), x, x)
    assert got.tolist() == [2.0**-24] * 4


@pytest.mark.parametrize("addend,op1,op2,rmode,want", [
    # 1 + (2^-24 + 2^-47): just above the tie between 1 and 1 + 2^-23, the addend 24 binades
    # above the product's low bits (the sticky path of exact_add): rounds up.
    (0x3F800000, 0x3F800001, 0x33800000, "RNE", 0x3F800001),
    # 1 + (2^-24 - 2^-48): just below the tie: stays at 1.
    (0x3F800000, 0x3F7FFFFF, 0x33800000, "RNE", 0x3F800000),
    # 1 - 2^-70 toward zero: the largest fp32 below 1; toward plus infinity: 1.
    (0x3F800000, 0x9C800000, 0x3F800000, "RZ", 0x3F7FFFFF),
    (0x3F800000, 0x9C800000, 0x3F800000, "RP", 0x3F800000),
    # 2^-60 + 2^100 * 2^-149 (a denormal op2): 2^-49 * (1 + 2^-11), exact in fp32.
    (0x21800000, 0x71800000, 0x00000001, "RNE", 0x27001000),
])
def test_fused_sums_far_apart_by_hand(addend, op1, op2, rmode, want):
    """Expected bits derived by hand from the exact sum (not from the code under test)."""
    assert int(fp_mul_add_fpcr(addend, op1, op2, FPCR(rmode=rmode).bits)) == want
    assert naive.fp_mul_add(addend, op1, op2, FPCR(rmode=rmode)) == want


def test_broadcasting_bit_patterns_and_inputs_untouched():
    rng = np.random.default_rng(6)
    vd = rng.standard_normal((3, 1, 8)).astype(np.float32)
    vn = rng.standard_normal((1, 5, 8)).astype(np.float32)
    vm = rng.integers(0, 2**32, 8, dtype=np.uint64).astype(np.uint32)
    copies = [x.copy() for x in (vd, vn, vm)]
    got = fmla(vd, vn, vm)
    assert got.shape == (3, 5, 8) and got.dtype == np.float32
    for x, c in zip((vd, vn, vm), copies):
        np.testing.assert_array_equal(x.view(np.uint8), c.view(np.uint8))
        assert not np.shares_memory(got, x)
    typed = fmla(vd.view(np.uint32), vn.view(np.uint32), vm.view(np.float32))
    np.testing.assert_array_equal(got.view(np.uint32), typed.view(np.uint32))
    for i, j in itertools.product(range(3), range(5)):
        expected = naive.fmla(vd[i, 0].view(np.uint32), vn[0, j].view(np.uint32), vm)
        assert got[i, j].view(np.uint32).tolist() == expected


F32 = np.zeros(4, np.float32)


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.zeros(4, np.float64), F32, F32), {}, TypeError, "vd must be a float32 array"),
    ((F32, np.zeros(4, np.int32), F32), {}, TypeError, "vn must be a float32 array"),
    ((F32, F32, [0.0] * 4), {}, TypeError, "vm must be a numpy.ndarray"),
    ((np.zeros(3, np.float32), F32, F32), {}, ValueError, "vd must have 4\\*s lanes"),
    ((np.zeros(8, np.float32), F32, F32), {}, ValueError, "different numbers of 128-bit segments"),
    ((np.zeros((2, 4), np.float32), np.zeros((3, 4), np.float32), F32), {}, ValueError, "do not broadcast"),
    ((np.zeros((), np.float32), F32, F32), {}, ValueError, "0-d"),
    ((F32, F32, F32), {"fpcr": "RNE"}, TypeError, "fpcr must be"),
    ((F32, F32, F32), {"fpcr": FPCR(ah=True)}, ValueError, "FPCR.AH"),
])
def test_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fmla(*args, **kwargs)
