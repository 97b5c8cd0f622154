"""BFMMLA and BFDOT on registers (mlas_emu.isa.bfloat): lanes, SVE segments, broadcasting,
bit-pattern operands and bad input, against the exact reference tests/naive.py."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import naive
from isa_strategies import bf16, bf16_bits, f32, fp32_bits
from mlas_emu.isa import FPCR, bfdot, bfmmla

NAIVE = {"bfmmla": naive.bfmmla, "bfdot": naive.bfdot}
FUNCS = {"bfmmla": bfmmla, "bfdot": bfdot}


@st.composite
def registers(draw, max_segments=2):
    s = draw(st.integers(1, max_segments))
    vd = draw(st.lists(fp32_bits(), min_size=4 * s, max_size=4 * s))
    vn = draw(st.lists(bf16_bits(), min_size=8 * s, max_size=8 * s))
    vm = draw(st.lists(bf16_bits(), min_size=8 * s, max_size=8 * s))
    return np.array(vd, np.uint32), np.array(vn, np.uint16), np.array(vm, np.uint16)


@pytest.mark.parametrize("name", sorted(FUNCS))
@settings(max_examples=35, deadline=None)
@given(st.lists(registers(), min_size=1, max_size=4))
def test_matches_exact_reference(name, regs):
    for vd, vn, vm in regs:
        got = FUNCS[name](vd.view(np.float32), vn.view(ml_dtypes.bfloat16), vm.view(ml_dtypes.bfloat16))
        assert got.dtype == np.float32 and got.shape == vd.shape
        assert got.view(np.uint32).tolist() == NAIVE[name](vd, vn, vm)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("fpcr", [FPCR(ebf=True), FPCR(ebf=True, rmode="RM", fz=True), FPCR(ah=True)], ids=repr)
@settings(max_examples=15, deadline=None)
@given(registers())
def test_fpcr_matches_exact_reference(name, fpcr, regs):
    vd, vn, vm = regs
    got = FUNCS[name](vd, vn, vm, fpcr=fpcr)
    assert got.view(np.uint32).tolist() == NAIVE[name](vd, vn, vm, fpcr)


def test_bfmmla_lane_layout_is_a_2x4_by_4x2_product():
    """vn = A row-major (lane 4i+k), vm = B transposed (lane 4j+k), vd = C row-major (2i+j).

    Small integers keep every step exact, so the result is the ordinary C + A @ B.
    """
    A = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float32)
    B = np.array([[1, -1], [10, 0], [100, 2], [1000, 0.5]], np.float32)
    C = np.array([[0.5, 0], [0, -3]], np.float32)
    vn = A.reshape(8).astype(ml_dtypes.bfloat16)
    vm = B.T.reshape(8).astype(ml_dtypes.bfloat16)
    got = bfmmla(C.reshape(4), vn, vm)
    np.testing.assert_array_equal(got.reshape(2, 2), C + A @ B)


def test_bfmmla_chains_k_pairs_in_order():
    """C[0,0] = BFDotAdd(BFDotAdd(c, A00, A01, B00, B10), A02, A03, B20, B30): with c = 1,
    the first pair adds 2^-24 (rounded to odd: 1 + 2^-23) and the second pair -1, so the
    result is 2^-23; the other order (k = 2, 3 first) would give 2^-24 exactly."""
    vd = np.array([f32(1.0), 0, 0, 0], np.uint32)
    vn = np.array([bf16(2.0**-24), 0, bf16(-1.0), 0, 0, 0, 0, 0], np.uint16)
    vm = np.array([bf16(1.0), 0, bf16(1.0), 0, 0, 0, 0, 0], np.uint16)
    got = bfmmla(vd, vn, vm).view(np.uint32)
    assert got[0] == f32(2.0**-23)


def test_bfdot_lane_layout():
    vn = np.arange(1, 9, dtype=np.float32).astype(ml_dtypes.bfloat16)
    vm = np.array([1, 10, 1, 10, 1, 10, 1, 10], np.float32).astype(ml_dtypes.bfloat16)
    got = bfdot(np.array([0, 1, 2, 3], np.float32), vn, vm)
    np.testing.assert_array_equal(got, [21, 1 + 43, 2 + 65, 3 + 87])


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_sve_segments_are_independent(name):
    rng = np.random.default_rng(3)
    vd = rng.standard_normal((5, 12)).astype(np.float32)
    vn = rng.standard_normal((5, 24)).astype(ml_dtypes.bfloat16)
    vm = rng.standard_normal((5, 24)).astype(ml_dtypes.bfloat16)
    got = FUNCS[name](vd, vn, vm)
    for s in range(3):
        part = FUNCS[name](vd[:, 4 * s:4 * s + 4], vn[:, 8 * s:8 * s + 8], vm[:, 8 * s:8 * s + 8])
        np.testing.assert_array_equal(got[:, 4 * s:4 * s + 4].view(np.uint32), part.view(np.uint32))


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_broadcasting_and_inputs_untouched(name):
    rng = np.random.default_rng(4)
    vd = rng.standard_normal((3, 1, 4)).astype(np.float32)
    vn = rng.standard_normal((1, 5, 8)).astype(ml_dtypes.bfloat16)
    vm = rng.standard_normal((8,)).astype(ml_dtypes.bfloat16)
    copies = [x.copy() for x in (vd, vn, vm)]
    got = FUNCS[name](vd, vn, vm)
    assert got.shape == (3, 5, 4) and got.dtype == np.float32
    for x, c in zip((vd, vn, vm), copies):
        np.testing.assert_array_equal(x.view(np.uint8), c.view(np.uint8))
        assert not np.shares_memory(got, x)
    for i in range(3):
        for j in range(5):
            expected = NAIVE[name](vd[i, 0].view(np.uint32), vn[0, j].view(np.uint16), vm.view(np.uint16))
            assert got[i, j].view(np.uint32).tolist() == expected


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_bit_patterns_equal_typed_operands(name):
    rng = np.random.default_rng(5)
    vd = rng.integers(0, 2**32, (50, 4), dtype=np.uint64).astype(np.uint32)
    vn = rng.integers(0, 2**16, (50, 8)).astype(np.uint16)
    vm = rng.integers(0, 2**16, (50, 8)).astype(np.uint16)
    a = FUNCS[name](vd, vn, vm)
    b = FUNCS[name](vd.view(np.float32), vn.view(ml_dtypes.bfloat16), vm.view(ml_dtypes.bfloat16))
    assert a.dtype == b.dtype == np.float32
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))


def test_in_place_style_call_returns_new_array():
    vd = np.ones(4, np.float32)
    vn = np.ones(8, ml_dtypes.bfloat16)
    out = bfmmla(vd, vn, vn)
    assert out is not vd and vd.tolist() == [1, 1, 1, 1] and out.tolist() == [5, 5, 5, 5]


F32, BF = np.zeros(4, np.float32), np.zeros(8, ml_dtypes.bfloat16)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("args, error, match", [
    ((np.zeros(4, np.float64), BF, BF), TypeError, "vd must be a float32 array"),
    ((F32, np.zeros(8, np.float32), BF), TypeError, "vn must be a ml_dtypes.bfloat16 array"),
    ((F32, BF, np.zeros(8, np.int16)), TypeError, "vm must be a ml_dtypes.bfloat16"),
    (([0.0] * 4, BF, BF), TypeError, "vd must be a numpy.ndarray"),
    ((np.zeros(3, np.float32), BF, BF), ValueError, "vd must have 4\\*s lanes"),
    ((F32, np.zeros(6, ml_dtypes.bfloat16), BF), ValueError, "vn must have 8\\*s lanes"),
    ((np.zeros(8, np.float32), BF, BF), ValueError, "different numbers of 128-bit segments"),
    ((np.zeros((2, 4), np.float32), np.zeros((3, 8), ml_dtypes.bfloat16), BF), ValueError, "do not broadcast"),
    ((np.float32(0), BF, BF), TypeError, "numpy.ndarray"),
    ((np.zeros((), np.float32), BF, BF), ValueError, "0-d"),
    ((np.zeros((2, 0), np.float32), BF, BF), ValueError, "4\\*s lanes"),
])
def test_bad_input(name, args, error, match):
    with pytest.raises(error, match=match):
        FUNCS[name](*args)


def test_bad_fpcr():
    with pytest.raises(TypeError, match="fpcr must be"):
        bfmmla(F32, BF, BF, fpcr="RNE")
