"""The schedule of the DOT-product QGEMM routines (mlas_emu.mlas.qgemm_kernel_dot_asm).

Counts: every instruction the real ``MlasGemmU8X8KernelUdot`` / ``MlasGemmS8S8KernelSDot``
executed, by mnemonic, measured on the ONNX Runtime aarch64 wheels under qemu-aarch64
``-cpu neoverse-n1`` (Graviton2: DotProd, no I8MM), one MatMulInteger with a constant B (pre-packed)
and one thread: QEMU's ``-d in_asm,exec,nochain`` log restricted (``-dfilter``) to the routine's
address range in the pybind library (found from its UDOT/SDOT words, disassembled with GNU objdump),
each executed block's instructions counted. ``b.<cond>`` counts as ``b``, ``mov x0, #imm`` as
``movz``. The expected values below are those measurements, not outputs of the code under test.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mlas_emu.mlas import qgemm_kernel_dot_asm as asm
from mlas_emu.mlas import qgemm_kernel_udot as udot
from mlas_emu.mlas.schedule import KernelCall

#: (kind, M, N, K) -> the routine's executed instructions, ORT 1.17.1 (1.32.0 measured equal on
#: u8s8 13x21x19, s8s8 5x17x33, u8u8 8x8x8; the two routines disassemble to the same instructions).
MEASURED = {
    ("u8u8", 8, 8, 8): {
        "add": 23, "b": 4, "cbnz": 2, "cbz": 2, "cmp": 3, "dup": 16, "ld1": 8, "ldp": 1, "ldr": 6, "ldrb": 1,
        "mov": 4, "movz": 1, "ret": 1, "stp": 9, "sub": 1, "subs": 1, "udot": 32},
    ("u8s8", 13, 21, 19): {
        "add": 132, "b": 37, "cbnz": 12, "cbz": 39, "cmp": 7, "dup": 37, "ld1": 130, "ldp": 3, "ldr": 60,
        "ldrb": 3, "ldur": 27, "mov": 37, "movi": 24, "movz": 3, "ret": 3, "st1": 26, "stp": 29, "sub": 27,
        "subs": 9, "tbz": 9, "udot": 468},
    ("s8s8", 5, 17, 33): {
        "add": 63, "b": 36, "cbnz": 8, "cbz": 38, "cmp": 4, "dup": 13, "ld1": 134, "ldp": 2, "ldr": 34,
        "ldrb": 2, "ldur": 45, "mov": 16, "movi": 24, "movz": 2, "ret": 2, "sdot": 300, "st1": 5, "stp": 12,
        "sub": 30, "subs": 6, "tbz": 6},
    ("u8s8", 3, 9, 8): {
        "add": 14, "b": 9, "cbnz": 4, "cbz": 10, "cmp": 3, "dup": 3, "ld1": 26, "ldp": 2, "ldr": 10, "ldrb": 2,
        "mov": 12, "movz": 2, "ret": 2, "st1": 3, "stp": 5, "sub": 4, "subs": 4, "tbz": 6, "udot": 24},
    ("u8u8", 9, 13, 400): {  # two K slices of the pre-packed B: Add mode, full and partial stores
        "add": 136, "b": 212, "cbnz": 8, "cbz": 212, "cmp": 8, "dup": 34, "ld1": 840, "ldp": 13, "ldr": 508,
        "ldrb": 4, "mov": 42, "movz": 4, "ret": 4, "st1": 36, "stp": 22, "sub": 200, "subs": 8, "tbz": 12,
        "udot": 3600},
}  # fmt: skip


def _counts(kind, M, N, K):
    return dict(Counter(r.mnemonic for r in udot.trace_records(M, N, K, packed_b=True, threads=1, kind=kind)))


@pytest.mark.parametrize("shape", sorted(MEASURED))
def test_counts_equal_the_real_routine(shape):
    assert _counts(*shape) == MEASURED[shape]


@pytest.mark.oracle
def test_dot_counts_equal_the_live_oracle(oracle):
    """One small shape per kernel, live: the routine's UDOT/SDOT count (what
    ``oracle.count_instructions`` recognises) equals the schedule's."""
    from mlas_emu.oracle import _models

    for kind, dtypes, mnemonic in (("u8s8", (np.uint8, np.int8), "udot"), ("s8s8", (np.int8, np.int8), "sdot")):
        M, N, K = 5, 17, 33
        rng = np.random.default_rng(1)
        A = rng.integers(0, 100, (M, K)).astype(dtypes[0])
        B = rng.integers(0, 100, (K, N)).astype(dtypes[1])
        model = _models.one_node_model("MatMulInteger", ["A", "B"], {"B": B}, {"A": A}, np.int32)
        got = oracle.count_instructions(model, {"A": A}, mnemonics=(mnemonic,), ort_version="1.17.1", cpu="graviton2")
        assert got[mnemonic] == _counts(kind, M, N, K)[mnemonic]


def test_rows_per_call():
    assert [asm.kernel_rows(m) for m in (1, 2, 3, 4, 7, 8, 24)] == [1, 2, 2, 4, 4, 8, 8]
    with pytest.raises(ValueError, match="CountM"):
        asm.kernel_rows(0)
    with pytest.raises(ValueError, match="kernel must be one of"):
        asm.schedule(KernelCall(0, 0, 8, 0, 8, 0, 8, True), kernel="ummla")
    with pytest.raises(ValueError, match="not a call"):
        asm.schedule(KernelCall(0, 0, 3, 0, 8, 0, 8, True))


