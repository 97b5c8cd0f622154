"""The MXCSR intrinsics the fp32 tier of the SBGEMM chains relies on (x86 hosts only)."""

from __future__ import annotations

import numpy as np
import pytest

from mlas_emu import _host_fp
from mlas_emu._jit import njit

pytestmark = pytest.mark.skipif(not _host_fp.HAS_MXCSR, reason="MXCSR exists on x86 hosts only")


def _sum_under(mode_bits):
    @njit
    def run(x, y):
        saved = _host_fp.mxcsr_get()
        _host_fp.mxcsr_set(np.uint32(saved | mode_bits))
        inside = _host_fp.mxcsr_get()
        s = x[0] + y[0]
        _host_fp.mxcsr_set(saved)
        return s, saved, inside, _host_fp.mxcsr_get()

    return run


def test_round_toward_zero_truncates_and_the_register_is_restored():
    one = np.array([1.0], np.float32)
    tiny = np.array([2.0**-24 + 2.0**-30], np.float32)  # more than half an ulp of 1.0
    s, saved, inside, after = _sum_under(_host_fp.MXCSR_ROUND_TOWARD_ZERO)(one, tiny)
    assert s == np.float32(1.0)  # truncated; round to nearest gives 1 + 2^-23
    assert inside & 0x6000 == 0x6000 and after == saved
    assert (saved & 0x6000) == 0  # the process rounds to nearest
    s, *_ = _sum_under(np.uint32(0))(one, tiny)
    assert s == np.float32(1.0 + 2.0**-23)
    assert -one[0] - tiny[0] == np.float32(-(1.0 + 2.0**-23))  # numpy on this thread: nearest again
