"""The SVE QGEMM routine of 1.30.0-1.32.0 (``mlas_emu.mlas.qgemm_kernel_sve_asm``).

* One routine call, interpreted on register images, against Python integers: C = (Add: C0 +)
  RowSum * ZP + ColumnSum + sum_k A * B modulo 2^32, for every call size (12, 8, 4, 2, 1 rows),
  column and K tails, both modes, per-column zero points, 128- and 256-bit vectors.
* The driver plan of the SVE dispatch: 12-row panels.
* Counts of the data-path mnemonics (``COUNTED``) equal what the real routine executed; the
  scalar mnemonics are not modelled (see the module docstring).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu.mlas.interpret import Memory, Registers, execute
from mlas_emu.mlas.qgemm import plan_calls, qgemm, sve_bits, trace_records
from mlas_emu.mlas.dispatch import QGEMM_SVE
from mlas_emu.mlas.qgemm_kernel_sve_asm import COUNTED, call_rows, schedule
from mlas_emu.mlas.schedule import KernelCall


def _int32(x: int) -> int:
    return (x + 2**31) % 2**32 - 2**31


@settings(max_examples=80, deadline=None)
@given(rows=st.sampled_from([1, 2, 4, 8, 12]), count_n=st.integers(1, 40), count_k=st.integers(1, 40),
       zero_mode=st.booleans(), per_column=st.booleans(), signed=st.booleans(), bits=st.sampled_from([128, 256]),
       seed=st.integers(0, 2**32 - 1))
@example(rows=12, count_n=17, count_k=9, zero_mode=False, per_column=True, signed=True, bits=128, seed=1)
@example(rows=1, count_n=33, count_k=16, zero_mode=False, per_column=False, signed=False, bits=256, seed=2)
@example(rows=8, count_n=25, count_k=1, zero_mode=False, per_column=True, signed=False, bits=256, seed=3)
def test_one_call_equals_python_integers(rows, count_n, count_k, zero_mode, per_column, signed, bits, seed):
    rng = np.random.default_rng(seed)
    dt = np.int8 if signed else np.uint8
    info, big = np.iinfo(dt), np.iinfo(np.int32)
    A = rng.integers(info.min, info.max + 1, (rows, count_k)).astype(dt)
    B = rng.integers(info.min, info.max + 1, (count_k, count_n)).astype(dt)
    row_sums = rng.integers(big.min, big.max + 1, (1, rows)).astype(np.int32)
    col_sums = rng.integers(big.min, big.max + 1, (1, count_n)).astype(np.int32)
    zps = rng.integers(-300, 300, (1, count_n)).astype(np.int32)
    C0 = rng.integers(big.min, big.max + 1, (rows, count_n)).astype(np.int32)
    C = C0.copy()
    memory = dict(A=A, B=B, C=C, RowSum=row_sums, ColumnSum=col_sums)
    if per_column:
        memory["ZeroPointB"] = zps
    call = KernelCall(0, 0, rows, 0, count_n, 0, count_k, zero_mode)
    records = schedule(call, kernel="smmla" if signed else "ummla", zero_point_b=per_column, vector_bits=bits)
    execute(records, Memory(**memory), Registers(vl=bits // 8))
    for r in range(rows):
        for c in range(count_n):
            scale = int(zps[0, c]) if per_column else 1
            total = (0 if zero_mode else int(C0[r, c])) + int(row_sums[0, r]) * scale + int(col_sums[0, c])
            total += sum(int(A[r, k]) * int(B[k, c]) for k in range(count_k))
            assert int(C[r, c]) == _int32(total), (r, c)


@settings(max_examples=25, deadline=None)
@given(M=st.integers(1, 30), N=st.integers(1, 40), K=st.integers(1, 50), kind=st.sampled_from(["u8u8", "u8s8", "s8s8"]),
       per_column=st.booleans(), cpu=st.sampled_from(["graviton3", "graviton4"]), seed=st.integers(0, 2**32 - 1))
def test_instruction_path_equals_exact_integers(M, N, K, kind, per_column, cpu, seed):
    """The whole product through the SVE plan (1.32.0) equals Python's integer product mod 2^32."""
    rng = np.random.default_rng(seed)
    at, bt = (np.int8 if kind[0] == "s" else np.uint8), (np.int8 if kind[2] == "s" else np.uint8)
    A = rng.integers(np.iinfo(at).min, np.iinfo(at).max + 1, (M, K)).astype(at)
    B = rng.integers(np.iinfo(bt).min, np.iinfo(bt).max + 1, (K, N)).astype(bt)
    zpa = int(rng.integers(np.iinfo(at).min, np.iinfo(at).max + 1))
    zpb = rng.integers(np.iinfo(bt).min, np.iinfo(bt).max + 1, N if per_column else ()).astype(bt)
    got = qgemm(A, B, zpa, zpb, path="instructions", ort_version="1.32.0", cpu=cpu)
    zcol = np.broadcast_to(np.asarray(zpb, np.int64), (N,))
    for i in range(M):
        for j in range(N):
            exact = sum((int(A[i, k]) - zpa) * (int(B[k, j]) - int(zcol[j])) for k in range(K))
            assert int(got[i, j]) == _int32(exact)


