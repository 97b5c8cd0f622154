"""The schedule of the MMLA QGEMM routines (``mlas_emu.mlas.qgemm_kernel_mmla_asm``).

* One routine call, interpreted on register images (:func:`mlas_emu.mlas.interpret.execute`),
  against Python integers: C = (Add: C0 +) RowSum * ZP + ColumnSum + sum_k A * B, modulo 2^32,
  for every row count, column tail and K tail, both modes, with and without per-column zero
  points.
* The lanes the loads name are the bytes of the packed buffers ``copy_pack_a`` / ``copy_pack_b``
  build (an independent model of ``MlasGemmQuantCopyPackA/B``, checked element by element in
  test_qgemm_kernel_ummla.py), walking the routine's pointers.
* Counts of every mnemonic equal what the real routines executed (QEMU, ONNX Runtime wheels).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu.mlas import qgemm_kernel_smmla, qgemm_kernel_ummla
from mlas_emu.mlas.interpret import Memory, execute
from mlas_emu.mlas.qgemm import trace_records
from mlas_emu.mlas.qgemm_kernel_mmla_asm import schedule
from mlas_emu.mlas.schedule import KernelCall


def _int32(x: int) -> int:
    return (x + 2**31) % 2**32 - 2**31


@settings(max_examples=120, deadline=None)
@given(rows=st.sampled_from([1, 2, 4, 8]), count_n=st.integers(1, 17),
       count_k=st.one_of(st.integers(1, 40), st.sampled_from([63, 64, 65])), zero_mode=st.booleans(),
       per_column=st.booleans(), signed=st.booleans(), seed=st.integers(0, 2**32 - 1))
@example(rows=1, count_n=1, count_k=1, zero_mode=False, per_column=True, signed=False, seed=0)
@example(rows=8, count_n=17, count_k=16, zero_mode=False, per_column=True, signed=True, seed=1)
@example(rows=1, count_n=7, count_k=16, zero_mode=True, per_column=False, signed=True, seed=2)
def test_one_call_equals_python_integers(rows, count_n, count_k, zero_mode, per_column, signed, seed):
    rng = np.random.default_rng(seed)
    dt = np.int8 if signed else np.uint8
    info = np.iinfo(dt)
    A = rng.integers(info.min, info.max + 1, (rows, count_k)).astype(dt)
    B = rng.integers(info.min, info.max + 1, (count_k, count_n)).astype(dt)
    big = np.iinfo(np.int32)
    row_sums = rng.integers(big.min, big.max + 1, (1, rows)).astype(np.int32)
    col_sums = rng.integers(big.min, big.max + 1, (1, count_n)).astype(np.int32)
    zps = rng.integers(-300, 300, (1, count_n)).astype(np.int32)
    C0 = rng.integers(big.min, big.max + 1, (rows, count_n)).astype(np.int32)
    C = C0.copy()
    memory = dict(A=A, B=B, C=C, RowSum=row_sums, ColumnSum=col_sums)
    if per_column:
        memory["ZeroPointB"] = zps
    call = KernelCall(0, 0, rows, 0, count_n, 0, count_k, zero_mode)
    execute(schedule(call, kernel="smmla" if signed else "ummla", zero_point_b=per_column), Memory(**memory))
    for r in range(rows):
        for c in range(count_n):
            scale = int(zps[0, c]) if per_column else 1
            total = (0 if zero_mode else int(C0[r, c])) + int(row_sums[0, r]) * scale + int(col_sums[0, c])
            total += sum(int(A[r, k]) * int(B[k, c]) for k in range(count_k))
            assert int(C[r, c]) == _int32(total), (r, c)


@pytest.mark.parametrize("count_m, count_n, count_k", [(13, 21, 19), (7, 3, 8), (1, 9, 16), (3, 2, 33), (24, 17, 5)])
@pytest.mark.parametrize("family", [qgemm_kernel_ummla, qgemm_kernel_smmla])
def test_load_lanes_are_the_packed_bytes(family, count_m, count_n, count_k):
    """Walk x0 (reset by ``mov x0, x8`` per column block) and x1 over the packed panels: each lane
    ("A", r, k) / ("B", k, c) holds that element's byte; None lanes hold padding (0) or, for the
    single row, bytes past its packed row."""
    rng = np.random.default_rng(count_m * 100 + count_n)
    A = rng.integers(1, 256, (count_m, count_k)).astype(np.uint8)
    B = rng.integers(1, 256, (count_k, count_n)).astype(np.uint8)
    packed_a, _ = family.copy_pack_a(A)
    packed_b, _ = family.copy_pack_b(B, b_is_signed=False)
    done = 0
    while done < count_m:
        rows = family.kernel_rows(count_m - done)
        start = 8 * (-(-count_k // 8)) * done
        records = schedule(KernelCall(0, done, rows, 0, count_n, 0, count_k, True), kernel=family.MNEMONIC)
        x0, x1 = start, 0
        for rec in records:
            if rec.operands[:2] == ("x0", "x8"):
                x0 = start
            elif rec.mnemonic in ("ldr", "ld1") and rec.operands[-2] in ("[x0]", "[x1]"):
                base = x0 if rec.operands[-2] == "[x0]" else x1
                lanes = [lane for reg in sorted(rec.lanes, key=lambda r: int(r[1:].split(".")[0]))
                         for lane in rec.lanes[reg]]
                buf = packed_a if rec.operands[-2] == "[x0]" else packed_b
                for i, lane in enumerate(lanes):
                    held = int(buf[base + i]) if base + i < len(buf) else None
                    if lane is None:
                        assert held in (0, None) or rows == 1, (rec, i)
                    elif lane[0] == "A":
                        assert held == A[done + lane[1], lane[2]], (rec, i, lane)
                    else:
                        assert held == B[lane[1], lane[2]], (rec, i, lane)
                step = int(rec.operands[-1].lstrip("#"))
                if rec.operands[-2] == "[x0]":
                    x0 += step
                else:
                    x1 += step
        done += rows


def test_single_row_phantom_names_the_next_k_block():
    """``ldr q8, [x0], #8`` of a single row: the upper 8 bytes are the row's next 8 k."""
    recs = schedule(KernelCall(0, 0, 1, 0, 2, 0, 20, True))
    loads = [r for r in recs if r.operands[:1] == ("q8",)]
    assert [r.lanes["v8.16b"][8] for r in loads] == [("A", 0, 8), ("A", 0, 16), None]


