"""The SMMLA (s8s8) kernel family: unflipped packing with signed sums.

Layouts are checked element by element against the rules of ``qgemm_kernel_smmla.cpp`` (shared
with UMMLA, see ``test_qgemm_kernel_ummla.py``); the routine's schedule is tested in
``test_qgemm_kernel_mmla_asm.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
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
