"""The SBGEMM plan's operand maps.

``AsWritten`` says a call reads B exactly as the fp32 source holds it (bf16, zero rows to a
multiple of 4). That is a claim about MLAS's packers and the kernel's walk; here it is checked
against the packers run for real (``convert_pack_b`` / the panel packer of the non-packed path)
and read back along the kernel's walk (``read_b_operand``), for every call of random plans.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlas_emu.mlas import sbgemm as sb
from mlas_emu.mlas import sbgemm_kernel_neon as kn
from mlas_emu.mlas import sbgemm_plan as plan
from mlas_emu.mlas.dispatch import SBGEMM_NEON

shapes = st.tuples(st.integers(1, 20), st.integers(1, 300), st.integers(1, 600), st.integers(1, 8))


@settings(max_examples=40, deadline=None)
@given(shapes, st.sampled_from(["1.17.0", "1.32.0"]))
def test_packed_as_written_equals_the_packed_buffer_read_back(shape, version):
    M, N, K, threads = shape
    B = np.random.default_rng(K * N).standard_normal((K, N)).astype(np.float32)
    d = sb.SBGemmData(np.zeros(M * K, np.float32), 0, K, None, 0, N, True, np.zeros(M * N, np.float32), 0, N,
                      b_source=B)
    buffer = kn.convert_pack_b(B)
    aligned_n = kn.align_up(N, kn.PACKED_N)
    for call in sb.plan_gemm(M, N, K, packed_b=True, threads=threads, ort_version=version, faithful=False).calls:
        assert isinstance(call.b, plan.AsWritten)
        intended = aligned_n * call.k + kn.align_up(call.count_k, SBGEMM_NEON.packed_k) * call.n
        want = kn.read_b_operand(buffer, None, intended, call.count_n, call.count_k)
        got = sb._b_operand(call, d, {})
        np.testing.assert_array_equal(got[0], want[0])
        assert got[1].all() and want[1].all()


@settings(max_examples=40, deadline=None)
@given(shapes)
def test_non_packed_as_written_equals_the_panel_read_back(shape):
    M, N, K, threads = shape
    for call in sb.plan_gemm(M, N, K, packed_b=False, threads=threads, ort_version="1.32.0", faithful=False).calls:
        if call.count_k > SBGEMM_NEON.strides.K:
            continue  # the panel holds one block of 256: defect 1, not an as-written read
        assert isinstance(call.b, plan.AsWritten)
        panel = np.full(plan.PANEL_B_ELEMENTS, plan.UNWRITTEN, np.int64)
        index = plan._pack_and_read_back(panel, call.b.offset, call.count_k, call.count_n, call.b.ld)
        kk, cc = np.indices(index.shape)
        expected = np.where(kk < call.count_k, call.b.offset + kk * call.b.ld + cc, plan.ZERO)
        np.testing.assert_array_equal(index, expected)


def test_defect_1_maps_lanes_to_misplaced_and_unwritten_memory():
    # M=16, K=300, N=24 (docs/defects.md): one thread, a K slice of 300 read from a panel packed for 256
    (call,) = sb.plan_gemm(16, 24, 300, packed_b=False, threads=1, ort_version="1.32.0").calls
    assert isinstance(call.b, plan.Indexed)
    index = call.b.index
    kk, cc = np.indices(index.shape)
    intended = np.where(kk < 300, kk * 24 + cc, plan.ZERO)
    assert (index == plan.UNWRITTEN).any() and ((index >= 0) & (index != intended)).any()
