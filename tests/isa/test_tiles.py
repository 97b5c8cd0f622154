"""Matrix views (mlas_emu.isa.tiles): the same bits as the register functions with the
documented lane mapping, and ordinary matrix products where every step is exact."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import naive
from mlas_emu.isa import bfmmla, bfmmla_tile, mmla_tile, smmla, tile_to_registers


def test_tile_to_registers_mapping():
    C = np.arange(4, dtype=np.float32).reshape(2, 2)
    A = np.arange(8, dtype=np.float32).reshape(2, 4)
    B = np.arange(8, dtype=np.float32).reshape(4, 2)
    vd, vn, vm = tile_to_registers(C, A, B)
    for i in range(2):
        for j in range(2):
            assert vd[2 * i + j] == C[i, j]
        for k in range(4):
            assert vn[4 * i + k] == A[i, k]
    for k in range(4):
        for j in range(2):
            assert vm[4 * j + k] == B[k, j]


def test_bfmmla_tile_is_c_plus_a_times_b_when_exact():
    rng = np.random.default_rng(1)
    A = rng.integers(-8, 8, (6, 2, 4)).astype(ml_dtypes.bfloat16)
    B = rng.integers(-8, 8, (6, 4, 2)).astype(ml_dtypes.bfloat16)
    C = rng.integers(-100, 100, (6, 2, 2)).astype(np.float32)
    got = bfmmla_tile(C, A, B)
    np.testing.assert_array_equal(got, C + A.astype(np.float32) @ B.astype(np.float32))


def test_bfmmla_tile_matches_exact_reference_with_rounding():
    rng = np.random.default_rng(2)
    A = rng.standard_normal((2, 4)).astype(ml_dtypes.bfloat16)
    B = rng.standard_normal((4, 2)).astype(ml_dtypes.bfloat16)
    C = rng.standard_normal((2, 2)).astype(np.float32)
    got = bfmmla_tile(C, A, B).view(np.uint32).reshape(4)
    vd = C.reshape(4).view(np.uint32)
    vn = A.reshape(8).view(np.uint16)
    vm = np.ascontiguousarray(B.T).reshape(8).view(np.uint16)
    assert got.tolist() == naive.bfmmla(vd, vn, vm)
    np.testing.assert_array_equal(got, bfmmla(vd, vn, vm).view(np.uint32))


@pytest.mark.parametrize("a_t, b_t, out_t", [(np.int8, np.int8, np.int32), (np.uint8, np.uint8, np.uint32),
                                              (np.uint8, np.int8, np.int32)])
def test_mmla_tile_is_wrapped_matrix_product(a_t, b_t, out_t):
    rng = np.random.default_rng(3)
    A = rng.integers(0, 256, (3, 2, 8)).astype(np.uint8).view(a_t)
    B = rng.integers(0, 256, (3, 8, 2)).astype(np.uint8).view(b_t)
    C = rng.integers(-2**31, 2**31, (3, 2, 2)).astype(np.int64).astype(np.uint32).view(out_t)
    got = mmla_tile(C, A, B)
    expected = ((C.astype(np.int64) + A.astype(np.int64) @ B.astype(np.int64)) & 0xFFFFFFFF).astype(np.uint32)
    assert got.dtype == out_t
    np.testing.assert_array_equal(got.view(np.uint32), expected)


def test_mmla_tile_same_bits_as_register_form():
    rng = np.random.default_rng(4)
    A = rng.integers(-128, 128, (2, 8)).astype(np.int8)
    B = rng.integers(-128, 128, (8, 2)).astype(np.int8)
    C = np.zeros((2, 2), np.int32)
    np.testing.assert_array_equal(mmla_tile(C, A, B).reshape(4), smmla(C.reshape(4), A.reshape(16), B.T.reshape(16)))


def test_bad_tiles():
    C = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match="2x4 tile by a 4x2"):
        bfmmla_tile(C, np.zeros((2, 8), ml_dtypes.bfloat16), np.zeros((8, 2), ml_dtypes.bfloat16))
    with pytest.raises(ValueError, match="expected C"):
        bfmmla_tile(np.zeros((3, 2), np.float32), np.zeros((2, 4), ml_dtypes.bfloat16),
                    np.zeros((4, 2), ml_dtypes.bfloat16))
    with pytest.raises(TypeError, match="USMMLA"):
        mmla_tile(np.zeros((2, 2), np.int32), np.zeros((2, 8), np.int8), np.zeros((8, 2), np.uint8))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        bfmmla_tile([[0, 0], [0, 0]], np.zeros((2, 4), ml_dtypes.bfloat16), np.zeros((4, 2), ml_dtypes.bfloat16))
