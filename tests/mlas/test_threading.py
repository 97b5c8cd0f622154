"""MlasPartitionWork and the M x N thread split the GEMM drivers share (mlas_emu.mlas.threading),
against splits worked out by hand from mlasi.h / sgemm.cpp."""

from __future__ import annotations

import pytest

from mlas_emu.mlas.threading import gemm_thread_ranges, partition_work


def test_partition_work_gives_the_remainder_to_the_first_threads():
    assert [partition_work(t, 3, 10) for t in range(3)] == [(0, 4), (4, 3), (7, 3)]
    assert [partition_work(t, 4, 2) for t in range(4)] == [(0, 1), (1, 1), (2, 0), (2, 0)]


@pytest.mark.parametrize("M, N, count_m, count_n, expected", [
    # N split in blocks of 16: 100 columns = 7 blocks -> 4 + 3 blocks -> 64 + 36 columns
    (16, 100, 1, 2, [(0, 16, 0, 64), (0, 16, 64, 36)]),
    # M split: 10 rows over 3 threads -> 4, 3, 3
    (10, 8, 3, 1, [(0, 4, 0, 8), (4, 3, 0, 8), (7, 3, 0, 8)]),
    # a partial last block: 20 columns = 2 blocks -> 16 + 4 columns
    (1, 20, 1, 2, [(0, 1, 0, 16), (0, 1, 16, 4)]),
    # M and N both split (thread id = row part * count_n + column part)
    (5, 40, 2, 2, [(0, 3, 0, 32), (0, 3, 32, 8), (3, 2, 0, 32), (3, 2, 32, 8)]),
])
def test_gemm_thread_ranges(M, N, count_m, count_n, expected):
    assert gemm_thread_ranges(M, N, count_m, count_n) == expected
