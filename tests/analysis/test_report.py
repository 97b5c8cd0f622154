"""compare() against direct NumPy / Python computations on hand-made cases."""

from __future__ import annotations

import json
import math
import struct
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu.analysis import ErrorReport, compare

F32_MIN_NORMAL = np.float32(2.0 ** -126)
DENORM = np.float32(2.0 ** -140)


def _f32(*xs):
    return np.array(xs, dtype=np.float32)


def _ulps_by_stepping(a: float, b: float) -> int:
    """float32 steps from a to b: exact arithmetic within one binade, nextafter steps otherwise
    (independent of the bit-pattern trick under test)."""
    a, b = np.float32(a), np.float32(b)
    if a == b:
        return 0
    lo, hi = min(a, b), max(a, b)
    if lo > 0 and math.frexp(float(lo))[1] == math.frexp(float(hi))[1] and lo >= F32_MIN_NORMAL:
        steps = (Fraction(float(hi)) - Fraction(float(lo))) / Fraction(float(np.spacing(lo)))
        assert steps.denominator == 1
        return int(steps)
    n, x = 0, lo
    while x < hi:
        x = np.nextafter(x, np.float32(np.inf))
        n += 1
    return n


def test_finite_case_matches_direct_numpy():
    got = _f32(1.0, -2.5, 3.0, 0.0, 1e-3, 7.0)
    expected = _f32(1.0, -2.5, 3.0000002, 0.0, 1.1e-3, 6.0)
    r = compare(got, expected)
    d = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    nz = expected != 0
    rel = d[nz] / np.abs(expected[nz].astype(np.float64))
    assert r.size == 6 and r.finite_count == 6
    assert r.max_abs_error == d.max() and r.median_abs_error == np.median(d)
    assert r.max_rel_error == rel.max() and r.median_rel_error == np.median(rel)
    assert r.normwise_rel_error == pytest.approx(np.sqrt((d ** 2).sum() / (expected.astype(np.float64) ** 2).sum()),
                                                 rel=1e-14)
    assert r.fraction_identical == 0.5  # elements 0, 1 and 3
    assert r.nan_count == r.inf_count == r.flushed_count == 0
    expected_hist = {}
    for a, b in zip(got, expected):
        k = _ulps_by_stepping(a, b)
        expected_hist[k] = expected_hist.get(k, 0) + 1
    assert r.ulp_histogram == expected_hist
    assert r.max_ulp_error == max(expected_hist)


def test_ulp_distance_counts_through_zero():
    # -denorm_min .. +denorm_min is 2 steps; +0 and -0 are the same point
    tiny = np.float32(np.nextafter(np.float32(0), np.float32(1)))
    r = compare(_f32(-tiny, 0.0, -0.0), _f32(tiny, -0.0, 0.0))
    assert r.ulp_histogram == {2: 1, 0: 2}
    assert r.fraction_identical == 0.0  # +0 / -0 differ bitwise


def test_nan_and_inf_are_counted_and_excluded():
    got = _f32(np.nan, np.inf, -np.inf, 1.0, 2.0)
    ref = _f32(1.0, np.inf, np.inf, np.nan, 2.5)
    r = compare(got, ref)
    assert r.nan_count == 1 and r.inf_count == 2
    assert r.finite_count == 1  # only the last element has both finite
    assert r.max_abs_error == 0.5 and r.max_rel_error == pytest.approx(0.2)
    # NaN on either side is excluded from the ulp histogram; inf vs inf is 0 ulps, -inf vs inf is far
    inf_bits = struct.unpack("<I", struct.pack("<f", np.inf))[0]
    assert r.ulp_histogram == {0: 1, 2 * inf_bits: 1, _ulps_by_stepping(2.0, 2.5): 1}
    # nan vs 1, -inf vs inf, 1 vs nan
    assert r.nonfinite_mismatch_count == 3


def test_flushed_counts_zero_results_of_tiny_references():
    got = _f32(0.0, -0.0, 0.0, DENORM, 0.0)
    ref = _f32(DENORM, -DENORM, F32_MIN_NORMAL, DENORM, 0.0)
    r = compare(got, ref)
    # element 0, 1 flushed; element 2's reference is the smallest normal (not below 2^-126)
    assert r.flushed_count == 2
    assert r.max_abs_error == float(F32_MIN_NORMAL)
    assert r.max_rel_error == 1.0


