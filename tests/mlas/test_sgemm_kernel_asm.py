"""The schedules of MlasSgemmKernelZero/Add (aarch64/SgemmKernelNeon.S) and MlasGemvFloatKernel
(aarch64/SgemvKernelNeon.S): interpreted on register images they give the exact reference's bits
(tests/naive.py, Arm ARM pseudocode with Fractions; the K blocking of sgemm.cpp written as a
table in test_sgemm.py), and their instruction counts equal what the real routines execute
under the oracle."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import example, given, settings

from mlas_emu.mlas.sgemm import (RoutineCall, call_records, instruction_release, plan, routine_calls, sgemm,
                                 trace_records)
from mlas_emu.mlas.sgemm_kernel_asm import kernel_rows
from test_sgemm import _example, problems, ref_sgemm


def bits(x):
    return np.asarray(x).view(np.uint32)


@settings(max_examples=25, deadline=None)
@given(problems(max_k=13))
@example(_example(9, 17, 9, 0, beta=1.0, alpha=0.5))  # 4+4+1 rows, 16 + 1 columns, K = 4+4+1
@example(_example(3, 33, 8, 1, beta=2.5, packed_b=False))  # 2+1 rows, 16+16+1 columns, beta scaling
@example(_example(1, 71, 6, 2, packed_b=False, beta=1.0))  # GEMV: 64 columns, then 4+2+1, Add mode
@example(_example(1, 39, 3, 3, packed_b=False))  # GEMV pieces 32+4+2+1, ZeroMode
@example(_example(13, 8, 5, 4, trans_a=True, trans_b=True, alpha=-3.0))  # PanelA: 12 rows, then 1
@example(_example(2, 10, 258, 5, alpha=0.5))  # K blocks of 256 and 2: the second in Add mode
def test_instruction_path_matches_exact_reference(p):
    got = sgemm(**p, path="instructions")
    assert np.array_equal(bits(got), bits(ref_sgemm(**p)))


def _counts(records):
    return Counter(r.mnemonic for r in records)


def _merged(counts):
    """``movz`` counted as ``mov`` (objdump's name for both), as in :data:`MEASURED`."""
    out = Counter(counts)
    out["mov"] += out.pop("movz", 0)
    return dict(out)


def _routine_counts(cases, ort_version):
    """Summed schedule counts of several MatMul products (one thread), per routine."""
    out = {"zero": Counter(), "add": Counter(), "gemv": Counter()}
    for M, K, N, packed in cases:
        segments = plan(M, N, K, packed_b=packed, ort_version=ort_version)
        for step in routine_calls(segments, K, packed_b=packed):
            assert isinstance(step, RoutineCall)
            key = "gemv" if step.routine == "gemv" else "zero" if step.call.zero_mode else "add"
            out[key].update(_counts(call_records(step)))
    return {k: _merged(v) for k, v in out.items() if v}


#: MatMul (M, K, N, B constant) cases of one ONNX model, 8 nodes in one session, one thread.
CASES = [(5, 9, 20, True), (3, 300, 37, True), (1, 7, 70, False), (6, 13, 9, False), (2, 5, 16, True),
         (1, 3, 3, False), (4, 4, 24, True), (7, 6, 130, False)]

#: Every instruction the three routines executed for CASES, by mnemonic, measured under the oracle
#: (ONNX Runtime 1.32.0 and 1.17.1 wheels, qemu-aarch64 -cpu neoverse-v1 = Graviton3, one run of
#: ``-d in_asm,exec,nochain`` restricted to the routines' address ranges in the pybind library;
#: the ranges from the routines' entries, MlasSgemmKernelZero/Add: stp d8,d9,[sp,#-32]! then
#: stp d10,d11,[sp,#16]; MlasGemvFloatKernel: cmp x4,#64 / b.lo / mov x14,x0). Objdump's
#: mnemonics with b.<cond> as b; ``mov xN, #imm`` (movz in the schedules) counted with mov here.
MEASURED = {
    "zero": {
        "add": 131, "b": 64, "cbnz": 61, "cbz": 51, "cmp": 61, "dup": 7, "fmla": 9826, "fmul": 392,
        "ldp": 3016, "ldr": 831, "mov": 93, "movi": 354, "ret": 11, "st1": 24, "stp": 178, "sub": 565,
        "tbnz": 76, "tbz": 468,
    },
    "add": {
        "add": 15, "b": 12, "cbz": 8, "cmp": 10, "fmla": 1350, "ld1": 6, "ldp": 456, "ldr": 99, "mov": 13,
        "movi": 30, "ret": 2, "st1": 6, "stp": 16, "sub": 76, "tbnz": 10, "tbz": 74,
    },
    "gemv": {
        "add": 36, "b": 15, "cbnz": 10, "cbz": 8, "cmp": 3, "fmla": 132, "ld1r": 17, "ldr": 132, "mov": 14,
        "movi": 50, "ret": 2, "stp": 8, "str": 4, "sub": 18, "tbz": 72, "tst": 3,
    },
}


@pytest.mark.parametrize("ort_version", ["1.17.1", "1.32.0"])
def test_schedule_counts_equal_measured_routines(ort_version):
    assert _routine_counts(CASES, ort_version) == MEASURED


def test_trace_records_name_product_coordinates():
    # 6 rows: calls of 4 rows (0-3) and 2 rows (4-5); every A element is loaded, every C element stored
    assert [(s.call.m, s.call.rows) for s in routine_calls(plan(6, 20, 9), 9)] == [(0, 4), (4, 2)]
    records = trace_records(6, 20, 9)
    a_lanes = {lane for r in records if r.mnemonic == "ldr" for lanes in r.lanes.values() for lane in lanes}
    assert a_lanes == {("A", i, k) for i in range(6) for k in range(9)}
    stored = {lane for r in records if r.mnemonic.startswith("st") for lanes in r.lanes.values() for lane in lanes}
    assert stored == {("C", i, j) for i in range(6) for j in range(20)}


def test_trace_records_follow_the_instruction_path():
    """Consistency: the records the instruction path executes are the trace's."""
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((3, 7)).astype(np.float32), rng.standard_normal((7, 70)).astype(np.float32)
    for packed in (True, False):
        executed = []
        sgemm(A[:1], B, packed_b=packed, trace=executed)
        assert executed == trace_records(1, 70, 7, packed_b=packed)


def test_every_c_element_stored_once_per_k_block():
    # 3 rows x 37 columns, K = 300 in blocks of 256 and 44: each element stored twice
    records = trace_records(3, 37, 300)
    stored = Counter(lane for r in records if r.mnemonic.startswith("st") for lanes in r.lanes.values()
                     for lane in lanes if lane is not None)
    assert set(stored.values()) == {2} and len(stored) == 3 * 37


@pytest.mark.parametrize("count_m, rows", [(1, 1), (2, 2), (3, 2), (4, 4), (9, 4)])
def test_kernel_rows(count_m, rows):
    assert kernel_rows(count_m) == rows


def test_release_and_cpu_are_checked():
    assert instruction_release("1.17.1", "graviton2").version == "1.17.1"
    with pytest.raises(ValueError, match="unknown cpu"):
        trace_records(2, 2, 2, cpu="graviton9")
    with pytest.raises(ValueError, match="kind"):
        trace_records(2, 2, 2, kind="sbgemm")
    with pytest.raises(ValueError, match="positive integer"):
        trace_records(0, 2, 2)


@pytest.mark.oracle
def test_live_count_of_one_product(oracle):
    """The oracle's per-routine count of MlasSgemmKernelZero/Add on one small product."""
    count = getattr(oracle, "count_kernel_instructions", None)
    if count is None:
        pytest.skip("this oracle has no count_kernel_instructions")
    import onnx
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(0)
    M, K, N = 5, 9, 20
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["A", "B"], ["Y"])], "g",
        [helper.make_tensor_value_info("A", onnx.TensorProto.FLOAT, [M, K])],
        [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(rng.standard_normal((K, N)).astype(np.float32), "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    feeds = {"A": rng.standard_normal((M, K)).astype(np.float32)}
    measured = count(model.SerializeToString(), feeds, "sgemm", ort_version="1.32.0", cpu="graviton3")
    assert measured == dict(_counts(trace_records(M, N, K)))