def test_plan_uses_12_row_panels():
    """24 rows: two 12-row calls (QEMU, 1.32.0 neoverse-v1, ran the 12-row part twice);
    13 rows: 12 then 1; 11: 8, 2, 1."""
    assert [c.rows for c in plan_calls(24, 8, 8, dispatch=QGEMM_SVE)] == [12, 12]
    assert [c.rows for c in plan_calls(13, 8, 8, dispatch=QGEMM_SVE)] == [12, 1]
    assert [c.rows for c in plan_calls(11, 8, 8, dispatch=QGEMM_SVE)] == [8, 2, 1]
    assert [call_rows(m) for m in (16, 15, 12, 11, 7, 3, 1)] == [8, 12, 12, 8, 4, 2, 1]


def test_which_releases_and_cpus_run_it():
    assert sve_bits("1.32.0", "graviton3") == 256 and sve_bits("1.30.0", "graviton4") == 128
    assert sve_bits("1.29.0", "graviton3") == 0 and sve_bits("1.32.0", "graviton2") == 0


# Every instruction executed inside the two SVE routines while a one-node MatMulInteger session
# (B an initializer: pre-packed) ran once under qemu-aarch64, one thread, ONNX Runtime 1.32.0:
# mlas_emu.oracle.count_kernel_instructions(model, {"A": A}, "qgemm-sve", ort_version="1.32.0",
# cpu=...) with the model of test_qgemm.one_node_matmul_integer; the data-path mnemonics of the
# breakdown (COUNTED; absent = 0). Calls of 12, 8, 4, 2 and 1 rows, column tails, two K slices
# (400: Add mode), 256-bit (graviton3) and 128-bit (graviton4) vectors.
MEASURED = {
    ("graviton3", "u8s8", 13, 21, 19): {
        "ummla": 168, "ld1b": 48, "st1w": 39, "ld1rqb": 36, "uzp1": 21, "uzp2": 18, "ld1w": 16, "zip1": 16, "ld1rd": 6,
        "ld1rqw": 6, "ld1rw": 1},
    ("graviton3", "u8u8", 7, 3, 8): {
        "ld1b": 16, "ld1w": 16, "ummla": 16, "zip1": 16, "st1w": 7, "uzp1": 4, "ld1rqb": 3, "ld1rqw": 3, "uzp2": 3,
        "ld1rd": 1, "ld1rw": 1},
    ("graviton3", "u8u8", 8, 8, 400): {
        "ummla": 1200, "ld1b": 300, "ld1rqb": 200, "ld1w": 20, "st1w": 16, "zip1": 12, "ld1rqw": 8, "uzp1": 8,
        "uzp2": 8},
    ("graviton3", "s8s8", 11, 30, 9): {
        "smmla": 128, "ld1b": 56, "st1w": 44, "ld1w": 28, "zip1": 28, "uzp1": 24, "ld1rqb": 20, "uzp2": 20,
        "ld1rqw": 6, "ld1rd": 4, "ld1rw": 1},
    ("graviton4", "u8s8", 13, 21, 19): {
        "ummla": 252, "st1w": 78, "ld1b": 72, "ld1rqb": 54, "uzp1": 42, "uzp2": 36, "ld1w": 24, "zip1": 24, "ld1rd": 9,
        "ld1rqw": 6, "ld1rw": 1},
}


def _counted(counts) -> dict:
    return {k: counts.get(k, 0) for k in COUNTED}


@pytest.mark.parametrize("key", list(MEASURED), ids=["-".join(map(str, k)) for k in MEASURED])
def test_data_path_counts_equal_the_real_routine(key):
    cpu, kind, M, N, K = key
    recs = trace_records(M, N, K, ort_version="1.32.0", cpu=cpu, kind=kind)
    assert _counted(Counter(r.mnemonic for r in recs)) == _counted(MEASURED[key])


@pytest.mark.oracle
@pytest.mark.slow
def test_data_path_counts_equal_the_real_routine_live(oracle):
    """u8u8 7x3x8 on Graviton3: calls of 4, 2 and 1 rows (two row-pair passes in the first)."""
    from test_qgemm import one_node_matmul_integer

    from mlas_emu.oracle._kernel_count import count_kernel_instructions

    model, feeds, _ = one_node_matmul_integer(7, 3, 8, np.uint8, np.uint8)
    measured = count_kernel_instructions(model, feeds, "qgemm-sve", ort_version="1.32.0", cpu="graviton3")
    recs = trace_records(7, 3, 8, ort_version="1.32.0", cpu="graviton3", kind="u8u8")
    assert _counted(Counter(r.mnemonic for r in recs)) == _counted(measured)


def test_bad_calls():
    with pytest.raises(ValueError, match="kernel"):
        schedule(KernelCall(0, 0, 8, 0, 8, 0, 8, True), kernel="udot")
    with pytest.raises(ValueError, match="12, 8, 4, 2 or 1 rows"):
        schedule(KernelCall(0, 0, 3, 0, 8, 0, 8, True))
    with pytest.raises(ValueError, match="vector_bits"):
        schedule(KernelCall(0, 0, 8, 0, 8, 0, 8, True), vector_bits=192)