def test_float64_reference_keeps_its_precision():
    ref = np.array([1.0 + 2.0 ** -40], dtype=np.float64)
    r = compare(_f32(1.0), ref)
    assert r.max_abs_error == 2.0 ** -40
    assert r.fraction_identical == 1.0  # float32 encodings agree


def test_all_zero_and_empty():
    r = compare(np.zeros(3, np.float32), np.zeros(3, np.float32))
    assert r.normwise_rel_error == 0.0 and np.isnan(r.max_rel_error) and r.fraction_identical == 1.0
    r = compare(_f32(1.0, 0.0), _f32(0.0, 0.0))
    assert r.normwise_rel_error == np.inf
    e = compare(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    assert e.size == 0 and np.isnan(e.max_abs_error)


def test_huge_values_do_not_overflow_the_norm():
    big = np.float32(3e38)
    r = compare(_f32(big, big), _f32(big, np.nextafter(big, np.float32(0))))
    assert np.isfinite(r.normwise_rel_error) and r.normwise_rel_error > 0


def test_inputs_are_not_modified():
    a = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    b = a + np.float32(1e-3)
    a0, b0 = a.copy(), b.copy()
    compare(a, b)
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


def test_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        compare(np.zeros(3, np.float32), np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="floating dtype"):
        compare(np.zeros(3, np.int32), np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="numpy array"):
        compare("abc", np.zeros(3, np.float32))


def test_json_html_and_plots(tmp_path):
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((6, 7)).astype(np.float32)
    got = ref + rng.standard_normal((6, 7)).astype(np.float32) * 1e-6
    got[0, 0] = np.nan
    r = compare(got, ref)
    data = json.loads(r.to_json())
    assert data["nan_count"] == 1 and data["size"] == 42
    assert sum(data["ulp_histogram"].values()) == 41
    html = r._repr_html_()
    assert "<table" in html and "normwise_rel_error" in html
    r.plot_ulp_histogram(path=tmp_path / "u.png")
    r.plot_heatmap(path=tmp_path / "h.png")
    assert (tmp_path / "u.png").stat().st_size > 0 and (tmp_path / "h.png").stat().st_size > 0
    assert isinstance(r, ErrorReport)


def _rank(x: float) -> int:
    """Signed count of float32 values strictly between 0 and x, plus one (math.frexp, no bit tricks)."""
    if x == 0:
        return 0
    mag = abs(x)
    if mag < 2.0 ** -126:
        r = int(Fraction(mag) / Fraction(2) ** -149)
    else:
        m, e = math.frexp(mag)  # mag = m 2^e, 0.5 <= m < 1
        r = 2 ** 23 + (e - 1 + 126) * 2 ** 23 + int((Fraction(m) * 2 - 1) * 2 ** 23)
    return r if x > 0 else -r


_f32s = st.floats(width=32, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(_f32s, _f32s)
@example(float.fromhex("0x1p-149"), -float.fromhex("0x1p-149"))
@example(float.fromhex("0x1.fffffcp-127"), float.fromhex("0x1p-126"))  # largest denormal -> smallest normal
@example(float("inf"), float.fromhex("0x1.fffffep127"))
def test_ulp_histogram_matches_counting_float32_values(a, b):
    ra = _rank(a) if math.isfinite(a) else int(math.copysign(2 ** 23 * 255, a))
    rb = _rank(b) if math.isfinite(b) else int(math.copysign(2 ** 23 * 255, b))
    assert compare(_f32(a), _f32(b)).ulp_histogram == {abs(ra - rb): 1}


def test_repr_is_a_short_summary_even_with_many_ulp_bins():
    rng = np.random.default_rng(3)
    reference = rng.standard_normal(5000).astype(np.float32)
    result = (reference * (1 + rng.uniform(-1e-3, 1e-3, 5000))).astype(np.float32)
    report = compare(result, reference)
    assert len(report.ulp_histogram) > 100
    text = repr(report)
    assert len(text) < 400 and "max abs" in text and "more)" in text
    assert str(report) == text
