"""The DOT-product QGEMM kernels (UDOT, SDOT) against exact integer arithmetic.

Reference: Python ints, sum_k (A[i,k] - zpA) * (B[k,j] - zpB) reduced modulo 2^32 to int32,
which is what MLAS's QGEMM computes whatever the kernel (every step is wrapping int32 arithmetic).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu.mlas import qgemm_kernel_sdot, qgemm_kernel_udot

KINDS = {"u8u8": (np.uint8, np.uint8), "u8s8": (np.uint8, np.int8), "s8s8": (np.int8, np.int8)}


def _wrap(x: int) -> int:
    return (x + 2**31) % 2**32 - 2**31


def exact_qgemm(A, B, zpa, zpb):
    M, K = A.shape
    N = B.shape[1]
    a = A.astype(int).tolist()
    b = B.astype(int).tolist()
    zp = [int(z) for z in np.broadcast_to(zpb, (N,))]
    return np.array(
        [[_wrap(sum((a[i][k] - zpa) * (b[k][j] - zp[j]) for k in range(K))) for j in range(N)] for i in range(M)],
        dtype=np.int32,
    ).reshape(M, N)


def _gemm(kind):
    return qgemm_kernel_sdot.gemm if kind == "s8s8" else qgemm_kernel_udot.gemm


def _draw(data, dtype, shape):
    info = np.iinfo(dtype)
    edge = st.sampled_from([info.min, info.max, 0, 1, -1 if info.min < 0 else 128])
    values = st.one_of(edge, st.integers(info.min, info.max))
    flat = data.draw(st.lists(values, min_size=shape[0] * shape[1], max_size=shape[0] * shape[1]))
    return np.array(flat, dtype=dtype).reshape(shape)


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(sorted(KINDS)),
    M=st.integers(1, 19),
    N=st.integers(1, 19),
    K=st.integers(1, 40),
    packed_b=st.booleans(),
    threads=st.sampled_from([1, 3]),
    data=st.data(),
)
@example(kind="u8u8", M=8, N=8, K=8, packed_b=True, threads=1, data=None)
@example(kind="s8s8", M=15, N=9, K=17, packed_b=False, threads=1, data=None)  # 8+4+2+1 rows, tails
def test_matches_exact_integer_gemm(kind, M, N, K, packed_b, threads, data):
    """The instruction path (each call's routine schedule run on register images) against
    Python ints; per-column zero points of B (ZeroPointB not null) on some draws."""
    adt, bdt = KINDS[kind]
    if data is None:
        rng = np.random.default_rng(M * 1000 + N * 10 + K)
        A = rng.integers(np.iinfo(adt).min, np.iinfo(adt).max + 1, (M, K)).astype(adt)
        B = rng.integers(np.iinfo(bdt).min, np.iinfo(bdt).max + 1, (K, N)).astype(bdt)
        zpa, zpb = int(np.iinfo(adt).max), int(np.iinfo(bdt).min)
    else:
        A, B = _draw(data, adt, (M, K)), _draw(data, bdt, (K, N))
        zpa = data.draw(st.integers(np.iinfo(adt).min, np.iinfo(adt).max))
        zp = st.integers(np.iinfo(bdt).min, np.iinfo(bdt).max)
        zpb = data.draw(st.one_of(zp, st.lists(zp, min_size=N, max_size=N).map(np.array)))
    A0, B0 = A.copy(), B.copy()
    got = _gemm(kind)(A, B, zpa, zpb, packed_b=packed_b, threads=threads)
    np.testing.assert_array_equal(got, exact_qgemm(A, B, zpa, zpb))
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(B, B0)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_k_slices_of_256_and_384(kind):
    adt, bdt = KINDS[kind]
    rng = np.random.default_rng(7)
    A = rng.integers(np.iinfo(adt).min, np.iinfo(adt).max + 1, (3, 400)).astype(adt)
    B = rng.integers(np.iinfo(bdt).min, np.iinfo(bdt).max + 1, (400, 5)).astype(bdt)
    expected = exact_qgemm(A, B, 3, -2 if bdt == np.int8 else 2)
    for packed_b in (False, True):
        np.testing.assert_array_equal(_gemm(kind)(A, B, 3, -2 if bdt == np.int8 else 2, packed_b=packed_b), expected)


def test_kernel_wraps_modulo_2_32():
    # Accumulators seeded near the int32 limit by the row sums: the DOT products must wrap.
    from mlas_emu.mlas.interpret import Memory, execute
    from mlas_emu.mlas.qgemm_kernel_dot_asm import schedule
    from mlas_emu.mlas.schedule import KernelCall

    call = KernelCall(0, 0, 1, 0, 1, 0, 8, True)
    c = np.zeros((1, 1), np.int32)
    memory = Memory(A=np.full((1, 8), 255, np.uint8), B=np.full((8, 1), 255, np.uint8), C=c,
                    RowSum=np.array([[2**31 - 1]], np.int32), ColumnSum=np.zeros((1, 1), np.int32))
    execute(schedule(call), memory)
    assert int(c[0, 0]) == _wrap(2**31 - 1 + 8 * 255 * 255)


def test_packed_a_layout_matches_mlas_comment():
    # MlasGemmU8X8CopyPackA: "[ A0 A1 A2 A3 B0 B1 B2 B3 C0 C1 C2 C3 D0 D1 D2 D3 ]
    #                         [ E0 E1 E2 E3 F0 F1 F2 F3 G0 G1 G2 G3 H0 H1 H2 H3 ]" for rows A..H.
    A = np.arange(8 * 8).reshape(8, 8)  # value = 8*row + k
    got = qgemm_kernel_udot.pack_a_layout(A, -1)
    first = [8 * r + k for r in range(4) for k in range(4)] + [8 * r + k for r in range(4, 8) for k in range(4)]
    second = [8 * r + k for r in range(4) for k in range(4, 8)] + [8 * r + k for r in range(4, 8) for k in range(4, 8)]
    assert got.tolist() == first + second


def test_packed_b_layout_matches_mlas_comment():
    # MlasGemmU8X8CopyPackB: per 4 rows of B, [c0k0..3 c1k0..3 c2k0..3 c3k0..3][c4.. c7..].
    B = np.arange(4 * 8).reshape(4, 8)  # value = 8*k + column
    got = qgemm_kernel_udot.pack_b_layout(B, -1)
    expected = [8 * k + c for c in range(8) for k in range(4)]
    assert got[:32].tolist() == expected
    assert got[32:].tolist() == [-1] * 32  # K padded to a multiple of 8


def test_u8s8_flips_b_like_mlas():
    B = np.array([[-128, 0, 127]], np.int8)
    packed, sums = qgemm_kernel_udot.copy_pack_b(B, True)
    assert packed[[0, 4, 8]].tolist() == [0, 128, 255]
    assert sums.tolist() == [0, 128, 255]


@pytest.mark.oracle
@pytest.mark.parametrize(("kind", "M", "N", "K"), [("u8u8", 7, 9, 3), ("u8s8", 13, 21, 37), ("s8s8", 9, 130, 260)])
def test_matches_real_dot_kernel(oracle, kind, M, N, K):
    # -cpu neoverse-n1 (DotProd, no I8MM): ONNX Runtime runs the UDOT/SDOT kernels.
    adt, bdt = KINDS[kind]
    rng = np.random.default_rng(M * N * K)
    A = rng.integers(np.iinfo(adt).min, np.iinfo(adt).max + 1, (M, K)).astype(adt)
    B = rng.integers(np.iinfo(bdt).min, np.iinfo(bdt).max + 1, (K, N)).astype(bdt)
    zpa, zpb = adt(3), bdt(-5 if bdt == np.int8 else 5)
    expected = oracle.matmul_integer(A, B, zpa, zpb, ort_version="1.17.0", cpu="graviton2")
    np.testing.assert_array_equal(_gemm(kind)(A, B, int(zpa), int(zpb), packed_b=True), expected)
