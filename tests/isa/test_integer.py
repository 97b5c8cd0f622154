"""SMMLA, UMMLA, USMMLA, SDOT, UDOT, USDOT (mlas_emu.isa.integer) against an int64 NumPy
reference wrapped to 32 bits, with accumulators near +/-2^31, and against tests/naive.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import naive
from integer_reference import INTEGER_FORMS, integer_reference
from mlas_emu import isa

FORMS = INTEGER_FORMS
NEAR_WRAP = np.array([2**31 - 1, 2**31 - 2, -2**31, -2**31 + 1, 2**31 - 40000, -2**31 + 40000, 0, -1],
                     np.int64)


def numpy_reference(name, vd, vn, vm):
    """int64 arithmetic, then wrapped to 32 bits: the plain-matrix view of each instruction."""
    return integer_reference(vd, vn, vm, FORMS[name][3]).view(np.dtype(FORMS[name][0]))


def draw_operands(rng, name, batch, s):
    vd_t, vn_t, vm_t, _ = FORMS[name]
    pick = rng.integers(0, 2, batch + (4 * s,)) == 0
    vd = np.where(pick, rng.choice(NEAR_WRAP, batch + (4 * s,)), rng.integers(-2**31, 2**31, batch + (4 * s,)))
    vd = vd.astype(np.int64).astype(np.uint32).view(vd_t)
    extremes = np.array([0, 1, 127, 128, 255], np.uint8)
    shape = batch + (16 * s,)

    def byte_lanes(dtype):  # half extremes, half uniform bytes
        return np.where(rng.integers(0, 2, shape) == 0, rng.choice(extremes, shape),
                        rng.integers(0, 256, shape)).astype(np.uint8).view(dtype)

    return vd, byte_lanes(vn_t), byte_lanes(vm_t)


@pytest.mark.parametrize("name", sorted(FORMS))
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), s=st.integers(1, 4), rows=st.integers(1, 9))
def test_matches_wrapped_int64_reference(name, seed, s, rows):
    vd, vn, vm = draw_operands(np.random.default_rng(seed), name, (rows,), s)
    got = getattr(isa, name)(vd, vn, vm)
    assert got.dtype == FORMS[name][0] and got.shape == vd.shape
    np.testing.assert_array_equal(got, numpy_reference(name, vd, vn, vm))


@pytest.mark.parametrize("name", sorted(FORMS))
def test_matches_exact_reference(name):
    vd, vn, vm = draw_operands(np.random.default_rng(7), name, (40,), 1)
    got = getattr(isa, name)(vd, vn, vm).view(np.uint32)
    unsigned = (FORMS[name][1] == np.uint8, FORMS[name][2] == np.uint8)
    ref = naive.mat_mul_add if FORMS[name][3] else naive.dot_add
    for r in range(40):
        assert got[r].tolist() == ref(vd[r].view(np.uint32), vn[r], vm[r], *unsigned)


def test_wraps_at_both_ends():
    """Hand-computed: 2^31 - 1 + 8*127*127 wraps to negative, -2^31 - 8*128*127 to positive."""
    vd = np.array([2**31 - 1, 0, -2**31, -2**31], np.int32)
    vn = np.concatenate([np.full(8, 127, np.int8), np.full(8, -128, np.int8)])  # A rows: 127s, -128s
    vm = np.full(16, 127, np.int8)  # B: all 127
    got = isa.smmla(vd, vn, vm)
    assert got.tolist() == [2**31 - 1 + 129032 - 2**32, 129032, -2**31 - 130048 + 2**32, -2**31 - 130048 + 2**32]
    u = isa.ummla(np.full(4, 2**32 - 1, np.uint32), np.full(16, 255, np.uint8), np.full(16, 255, np.uint8))
    assert u.tolist() == [8 * 255 * 255 - 1] * 4
    d = isa.sdot(np.array([2**31 - 1, -2**31, 5, 0], np.int32), np.full(16, -128, np.int8), np.full(16, -128, np.int8))
    assert d.tolist() == [2**31 - 1 + 65536 - 2**32, -2**31 + 65536, 5 + 65536, 65536]


def test_matrix_layout():
    """vn lane 8i+k = A[i,k], vm lane 8j+k = B[k,j], vd lane 2i+j = C[i,j]."""
    A = np.arange(16, dtype=np.int8).reshape(2, 8)
    B = (np.arange(16, dtype=np.int8).reshape(8, 2) - 8)
    C = np.array([[1, 2], [3, 4]], np.int32)
    got = isa.smmla(C.reshape(4), A.reshape(16), B.T.reshape(16))
    np.testing.assert_array_equal(got.reshape(2, 2), C + A.astype(np.int32) @ B.astype(np.int32))


@pytest.mark.parametrize("name", sorted(FORMS))
def test_other_accumulator_type_is_taken_as_bits(name):
    vd, vn, vm = draw_operands(np.random.default_rng(8), name, (6,), 2)
    other = np.uint32 if FORMS[name][0] == np.int32 else np.int32
    a = getattr(isa, name)(vd, vn, vm)
    b = getattr(isa, name)(vd.view(other), vn, vm)
    assert b.dtype == FORMS[name][0]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(FORMS))
def test_broadcasting_and_inputs_untouched(name):
    rng = np.random.default_rng(9)
    vd, _, _ = draw_operands(rng, name, (4, 1), 1)
    _, vn, _ = draw_operands(rng, name, (1, 3), 1)
    _, _, vm = draw_operands(rng, name, (), 1)
    copies = [x.copy() for x in (vd, vn, vm)]
    got = getattr(isa, name)(vd, vn, vm)
    assert got.shape == (4, 3, 4)
    for x, c in zip((vd, vn, vm), copies):
        np.testing.assert_array_equal(x, c)
        assert not np.shares_memory(got, x)
    full = [np.broadcast_to(x, (4, 3) + x.shape[-1:]) for x in (vd, vn, vm)]
    np.testing.assert_array_equal(got, numpy_reference(name, *full))


I32, I8, U8 = np.zeros(4, np.int32), np.zeros(16, np.int8), np.zeros(16, np.uint8)


@pytest.mark.parametrize("call, error, match", [
    (lambda: isa.smmla(I32, U8, I8), TypeError, "vn must be a int8 array"),
    (lambda: isa.ummla(I32, I8, U8), TypeError, "vn must be a uint8 array"),
    (lambda: isa.usmmla(I32, U8, U8), TypeError, "vm must be a int8 array"),
    (lambda: isa.sdot(np.zeros(4, np.int64), I8, I8), TypeError, "int32 or uint32"),
    (lambda: isa.udot([0, 0, 0, 0], U8, U8), TypeError, "numpy.ndarray"),
    (lambda: isa.smmla(I32, np.zeros(8, np.int8), I8), ValueError, "16\\*s lanes"),
    (lambda: isa.smmla(np.zeros(8, np.int32), I8, I8), ValueError, "different numbers"),
    (lambda: isa.sdot(np.zeros((2, 4), np.int32), np.zeros((3, 16), np.int8), I8), ValueError, "broadcast"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