# Every instruction executed inside MlasGemmU8X8KernelUmmla* / MlasGemmS8S8KernelSmmla* while a
# one-node MatMulInteger session (B an initializer: pre-packed; per column: B's zero points an
# (N,) initializer, A's 0) ran once under qemu-aarch64 (neoverse-v1), one thread:
# mlas_emu.oracle.count_kernel_instructions(model, {"A": A}, "qgemm-ummla" / "qgemm-smmla",
# ort_version=...). Shapes: row calls of 8/4/2/1, column tails 1..7, K tails, two K slices (400:
# the Add routine), one row (1x2x1).
MEASURED = {
    ("1.17.1", "u8u8", 8, 8, 8, False): {
        "add": 24, "mov": 19, "stp": 17, "dup": 16, "mul": 16, "ummla": 16, "uzp1": 12, "ldp": 9, "uzp2": 8,
        "ldr": 6, "ld1": 5, "b": 4, "cmp": 4, "movi": 4, "cbz": 3, "sub": 3, "zip1": 2, "zip2": 2, "movz": 1,
        "ret": 1, "tbnz": 1, "tbz": 1},
    ("1.17.1", "u8s8", 13, 21, 19, False): {
        "ummla": 231, "dup": 114, "add": 107, "mov": 103, "mul": 77, "ldr": 69, "uzp1": 56, "stp": 53,
        "ld1": 49, "sub": 45, "movi": 36, "uzp2": 35, "b": 30, "cmp": 27, "ldp": 27, "tbz": 27, "str": 26,
        "cbz": 21, "zip1": 18, "zip2": 18, "tbnz": 9, "movz": 3, "ret": 3},
    ("1.17.1", "s8s8", 11, 3, 9, False): {
        "mov": 40, "add": 36, "ldp": 27, "stp": 27, "dup": 24, "smmla": 24, "b": 22, "str": 22, "cmp": 19,
        "ldr": 18, "ld1": 13, "movi": 12, "mul": 12, "sub": 12, "uzp1": 12, "cbz": 6, "tbz": 6, "uzp2": 6,
        "movz": 3, "ret": 3, "tbnz": 3, "zip1": 3, "zip2": 3},
    ("1.17.1", "u8u8", 5, 13, 400, False): {
        "ummla": 1050, "ldr": 318, "ld1": 220, "sub": 216, "tbz": 200, "add": 99, "dup": 88, "mov": 78,
        "stp": 46, "mul": 42, "ldp": 41, "b": 34, "movi": 32, "cmp": 30, "uzp1": 30, "cbz": 20, "str": 20,
        "uzp2": 18, "zip1": 16, "zip2": 16, "tbnz": 8, "movz": 6, "ret": 4},
    ("1.17.1", "u8s8", 6, 17, 33, True): {
        "ummla": 135, "dup": 106, "ld1": 54, "ldr": 49, "add": 47, "sub": 42, "mov": 41, "zip1": 34, "stp": 30,
        "tbz": 30, "mul": 27, "movi": 24, "b": 23, "cmp": 21, "uzp1": 21, "ldp": 18, "cbz": 14, "uzp2": 12,
        "zip2": 10, "str": 6, "tbnz": 6, "movz": 2, "ret": 2},
    ("1.29.0", "u8u8", 13, 21, 19, False): {
        "ummla": 231, "dup": 114, "add": 107, "mov": 103, "mul": 77, "ldr": 69, "uzp1": 56, "stp": 53,
        "ld1": 49, "sub": 45, "movi": 36, "uzp2": 35, "b": 30, "cmp": 27, "ldp": 27, "tbz": 27, "str": 26,
        "cbz": 21, "zip1": 18, "zip2": 18, "tbnz": 9, "movz": 3, "ret": 3},
    ("1.29.0", "s8s8", 5, 13, 400, True): {
        "smmla": 1050, "ldr": 318, "ld1": 236, "sub": 216, "tbz": 200, "dup": 152, "add": 99, "mov": 78,
        "zip1": 48, "stp": 46, "mul": 42, "ldp": 41, "b": 34, "movi": 32, "cmp": 30, "uzp1": 30, "cbz": 20,
        "str": 20, "uzp2": 18, "zip2": 16, "tbnz": 8, "movz": 6, "ret": 4},
    ("1.29.0", "u8s8", 1, 2, 1, False): {
        "add": 9, "ldp": 9, "stp": 9, "b": 8, "cmp": 8, "dup": 6, "mov": 6, "movi": 4, "ld1": 3, "ldr": 3,
        "sub": 3, "cbz": 2, "movz": 1, "mul": 1, "ret": 1, "str": 1, "tbnz": 1, "tbz": 1, "ummla": 1, "uzp1": 1,
        "zip1": 1, "zip2": 1},
}


