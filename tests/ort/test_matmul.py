"""``mlas_emu.ort.matmul`` / ``fused_matmul`` bit for bit against real ONNX Runtime on emulated Arm.

Each oracle run holds many MatMul nodes (``_oracle_models``), so one session checks a batch of
drawn cases. Where the emulator returns NaN for memory nothing wrote (defects 1 and 3, with an
OrtDefectWarning saying so), ORT's value is arbitrary and not compared.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ORACLE_VERSIONS
from mlas_emu.errors import OrtDefectWarning
import mlas_emu
from mlas_emu.ort import fused_matmul, matmul

import _oracle_models as om

pytestmark = []


def _emulate(case, *, ort_version, threads, fastmath=True, op="MatMul"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kw = dict(fastmath=fastmath, b_is_initializer=case.get("b_is_initializer", True),
                  ort_version=ort_version, threads=threads)
        if op == "FusedMatMul":
            got = fused_matmul(case["A"], case["B"], trans_a=case.get("trans_a", False),
                               trans_b=case.get("trans_b", False), alpha=case.get("alpha", 1.0), **kw)
        else:
            got = matmul(case["A"], case["B"], **kw)
    undefined = any("nothing wrote" in str(w.message) for w in caught if issubclass(w.category, OrtDefectWarning))
    return got, undefined


def _compare(oracle, cases, *, ort_version, threads, fastmath=True, op="MatMul"):
    expected_all = om.run(oracle, cases, ort_version=ort_version, threads=threads, fastmath=fastmath, op=op)
    for idx, (case, expected) in enumerate(zip(cases, expected_all)):
        got, undefined = _emulate(case, ort_version=ort_version, threads=threads, fastmath=fastmath, op=op)
        assert got.shape == expected.shape
        g = got.view(np.uint32)
        e = expected.view(np.uint32)
        skip = np.isnan(got) & ~np.isnan(expected)
        if skip.any():
            assert undefined, f"case {idx}: NaN where ORT is finite, without an undefined-memory warning"
        bad = (g != e) & ~skip & ~_past_end_nan(case, got, expected)
        assert not bad.any(), (
            f"case {idx} A{case['A'].shape} B{case['B'].shape} init={case.get('b_is_initializer', True)} "
            f"threads={threads} {ort_version}: {int(bad.sum())} elements differ, first at "
            f"{np.argwhere(bad)[0].tolist()}: got {got[bad][0]!r} expected {expected[bad][0]!r}")


def _past_end_nan(case, got, expected):
    """Elements of rows that read past the end of A (defect 3, K % 4 != 0) where ORT found Inf or
    NaN there: the emulator computes them as if that memory were finite, as documented, because
    what follows A in the Arm process's memory is not the caller's data."""
    A = case["A"]
    k = A.shape[-1] if not (case.get("trans_a") and A.ndim > 1) else A.shape[-2]
    if k % 4 == 0 or case.get("trans_a"):
        return np.zeros(got.shape, dtype=bool)
    marker = np.zeros(A.size, np.float32)
    marker[-k:] = 1.0
    depends = np.matmul(marker.reshape(A.shape), np.ones(case["B"].shape, np.float32)) > 0
    return depends & np.isnan(expected) & ~np.isnan(got)


_K_EDGES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 31, 33, 255, 256, 257, 259, 300, 512, 513, 1030]


def _array(draw, shape, specials):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape).astype(np.float32) * np.float32(draw(st.sampled_from([1.0, 1e-3, 1e3])))
    if specials and x.size:
        flat = x.reshape(-1)
        pool = np.array([np.inf, -np.inf, np.nan, 1e-40, -1e-39, 3e38, -3e38, 0.0, -0.0], np.float32)
        for _ in range(draw(st.integers(1, 3))):
            flat[rng.integers(flat.size)] = pool[rng.integers(pool.size)]
    return x


@st.composite
def matmul_cases(draw, max_cases=8):
    cases = []
    for _ in range(draw(st.integers(1, max_cases))):
        m = draw(st.integers(1, 40))
        k = draw(st.sampled_from(_K_EDGES))
        n = draw(st.sampled_from([1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 33, 64, 100, 127, 128, 129, 150]))
        kind = draw(st.sampled_from(["2d", "2d", "batchA", "batchAB", "vecA", "vecB"]))
        specials = draw(st.integers(0, 4)) == 0
        if kind == "2d":
            a_shape, b_shape = (m, k), (k, n)
        elif kind == "batchA":
            a_shape, b_shape = (draw(st.integers(1, 3)), m, k), (k, n)
        elif kind == "batchAB":
            bt = draw(st.integers(1, 3))
            a_shape, b_shape = (draw(st.sampled_from([1, bt])), m, k), (bt, k, n)
        elif kind == "vecA":
            a_shape, b_shape = (k,), (k, n)
        else:
            a_shape, b_shape = (m, k), (k,)
        cases.append(dict(A=_array(draw, a_shape, specials), B=_array(draw, b_shape, specials),
                          b_is_initializer=draw(st.booleans())))
    return cases


@pytest.mark.oracle
@pytest.mark.parametrize("ort_version", ORACLE_VERSIONS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=matmul_cases(), threads=st.integers(1, 3))
def test_fastmath_matmul_matches_oracle(oracle, ort_version, cases, threads):
    _compare(oracle, cases, ort_version=ort_version, threads=threads)


@pytest.mark.oracle
@pytest.mark.parametrize("ort_version", ORACLE_VERSIONS)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=matmul_cases(max_cases=5), threads=st.integers(1, 3))
def test_fp32_matmul_without_fastmath_matches_oracle(oracle, ort_version, cases, threads):
    _compare(oracle, cases, ort_version=ort_version, threads=threads, fastmath=False)


def _rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _defect_cases():
    nan_next = _rand((4, 6), 1)
    nan_next[1, 0] = np.inf
    nan_batch = _rand((2, 3, 7), 2)
    nan_batch[1, 0, 0] = np.nan  # the last row of batch 0 over-reads batch 1's first row
    return [
        dict(A=_rand((16, 300), 3), B=_rand((300, 24), 4), b_is_initializer=False),  # defect 1
        dict(A=_rand((5, 1030), 5), B=_rand((1030, 17), 6), b_is_initializer=False),  # defect 1, K 2048 stride
        dict(A=_rand((20, 259), 7), B=_rand((259, 150), 8)),  # defect 2
        dict(A=_rand((3, 301), 9), B=_rand((301, 200), 10)),  # defect 2
        dict(A=nan_next, B=_rand((6, 40), 11)),  # defect 3
        dict(A=nan_batch, B=_rand((7, 40), 12), b_is_initializer=False),  # defect 3 across batches
        dict(A=_rand((4, 300), 13), B=_rand((300, 64), 14), b_is_initializer=False),  # defect 1, N = 64
        dict(A=_rand((4, 259), 15), B=_rand((259, 100), 16)),  # defect 2 only when a thread starts at column 64
        dict(A=_rand((1, 1024), 17), B=_rand((1024, 128), 18), b_is_initializer=False),  # defect 1 only from 2 threads
    ]


@pytest.mark.oracle
@pytest.mark.parametrize("ort_version", ORACLE_VERSIONS)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_defects_reproduced(oracle, ort_version, threads):
    _compare(oracle, _defect_cases(), ort_version=ort_version, threads=threads)


def test_defect_warnings_name_the_defect():
    cases = _defect_cases()
    for idx, number in [(0, 1), (2, 2), (4, 3)]:
        c = cases[idx]
        with pytest.warns(OrtDefectWarning, match=f"defect {number}"):
            matmul(c["A"], c["B"], b_is_initializer=c.get("b_is_initializer", True), ort_version="1.27.0")
        # 1.28.0 fixed defects 2 and 3 (measured with the oracle: test_defects_reproduced)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            matmul(c["A"], c["B"], b_is_initializer=c.get("b_is_initializer", True), ort_version="1.28.0")
        assert any(f"defect {number}" in str(w.message) for w in caught) == (number == 1)


@pytest.mark.oracle
@pytest.mark.parametrize("ort_version", ORACLE_VERSIONS)
def test_fused_matmul_gating_matches_oracle(oracle, ort_version):
    a_t = _rand((20, 6), 20)  # transA: stored (K, M)
    cases = [
        dict(A=a_t, B=_rand((20, 24), 21), trans_a=True),
        dict(A=a_t, B=_rand((20, 24), 22), trans_a=True, b_is_initializer=False),
        dict(A=_rand((6, 20), 23), B=_rand((20, 24), 24), alpha=2.5),
        dict(A=_rand((6, 20), 25), B=_rand((20, 24), 26), alpha=-0.5, b_is_initializer=False),
        dict(A=_rand((6, 20), 27), B=_rand((24, 20), 28), trans_b=True),
        dict(A=_rand((2, 20, 6), 29), B=_rand((2, 20, 24), 30), trans_a=True, b_is_initializer=False),
        dict(A=_rand((6, 20), 31), B=_rand((20, 24), 32)),
        dict(A=_rand((20,), 33), B=_rand((20, 24), 34), trans_a=True),  # 1.25+: fp32-packed B read as bf16
        dict(A=_rand((300,), 35), B=_rand((300, 150), 36), trans_a=True),
    ]
    _compare(oracle, cases, ort_version=ort_version, threads=1, op="FusedMatMul")


@pytest.mark.oracle
@pytest.mark.parametrize("ort_version", ORACLE_VERSIONS)
def test_kernel_size_threshold_matches_oracle(oracle, ort_version):
    # N*K = 31 runs fp32 SGEMM, N*K = 32 runs SBGEMM (kFastMathModeKernelsizeThreshold)
    cases = [dict(A=_rand((3, k), k), B=_rand((k, n), n + 100), b_is_initializer=init)
             for k, n in [(31, 1), (32, 1), (1, 31), (1, 32), (4, 8), (8, 4), (3, 10), (2, 17)]
             for init in (True, False)]
    _compare(oracle, cases, ort_version=ort_version, threads=1)


def test_gating_profiles_per_release():
    A = _rand((20, 6), 40)
    B = _rand((20, 24), 41)
    with pytest.warns(OrtDefectWarning, match="transA is ignored"):
        old = fused_matmul(A, B, trans_a=True, ort_version="1.24.4")
    new = fused_matmul(A, B, trans_a=True, ort_version="1.25.0")
    assert old.shape == new.shape == (6, 24)
    assert (old != new).any()
    fixed = fused_matmul(A, B, trans_a=True, ort_version="1.24.4", faithful=False)
    np.testing.assert_array_equal(fixed.view(np.uint32), new.view(np.uint32))


@pytest.mark.parametrize(
    "a,b,kwargs,exc",
    [
        (np.ones((2, 3)), np.ones((3, 4), np.float32), {}, TypeError),
        (np.ones((2, 3), np.float32), np.ones((3, 4), np.int32), {}, TypeError),
        (np.ones((2, 3), np.float32), np.ones((4, 4), np.float32), {}, ValueError),
        (np.ones((2, 2, 3), np.float32), np.ones((3, 3, 4), np.float32), {}, ValueError),
        (np.array(1.0, np.float32), np.ones((1, 4), np.float32), {}, ValueError),
        (np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), {"ort_version": "1.16.3"}, ValueError),
        (np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), {"ort_version": "1.33.0"}, ValueError),
        (np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), {"cpu": "graviton5"}, ValueError),
        (np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), {"cpu": "neoverse-v1"}, ValueError),
        (np.ones((2, 3), np.float32), np.ones((3, 4), np.float32),
         {"session_config": {"session.set_denormal_as_zero": "1"}}, ValueError),
        (np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), {"session_config": {"a": 1}}, TypeError),
        (np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), {"session_config": [("a", "1")]}, TypeError),
        (np.ones((2, 3), np.float32), np.ones((3, 4), np.float32),
         {"fastmath": False, "session_config": {"mlas.enable_gemm_fastmath_arm64_bfloat16": "1"}}, ValueError),
        (np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), {"threads": 0}, ValueError),
        (np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), {"fastmath": "yes"}, TypeError),
        ([[1.0]], np.ones((1, 4), np.float32), {}, TypeError),
    ],
)
def test_bad_input(a, b, kwargs, exc):
    with pytest.raises(exc):
        matmul(a, b, **kwargs)


def test_inputs_not_modified_and_empty_shapes():
    A = _rand((2, 3, 300), 50)
    B = _rand((300, 20), 51)
    a0, b0 = A.copy(), B.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OrtDefectWarning)
        matmul(A, B, b_is_initializer=False)
        matmul(A, B)
    np.testing.assert_array_equal(A, a0)
    np.testing.assert_array_equal(B, b0)
    assert matmul(np.ones((0, 4), np.float32), np.ones((4, 5), np.float32)).shape == (0, 5)
    z = matmul(np.ones((3, 0), np.float32), np.ones((0, 5), np.float32))
    assert z.shape == (3, 5) and not z.any()


def test_approx_mode_is_opt_in_and_close_to_exact():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((3, 17, 40)).astype(np.float32)
    b = rng.standard_normal((40, 24)).astype(np.float32)
    exact = matmul(a, b)
    approx = matmul(a, b, mode="approx")
    assert approx.shape == exact.shape and approx.dtype == np.float32
    # Same bf16 inputs, fp32 BLAS instead of round-to-odd chains: close, not claimed identical.
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    assert np.all(np.abs(approx.astype(np.float64) - exact) <= 2.0**-18 * 40 * scale)
    # Far closer to the exact emulation than the bf16 rounding of the inputs is to fp32.
    assert np.abs(approx - exact).max() < np.abs(exact - a @ b).max()
    with pytest.raises(ValueError, match="mode"):
        matmul(a, b, mode="fast")


def test_sgemm_bf16_approx_mode_dispatches():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((9, 33)).astype(np.float32)
    b = rng.standard_normal((33, 10)).astype(np.float32)
    got = mlas_emu.sgemm_bf16(a, b, mode="approx")
    assert got.shape == (9, 10)
    assert np.abs(got - mlas_emu.sgemm_bf16(a, b)).max() < 1e-3 * np.abs(a).max() * np.abs(b).max() * 33
    with pytest.raises(ValueError, match="mode"):
        mlas_emu.sgemm_bf16(a, b, mode="bogus")
