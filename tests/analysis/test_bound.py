"""The a-priori SBGEMM bound holds for every emulated SBGEMM tried, and how tight it is."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import mlas_emu
from mlas_emu.analysis.bound import bound, exact_product, gamma, tightness

TINY = float.fromhex("0x1p-130")  # a float32 denormal: flushed by BFDotAdd


@st.composite
def gemm_case(draw):
    m = draw(st.integers(1, 9))
    n = draw(st.sampled_from([1, 2, 7, 8, 9, 16, 17]))
    k = draw(st.sampled_from([1, 2, 3, 4, 5, 31, 255, 256, 257, 260, 515]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    scale = draw(st.sampled_from([1.0, 1e-3, 1e20, 1e-18]))
    kind = draw(st.sampled_from(["normal", "uniform", "denormal-mix", "cancel"]))
    return m, n, k, seed, scale, kind


def _matrices(m, n, k, seed, scale, kind):
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        A, B = rng.uniform(-1, 1, (m, k)), rng.uniform(0, 1, (k, n))
    else:
        A, B = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    if kind == "denormal-mix":
        A[rng.random((m, k)) < 0.3] = TINY
        B[rng.random((k, n)) < 0.3] = -TINY
    if kind == "cancel":  # large terms that cancel: the bound must cover a tiny result
        A[:, 1::2] = A[:, 0::2][:, : A[:, 1::2].shape[1]]
        B[1::2] = -B[0::2][: B[1::2].shape[0]]
    return (A * scale).astype(np.float32), B.astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(gemm_case())
@example((4, 8, 256, 1, 1.0, "normal"))       # exactly one K block
@example((4, 8, 257, 2, 1.0, "normal"))       # one element past the block edge
@example((3, 17, 515, 3, 1e20, "cancel"))     # three blocks, large cancelling terms
@example((2, 2, 5, 4, 1e-18, "denormal-mix"))  # products below 2^-126 flush
def test_observed_error_never_exceeds_the_bound(case):
    A, B = _matrices(*case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = mlas_emu.sgemm_bf16(A, B, packed_b=True, faithful=False)
    for inputs in ("worst", "exact"):
        t = tightness(A, B, got, inputs=inputs)
        assert t["violations"] == 0, (case, inputs, t)


@settings(max_examples=15, deadline=None)
@given(gemm_case(), st.integers(1, 3))
def test_blocking_free_bound_covers_the_non_packed_path(case, threads):
    A, B = _matrices(*case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = mlas_emu.sgemm_bf16(A, B, packed_b=False, threads=threads, faithful=False)
    assert tightness(A, B, got, block_k=None)["violations"] == 0


def test_tightness_on_gaussian_data():
    """Report: how close the worst case comes (printed with -s; asserted to be meaningful)."""
    rng = np.random.default_rng(7)
    ratios = {}
    for k in (16, 256, 600):
        A = rng.standard_normal((16, k)).astype(np.float32)
        B = rng.standard_normal((k, 24)).astype(np.float32)
        got = mlas_emu.sgemm_bf16(A, B, faithful=False)
        ratios[k] = (tightness(A, B, got)["max_ratio"], tightness(A, B, got, inputs="exact")["max_ratio"])
    print("max observed/bound (worst-case inputs, exact inputs):", ratios)
    for worst, exact in ratios.values():
        assert 0.01 < worst < 1 and 0.5 < exact <= 1  # not vacuous: the bound is within 100x / 2x


def test_gamma_and_exact_product():
    assert gamma(0, 2.0 ** -23) == 0.0
    assert gamma(3, 0.1) == pytest.approx(0.3 / 0.7)
    assert gamma(20, 0.1) == np.inf
    A = np.array([[2.0 ** 30, 1.0, -(2.0 ** 30)]], np.float32)
    B = np.array([[1.0], [2.0 ** -30], [1.0]], np.float32)
    assert exact_product(A, B)[0, 0] == 2.0 ** -30  # float64 matmul would lose it


def test_overflow_and_non_finite_give_inf():
    A = np.array([[3e38, 1.0], [1.0, 1.0]], np.float32)
    B = np.array([[2.0], [1.0]], np.float32)
    b = bound(A, B)
    assert b[0, 0] == np.inf and np.isfinite(b[1, 0])
    A[1, 0] = np.nan
    assert bound(A, B)[1, 0] == np.inf


def test_bad_input_and_no_modification():
    A = np.ones((2, 3), np.float32)
    B = np.ones((3, 4), np.float32)
    A0 = A.copy()
    bound(A, B)
    assert np.array_equal(A, A0)
    with pytest.raises(ValueError, match="K must agree"):
        bound(A, np.ones((4, 4), np.float32))
    with pytest.raises(TypeError, match="float32"):
        bound(A.astype(np.float64), B)
    with pytest.raises(ValueError, match="2-D"):
        bound(np.ones(3, np.float32), B)
    with pytest.raises(ValueError, match="block_k"):
        bound(A, B, block_k=0)
    with pytest.raises(ValueError, match="inputs"):
        bound(A, B, inputs="best")