@pytest.mark.parametrize("key", list(MEASURED), ids=["-".join(map(str, k)) for k in MEASURED])
def test_counts_equal_the_real_routine(key):
    version, kind, M, N, K, per_column = key
    recs = trace_records(M, N, K, packed_b=True, threads=1, ort_version=version, kind=kind, per_column=per_column)
    assert dict(Counter(r.mnemonic for r in recs)) == MEASURED[key]


@pytest.mark.oracle
@pytest.mark.slow
def test_counts_equal_the_real_routine_live(oracle):
    """u8s8 13x21x19: row calls of 8, 4, 1 and column blocks 8, 8, 5 (the 10-element output)."""
    from test_qgemm import one_node_matmul_integer

    from mlas_emu.oracle._kernel_count import count_kernel_instructions

    model, feeds, _ = one_node_matmul_integer(13, 21, 19, np.uint8, np.int8)
    measured = count_kernel_instructions(model, feeds, "qgemm-ummla", ort_version="1.17.1")
    recs = trace_records(13, 21, 19, ort_version="1.17.1", kind="u8s8")
    assert dict(Counter(r.mnemonic for r in recs)) == measured


def test_bad_calls():
    with pytest.raises(ValueError, match="kernel"):
        schedule(KernelCall(0, 0, 8, 0, 8, 0, 8, True), kernel="udot")
    with pytest.raises(ValueError, match="8, 4, 2 or 1 rows"):
        schedule(KernelCall(0, 0, 3, 0, 8, 0, 8, True))
    with pytest.raises(ValueError, match="kind"):
        trace_records(2, 2, 2, kind="s8u8")
    with pytest.raises(ValueError, match="I8MM"):
        trace_records(2, 2, 2, cpu="graviton2")


def test_trace_lanes_are_global():
    """A 13-row product with two K slices (packed B: 384 + 13): lanes name the GEMM's rows,
    columns and depths, row sums their K slice."""
    recs = trace_records(13, 9, 397, kind="s8s8", ort_version="1.29.0")
    mmla = [r for r in recs if r.mnemonic == "smmla"]
    first = mmla[0]
    assert first.operands == ("v16.4s", "v8.16b", "v4.16b")
    assert first.lanes["v8.16b"][:9] == tuple(("A", 0, k) for k in range(8)) + (("A", 1, 0),)
    assert first.lanes["v4.16b"][8] == ("B", 0, 1)
    assert first.lanes["v16.4s"] == (("C", 0, 0), ("C", 0, 1), ("C", 1, 0), ("C", 1, 1))
    late = [r for r in mmla if r.lanes.get("v16.4s", (None,))[0] == ("C", 8, 0)]
    assert late[-1].lanes["v8.16b"][0] == ("A", 8, 392)  # K slice 384.., its last block of 8
    assert late[-1].lanes["v8.16b"][5:9] == (None, None, None, ("A", 9, 392))  # k 397..399: padding
    sums = [r for r in recs if "v12.4s" in r.lanes]
    assert sums[-1].lanes["v12.4s"] == (("RowSum", 384, 12), None, None, None)  # the single row 12


def test_instruction_trace_is_the_plan_trace():
    """Consistency: the records qgemm's instruction path appends are trace_records' (one plan)."""
    from mlas_emu.mlas.qgemm import qgemm

    A = np.zeros((11, 20), np.uint8)
    B = np.zeros((20, 19), np.int8)
    got = []
    qgemm(A, B, 3, np.arange(19, dtype=np.int8), path="instructions", trace=got, threads=2, packed_b=False)
    assert got == trace_records(11, 19, 20, kind="u8s8", per_column=True, threads=2, packed_b=False)
