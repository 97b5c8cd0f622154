"""The SBGEMM driver (sbgemm.h): thread partition, strides, K blocking, and the defects, against
the exact reference and hand-derived cases. Real-Arm comparisons are in tests/ort/test_matmul.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import mlas_emu
from mlas_emu.errors import OrtDefectWarning
from mlas_emu.mlas import sbgemm as sb

import _sbgemm_reference as ref


@pytest.mark.parametrize(
    "m,n,k,batch,threads,expected",
    [
        (8, 8, 8, 1, 4, (1, 1, 1)),  # 512 < 65536: one thread whatever the pool
        (64, 64, 64, 1, 4, (4, 4, 1)),  # 262144 / 65536 + 1 = 5 -> capped at 4, M >= N splits M
        (16, 512, 64, 1, 3, (3, 1, 3)),  # N > M: split N (32 blocks of 16)
        (1, 20, 10000, 1, 3, (2, 1, 2)),  # N > M, only 2 blocks of 16 columns
        (3, 3, 100000, 1, 8, (3, 3, 1)),  # M split capped at M
        (64, 64, 64, 3, 4, (2, 2, 1)),  # ceil(4 / 3) threads per GEMM
        (2048, 2048, 2048, 1, 32, (32, 32, 1)),  # the pool's 32 threads
        (2048, 2048, 2048, 1, 80, (64, 64, 1)),  # ARM64 MaximumThreadCount = MLAS_MAXIMUM_THREAD_COUNT * 4
    ],
)
def test_thread_partition(m, n, k, batch, threads, expected):
    p = sb.thread_partition(m, n, k, batch, threads)
    assert (p.threads_per_gemm, p.thread_count_m, p.thread_count_n) == expected


@pytest.mark.parametrize(
    "n,k,expected",
    [
        (24, 300, (32, 1024)),  # N < K: StrideN halves while >= N, StrideK doubles
        (16, 300, (16, 2048)),
        (100, 300, (128, 256)),
        (512, 64, (512, 64)),  # N >= K: StrideK halves while StrideK/2 >= K
        (40, 20, (1024, 32)),
        (300, 300, (128, 256)),
    ],
)
def test_non_packed_strides(n, k, expected):
    assert sb.non_packed_strides(n, k) == expected


def _values(draw, shape, specials):
    finite = st.floats(-1e4, 1e4, width=32, allow_subnormal=False)
    extra = st.sampled_from([0.0, -0.0, 1e-40, -3e-39, 1e38, -1e38, 2.0**-126])
    elems = (finite | extra) if specials else finite
    n = int(np.prod(shape))
    return np.array(draw(st.lists(elems, min_size=n, max_size=n)), dtype=np.float32).reshape(shape)


@st.composite
def gemm_case(draw, max_m=19, max_n=20, ks=(1, 2, 3, 4, 5, 7, 8, 9, 16, 17)):
    m = draw(st.integers(1, max_m))
    n = draw(st.integers(1, max_n))
    k = draw(st.sampled_from(ks))
    specials = draw(st.booleans())
    A = _values(draw, (m, k), specials)
    B = _values(draw, (k, n), specials)
    bias = _values(draw, (n,), specials) if draw(st.booleans()) else None
    return A, B, bias


# K = 1: row 0's loads past its end read rows 1-3 (-0) into lanes that meet B's +0 padding, so
# its chain from a -0 bias stays -0 where the intended product gives +0 (defect 3, modelled
# faithfully). The reference is the intended product: compare with faithful=False.
_NEXT_ROWS_NEGATIVE_ZERO = (np.full((4, 1), -0.0, np.float32), np.ones((1, 12), np.float32),
                            np.full(12, -0.0, np.float32))


@settings(max_examples=30, deadline=None)
@given(gemm_case(), st.booleans(), st.integers(1, 3))
@example(_NEXT_ROWS_NEGATIVE_ZERO, True, 1)
def test_sgemm_bf16_matches_exact_reference(case, packed_b, threads):
    A, B, bias = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OrtDefectWarning)
        got = mlas_emu.sgemm_bf16(A, B, bias, packed_b=packed_b, threads=threads, faithful=False)
    expected = ref.sbgemm(A, B, bias)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


@settings(max_examples=6, deadline=None)
@given(st.sampled_from([255, 256, 257, 259, 512, 513]), st.integers(1, 3), st.integers(1, 9))
@example(k=259, m=2, n=9)
def test_k_blocks_of_256_joined_by_fp32_adds(k, m, n):
    rng = np.random.default_rng(k * 100 + m * 10 + n)
    A = rng.standard_normal((m, k)).astype(np.float32)
    B = rng.standard_normal((k, n)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OrtDefectWarning)
        got = mlas_emu.sgemm_bf16(A, B)
    expected = ref.sbgemm(A, B, None, k_block=256)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


def _run(A, B, bias=None, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = mlas_emu.sgemm_bf16(A, B, bias, **kw)
    return got, [w for w in caught if issubclass(w.category, OrtDefectWarning)]


def test_defect1_non_packed_layout():
    rng = np.random.default_rng(11)
    A = rng.standard_normal((3, 300)).astype(np.float32)
    B = rng.standard_normal((300, 24)).astype(np.float32)
    got, caught = _run(A, B, packed_b=False)
    assert any("defect 1" in str(w.message) for w in caught)
    # Columns 16-23: the last panel reads the gap nothing wrote.
    assert np.isnan(got[:, 16:]).all() and not np.isnan(got[:, :16]).any()
    # Intended: the slice (StrideK = 1024) is one chain over all of K.
    fixed, _ = _run(A, B, packed_b=False, faithful=False)
    np.testing.assert_array_equal(fixed.view(np.uint32), ref.sbgemm(A, B, None, k_block=1024).view(np.uint32))
    assert (got[:, :16] != fixed[:, :16]).any()


def test_defect2_packed_offset():
    rng = np.random.default_rng(12)
    A = rng.standard_normal((2, 259)).astype(np.float32)
    B = rng.standard_normal((259, 136)).astype(np.float32)
    got, caught = _run(A, B, ort_version="1.27.0")
    assert any("defect 2" in str(w.message) for w in caught)
    expected = ref.sbgemm(A, B)
    np.testing.assert_array_equal(got[:, :128].view(np.uint32), expected[:, :128].view(np.uint32))
    assert (got[:, 128:] != expected[:, 128:]).all()
    fixed, _ = _run(A, B, faithful=False, ort_version="1.27.0")
    np.testing.assert_array_equal(fixed.view(np.uint32), expected.view(np.uint32))
    # 1.28.0 has no defect 2 (oracle: tests/ort/test_matmul.py): the intended product, no warning
    new, caught = _run(A, B, ort_version="1.28.0")
    assert not caught
    np.testing.assert_array_equal(new.view(np.uint32), expected.view(np.uint32))


def test_defect3_over_read_of_next_row():
    A = np.ones((4, 6), np.float32)
    A[1, 0] = np.inf
    B = np.ones((6, 40), np.float32)
    got, caught = _run(A, B, ort_version="1.27.0")
    assert any("defect 3" in str(w.message) for w in caught)
    assert np.isnan(got[0]).all() and got.view(np.uint32)[0, 0] == 0x7FC00000
    assert (got[2:] == 6.0).all()
    fixed, _ = _run(A, B, faithful=False, ort_version="1.27.0")
    assert (fixed[0] == 6.0).all()
    new, caught = _run(A, B, ort_version="1.28.0")  # fixed in 1.28.0
    assert not caught and (new[0] == 6.0).all() and (new[2:] == 6.0).all()


def test_non_packed_bias_offset_quirk():
    rng = np.random.default_rng(13)
    A = rng.standard_normal((1, 128)).astype(np.float32)
    B = rng.standard_normal((128, 2048)).astype(np.float32)
    bias = rng.standard_normal(2048).astype(np.float32)
    got, caught = _run(A, B, bias, packed_b=False, threads=2)  # two threads of 1024 columns
    assert any("bias" in str(w.message) for w in caught)
    shifted = np.concatenate([bias[:1024], bias[:1024]])
    fixed, _ = _run(A, B, shifted, packed_b=False, threads=2, faithful=False)
    np.testing.assert_array_equal(got.view(np.uint32), fixed.view(np.uint32))


def test_inputs_not_modified():
    rng = np.random.default_rng(14)
    A = rng.standard_normal((5, 7)).astype(np.float32)
    B = rng.standard_normal((7, 9)).astype(np.float32)
    bias = rng.standard_normal(9).astype(np.float32)
    copies = [x.copy() for x in (A, B, bias)]
    _run(A, B, bias)
    _run(A, B, bias, packed_b=False, path="instructions")
    for x, c in zip((A, B, bias), copies):
        np.testing.assert_array_equal(x, c)


@pytest.mark.parametrize(
    "args,kwargs,exc",
    [
        ((np.ones((2, 3)), np.ones((3, 2), np.float32)), {}, TypeError),  # float64
        ((np.ones((2, 3), np.float32), np.ones((4, 2), np.float32)), {}, ValueError),  # K mismatch
        ((np.ones(3, np.float32), np.ones((3, 2), np.float32)), {}, ValueError),  # rank
        (([[1.0]], np.ones((1, 2), np.float32)), {}, TypeError),  # not an array
        ((np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), np.ones(3, np.float32)), {}, ValueError),
        ((np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)), {"threads": 0}, ValueError),
        ((np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)), {"path": "slow"}, ValueError),
    ],
)
def test_bad_input(args, kwargs, exc):
    with pytest.raises(exc):
        mlas_emu.sgemm_bf16(*args, **kwargs)


def test_instruction_path_and_trace_through_the_driver():
    rng = np.random.default_rng(15)
    A = rng.standard_normal((9, 10)).astype(np.float32)
    B = rng.standard_normal((10, 11)).astype(np.float32)
    trace = []
    got, _ = _run(A, B, path="instructions", trace=trace)
    fast, _ = _run(A, B)
    np.testing.assert_array_equal(got.view(np.uint32), fast.view(np.uint32))
    # rows 8 + 1 (4 + 1 row pairs) x columns 8 + 3 (4 + 2 column pairs), 3 steps of 4 k
    expected = 3 * (4 * 4 + 4 * 2 + 1 * 4 + 1 * 2)
    assert sum(r.mnemonic == "bfmmla" for r in trace) == expected


def test_host_threads_never_change_bits():
    import numba

    rng = np.random.default_rng(16)
    A = rng.standard_normal((37, 300)).astype(np.float32)
    B = rng.standard_normal((300, 70)).astype(np.float32)
    before = numba.get_num_threads()
    try:
        results = []
        for host in sorted({1, before}):
            numba.set_num_threads(host)
            got, _ = _run(A, B, packed_b=False, threads=2)
            results.append(got.view(np.uint32))
    finally:
        numba.set_num_threads(before)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_undefined_memory_is_always_named_in_the_warning():
    """Many K slices read as one block fill the defect's detail list; the note that some values
    are NaN because they read memory nothing wrote must still be in the warning (found by the
    oracle comparison: M=1, K=1030, N=129, B as input, 3 threads)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1, 1030)).astype(np.float32)
    b = rng.standard_normal((1030, 129)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = mlas_emu.sgemm_bf16(a, b, packed_b=False, threads=3)
    assert np.isnan(got).any()
    texts = [str(w.message) for w in caught if issubclass(w.category, OrtDefectWarning)]
    assert any("nothing wrote" in t for t in texts), texts
    assert any("more" in t for t in texts if "defect 1" in t)


@pytest.mark.parametrize("packed_b", [True, False])
@pytest.mark.parametrize("K", [264, 302])  # 302: last K block of 46, the packed offset defect
@pytest.mark.parametrize("threads", [1, 2])
def test_fast_path_merges_n_slices_without_changing_bits(packed_b, K, threads):
    # N = 300 spans three 128-column slices (two threads: 144 + 156 columns); the instruction
    # path runs every slice as MLAS does, the fast path merges them when no defect applies.
    rng = np.random.default_rng(K + threads)
    A = rng.standard_normal((3, K)).astype(np.float32)
    B = rng.standard_normal((K, 300)).astype(np.float32)
    bias = rng.standard_normal(300).astype(np.float32) if threads == 1 else None
    fast, caught_fast = _run(A, B, bias, packed_b=packed_b, threads=threads)
    slow, caught_slow = _run(A, B, bias, packed_b=packed_b, threads=threads, path="instructions")
    np.testing.assert_array_equal(fast.view(np.uint32), slow.view(np.uint32))
    assert sorted(str(w.message) for w in caught_fast) == sorted(str(w.message) for w in caught_slow)


@pytest.mark.parametrize("K,version,built", [(264, "1.27.0", False), (302, "1.27.0", True), (302, "1.28.0", False)])
def test_packed_buffer_is_built_only_when_a_path_reads_it(K, version, built):  # 302: last block of 46, defect 2
    from mlas_emu.mlas import sbgemm as sb

    rng = np.random.default_rng(K)
    A = rng.standard_normal((2, K)).astype(np.float32)
    B = rng.standard_normal((K, 300)).astype(np.float32)
    c = np.zeros(2 * 300, np.float32)
    d = sb.SBGemmData(A.reshape(-1), 0, K, None, 0, 300, True, c, 0, 300, b_source=B)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OrtDefectWarning)
        sb.sbgemm_batch(2, 300, K, [d], ort_version=version).warn()
    assert (d.b is not None) is built
    expected, _ = _run(A, B, path="instructions", ort_version=version)
    np.testing.assert_array_equal(c.reshape(2, 300).view(np.uint32), expected.view(np.uint32))
