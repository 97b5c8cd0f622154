"""ErrorReport's headline figures (significant ulps, percentiles, sign changes), its plots' data and
return values, and compare()'s chunked computation against the whole-array definitions."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from mlas_emu.analysis import compare, report
from mlas_emu.analysis.report import ULP_FLOOR, ordered_float32

ONE_ULP = np.float32(2.0 ** -23)  # spacing of float32 in [1, 2)


def _f32(*xs):
    return np.array(xs, dtype=np.float32)


def _key(x) -> int:
    return int(ordered_float32(np.float32(x).reshape(1).view(np.uint32))[0])


def test_tiny_values_of_opposite_signs_leave_the_headline_ulps():
    r = compare(_f32(1e-7, 1.0, 2.0, -3.0), _f32(-1e-7, 1 + ONE_ULP, 2.0, -3.0))
    assert r.max_ulp_error == 2 * _key(1e-7) > 1.7e9  # through zero: |x| + |y| in ulps from zero
    assert r.ulp_histogram == {0: 2, 1: 1, 2 * _key(1e-7): 1}
    assert r.ulp_floor == ULP_FLOOR * 3.0
    assert r.significant_count == 3
    assert r.significant_ulp_histogram == {0: 2, 1: 1}
    assert (r.significant_median_ulp, r.significant_p99_ulp, r.significant_max_ulp) == (0, 1, 1)
    assert r.sign_change_count == 1
    lines = repr(r).splitlines()
    assert lines[1].strip().startswith("normwise rel")
    assert "median 0 p99 1 max 1" in lines[2] and str(r.max_ulp_error) in lines[3]


def test_significant_percentiles_are_nearest_ranks():
    steps = np.array([0] * 97 + [3, 5, 9], dtype=np.float32)
    ref = np.ones(100, np.float32)
    r = compare(ref + steps * ONE_ULP, ref)
    assert r.significant_ulp_histogram == {0: 97, 3: 1, 5: 1, 9: 1}
    # 50% of the elements are within 0 ulps, 99% within 5, all within 9
    assert (r.significant_median_ulp, r.significant_p99_ulp, r.significant_max_ulp) == (0, 5, 9)
    rel = steps.astype(np.float64) * 2.0 ** -23
    assert r.p99_rel_error == np.percentile(rel, 99)
    # exactly 99% within 0 ulps: the rank is 990 of 1000, not one more
    ref = np.ones(1000, np.float32)
    r = compare(ref + np.repeat(_f32(0, 5), [990, 10]) * ONE_ULP, ref)
    assert (r.significant_p99_ulp, r.significant_max_ulp) == (0, 5)


def test_floor_is_relative_to_the_largest_finite_reference():
    ref = _f32(np.inf, 100.0, 5e-4, 5e-5, 0.0)
    got = _f32(np.inf, 100.0, 5e-4, np.float32(5e-5) * 2, 0.0)
    r = compare(got, ref)
    assert r.ulp_floor == ULP_FLOOR * 100.0  # inf is not the largest reference
    assert r.significant_count == 3  # inf, 100 and 5e-4; 5e-5 and 0 are below the floor
    assert r.significant_max_ulp == 0 and r.max_ulp_error == 2 ** 23  # x to 2x: one binade


def test_all_zero_and_empty_references_keep_every_element():
    r = compare(_f32(0.0, 1e-30), _f32(0.0, 0.0))
    assert r.ulp_floor == 0.0 and r.significant_count == 2
    e = compare(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    assert e.significant_count == 0 and e.significant_median_ulp is None and np.isnan(e.p99_rel_error)


def test_new_fields_reach_json_and_html_leads_with_normwise():
    r = compare(_f32(1.0, -2.0, 3.0), _f32(1.0, 2.0, 3.0 + 4 * ONE_ULP))
    data = json.loads(r.to_json())
    for name in ("max_abs_error", "median_abs_error", "max_rel_error", "median_rel_error", "normwise_rel_error",
                 "ulp_histogram", "fraction_identical", "nan_count", "inf_count", "flushed_count",
                 "p99_rel_error", "ulp_floor", "significant_ulp_histogram", "significant_p99_ulp",
                 "sign_change_count"):
        assert name in data
    assert data["sign_change_count"] == 1
    html = r._repr_html_()
    assert html.index("normwise_rel_error") < html.index("significant_p99_ulp") < html.index("max_abs_error")


# --- the plot's bars -------------------------------------------------------------------------


def test_sign_changes_get_their_own_bar_instead_of_a_spike_at_2_to_the_30():
    ref = _f32(1.0, 1.0, 1.0, 0.5, -0.01, 1e-6, 0.0)
    got = _f32(1.0, 1 + ONE_ULP, 1 + 3 * ONE_ULP, -0.5, 0.01, -1e-6, -0.0)
    r = compare(got, ref)
    assert sorted(r.ulp_histogram.items())[-1][0] >= 2 ** 30  # where the old plot's spike came from
    from mlas_emu.analysis.plots import SIGN_CHANGE, ulp_histogram_bars

    labels, counts = ulp_histogram_bars(r)
    assert labels == ["0", "1", "2^1", SIGN_CHANGE]
    assert counts == [2, 1, 1, 3]  # +0 / -0 are the same point, not a sign change
    assert sum(counts) == sum(r.ulp_histogram.values())


def test_bars_without_sign_changes_end_at_the_largest_distance():
    from mlas_emu.analysis.plots import ulp_histogram_bars

    ref = np.ones(4, np.float32)
    labels, counts = ulp_histogram_bars(compare(ref + _f32(0, 1, 4, 7) * ONE_ULP, ref))
    assert labels == ["0", "1", "2^1", "2^2"] and counts == [1, 1, 0, 2]
    assert ulp_histogram_bars(compare(ref, ref)) == (["0"], [4])


# --- the plots' return values ----------------------------------------------------------------


def _report():
    rng = np.random.default_rng(2)
    ref = rng.standard_normal((2, 6, 7)).astype(np.float32)
    return ref, compare(ref + rng.standard_normal(ref.shape).astype(np.float32) * 1e-4, ref)


@pytest.mark.parametrize("method", ["plot_ulp_histogram", "plot_heatmap"])
def test_plots_return_a_closed_figure_or_the_given_axes(method, tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    _, r = _report()
    fig = getattr(r, method)(path=tmp_path / "p.png")
    assert fig.number not in plt.get_fignums()  # Jupyter shows it once, as the returned value
    assert (tmp_path / "p.png").stat().st_size > 0
    own, ax = plt.subplots()
    try:
        assert getattr(r, method)(ax=ax) is ax
        assert own.number in plt.get_fignums()  # the caller's figure is left to the caller
    finally:
        plt.close(own)


# --- chunked computation: the whole-array definitions, memory --------------------------------


def _whole_array(res, ref) -> dict:
    """The statistics as whole-array NumPy expressions (compare()'s definitions)."""
    r64, e64 = res.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
    r32, e32 = res.astype(np.float32).ravel(), ref.astype(np.float32).ravel()
    fin = np.isfinite(r64) & np.isfinite(e64)
    diff = np.abs(r64[fin] - e64[fin])
    m = fin & (e64 != 0)
    rel = np.abs(r64[m] - e64[m]) / np.abs(e64[m])
    r, e = r64[fin], e64[fin]
    scale = max(np.max(np.abs(e), initial=0.0), np.max(np.abs(r), initial=0.0))
    d = np.abs(ordered_float32(r32.view(np.uint32)) - ordered_float32(e32.view(np.uint32)))
    ok = ~(np.isnan(r32) | np.isnan(e32))
    values, counts = np.unique(d[ok], return_counts=True)
    return {"max_abs_error": float(np.max(diff)), "median_abs_error": float(np.median(diff)),
            "max_rel_error": float(np.max(rel)), "median_rel_error": float(np.median(rel)),
            "p99_rel_error": float(np.percentile(rel, 99)),
            "normwise_rel_error": float(np.linalg.norm((r - e) / scale) / np.linalg.norm(e / scale)),
            "ulp_histogram": dict(zip(values.tolist(), counts.tolist())),
            "fraction_identical": float(np.mean(r32.view(np.uint32) == e32.view(np.uint32))),
            "nan_count": int(np.isnan(r64).sum()), "inf_count": int(np.isinf(r64).sum()),
            "finite_count": int(fin.sum())}


def _messy(shape, ref_dtype, seed):
    rng = np.random.default_rng(seed)
    span = 3 if ref_dtype == np.float16 else 20  # float16 overflows past 65504
    ref = rng.standard_normal(shape) * 10.0 ** rng.integers(-span, span)
    res = (ref * (1 + rng.standard_normal(shape) * 1e-3)).astype(np.float32)
    flat = res.reshape(-1)
    i = rng.choice(res.size, 4, replace=False)
    flat[i[0]], flat[i[1]], flat[i[2]], flat[i[3]] = np.nan, -np.inf, 0.0, -flat[i[3]]
    return res, ref.astype(ref_dtype)


@pytest.mark.parametrize("chunk", [997, report._CHUNK])
@pytest.mark.parametrize("ref_dtype", [np.float32, np.float64, np.float16])
def test_chunks_give_the_whole_array_numbers_bit_for_bit(chunk, ref_dtype, monkeypatch):
    monkeypatch.setattr(report, "_CHUNK", chunk)
    for seed, shape in enumerate([(300, 301), (3, 40, 50), (5000,)]):
        res, ref = _messy(shape, ref_dtype, seed)
        views = [(res, ref), (res.T, ref.T)] if res.ndim == 2 else [(res, ref)]  # .T: read through .flat
        for a, b in views:
            r = compare(a, b)
            for name, value in _whole_array(a, b).items():
                assert getattr(r, name) == value, (name, shape, chunk)


def test_heat_map_errors_are_the_first_matrix_in_float64(monkeypatch):
    monkeypatch.setattr(report, "_CHUNK", 997)
    res, ref = _messy((3, 40, 50), np.float64, 7)
    expected = np.abs(res[0].astype(np.float64) - ref[0])
    expected[~np.isfinite(expected)] = np.nan
    assert np.array_equal(compare(res, ref)._abs, expected, equal_nan=True)


def test_peak_memory_stays_under_four_times_the_inputs():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((1500, 1500)).astype(np.float32)
    res = (ref * (1 + rng.uniform(-1e-3, 1e-3, ref.shape))).astype(np.float32)
    compare(res[:4], ref[:4])  # first-call allocations (imports) out of the measurement
    tracemalloc.start()
    try:
        compare(res, ref)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * (res.nbytes + ref.nbytes), peak / (res.nbytes + ref.nbytes)