def _address(operands):
    """(register, offset read, post-increment) of ``[x0], #16`` / ``[x0, #-24]`` / ``[x1]``."""
    text = ", ".join(operands[1:])
    base = text[text.index("[") + 1:].split("]")[0].split(",")
    post = text.split("],")[1].strip() if "]," in text else None
    offset = int(base[1].strip().lstrip("#")) if len(base) > 1 else 0
    return base[0].strip(), offset, int(post.lstrip("#")) if post else 0


@pytest.mark.parametrize("rows", [1, 2, 4, 8])
@pytest.mark.parametrize(("count_n", "count_k"), [(8, 8), (21, 19), (3, 33), (17, 5)])
def test_loads_read_what_mlas_packed(rows, count_n, count_k):
    """Walking the A and B pointers (x0, x1) through the schedule, every load of packed A or B
    names the lanes that ``MlasGemmU8X8CopyPackA`` / ``CopyPackB``'s layouts
    (:func:`udot.pack_a_layout`, :func:`udot.pack_b_layout`, checked against MLAS's comments in
    test_qgemm_kernel_udot.py) put at that address."""
    a_layout = udot.pack_a_layout(np.arange(rows * count_k).reshape(rows, count_k), -1)
    b_layout = udot.pack_b_layout(np.arange(count_k * count_n).reshape(count_k, count_n), -1)
    layouts = {"x0": (a_layout, lambda i: ("A", *divmod(i, count_k))),
               "x1": (b_layout, lambda i: ("B", *divmod(i, count_n)))}
    pointers = {"x0": 0, "x1": 0}
    checked = Counter()
    for rec in asm.schedule(KernelCall(0, 0, rows, 0, count_n, 0, count_k, True)):
        if rec.mnemonic in ("mov", "add") and rec.operands[0] == "x0":
            pointers["x0"] = 0 if rec.operands[1] == "x14" else None  # reload A, or a C row pointer
            continue
        if not rec.mnemonic.startswith("ld") or not rec.lanes:
            continue
        reg, offset, post = _address(rec.operands)
        if pointers.get(reg) is None:
            continue
        layout, coord = layouts[reg]
        (lanes,) = rec.lanes.values()
        start = pointers[reg] + offset
        expected = tuple(None if i < 0 else coord(int(i)) for i in layout[start:start + len(lanes)])
        assert lanes == expected, (rec, start)
        pointers[reg] += post
        checked[reg] += 1
    blocks = -(-count_k // 8)
    assert checked["x1"] == 4 * blocks * -(-count_n // 8)  # 4 B vectors per 8 k and 8 columns
    assert pointers["x1"] == b_layout.size  # the whole packed B, once


@pytest.mark.parametrize("kind", ["u8u8", "s8s8"])
def test_trace_covers_the_gemm(kind):
    """Global lanes: every C element stored once per K slice, every A and B element loaded."""
    M, N, K = 13, 21, 400
    records = udot.trace_records(M, N, K, packed_b=False, threads=2, kind=kind)
    stored = Counter(c for r in records if r.mnemonic.startswith("st") for lanes in r.lanes.values() for c in lanes)
    assert stored == Counter({("C", i, j): 2 for i in range(M) for j in range(N)})  # K slices of 256
    loaded = {c for r in records if r.mnemonic.startswith("ld") for lanes in r.lanes.values() for c in lanes if c}
    assert {("A", i, k) for i in range(M) for k in range(K)} <= loaded
    assert {("B", k, j) for k in range(K) for j in range(N)} <= loaded
    dots = {r.mnemonic for r in records} & {"udot", "sdot"}
    assert dots == {"sdot" if kind == "s8s8" else "udot"}


def test_per_column_zero_points_take_the_zero_point_path():
    """ZeroPointB not null: each column block loads the zero points and multiplies the row sums."""
    plain = Counter(r.mnemonic for r in udot.trace_records(9, 10, 8, kind="u8s8"))
    per_column = Counter(r.mnemonic for r in udot.trace_records(9, 10, 8, kind="u8s8", per_column=True))
    assert plain["mul"] == 0 and per_column["mul"] == 2 * (16 + 2)  # M8 and M1, two column blocks
    assert per_column["b"] == plain["b"] + 4  # the branch over the SkipScaleByZeroPointB path


def test_trace_records_rejects_i8mm_cpus_and_unknown_kinds():
    with pytest.raises(ValueError, match="without I8MM"):
        udot.trace_records(8, 8, 8, cpu="graviton3")
    with pytest.raises(ValueError, match="kind must be one of"):
        udot.trace_records(8, 8, 8, kind="s8u8")


def test_fast_and_instruction_paths_agree():
    """Consistency check between two paths of our own (both are checked against independent
    references elsewhere): qgemm on Graviton2, fast vs instructions, per-column zero points."""
    from mlas_emu.mlas.qgemm import qgemm

    rng = np.random.default_rng(3)
    A = rng.integers(0, 256, (11, 30)).astype(np.uint8)
    B = rng.integers(-128, 128, (30, 10)).astype(np.int8)
    zpb = rng.integers(-128, 128, 10).astype(np.int8)
    fast = qgemm(A, B, 9, zpb, cpu="graviton2")
    np.testing.assert_array_equal(qgemm(A, B, 9, zpb, cpu="graviton2", path="instructions", threads=2), fast)


def test_the_dot_plan_walks_the_dot_dispatchs_strides():
    """qgemm_kernel_udot.cpp: K slices of 256 (B packed per call) or 384 (pre-packed), M panels of 24."""
    for packed_b, k_slice in ((False, 256), (True, 384)):
        calls = udot.plan(30, 8, 400, packed_b=packed_b)
        assert sorted({c.k for c in calls}) == [0, k_slice]
        assert [c.m for c in calls if c.k == 0] == [0, 8, 16, 24, 28]  # 24 rows as 8 + 8 + 8, then 6 as 4 + 2
