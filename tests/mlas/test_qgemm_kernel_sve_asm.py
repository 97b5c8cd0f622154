"""The SVE QGEMM routine of 1.30.0-1.32.0 (``mlas_emu.mlas.qgemm_kernel_sve_asm``).

* One routine call, interpreted on register images, against Python integers: C = (Add: C0 +)
  RowSum * ZP + ColumnSum + sum_k A * B modulo 2^32, for every call size (12, 8, 4, 2, 1 rows),
  column and K tails, both modes, per-column zero points, 128- and 256-bit vectors.
* The driver plan of the SVE dispatch: 12-row panels.
* The count of every mnemonic equals what the real routine executed (QEMU), for calls of every
  row count, column and K tails, both modes, per-column zero points, 128- and 256-bit vectors.
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
from mlas_emu.mlas.qgemm_kernel_sve_asm import call_rows, schedule
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
# cpu=...) with the model of test_qgemm.one_node_matmul_integer (seed 0), or, with per-column zero
# points, the same node with a b_zero_point initializer of N random values of B's type (seed 0:
# A, B, then the zero points; 3x1x5 has one: a per-tensor zero point, the kernel gets none).
# Key: CPU, kind, M, N, K, per-column; value: "mnemonic count ...". Calls of 12, 8, 4, 2 and 1
# rows, tiles with 1-6 valid B loads, K of 1 to 3 steps and two K slices (400: 384 in Zero mode,
# then 16 in Add mode), 256-bit (graviton3) and 128-bit (graviton4) vectors.
MEASURED = {
    ("graviton3", "u8s8", 13, 21, 19, False): (
        "add 180 ummla 168 ldr 115 str 105 cmp 54 b 53 ld1b 48 mov 47 mla 46 st1w 39 ld1rqb 36 movprfx 36 sub "
        "35 lsl 32 whilelo 28 ldp 23 uzp1 21 cbz 20 stp 20 movz 19 lsr 18 uzp2 18 addvl 17 ld1w 16 zip1 16 "
        "csel 14 madd 12 ubfiz 12 mad 10 mul 8 ptrue 8 ld1rd 6 ld1rqw 6 and 4 cbnz 4 cntb 4 udiv 4 ldrb 2 ret "
        "2 ld1rw 1 neg 1 nop 1"),
    ("graviton3", "u8u8", 7, 3, 8, False): (
        "add 97 ldr 93 str 71 b 59 cmp 54 lsl 36 mov 36 movz 28 whilelo 27 stp 24 ldp 21 cbz 19 sub 19 addvl "
        "17 ld1b 16 ld1w 16 ummla 16 zip1 16 lsr 15 mla 12 madd 9 mul 9 ubfiz 9 st1w 7 and 6 cntb 6 csel 6 "
        "ptrue 6 udiv 6 cbnz 4 mad 4 nop 4 uzp1 4 ld1rqb 3 ld1rqw 3 ldrb 3 neg 3 ret 3 uzp2 3 ld1rd 1 ld1rw 1"),
    ("graviton3", "u8u8", 8, 8, 400, False): (
        "ummla 1200 add 316 ld1b 300 ld1rqb 200 str 170 ldr 117 b 87 cmp 84 sub 82 mov 70 ptrue 52 lsl 40 mla "
        "36 ldp 28 movprfx 28 stp 22 addvl 20 ld1w 20 whilelo 18 st1w 16 cbz 14 lsr 14 mad 12 madd 12 movz 12 "
        "ubfiz 12 zip1 12 ld1rqw 8 mul 8 udiv 8 uzp1 8 uzp2 8 cbnz 6 csel 6 and 4 cntb 4 ldrb 2 nop 2 ret 2"),
    ("graviton3", "s8s8", 11, 30, 9, False): (
        "add 252 ldr 205 str 178 smmla 128 b 107 cmp 104 mov 103 whilelo 59 ld1b 56 lsl 56 mla 48 sub 45 st1w "
        "44 cbz 35 lsr 31 ldp 29 stp 29 ld1w 28 movprfx 28 zip1 28 csel 27 movz 27 madd 24 ubfiz 24 uzp1 24 "
        "addvl 21 ld1rqb 20 uzp2 20 mad 16 cbnz 15 ptrue 11 mul 8 and 6 cntb 6 ld1rqw 6 nop 6 ld1rd 4 udiv 4 "
        "ldrb 3 ret 3 neg 2 ld1rw 1"),
    ("graviton4", "u8s8", 13, 21, 19, False): (
        "ummla 252 add 250 ldr 185 str 127 cmp 82 b 80 st1w 78 ld1b 72 mla 69 mov 68 ld1rqb 54 movprfx 54 "
        "whilelo 50 sub 45 uzp1 42 lsl 39 uzp2 36 cbz 32 lsr 26 csel 24 ld1w 24 zip1 24 ldp 23 stp 20 madd 18 "
        "movz 18 ubfiz 18 addvl 17 mad 15 ptrue 11 ld1rd 9 mul 8 cbnz 6 ld1rqw 6 and 4 cntb 4 ldrb 2 ret 2 "
        "udiv 2 ld1rw 1 neg 1 nop 1"),
    ("graviton3", "u8u8", 13, 40, 16, False): (
        "add 228 ldr 173 ummla 168 str 127 cmp 74 b 72 mla 69 st1w 65 mov 63 movprfx 54 ld1b 48 whilelo 44 "
        "lsl 39 sub 38 ld1rqb 36 uzp1 35 cbz 30 uzp2 30 lsr 26 ld1w 24 zip1 24 ldp 23 csel 22 movz 22 stp 20 "
        "madd 18 ubfiz 18 addvl 17 mad 15 mul 10 ptrue 8 cbnz 6 ld1rd 6 ld1rqw 6 and 4 cntb 4 udiv 4 ldrb 2 "
        "ret 2 ld1rw 1 neg 1 nop 1"),
    ("graviton3", "s8s8", 11, 21, 9, False): (
        "add 204 ldr 154 str 146 b 84 cmp 83 smmla 80 mov 75 lsl 51 whilelo 49 ld1b 44 sub 42 st1w 33 cbz 30 "
        "mla 30 ldp 29 movz 29 stp 28 lsr 25 ld1w 22 zip1 22 addvl 21 csel 21 madd 18 ubfiz 18 uzp1 18 uzp2 "
        "15 movprfx 14 cbnz 12 ld1rqb 12 mad 10 ptrue 9 mul 8 and 6 cntb 6 ld1rqw 6 nop 5 ld1rd 4 udiv 4 ldrb "
        "3 ret 3 neg 2 ld1rw 1"),
    ("graviton3", "u8s8", 7, 25, 400, False): (
        "ld1b 1600 ummla 1600 add 1564 b 592 cmp 584 sub 450 ldr 324 ptrue 306 ld1rqb 300 str 224 mov 136 "
        "whilelo 118 ld1rd 100 lsl 98 ld1w 92 movz 72 cbz 70 zip1 64 st1w 56 lsr 54 stp 52 csel 48 mla 48 "
        "addvl 46 ldp 46 madd 36 ubfiz 36 uzp1 32 uzp2 24 mul 18 cbnz 16 mad 16 nop 14 and 12 cntb 12 ld1rqw "
        "12 ldrb 6 neg 6 ret 6 udiv 6 ld1rw 2"),
    ("graviton3", "s8s8", 13, 37, 17, True): (
        "add 267 smmla 252 ldr 173 str 125 cmp 80 b 72 ld1b 72 st1w 65 ld1rqb 54 mla 54 mov 52 movprfx 51 "
        "ld1w 48 zip1 48 sub 44 whilelo 44 lsl 39 uzp1 35 cbz 30 mad 30 uzp2 30 lsr 26 ldp 23 csel 22 movz 22 "
        "stp 21 madd 18 ubfiz 18 addvl 17 ptrue 11 mul 10 ld1rd 9 cbnz 6 ld1rqw 6 and 4 cntb 4 udiv 4 ldrb 2 "
        "ret 2 ld1rw 1 neg 1 nop 1"),
    ("graviton3", "u8u8", 3, 1, 5, False): (
        "add 51 ldr 47 str 39 b 35 cmp 33 lsl 23 mov 23 movz 17 stp 16 whilelo 15 ldp 14 sub 12 cbz 10 lsr 10 "
        "addvl 9 ld1b 8 ld1w 8 ummla 8 zip1 8 madd 6 mla 6 mul 6 ubfiz 6 and 4 cntb 4 csel 4 udiv 4 ptrue 3 "
        "st1w 3 cbnz 2 ldrb 2 mad 2 neg 2 nop 2 ret 2 uzp1 2 ld1rd 1 ld1rqb 1 ld1rqw 1 ld1rw 1 uzp2 1"),
    ("graviton4", "u8u8", 13, 21, 19, False): (
        "ummla 252 add 250 ldr 185 str 127 cmp 82 b 80 st1w 78 ld1b 72 mla 69 mov 68 ld1rqb 54 movprfx 54 "
        "whilelo 50 sub 45 uzp1 42 lsl 39 uzp2 36 cbz 32 lsr 26 csel 24 ld1w 24 zip1 24 ldp 23 stp 20 madd 18 "
        "movz 18 ubfiz 18 addvl 17 mad 15 ptrue 11 ld1rd 9 mul 8 cbnz 6 ld1rqw 6 and 4 cntb 4 ldrb 2 ret 2 "
        "udiv 2 ld1rw 1 neg 1 nop 1"),
    ("graviton4", "s8s8", 11, 30, 9, True): (
        "add 434 ldr 344 str 252 smmla 208 cmp 174 b 167 mov 136 ld1b 100 ld1w 100 whilelo 100 zip1 100 st1w "
        "88 lsl 80 cbz 67 sub 65 mad 57 lsr 53 csel 48 uzp1 48 mla 47 madd 42 movz 42 ubfiz 42 uzp2 40 "
        "movprfx 39 ldp 34 ld1rqb 32 stp 32 cbnz 30 addvl 25 ptrue 17 mul 13 nop 9 ld1rd 8 ld1rqw 8 and 6 "
        "cntb 6 udiv 5 ldrb 3 ret 3 neg 2 ld1rw 1"),
    ("graviton4", "u8u8", 9, 40, 400, False): (
        "ummla 5800 ld1b 2200 add 2000 ld1rqb 800 b 702 cmp 698 ldr 628 sub 516 str 410 mov 302 ld1rd 250 "
        "ptrue 204 whilelo 188 st1w 180 ld1w 178 mla 174 cbz 134 lsl 114 movprfx 112 uzp1 100 lsr 92 zip1 88 "
        "csel 84 uzp2 80 madd 78 ubfiz 78 mad 58 cbnz 55 movz 50 stp 44 ldp 42 addvl 26 mul 18 nop 10 and 8 "
        "cntb 8 ld1rqw 8 udiv 8 ldrb 4 ret 4 ld1rw 2 neg 2"),
}


def _counts(text: str) -> dict:
    words = text.split()
    return {m: int(n) for m, n in zip(words[::2], words[1::2])}


@pytest.mark.parametrize("key", list(MEASURED), ids=["-".join(map(str, k)) for k in MEASURED])
def test_counts_equal_the_real_routine(key):
    cpu, kind, M, N, K, per_column = key
    recs = trace_records(M, N, K, ort_version="1.32.0", cpu=cpu, kind=kind, per_column=per_column)
    assert dict(Counter(r.mnemonic for r in recs)) == _counts(MEASURED[key])


@pytest.mark.oracle
@pytest.mark.slow
def test_counts_equal_the_real_routine_live(oracle):
    """u8u8 7x3x8 on Graviton3: calls of 4, 2 and 1 rows (two row-pair passes in the first)."""
    from test_qgemm import one_node_matmul_integer

    from mlas_emu.oracle._kernel_count import count_kernel_instructions

    model, feeds, _ = one_node_matmul_integer(7, 3, 8, np.uint8, np.uint8)
    measured = count_kernel_instructions(model, feeds, "qgemm-sve", ort_version="1.32.0", cpu="graviton3")
    recs = trace_records(7, 3, 8, ort_version="1.32.0", cpu="graviton3", kind="u8u8")
    assert dict(Counter(r.mnemonic for r in recs)) == measured


def test_bad_calls():
    with pytest.raises(ValueError, match="kernel"):
        schedule(KernelCall(0, 0, 8, 0, 8, 0, 8, True), kernel="udot")
    with pytest.raises(ValueError, match="12, 8, 4, 2 or 1 rows"):
        schedule(KernelCall(0, 0, 3, 0, 8, 0, 8, True))
    with pytest.raises(ValueError, match="vector_bits"):
        schedule(KernelCall(0, 0, 8, 0, 8, 0, 8, True), vector_bits=192)
