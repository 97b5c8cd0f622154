"""Traces of the MLAS kernels: counts measured on the real kernels, and lane bookkeeping.

The measured counts come from ONNX Runtime 1.17.1's aarch64 library executed under
qemu-aarch64 (executed MMLA/DOT words counted from QEMU's execution log, one thread). The lane
checks are independent of the kernel models: every product A[i,k]*B[k,j] of the GEMM must be
formed exactly once by the traced multiply instructions, and the lanes of each instruction must
agree with each other (same row in A and C, same column in B and C, same k in A and B).
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu.teach import KERNELS, Trace, trace

# (kernel, M, N, K, instruction, count) measured on the real ORT 1.17.1 kernels.
MEASURED = [
    ("sbgemm", 8, 8, 8, "bfmmla", 32),
    ("sbgemm", 16, 24, 20, "bfmmla", 480),
    ("qgemm-u8u8", 8, 8, 8, "ummla", 16),
    ("qgemm-u8s8", 16, 24, 20, "ummla", 288),
    ("qgemm-s8s8", 8, 16, 16, "smmla", 64),
    ("qgemm-dot-u8u8", 8, 8, 8, "udot", 32),
]

MULTIPLY = {"bfmmla", "ummla", "smmla", "udot", "sdot", "fmla"}


@pytest.mark.parametrize(("kernel", "M", "N", "K", "mnemonic", "expected"), MEASURED)
def test_counts_match_the_real_kernels(kernel, M, N, K, mnemonic, expected):
    got = trace(kernel, M, N, K, ort_version="1.17.1").counts[mnemonic]
    assert got == expected


def _products(t: Trace) -> Counter:
    """Every (i, j, k) product the multiply instructions form, from their lanes alone."""
    seen: Counter = Counter()
    for r in t:
        if r.mnemonic not in MULTIPLY or not r.lanes or r.operands[0].startswith("v4.4s"):
            continue  # the add-mode fmla of the SGEMM output (C += acc * alpha) forms no product
        vd, vn, vm = r.operands
        c, first, second = r.lanes[vd], r.lanes[vn], r.lanes[vm]
        a, b = (first, second) if r.mnemonic in ("bfmmla", "ummla", "smmla") else (second, first)
        if r.mnemonic in ("bfmmla", "ummla", "smmla"):
            depth = len(a) // 2  # A is 2 x depth (row-major), B^T is 2 x depth
            for lane, cc in enumerate(c):
                i, j = divmod(lane, 2)
                for kk in range(depth):
                    _add(seen, cc, a[i * depth + kk], b[j * depth + kk])
        elif r.mnemonic in ("udot", "sdot"):
            for lane, cc in enumerate(c):  # B holds 4 columns x 4 k; A one row's 4 k
                for kk in range(4):
                    _add(seen, cc, a[kk], b[4 * lane + kk])
        else:  # fmla by element: B row k, 4 columns; A one element
            for lane, cc in enumerate(c):
                _add(seen, cc, a[0], b[lane])
    return seen


def _add(seen, c, a, b):
    if c is None or a is None or b is None:
        return
    _, i, j = c
    _, ia, ka = a
    _, kb, jb = b
    assert (i, j) == (ia, jb) and ka == kb, f"inconsistent lanes C{c} A{a} B{b}"
    seen[(i, j, ka)] += 1


def _check_every_product_once(t: Trace):
    seen = _products(t)
    assert len(seen) == t.M * t.N * t.K
    assert set(seen.values()) == {1}
    assert all(0 <= i < t.M and 0 <= j < t.N and 0 <= k < t.K for i, j, k in seen)


@settings(max_examples=40, deadline=None)
@given(
    kernel=st.sampled_from(sorted(KERNELS)),
    M=st.integers(1, 19),
    N=st.integers(1, 21),
    K=st.integers(1, 40),
    packed_b=st.booleans(),
)
@example(kernel="sbgemm", M=3, N=7, K=6, packed_b=True)  # 7 columns computed as 8, K tail
@example(kernel="qgemm-u8s8", M=1, N=5, K=9, packed_b=False)  # phantom row, 6-wide block
@example(kernel="qgemm-dot-s8s8", M=7, N=9, K=3, packed_b=True)  # 4+2+1 rows, column tail
@example(kernel="sgemm", M=5, N=13, K=7, packed_b=True)  # 4+1 rows, masked 8+4+1 store
def test_every_product_is_formed_once(kernel, M, N, K, packed_b):
    if kernel == "sgemm" and M == 1 and not packed_b:
        return  # the GEMV kernel's records (from the SGEMM model) carry no lane coordinates
    _check_every_product_once(trace(kernel, M, N, K, packed_b=packed_b))


@pytest.mark.parametrize("kernel", ["sbgemm", "qgemm-s8s8", "qgemm-dot-u8u8", "sgemm"])
@pytest.mark.parametrize(("K", "packed_b"), [(257, True), (385, True), (260, False)])
def test_every_product_once_across_k_blocks(kernel, K, packed_b):
    _check_every_product_once(trace(kernel, 3, 10, K, packed_b=packed_b))


@pytest.mark.parametrize("steps", [1, 2, 3, 5])
def test_sixteen_bfmmla_per_four_k_for_an_8x8_tile(steps):
    # SbgemmKernelNeon.S: 4 row pairs x 4 column pairs per 4 values of K.
    assert trace("sbgemm", 8, 8, 4 * steps).counts["bfmmla"] == 16 * steps


def test_k_tail_takes_one_more_full_step():
    # K = 5: one step of 4 and one padded step (the A over-read).
    t = trace("sbgemm", 8, 8, 5)
    assert t.counts["bfmmla"] == 32
    assert any("over-read" in r.note for r in t)


def test_threads_change_the_row_split_and_the_count():
    # M=10, N=8, K=1024: 81920 multiply-adds -> 2 threads splitting M into 5 + 5 rows, each run
    # as 4 + 1 rows (2 + 1 row pairs) instead of 8 + 2 rows (4 + 1 row pairs), for 256 steps.
    one = trace("sbgemm", 10, 8, 1024, threads=1).counts["bfmmla"]
    two = trace("sbgemm", 10, 8, 1024, threads=2).counts["bfmmla"]
    assert (one, two) == (5 * 4 * 256, 6 * 4 * 256)


def test_dot_kernel_issues_twice_the_instructions_of_mmla_for_8x8x8():
    assert trace("qgemm-dot-s8s8", 8, 8, 8).counts["sdot"] == 2 * trace("qgemm-s8s8", 8, 8, 8).counts["smmla"]


def test_text_and_html():
    t = trace("qgemm-u8u8", 2, 2, 8)
    text = t.to_text()
    assert "ummla" in text and "v16.4s" in text
    assert text.count("\n") == len(t) + 1
    assert "... " in t.to_text(limit=3)
    html = t._repr_html_()
    assert "<table>" in html and "ummla" in html
    assert len(t) == sum(t.counts.values())
    assert t.bytes_loaded > 0 and t.bytes_stored == 2 * 2 * 4


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("bfmmla", 8, 8, 8), {}, "unknown kernel"),
        (("sbgemm", 0, 8, 8), {}, "M must be"),
        (("sbgemm", 8, 2.0, 8), {}, "N must be"),
        (("sbgemm", 8, 8, True), {}, "K must be"),
        (("sbgemm", 8, 8, 8), {"threads": 0}, "threads"),
        (("sbgemm", 8, 8, 8), {"packed_b": "yes"}, "packed_b"),
        (("sbgemm", 8, 8, 8), {"ort_version": "1.16.0"}, "1.17.0"),
        (("sbgemm", 4096, 4096, 4096), {}, "too large"),
    ],
)
def test_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        trace(*args, **kwargs)


# The kernel models of mlas_emu.mlas run the same kernels instruction by instruction on register
# images (a separate implementation of the loops): their multiply counts must agree with traces.
CROSS_SHAPES = [(8, 8, 8), (3, 5, 6), (13, 7, 9), (1, 17, 33), (5, 131, 259), (10, 8, 300)]


@pytest.mark.filterwarnings("ignore::mlas_emu.errors.OrtDefectWarning")
@pytest.mark.parametrize(("M", "N", "K"), CROSS_SHAPES)
@pytest.mark.parametrize("packed_b", [True, False])
def test_counts_agree_with_the_mlas_instruction_paths(M, N, K, packed_b):
    import numpy as np

    from mlas_emu.mlas.qgemm import qgemm
    from mlas_emu.mlas.sbgemm import sgemm_bf16

    A = np.zeros((M, K), np.float32)
    B = np.zeros((K, N), np.float32)
    got = []
    sgemm_bf16(A, B, packed_b=packed_b, path="instructions", trace=got)
    assert Counter(r.mnemonic for r in got)["bfmmla"] == trace("sbgemm", M, N, K, packed_b=packed_b).counts["bfmmla"]
    for kernel, adt, bdt, op in [("qgemm-u8s8", np.uint8, np.int8, "ummla"), ("qgemm-s8s8", np.int8, np.int8, "smmla")]:
        got = []
        qgemm(np.zeros((M, K), adt), np.zeros((K, N), bdt), packed_b=packed_b, path="instructions", trace=got)
        assert Counter(r.mnemonic for r in got)[op] == trace(kernel, M, N, K, packed_b=packed_b).counts[op]
