"""The approximate SBGEMM (``mode="approx"``): NOT bit-exact; its distance from the exact
``sgemm_bf16`` stays within the bound stated in ``mlas_emu.mlas.sbgemm_approx``."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import mlas_emu
from mlas_emu.mlas.sbgemm_approx import bf16_unpacked, sgemm_bf16_approx

TINY = float.fromhex("0x1p-126")  # smallest normal fp32 (and bf16) magnitude
U = 2.0**-24  # fp32 unit roundoff


def error_bound(A, B, bias):
    """The module's stated bound, from the bf16-rounded inputs (computed in float64)."""
    k = A.shape[1]
    ah = np.abs(bf16_unpacked(A).astype(np.float64))
    bh = np.abs(bf16_unpacked(B).astype(np.float64))
    scale = ah @ bh
    if bias is not None:  # the exact chains start from the bias: every rounding sees it
        scale = scale + np.abs(bias.astype(np.float64))
    return (2.1 * k + 8) * U * scale + 4 * k * TINY


@settings(max_examples=30, deadline=None)
@given(
    m=st.integers(1, 19),
    n=st.integers(1, 19),
    k=st.sampled_from([1, 2, 3, 5, 8, 31, 255, 256, 257, 259, 513]),
    scale_exp=st.integers(-60, 60),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
@example(m=1, n=1, k=1, scale_exp=0, with_bias=False, seed=0)
@example(m=8, n=8, k=257, scale_exp=-63, with_bias=True, seed=1)  # products near 2**-126
@example(m=1, n=1, k=5, scale_exp=-24, with_bias=True, seed=0)  # tiny terms on a large bias
def test_within_stated_bound_of_exact(m, n, k, scale_exp, with_bias, seed):
    rng = np.random.default_rng(seed)
    A = (rng.standard_normal((m, k)) * 2.0**scale_exp).astype(np.float32)
    B = rng.standard_normal((k, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32) if with_bias else None
    got = sgemm_bf16_approx(A, B, bias)
    exact = mlas_emu.sgemm_bf16(A, B, bias, faithful=False)
    diff = np.abs(got.astype(np.float64) - exact.astype(np.float64))
    assert np.all(diff <= error_bound(A, B, bias))


def test_not_bit_exact_round_to_odd():
    # 1*1 + 2**-15 * 2**-15 = 1 + 2**-30: BFDotAdd rounds the pair sum to odd (1 + 2**-23, Arm ARM
    # DDI0487 M.a.a BFRound); an fp32 BLAS rounds to nearest even (1.0). One ulp apart, in bound.
    A = np.array([[1.0, 2.0**-15]], dtype=np.float32)
    B = np.array([[1.0], [2.0**-15]], dtype=np.float32)
    got = sgemm_bf16_approx(A, B)
    exact = mlas_emu.sgemm_bf16(A, B, faithful=False)
    assert got[0, 0] == np.float32(1.0)
    assert exact[0, 0] == np.float32(1.0 + 2.0**-23)
    assert abs(float(got[0, 0]) - float(exact[0, 0])) <= error_bound(A, B, None)[0, 0]


def test_bf16_inputs_round_to_nearest_even_and_flush_denormals():
    # Every finite non-NaN bf16 pattern, widened to fp32 and nudged below, at and above the
    # rounding tie: ml_dtypes' cast is an independent RNE reference for non-NaN inputs.
    patterns = np.arange(1 << 16, dtype=np.uint32)
    patterns = patterns[(patterns & 0x7F80) != 0x7F80]  # drop inf/NaN
    base = patterns << 16
    x = np.concatenate([base, base | 0x7FFF, base | 0x8000, base | 0x8001]).view(np.float32)
    expected = x.astype(ml_dtypes.bfloat16).astype(np.float32)
    expected[np.abs(expected) < TINY] *= 0  # BFUnpack reads bf16 denormals as signed zero
    got = bf16_unpacked(x)
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_inputs_not_modified_and_shape():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 7)).astype(np.float32)
    B = rng.standard_normal((7, 3)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    copies = (A.copy(), B.copy(), bias.copy())
    got = sgemm_bf16_approx(A, B, bias)
    assert got.shape == (5, 3) and got.dtype == np.float32
    for before, after in zip(copies, (A, B, bias)):
        assert np.array_equal(before, after)


@pytest.mark.parametrize(
    "A,B,bias,error",
    [
        (np.ones((2, 2), np.float64), np.ones((2, 2), np.float32), None, TypeError),
        ([[1.0]], np.ones((1, 1), np.float32), None, TypeError),
        (np.ones(2, np.float32), np.ones((2, 2), np.float32), None, ValueError),
        (np.ones((2, 3), np.float32), np.ones((2, 2), np.float32), None, ValueError),
        (np.ones((2, 0), np.float32), np.ones((0, 2), np.float32), None, ValueError),
        (np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), np.ones(3, np.float32),
         ValueError),
        (np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), np.ones(2, np.float64),
         TypeError),
    ],
)
def test_bad_input(A, B, bias, error):
    with pytest.raises(error):
        sgemm_bf16_approx(A, B, bias)
