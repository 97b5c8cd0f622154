"""The SMMLA (s8s8) kernel family: unflipped packing with signed sums, and the kernel on mlas_emu.isa.

Layouts are checked element by element against the rules of ``qgemm_kernel_smmla.cpp`` (shared
with UMMLA, see ``test_qgemm_kernel_ummla.py``); the kernel, run through ``mlas_emu.isa.smmla``,
against exact integer sums.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_qgemm_kernel_ummla import _arange, expected_pack_a, expected_pack_b

from mlas_emu.mlas import qgemm_kernel_smmla as smmla_mod


@pytest.mark.parametrize("K,N", [(1, 1), (9, 7), (13, 11), (20, 24)])
def test_copy_pack_b_has_no_flip_and_signed_sums(K, N):
    B = _arange((K, N), np.int8)
    packed, sums = smmla_mod.copy_pack_b(B)
    np.testing.assert_array_equal(packed, expected_pack_b(B, 0))
    assert sums[:N].tolist() == B.astype(int).sum(axis=0).tolist()


@pytest.mark.parametrize("M,K", [(1, 17), (5, 9), (11, 13)])
def test_copy_pack_a_signed_row_sums(M, K):
    A = _arange((M, K), np.int8)
    packed, row_sums = smmla_mod.copy_pack_a(A)
    np.testing.assert_array_equal(packed, expected_pack_a(A))
    assert row_sums.tolist() == A.astype(int).sum(axis=1).tolist()


def test_fixup_zero_point_is_identity():
    assert [smmla_mod.fixup_zero_point_b(z, True) for z in (-128, -5, 0, 127)] == [-128, -5, 0, 127]


@settings(max_examples=30, deadline=None)
@given(M=st.integers(1, 12), N=st.integers(1, 12), K=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_kernel_on_isa_smmla(M, N, K, seed):
    """One kernel call per row group with MLAS's zero-point set-up, through mlas_emu.isa.smmla."""
    isa = pytest.importorskip("mlas_emu.isa")
    if not hasattr(isa, "smmla"):
        pytest.skip("mlas_emu.isa.smmla not available")
    rng = np.random.default_rng(seed)
    A = rng.integers(-128, 128, (M, K), dtype=np.int8)
    B = rng.integers(-128, 128, (K, N), dtype=np.int8)
    zpa, zpb = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    pa, rs = smmla_mod.copy_pack_a(A)
    pb, cs = smmla_mod.copy_pack_b(B)
    wrap = lambda x: np.asarray(x, np.int64).astype(np.uint32).view(np.int32)  # noqa: E731
    cs = wrap(cs.astype(np.int64) * -zpa)
    rs = wrap((rs.astype(np.int64) - K * zpa) * -zpb)
    c = np.zeros((M, N), np.int32)
    done, off, pkc = 0, 0, -(-K // 8)
    while done < M:
        rows = smmla_mod.gemm_kernel(pa[off:], pb, c[done:], pkc, M - done, N, rs[done:], cs, None, True)
        off += 8 * pkc * rows
        done += rows
    expected = wrap((A.astype(np.int64) - zpa) @ (B.astype(np.int64) - zpb))
    np.testing.assert_array_equal(c, expected)
