"""The SVE QGEMM routine of ONNX Runtime 1.30.0-1.32.0: the instructions one call executes.

From 1.30.0, on a CPU with SVE and I8MM, MLAS's QGEMM dispatch (``MlasGemmU8X8DispatchUmmlaSve``,
onnxruntime/core/mlas/lib/sve/qgemm_kernel_ummla_sve.cpp, and its S8S8 twin) calls
``MlasGemmU8X8KernelUmmlaSveImpl`` / ``MlasGemmS8S8KernelSmmlaSveImpl``: compiler output of the
intrinsics in lib/sve/qgemm_mmla_kernel_sve.h frozen as ``.inst`` words in
lib/aarch64/qgemm_mmla_sve_asm.S. This module is written from the compiled routine of the
1.30.0, 1.31.1 and 1.32.0 Linux aarch64 wheels (the same words in all three), read from its
disassembly and from the instructions QEMU saw it execute.

The routine's structure (``Rows`` = 12 if 12 <= CountM < 16, else 8, 4, 2 or 1; the return value):

* row sums as 2x2-tile vectors: ``ld1rqw`` of ``{rs[2p], rs[2p], rs[2p+1], rs[2p+1]}`` per row pair
  (built on the stack), ``ld1rw`` of ``rs[0]`` for one row;
* the N walk in tiles of L loads of B, each ``ld1b`` one vector of the packed panel (2S columns,
  S = the vector length in 128-bit segments): L = 6 for 8 rows (12S columns per tile), 4 for the
  others (8S). A load whose first column is past CountN reloads the last loaded block
  (its results are never stored);
* per tile, the accumulators: ``ld1w`` of the column sums under ``whilelo`` (the load's valid
  columns), ``zip1 .d`` (each column pair twice), with per-column zero points the same for
  ZeroPointB, else ``mov #1``; then ``RowSums * ZeroPoints + ColumnSums`` (``mad``, ``mla``,
  ``movprfx`` + ``mla``);
* the K loop, one block of 8 k per step (``ptrue``): the L B loads, A per row pair ``ld1rqb``
  (16 bytes replicated to every segment; ``ld1rd`` of the row's 8 bytes for one row), one
  UMMLA/SMMLA per row pair and B load (every segment: a 2x2 tile of a column pair);
* stores per two loads (4S columns): ``uzp1``/``uzp2 .d`` (one row each) and ``st1w`` under
  ``whilelo`` of the valid columns, after ``ld1w`` + ``add`` of C in Add mode; chunks without a
  valid column are skipped;
* 12, 8 and 1 rows: the row sums once, then the N tiles; 4 and 2 rows: per N tile, per row pair
  its row sums, seeds, K loop and stores.

Modelled here: every instruction one call executes, counted by mnemonic as the oracle counts them
(:func:`mlas_emu.oracle.count_kernel_instructions`: GNU objdump's mnemonics, ``b.<cond>`` as
``b``, move-wide ``mov`` as ``movz``). The vector data path is modelled lane by lane (registers
allocated canonically: row-sum and A vectors z0-z5, column sums / zero points and B z6-z7,
accumulators z8-z31; the compiled routine allocates differently), its seeds with the routine's mix
of ``mad``, ``mla`` and ``movprfx`` + ``mla``. The rest (address arithmetic, the divisions that
find the last block of a tile, compares and branches, the stack frame, spills, predicates) is
modelled by mnemonic: the routine's control flow, read from its disassembly and from the blocks
QEMU saw it execute (``qemu-aarch64 -d in_asm,exec,nochain``), is the structure of
:func:`_parts` (the blocks each part of a call runs: per N tile a test per B load, the seeds, one
block per K step, the stores by chunk and mode), and :data:`_BLOCKS` holds each block's
mnemonics; a part's records are its vector records, then the rest of its blocks' instructions as
scalar records (no operands, no effect on results). Both routines have the same structure; where
the SMMLA routine's blocks are split or joined differently, its table says so.

Lanes are in the call's coordinates as in :mod:`mlas_emu.mlas.qgemm_kernel_mmla_asm`
(``("A", r, k)``, ``("B", k, c)`` as packed, ``("RowSum", 0, r)``, ``("ColumnSum", 0, c)``,
``("ZeroPointB", 0, c)``, ``("C", r, c)``); ``None``: padding, inactive lanes, columns past CountN.
"""

from __future__ import annotations

import functools
from collections import Counter

from .dispatch import QGEMM_SVE
from .schedule import Emitter, KernelCall
from .trace import InstructionRecord

KERNELS = ("ummla", "smmla")

#: Rows one routine call handles: the dispatch's (12 if 12 <= CountM < 16, else 8, 4, 2 or 1).
call_rows = QGEMM_SVE.kernel_rows


class _Emitter(Emitter):
    """Bytes of SVE loads and stores: the active lanes (the operands name no width)."""

    def op(self, mnemonic, *operands, lanes=None, note="", lane_bytes=1):
        super().op(mnemonic, *operands, lanes=lanes, note=note)
        if mnemonic.startswith(("ld1", "st1")) and lanes:
            rec = self.records[-1]
            moved = lane_bytes * sum(c is not None for coords in lanes.values() for c in coords)
            if mnemonic.startswith("ld1r"):  # a replicated load reads its element(s) once
                moved = {"ld1rqb": 16, "ld1rqw": 16, "ld1rd": 8, "ld1rw": 4}[mnemonic]
            self.records[-1] = type(rec)(rec.mnemonic, rec.operands, rec.lanes, moved if rec.mnemonic.startswith("ld")
                                         else 0, moved if rec.mnemonic.startswith("st") else 0, rec.note)


def schedule(call: KernelCall, *, kernel: str = "ummla", zero_point_b: bool = False, vector_bits: int = 256) -> list:
    """Every instruction of one routine call (the vector ones lane by lane, see the module docstring):
    ``kernel`` "ummla" (``MlasGemmU8X8KernelUmmlaSveImpl``) or "smmla"
    (``MlasGemmS8S8KernelSmmlaSveImpl``), ``zero_point_b``: per-column zero points, ``vector_bits``:
    the SVE vector length (256 on Graviton3, 128 on Graviton4). ``call.rows`` must be
    :func:`call_rows` of the rows left in the panel (12, 8, 4, 2 or 1)."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if vector_bits not in (128, 256, 512, 1024, 2048):
        raise ValueError(f"vector_bits must be a power of two from 128 to 2048, got {vector_bits}")
    if call.rows not in (12, 8, 4, 2, 1) or call.count_n < 1 or call.count_k < 1:
        raise ValueError(f"the routine handles 12, 8, 4, 2 or 1 rows of at least one column and one k, got {call}")
    key = (call.rows, call.count_n, call.count_k, call.zero_mode, kernel, bool(zero_point_b), vector_bits // 128)
    return list(_cached(*key))


@functools.lru_cache(maxsize=4096)
def _cached(rows, count_n, count_k, zero_mode, mnemonic, per_column, segments) -> tuple:
    call = KernelCall(0, 0, rows, 0, count_n, 0, count_k, zero_mode)
    loads = 6 if rows == 8 else 4
    width = 2 * segments
    valid = [min(loads, -(-(count_n - col) // width)) for col in range(0, count_n, loads * width)]
    blocks = _BLOCKS[mnemonic]
    parts = _parts(rows, valid, -(-count_k // 8), zero_mode, per_column)
    spec = (call, mnemonic, per_column, segments, loads, len(valid))
    return tuple(_assemble([(ids, _vector_records(part, ids, blocks, spec)) for part, ids in parts], blocks))


def _vector_records(part, ids, blocks, spec) -> list:
    """The vector records of one part of a call (``part`` as :func:`_parts` names it)."""
    call, mnemonic, per_column, segments, loads, tiles = spec
    e = _Emitter()
    pairs = list(range(max(1, call.rows // 2)))
    if part == "rows":
        if call.rows in (12, 8, 1):  # 4 and 2 rows: per pair and tile
            _row_sums(e, call, pairs, segments)
        return e.records
    if part == "ret":
        e.op("ret")
        return e.records
    t, p = part[1], part[2]
    group = [p] if call.rows in (4, 2, 1) else pairs
    starts = _starts(call, t * loads * 2 * segments, loads, segments)
    spill = call.rows in (12, 8)  # the row sums outlive the K loop, which reuses z0-z5
    ops = [m for i in ids for m in blocks[i].split()]
    if part[0] == "seeds":
        if call.rows in (4, 2):
            _row_sums(e, call, group, segments)
        for i in range(len(group) if spill else 0):
            e.op("str", f"z{i}", f"[sp, #{i}, mul vl]", note="spill the row sums")
        _init(e, call, group, starts, per_column, segments, loads, Counter(ops))
    elif part[0] == "k":
        _k_step(e, call, group, starts, mnemonic, part[3], segments, loads, ptrue="ptrue" in blocks[ids[-1]].split())
    else:
        _stores(e, call, group, starts, segments, loads, predicates=ops.count("whilelo"))
        for i in range(len(group) if spill and t + 1 < tiles else 0):
            e.op("ldr", f"z{i}", f"[sp, #{i}, mul vl]", note="reload the row sums for the next tile")
    return e.records


def _assemble(parts, blocks) -> list:
    """Each part's vector records, then the rest of its blocks' instructions as scalar records
    (no operands: address arithmetic, loop counters, compares, branches, the frame, predicates).
    A part whose vector records use an instruction its blocks lack (a ``mov`` of a register
    copy) takes it from the first parts with spare ones, so that the call's count of every
    mnemonic is its blocks'."""
    owed: Counter = Counter()
    for ids, records in parts:
        owed += Counter(r.mnemonic for r in records) - Counter(m for i in ids for m in blocks[i].split())
    out = []
    for ids, records in parts:
        spare = Counter(m for i in ids for m in blocks[i].split()) - Counter(r.mnemonic for r in records)
        for m in owed:
            take = min(owed[m], spare[m])
            spare[m] -= take
            owed[m] -= take
        out += records
        for i in ids:
            for m in blocks[i].split():
                if spare[m] > 0:
                    spare[m] -= 1
                    out.append(InstructionRecord(m, (), {}, 0, 0, "scalar"))
    if +owed:
        raise AssertionError(f"the vector records use instructions the routine's blocks lack: {dict(+owed)}")
    return out


def _row_sums(e, call, pairs, segments):
    """One vector of row sums per row pair ({rs0, rs0, rs1, rs1} in every segment)."""
    for i, p in enumerate(pairs):
        if call.rows == 1:
            e.op("ld1rw", f"{{z{i}.s}}", "p1/z", "[x7]", lanes={f"z{i}.s": (("RowSum", 0, 0),) * (4 * segments)},
                 lane_bytes=4, note="row sum 0 in every lane")
            continue
        quad = tuple(("RowSum", 0, r) for r in (2 * p, 2 * p, 2 * p + 1, 2 * p + 1))
        e.op("ld1rqw", f"{{z{i}.s}}", "p1/z", "[sp]", lanes={f"z{i}.s": quad * segments}, lane_bytes=4,
             note=f"row sums {2 * p}, {2 * p}, {2 * p + 1}, {2 * p + 1} (built on the stack)")


def _starts(call, col, loads, segments):
    """First column of each B load of the tile at ``col`` (past CountN: the last block) and its
    valid columns."""
    width = 2 * segments
    last = (call.count_n - 1) // width * width
    out = []
    for j in range(loads):
        start = col + width * j
        out.append((start if start < call.count_n else last, max(0, min(width, call.count_n - start))))
    return out


def _acc(i, j, loads):
    return f"z{8 + i * loads + j}"


def _column_vector(kind, start, valid, segments):
    """``ld1w`` of a load's column values (whilelo: ``valid`` lanes)."""
    return tuple((kind, 0, start + i) if i < valid else None for i in range(4 * segments))


def _init(e, call, pairs, starts, per_column, segments, loads, seeds):
    """Seeds acc = ColumnSums + RowSums * ZeroPoints (ZeroPointB null: 1) per row pair and load,
    with the routine's mix of forms (the counts of its seed blocks, ``seeds``): ``mad`` into a
    copy of the zero points, ``mla`` on the column sums loaded straight into the accumulator (one
    per load at most), and ``movprfx`` + ``mla``. Per load: ColumnSum (and ZeroPointB) by
    ``ld1w`` under ``whilelo``, ``zip1 .d`` to 2x2-tile order."""
    count = len(pairs) * loads
    mads, bare = seeds["mad"], seeds["mla"] - seeds["movprfx"]
    if mads + seeds["mla"] != count or not 0 <= bare <= loads:
        raise AssertionError(f"seed blocks of {dict(seeds)} do not seed {count} accumulators")
    room = [len(pairs) - (j < bare) for j in range(loads)]
    mad_of = [0] * loads
    j = 0
    for _ in range(mads):  # round robin over the loads with room
        while mad_of[j % loads] >= room[j % loads]:
            j += 1
        mad_of[j % loads] += 1
        j += 1
    if not per_column:
        e.op("mov", "z7.s", "#1", note="ZeroPointB null: scale 1")
    for j, (start, valid) in enumerate(starts):
        last = len(pairs) - 1
        sums = _acc(last, j, loads) if j < bare else "z6"
        if j < seeds["whilelo"]:  # 4 and 2 rows: the predicates are set once per tile, in its first pair
            e.op("whilelo", "p2.s", "xzr", f"#{valid}", note=f"{valid} valid columns from {start}")
        e.op("ld1w", f"{{{sums}.s}}", "p2/z", "[x8]",
             lanes={f"{sums}.s": _column_vector("ColumnSum", start, valid, segments)}, lane_bytes=4,
             note=f"column sums {start}..")
        e.op("zip1", f"{sums}.d", f"{sums}.d", f"{sums}.d")
        if per_column:
            e.op("ld1w", "{z7.s}", "p2/z", "[x27]",
                 lanes={"z7.s": _column_vector("ZeroPointB", start, valid, segments)}, lane_bytes=4,
                 note=f"zero points {start}..")
            e.op("zip1", "z7.d", "z7.d", "z7.d")
        for i in range(room[j]):
            acc = _acc(i, j, loads)
            if i < mad_of[j]:
                e.op("mov", f"{acc}.d", "z7.d")
                e.op("mad", f"{acc}.s", "p1/m", f"z{i}.s", f"{sums}.s", note="zero points * row sums + column sums")
            else:
                e.op("movprfx", acc, sums)
                e.op("mla", f"{acc}.s", "p1/m", f"z{i}.s", "z7.s")
        if j < bare:
            e.op("mla", f"{sums}.s", "p1/m", f"z{last}.s", "z7.s", note="on the column sums in place")


def _a_lanes(call, p, kb, segments):
    """The 16 bytes of a row pair (rows 2p, 2p+1, k = 8kb..8kb+7) in every segment; one row:
    its 8 bytes twice (``ld1rd``)."""
    rows = (0, 0) if call.rows == 1 else (2 * p, 2 * p + 1)
    quad = tuple(("A", r, k) if k < call.count_k else None for r in rows for k in range(8 * kb, 8 * kb + 8))
    return quad * segments


def _b_lanes(call, start, kb, segments):
    """One B load: column pairs start, start+2, ... (16 bytes each: 8 k of one column, then the
    next column's), past CountN or K: None."""
    lanes = []
    for c in range(start, start + 2 * segments):
        lanes += [("B", k, c) if c < call.count_n and k < call.count_k else None for k in range(8 * kb, 8 * kb + 8)]
    return tuple(lanes)


def _c_lanes(call, p, start_valid, segments):
    """The 2x2 tile of each segment (rows 2p, 2p+1 x a column pair); None where the result is never
    stored (phantom row, columns past CountN, a reloaded block)."""
    start, valid = start_valid
    lanes = []
    for s in range(segments):
        for r in (2 * p, 2 * p + 1):
            for c in (start + 2 * s, start + 2 * s + 1):
                ok = r < call.rows and c - start < valid
                lanes.append(("C", r, c) if ok else None)
    return tuple(lanes)


def _a_reg(call, i):
    """A row pair's register (one row: z1, its row sums stay in z0 for the next tile)."""
    return "z1" if call.rows == 1 else f"z{i}"


def _k_step(e, call, pairs, starts, mnemonic, kb, segments, loads, ptrue=True):
    """One block of 8 k: A per row pair, then each B load and its MMLA per row pair (``ptrue``:
    the step sets its predicate; one row sets it before the loop)."""
    if ptrue:
        e.op("ptrue", "p2.b")
    for i, p in enumerate(pairs):
        a = _a_reg(call, i)
        if call.rows == 1:
            e.op("ld1rd", f"{{{a}.d}}", "p2/z", "[x0]", lanes={f"{a}.b": _a_lanes(call, p, kb, segments)},
                 note=f"A row 0, k={8 * kb}..{8 * kb + 7}, in every 64-bit lane")
        else:
            e.op("ld1rqb", f"{{{a}.b}}", "p2/z", f"[x0, #{16 * i}]", lanes={f"{a}.b": _a_lanes(call, p, kb, segments)},
                 note=f"A rows {2 * p}-{2 * p + 1}, k={8 * kb}..{8 * kb + 7}, in every segment")
    for j, (start, _) in enumerate(starts):
        b = f"z{6 + j % 2}"
        e.op("ld1b", f"{{{b}.b}}", "p0/z", "[x1]", lanes={f"{b}.b": _b_lanes(call, start, kb, segments)},
             note=f"B columns {start}..{start + 2 * segments - 1}, k={8 * kb}..{8 * kb + 7}")
        for i, p in enumerate(pairs):
            acc, a = f"{_acc(i, j, loads)}.s", f"{_a_reg(call, i)}.b"
            # lanes of an arithmetic record annotate (the interpreter computes from registers)
            lanes = {acc: _c_lanes(call, p, starts[j], segments), a: _a_lanes(call, p, kb, segments),
                     f"{b}.b": _b_lanes(call, start, kb, segments)}
            e.op(mnemonic, acc, a, f"{b}.b", lanes=lanes,
                 note=f"rows {2 * p}-{2 * p + 1} x columns {start}..{start + 2 * segments - 1}, k={8 * kb}..{8 * kb + 7}")


def _stores(e, call, pairs, starts, segments, loads, predicates=3):
    """Per two loads (4S columns): rows of the 2x2 tiles with ``uzp1``/``uzp2 .d``, then per row
    ``st1w`` of the valid columns (Add mode: C loaded and added first); a chunk without a valid
    column is skipped, and so is the phantom second row of one row. ``predicates``: the chunks
    whose ``whilelo`` the store blocks hold (the others' predicates were set with the seeds)."""
    for chunk in range(0, len(starts), 2):
        (start, v0), (_, v1) = starts[chunk], starts[chunk + 1]
        valid = v0 + v1
        if valid == 0:
            continue
        if chunk // 2 < predicates:
            e.op("whilelo", "p3.s", "xzr", f"#{valid}", note=f"{valid} valid columns from {start}")
        for i, p in enumerate(pairs):
            halves = (("uzp1", 0),) if call.rows == 1 else (("uzp1", 0), ("uzp2", 1))
            for half, (op, _) in enumerate(halves):
                e.op(op, f"z{6 + half}.d", f"{_acc(i, chunk, loads)}.d", f"{_acc(i, chunk + 1, loads)}.d",
                     note=f"row {2 * p + half}, columns {start}..{start + 4 * segments - 1}")
            for half in range(len(halves)):
                row = 2 * p + half
                lanes = tuple(("C", row, start + c) if c < valid else None for c in range(4 * segments))
                reg = f"z{6 + half}"
                if not call.zero_mode:
                    e.op("ld1w", f"{{z{2 + half}.s}}", "p3/z", f"[x{2 + half}]", lanes={f"z{2 + half}.s": lanes},
                         lane_bytes=4, note=f"C row {row} (Add mode)")
                    e.op("add", f"{reg}.s", f"{reg}.s", f"z{2 + half}.s")
                e.op("st1w", f"{{{reg}.s}}", "p3", f"[x{2 + half}]", lanes={f"{reg}.s": lanes}, lane_bytes=4,
                     note=f"C row {row}, columns {start}..{start + valid - 1}")


# --- The routine's control flow -------------------------------------------------------------------
# The routine runs as QEMU translation blocks (a run of instructions up to a branch); _BLOCKS
# holds the mnemonics of every block a call can run, named by its offset from the entry of the
# UMMLA routine (the SMMLA routine's block in the same place of the structure, under the same
# name). The functions below give the blocks each part of a call runs, in order.

_ENTRY = (0x0000, 0x0024)  # stack probe of the frame size (not taken), frame, spills, CountM tests


def _parts(rows, valid, k_blocks, zero_mode, per_column):
    """``(part, blocks)`` in execution order: part "rows" (the row sums of 12, 8 and 1 rows),
    ("seeds", t, p), ("k", t, p, kb), ("stores", t, p), "ret". ``valid``: the B loads with a valid
    column per N tile."""
    if rows == 12:
        return _parts12(valid, k_blocks, zero_mode, per_column)
    if rows == 8:
        return _parts8(valid, k_blocks, zero_mode, per_column)
    if rows == 1:
        return _parts1(valid, k_blocks, zero_mode, per_column)
    return _parts42(rows, valid, k_blocks, zero_mode, per_column)


def _k_loop(t, p, k_blocks, first, step):
    """The K loop: its set-up and first step in one block, then one block per further step."""
    return [(("k", t, p, 0), (first,))] + [(("k", t, p, kb), (step,)) for kb in range(1, k_blocks)]


def _parts12(valid, k_blocks, zero_mode, per_column):
    """12 rows: row sums of the 6 pairs to the stack; per tile the load count tests (4 loads),
    the seeds, the K loop, the stores (two chunks of 2 loads; Add mode loads C)."""
    out = [("rows", _ENTRY + (0x104c, 0x1140))]  # 0x1140: the tile loop's head, first tile
    for t, v in enumerate(valid):
        chain = {1: (0x12cc, 0x12d4, 0x12dc, 0x12fc, 0x18e0), 2: (0x18a0, 0x18bc, 0x18c4), 3: (0x18a0, 0x25b0, 0x25cc),
                 4: (0x18a0, 0x25b0, 0x1bc0, 0x1b94, 0x1e30)}[v]
        seeds = (0x1344,) if per_column else (0x1afc, 0x13b4)
        out.append((("seeds", t, 0), ((0x12b8,) if t else ()) + chain + (0x1314,) + seeds))
        out += _k_loop(t, 0, k_blocks, 0x1480, 0x14a8)
        if zero_mode:
            stores = (0x19cc,) + ((0x1c14, 0x1780) if v <= 2 else (0x19e0, 0x1a58, 0x1ab8, 0x1778))
        else:
            stores = (0x157c,) + ((0x1c88, 0x1780) if v <= 2 else (0x15a8, 0x1664, 0x1704))
        out.append((("stores", t, 0), (0x1550, 0x1568) + stores + (0x182c,)))
    return out + [("ret", (0x1860,))]


#: 8 rows: the block after the seeds; the SMMLA routine runs it in the next block after per-column
#: seeds (0x0825: not an instruction address, the name of that case).
_SEEDS_JOIN = {False: 0x0824, True: 0x0825}


def _parts8(valid, k_blocks, zero_mode, per_column):
    """8 rows: row sums of the 4 pairs; per tile a test per load (6 loads: the valid ones, then
    the first column of the last block for the others), the seeds, the K loop, the stores (three
    chunks of 2 loads)."""
    out = [("rows", _ENTRY + (0x0098, 0x030c, 0x03b4))]  # 0x03b4: the tile loop's head, first tile
    for t, v in enumerate(valid):
        chain = []
        for j, (extra, test) in enumerate(zip((0x0f64, 0x0f50, 0x0f34, 0x0f1c, 0x0f00), (0x0584, 0x0590, 0x05a0, 0x05ac, 0x05bc))):
            chain += ([extra] if v >= j + 2 else []) + [test]
        for j in range(4):  # loads 1-4: a valid start, or the last block (udiv)
            chain.append((0x05d4, 0x05ec, 0x0604, 0x061c)[j] if v >= j + 2 else (0x05c8, 0x05e0, 0x05f8, 0x0610)[j])
        chain.append(0x0634 if v == 6 else 0x0628)
        seeds = (0x0680,) if per_column else (0x0fac, 0x0754)
        out.append((("seeds", t, 0), ((0x0568,) if t else ()) + tuple(chain) + seeds + (_SEEDS_JOIN[per_column],)))
        out += _k_loop(t, 0, k_blocks, 0x082c, 0x0848)
        chunks = -(-v // 2)
        if zero_mode:
            stores = {1: (0x0c80, 0x2230, 0x2234, 0x27d8, 0x2280, 0x2294, 0x0b40),
                      2: (0x0c80, 0x0c94, 0x0cb4, 0x21dc, 0x2788, 0x0a48, 0x0a5c, 0x0e08, 0x0e10, 0x0ac0, 0x0ad4, 0x0f80, 0x0b40),
                      3: (0x0c80, 0x0c94, 0x0e60, 0x09c0, 0x0ccc, 0x0cec, 0x0d0c, 0x0a48, 0x0a5c, 0x0a70, 0x0d48, 0x0ab0, 0x0ac0,
                          0x0ad4, 0x0f80, 0x0f94, 0x0b38)}[chunks]
        else:
            stores = {1: (0x091c, 0x2608, 0x2740, 0x224c, 0x2260, 0x0e20, 0x0e48, 0x0b40),
                      2: (0x091c, 0x0940, 0x21c8, 0x0e9c, 0x0ec0, 0x26b4, 0x26b8, 0x0a48, 0x0de0, 0x0e08, 0x0e10, 0x0e20, 0x0ad4,
                          0x0aec, 0x0b40),
                      3: (0x091c, 0x0940, 0x0970, 0x09a0, 0x0e9c, 0x0ec0, 0x0ef0, 0x09f0, 0x0a14, 0x0a48, 0x0de0, 0x0a70, 0x0a88,
                          0x0ab0, 0x0e20, 0x0ad4, 0x0aec, 0x0b10)}[chunks]
        out.append((("stores", t, 0), (0x08ec, 0x0904) + stores))
    return out + [("ret", (0x0c60, 0x187c))]


def _parts42(rows, valid, k_blocks, zero_mode, per_column):
    """4 and 2 rows (one code, the pair count on the stack): per tile the load count tests, then
    per row pair its row sums, seeds, K loop and stores."""
    out = [("rows", _ENTRY + (0x0098, 0x00a4) + ((0x26ec, 0x1e50) if rows == 4 else (0x00b0, 0x1e40)))]
    for t, v in enumerate(valid):
        chain = {1: (0x1ef0, 0x1ef8, 0x1f00, 0x23b8, 0x23dc, 0x23e8, 0x1f24), 2: (0x2434, 0x1ef0, 0x1ef8, 0x1f00, 0x1f08),
                 3: (0x2434, 0x1ef0, 0x238c, 0x23a0, 0x23a8, 0x1f24), 4: (0x2434, 0x1ef0, 0x238c, 0x23f0, 0x244c, 0x2560, 0x1f30)}[v]
        for p in range(rows // 2):
            head = ((0x1ed0 if t else 0x1e54),) + chain if p == 0 else (0x1ffc,)
            out.append((("seeds", t, p), head + (0x200c,) + ((0x2040,) if per_column else (0x230c, 0x20a0))))
            out += _k_loop(t, p, k_blocks, 0x20a8, 0x20c0)
            if zero_mode:
                stores = (0x2100, 0x2104, 0x22e0, 0x22ec) + ((0x22f4, 0x2168) if v >= 3 else (0x2170,))
            else:
                stores = (0x2100, 0x2104, 0x2114, 0x2128) + ((0x2138, 0x2160) if v >= 3 else (0x2170,))
            out.append((("stores", t, p), stores + ((0x2198,) if p == rows // 2 - 1 else ())))
    return out + [("ret", (0x21c0, 0x187c))]


def _parts1(valid, k_blocks, zero_mode, per_column):
    """1 row: its row sum once; per tile the load count tests, seeds, K loop, stores."""
    out = [("rows", _ENTRY + (0x0098, 0x00a4, 0x00b0, 0x00b8))]
    for t, v in enumerate(valid):
        chain = {1: (0x0150, 0x0158, 0x0160, 0x24d8, 0x24fc, 0x2508, 0x0184), 2: (0x254c, 0x0150, 0x0158, 0x0160, 0x0168),
                 3: (0x254c, 0x0150, 0x24a8, 0x24b8, 0x24c4, 0x0184), 4: (0x254c, 0x0150, 0x24a8, 0x2510, 0x25e8, 0x2728, 0x018c)}[v]
        seeds = (0x01e8,) if per_column else (0x2570, 0x0244)
        out.append((("seeds", t, 0), ((0x0130 if t else 0x00c8),) + chain + seeds))
        out += _k_loop(t, 0, k_blocks, 0x024c, 0x0258)
        if zero_mode:
            stores = (0x2490,) + ((0x249c, 0x02cc) if v >= 3 else (0x02d0,))
        else:
            stores = (0x02a8,) + ((0x02bc,) if v >= 3 else (0x02d0,))
        out.append((("stores", t, 0), (0x0294, 0x0298) + stores))
    return out + [("ret", (0x02f8, 0x187c))]


#: Per routine, the mnemonics of each block a call can run (objdump's, normalised as
#: :func:`mlas_emu.oracle.count_kernel_instructions` counts them), by the offset of the UMMLA
#: routine's block from its entry (1.32.0 wheel, onnxruntime_pybind11_state: UMMLA at 0x11a17d4,
#: SMMLA at 0x119efe0). A name can stand for two SMMLA blocks that always run together (0x200c),
#: or for none (its instructions are in the block before or after it).
_BLOCKS = {
    "ummla": {
        0x0000: "mov cntb add cmp b",
        0x0024: ("sub stp mov cntb cmp str addvl movz csel stp mov lsr stp and whilelo ldr sub ldrb lsl stp lsl "
                 "stp mov str str str str cmp b"),
        0x0098: "stp cmp b",
        0x00a4: "lsl cmp b",
        0x00b0: "cmp b",
        0x00b8: "ldr ptrue ld1rw cbz",
        0x00c8: ("ldr mov add ldr add ldr lsl lsl lsl and str lsl str neg str sub str addvl mov mov stp sub ldr "
                 "movz stp nop movz ldr add cmp csel mov cmp b"),
        0x0130: "movz ldr add cmp csel mov cmp b",
        0x0150: "cmp b",
        0x0158: "cmp b",
        0x0160: "cmp b",
        0x0168: ("ldr mov movz movz movz udiv mul udiv mul lsr str whilelo lsr ldr ld1w lsr zip1 ubfiz ubfiz ubfiz "
                 "lsr lsl lsl lsl madd madd add madd add mul add cbz"),
        0x0184: ("udiv mul lsr str whilelo lsr ldr ld1w lsr zip1 ubfiz ubfiz ubfiz lsr lsl lsl lsl madd madd add "
                 "madd add mul add cbz"),
        0x018c: ("lsr str whilelo lsr ldr ld1w lsr zip1 ubfiz ubfiz ubfiz lsr lsl lsl lsl madd madd add madd add "
                 "mul add cbz"),
        0x01e8: ("whilelo ld1w zip1 whilelo add ld1w zip1 mad ld1w zip1 add add ld1w ld1w whilelo zip1 ld1w mad "
                 "zip1 ld1w zip1 zip1 mla mad cbz"),
        0x0244: "mad cbz",
        0x024c: "ldr movz add add ld1b ld1rd add sub ummla ld1b ld1b ummla add ld1b ummla ummla cmp b",
        0x0258: "add ld1b ld1rd add sub ummla ld1b ld1b ummla add ld1b ummla ummla cmp b",
        0x0294: "cbz",
        0x0298: "ldr uzp1 whilelo cbnz",
        0x02a8: "ldr ld1w add st1w cbz",
        0x02bc: "uzp1 whilelo ld1w add st1w ldr add add add add add ldr sub cmp b",
        0x02cc: "st1w ldr add add add add add ldr sub cmp b",
        0x02d0: "ldr add add add add add ldr sub cmp b",
        0x02f8: "ldp movz ldp str b",
        0x030c: ("ldr ptrue addvl add ldp str str mov addvl lsl add str str ldp ld1rqw addvl str str mov addvl add "
                 "str str ldp ld1rqw addvl str str str str ldp addvl add ld1rqw str str str str addvl add ld1rqw "
                 "cbz"),
        0x03b4: ("ldr lsl add lsl add lsl add str sub str sub add sub lsl add str sub lsl add add add sub lsl add "
                 "str mov str lsl sub str add str add sub str add lsl lsl ldr lsl add add add str add add add str "
                 "add add str add lsl str add str sub str lsl add add str add add str add add str add str add add "
                 "stp addvl mov stp movz movz stp stp mov str str add str add str mov str sub str sub str sub str "
                 "add str sub str sub str ldr ldr and str mov mov mov str add str cmp csel mov cmp b"),
        0x0568: "add str cmp csel mov cmp b",
        0x0584: "movz cmp b",
        0x0590: "str mov cmp b",
        0x05a0: "str cmp b",
        0x05ac: "str ldr cmp b",
        0x05bc: "mov cmp b",
        0x05c8: "ldr udiv mul mov cmp b",
        0x05d4: "mov cmp b",
        0x05e0: "ldr udiv mul mov cmp b",
        0x05ec: "mov cmp b",
        0x05f8: "ldr udiv mul mov cmp b",
        0x0604: "mov cmp b",
        0x0610: "ldr udiv mul mov cmp b",
        0x061c: "mov cmp b",
        0x0628: ("ldr udiv mul lsl lsl mov lsl add whilelo add stp lsl ld1w add str mov add str lsl add zip1 cbz"),
        0x0634: "lsl lsl mov lsl add whilelo add stp lsl ld1w add str mov add str lsl add zip1 cbz",
        0x0680: ("add lsl whilelo add mov add ldr ld1w str zip1 ldr whilelo ld1w ld1w ldp ld1w zip1 add ldr "
                 "whilelo add ld1w ldr whilelo zip1 ld1w ldr ld1w mov whilelo ldr zip1 zip1 mov ldr mov zip1 ld1w "
                 "ld1w zip1 zip1 mov zip1 mov ld1w ld1w mad mad mad mad mad zip1 zip1 lsr lsr ubfiz ubfiz ubfiz "
                 "lsr ldr movprfx mla lsr movprfx mla madd ubfiz madd lsr madd ubfiz lsr ubfiz movprfx mla movprfx "
                 "mla movprfx mla movprfx mla movprfx mla movprfx mla mad movprfx mla movprfx mla movprfx mla mad "
                 "madd movprfx mla madd mad madd movprfx mla mad mad mad cbz"),
        0x0754: ("lsr lsr ubfiz ubfiz ubfiz lsr ldr movprfx mla lsr movprfx mla madd ubfiz madd lsr madd ubfiz lsr "
                 "ubfiz movprfx mla movprfx mla movprfx mla movprfx mla movprfx mla movprfx mla mad movprfx mla "
                 "movprfx mla movprfx mla mad madd movprfx mla madd mad madd movprfx mla mad mad mad cbz"),
        0x0824: "ldr movz",
        0x0825: "ldr movz",
        0x082c: ("ldr add add str str str nop sub ld1b ld1b ptrue add ld1rqb ld1rqb ld1rqb ld1rqb ummla ummla "
                 "ummla ummla ummla ummla ummla ummla ld1b ld1b ummla ummla ummla ummla ummla ld1b ummla ummla "
                 "ummla add ld1b add ummla ummla ummla ummla ummla ummla ummla ummla cmp b"),
        0x0848: ("sub ld1b ld1b ptrue add ld1rqb ld1rqb ld1rqb ld1rqb ummla ummla ummla ummla ummla ummla ummla "
                 "ummla ld1b ld1b ummla ummla ummla ummla ummla ld1b ummla ummla ummla add ld1b add ummla ummla "
                 "ummla ummla ummla ummla ummla ummla cmp b"),
        0x08ec: "str add ldr ldr ldr cbz",
        0x0904: "ldr uzp1 whilelo uzp2 mov cbnz",
        0x091c: "ldr ld1w add st1w ldr ld1w add st1w cbz",
        0x0940: "ldr whilelo uzp1 ld1w add uzp2 st1w ldr ld1w add st1w cbz",
        0x0970: "ldr whilelo uzp1 ld1w add uzp2 st1w ldr ld1w add st1w cbz",
        0x09a0: "ldr uzp1 whilelo uzp2 mov mov mov cbz",
        0x09c0: "ldr st1w ldr st1w cbnz",
        0x09f0: "ldr ld1w add st1w ldr ld1w add st1w cbz",
        0x0a14: "ldr whilelo uzp1 ld1w add st1w ldr uzp2 ld1w add ldr st1w cbz",
        0x0a48: "whilelo uzp1 uzp2 mov cbz",
        0x0a5c: "ldr st1w ldr st1w cbz",
        0x0a70: "ldr uzp2 whilelo uzp1 mov cbnz",
        0x0a88: "ld1w add st1w ldr ld1w add ldr st1w whilelo cbz",
        0x0ab0: "uzp1 uzp2 mov cbz",
        0x0ac0: "ldr st1w ldr st1w cbz",
        0x0ad4: "uzp1 whilelo uzp2 mov mov cbnz",
        0x0aec: "ldr ld1w add st1w ldr ld1w add st1w cbz",
        0x0b10: ("uzp1 whilelo uzp2 ldr ld1w add st1w ldr ld1w add ldr st1w add ldr add add add add str ldr add "
                 "add sub add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add "
                 "str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add "
                 "str ldr add str ldr add str ldr add str ldr add str cmp b"),
        0x0b38: ("ldr st1w add ldr add add add add str ldr add add sub add str ldr add str ldr add str ldr add str "
                 "ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str "
                 "ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str "
                 "cmp b"),
        0x0b40: ("add ldr add add add add str ldr add add sub add str ldr add str ldr add str ldr add str ldr add "
                 "str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add "
                 "str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str cmp b"),
        0x0c60: "ldp ldp ldp ldp movz ldp str b",
        0x0c80: "ldr st1w ldr st1w cbz",
        0x0c94: "ldr whilelo uzp1 uzp2 st1w ldr st1w cbnz",
        0x0cb4: "ldr uzp1 uzp2 st1w ldr st1w whilelo uzp1 ldr uzp2 st1w ldr st1w cbz",
        0x0ccc: "whilelo uzp1 ldr uzp2 st1w ldr st1w cbz",
        0x0cec: "ldr whilelo uzp1 uzp2 st1w ldr st1w cbz",
        0x0d0c: "ldr whilelo uzp1 uzp2 st1w ldr st1w cbnz",
        0x0d48: "st1w ldr st1w whilelo cbnz",
        0x0de0: "ldr ld1w add st1w ldr ld1w add ldr st1w cbnz",
        0x0e08: "whilelo cbz",
        0x0e10: "uzp1 uzp2 mov cbnz",
        0x0e20: "ldr ld1w add st1w ldr ld1w add ldr st1w cbnz",
        0x0e48: "cbz",
        0x0e60: "ldr whilelo uzp1 st1w ldr uzp2 st1w uzp1 ldr whilelo uzp2 mov mov mov cbnz",
        0x0e9c: "ldr ld1w add st1w ldr ld1w add st1w cbz",
        0x0ec0: "uzp1 whilelo uzp2 ldr ld1w add st1w ldr ld1w add st1w cbz",
        0x0ef0: "uzp1 whilelo uzp2 b",
        0x0f00: "ldr add cmp csel str add b",
        0x0f1c: "ldr add cmp csel str b",
        0x0f34: "ldr add cmp csel str add b",
        0x0f50: "ldr add cmp csel b",
        0x0f64: "ldr add cmp csel str add b",
        0x0f80: "ldr st1w ldr st1w cbz",
        0x0f94: "uzp1 whilelo uzp2 ldr st1w b",
        0x0fac: ("ldr whilelo whilelo mov ldr ld1w mov zip1 ldr ld1w mov zip1 ldr whilelo mov mov ldr whilelo mov "
                 "ld1w ldr ld1w zip1 zip1 ldr mov whilelo mov ldr mov ld1w mov movprfx mla mla mla mla mla zip1 b"),
        0x104c: ("addvl stp ptrue addvl ldp str str mov addvl add add lsl str str ldp ld1rqw addvl str str mov "
                 "addvl add str str ldp ld1rqw addvl str str mov addvl add str str ldp ld1rqw addvl str str mov "
                 "addvl add str str ldp ld1rqw addvl str str str str ldp ld1rqw str str str str addvl add ld1rqw "
                 "cbz"),
        0x1140: ("ldr mov lsl mov lsl add lsl add lsl str sub str add sub add stp add mov add add sub add lsl str "
                 "add sub sub sub add str add add add add add add add add add add str add stp lsl ldr add add stp "
                 "add add str sub lsl str add str add str sub and add add stp add add stp add mov stp movz str str "
                 "add str str str sub str add str addvl str lsl str ldr str ldr add mov mov str sub str movz add "
                 "cmp csel cmp b"),
        0x12b8: "add cmp csel cmp b",
        0x12cc: "cmp b",
        0x12d4: "cmp b",
        0x12dc: "movz movz ldr mov udiv mul cmp b",
        0x12fc: "mov movz movz mov cmp b",
        0x1314: "lsl whilelo lsl add str add str lsl ld1w add zip1 cbz",
        0x1344: ("whilelo add whilelo add ld1w ldr add ld1w ld1w ld1w zip1 zip1 whilelo zip1 ld1w ldr mov mov ld1w "
                 "zip1 zip1 ld1w mov mad mad mad zip1 zip1 lsr lsr lsr lsr ubfiz ubfiz mul ubfiz movprfx mla "
                 "movprfx mla movprfx mla movprfx mla movprfx mla movprfx mla movprfx mla movprfx mla movprfx mla "
                 "movprfx mla movprfx mla movprfx mla movprfx mla movprfx mla mad madd movprfx mla madd mad madd "
                 "movprfx mla lsl mad movprfx mla mad cbz"),
        0x13b4: ("lsr lsr lsr lsr ubfiz ubfiz mul ubfiz movprfx mla movprfx mla movprfx mla movprfx mla movprfx "
                 "mla movprfx mla movprfx mla movprfx mla movprfx mla movprfx mla movprfx mla movprfx mla movprfx "
                 "mla movprfx mla mad madd movprfx mla madd mad madd movprfx mla lsl mad movprfx mla mad cbz"),
        0x1480: ("ldr movz ldr add ldr add str str str str ptrue ld1rqb ld1b sub ummla ld1b ld1b ld1b ummla ummla "
                 "ummla ld1rqb ummla ummla ummla ummla ld1rqb ummla ummla ummla ummla ld1rqb add ummla ummla ummla "
                 "ummla ld1rqb add ummla ummla ummla ummla add ld1rqb add ummla ummla ummla ummla cmp b"),
        0x14a8: ("ptrue ld1rqb ld1b sub ummla ld1b ld1b ld1b ummla ummla ummla ld1rqb ummla ummla ummla ummla "
                 "ld1rqb ummla ummla ummla ummla ld1rqb add ummla ummla ummla ummla ld1rqb add ummla ummla ummla "
                 "ummla add ld1rqb add ummla ummla ummla ummla cmp b"),
        0x1550: "add ldr ldr ldr ldr cbz",
        0x1568: "ldr uzp1 whilelo uzp2 cbnz",
        0x157c: "ldr lsl add ld1w add st1w ldr ld1w add st1w cbz",
        0x15a8: ("ldr whilelo uzp1 uzp2 uzp1 uzp2 add uzp1 ldr ld1w add st1w ldr ld1w add st1w ldr ld1w add st1w "
                 "ld1w add st1w ldr ld1w add st1w ldr uzp2 ld1w add st1w ldr uzp1 ld1w add st1w ldr uzp2 ld1w add "
                 "st1w ldr uzp1 whilelo uzp2 cbnz"),
        0x1664: ("ldr uzp1 ld1w uzp2 add st1w ldr ld1w add whilelo uzp1 st1w ld1w add ldr uzp2 st1w ld1w add st1w "
                 "ld1w add st1w ld1w add ldr uzp1 st1w ld1w add uzp2 st1w ld1w add st1w ldr uzp1 whilelo uzp2 cbnz"),
        0x1704: ("ldr ld1w add uzp1 uzp2 st1w ldr ld1w add whilelo uzp1 st1w ldr ld1w add uzp2 mov st1w ldr ld1w "
                 "add st1w ldr ld1w add st1w ldr ld1w add ldr st1w add ldr add add add add str ldr add add add add "
                 "str ldr add sub add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str "
                 "ldr add str ldr add str ldr"),
        0x1778: ("ldr st1w add ldr add add add add str ldr add add add add str ldr add sub add str ldr add str ldr "
                 "add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr"),
        0x1780: ("add ldr add add add add str ldr add add add add str ldr add sub add str ldr add str ldr add str "
                 "ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr"),
        0x182c: "add str ldr add str ldr add str ldr add str cmp b",
        0x1860: "ldp ldp ldp ldp movz ldp str ldp ldp ldp ldp ldp ldr addvl add ret",
        0x187c: "ldp ldp ldp ldp ldp ldr addvl add ret",
        0x18a0: "ldr add cmp csel add cmp b",
        0x18bc: "cmp b",
        0x18c4: "sub mov movz movz movz udiv mul udiv mul b",
        0x18e0: "udiv mul b",
        0x19cc: "ldr st1w ldr st1w cbz",
        0x19e0: ("ldr whilelo uzp1 st1w ldr uzp2 st1w uzp1 ldr st1w uzp2 uzp1 ldr st1w uzp2 uzp1 ldr st1w uzp2 ldr "
                 "st1w ldr st1w uzp1 uzp2 ldr st1w whilelo ldr cbz"),
        0x1a58: ("ldr st1w whilelo uzp1 ldr st1w uzp2 st1w ldr st1w uzp1 uzp1 ldr uzp2 uzp2 st1w st1w st1w st1w "
                 "ldr uzp1 whilelo uzp2 cbz"),
        0x1ab8: "ldr st1w uzp1 whilelo ldr st1w uzp2 mov ldr uzp1 uzp2 st1w ldr st1w ldr st1w b",
        0x1afc: ("ldr whilelo mov ld1w ldr zip1 whilelo mov ld1w whilelo zip1 ld1w mov mov mla mov mov movprfx mla "
                 "mla zip1 b"),
        0x1b94: "cmp b",
        0x1bc0: "ldr add cmp csel add cmp b",
        0x1c14: ("ldr uzp1 st1w uzp2 ldr st1w uzp1 uzp2 ldr st1w uzp1 uzp2 ldr st1w st1w uzp1 ldr st1w uzp2 st1w "
                 "ldr st1w uzp1 uzp2 ldr st1w ldr st1w b"),
        0x1c88: ("ldr uzp1 uzp1 uzp2 uzp2 uzp1 add uzp2 ldr ld1w add st1w ld1w add st1w ldr ld1w add st1w ldr ld1w "
                 "add uzp1 st1w ld1w add ldr uzp2 st1w ld1w add uzp1 st1w ld1w add ldr uzp2 st1w ld1w add st1w ldr "
                 "ld1w add st1w ldr ld1w add st1w b"),
        0x1e30: "mov mov mov b",
        0x1e40: "movz str movz str cbz",
        0x1e50: "cbz",
        0x1e54: ("ldr add lsl mov and sub lsl lsl str neg mov stp lsl ptrue ldr mov movz ldr str add str ldr mov "
                 "lsl addvl add str sub str addvl ldr str ldr add cmp csel mov cmp b"),
        0x1ed0: "str ldr add cmp csel mov cmp b",
        0x1ef0: "cmp b",
        0x1ef8: "cmp b",
        0x1f00: "cmp b",
        0x1f08: ("ldr mov movz str str udiv mul ldr udiv mul ubfiz lsr ubfiz lsr lsl ubfiz madd lsl madd add add "
                 "lsr lsl str add add lsl str add add lsr str add str add str ldr whilelo str whilelo ldr mul str "
                 "madd ldr lsl ldr whilelo add add str add add movz movz stp str ldr whilelo ldr whilelo movz ldr "
                 "cmp b"),
        0x1f24: ("ldr udiv mul ubfiz lsr ubfiz lsr lsl ubfiz madd lsl madd add add lsr lsl str add add lsl str add "
                 "add lsr str add str add str ldr whilelo str whilelo ldr mul str madd ldr lsl ldr whilelo add add "
                 "str add add movz movz stp str ldr whilelo ldr whilelo movz ldr cmp b"),
        0x1f30: ("ubfiz lsr ubfiz lsr lsl ubfiz madd lsl madd add add lsr lsl str add add lsl str add add lsr str "
                 "add str add str ldr whilelo str whilelo ldr mul str madd ldr lsl ldr whilelo add add str add add "
                 "movz movz stp str ldr whilelo ldr whilelo movz ldr cmp b"),
        0x1ffc: "movz ldr cmp b",
        0x200c: "ldr addvl str ldr ld1w addvl zip1 str str str ldr ld1rqw cbz",
        0x2040: ("ldr ld1w zip1 mla ldr ld1w zip1 ldr ld1w zip1 mad ldr ld1w zip1 ldr ld1w zip1 mad ldr ld1w zip1 "
                 "ldr ld1w zip1 mad cbz"),
        0x20a0: "mad cbz",
        0x20a8: ("ldr movz add ldr add nop ld1b sub ptrue add ld1rqb ummla ld1b ld1b ummla add ld1b add ummla "
                 "ummla cmp b"),
        0x20c0: "ld1b sub ptrue add ld1rqb ummla ld1b ld1b ummla add ld1b add ummla ummla cmp b",
        0x2100: "cbz",
        0x2104: "ldr uzp1 uzp2 cbnz",
        0x2114: "ld1w add st1w cmp b",
        0x2128: "ld1w add st1w cbz",
        0x2138: "uzp1 whilelo uzp2 mov ld1w add st1w mov cmp b",
        0x2160: "ld1w add mov st1w ldr add add add add add add add cmp b",
        0x2168: "mov st1w ldr add add add add add add add cmp b",
        0x2170: "ldr add add add add add add add cmp b",
        0x2198: "ldp ldr ldr add add add add sub cmp b",
        0x21c0: "ldp b",
        0x21c8: "uzp1 uzp2 b",
        0x21dc: "cbnz",
        0x2230: "cbnz",
        0x2234: "ldr uzp1 uzp2 st1w ldr st1w uzp1 whilelo ldr uzp2 cbnz",
        0x224c: "uzp1 whilelo ldr uzp2 cbnz",
        0x2260: "ldr ld1w add st1w ldr ld1w add st1w uzp1 uzp2 mov mov cbz",
        0x2280: "uzp1 uzp2 mov mov cbz",
        0x2294: "ldr st1w ldr st1w b",
        0x22e0: "st1w cmp b",
        0x22ec: "st1w cbz",
        0x22f4: "uzp1 whilelo uzp2 mov st1w b",
        0x230c: ("ldr whilelo mla mov ldr ld1w zip1 mla ldr whilelo ldr ld1w zip1 mla ldr whilelo ldr ld1w zip1 b"),
        0x238c: "cmp csel str cmp b",
        0x23a0: "cmp b",
        0x23a8: "mov mov str b",
        0x23b8: "movz str ldr str udiv mul mov cmp b",
        0x23dc: "mov cmp b",
        0x23e8: "b",
        0x23f0: "ldr add ldr cmp csel str add cmp b",
        0x2434: "sub cmp csel str add b",
        0x244c: "cmp b",
        0x2490: "ldr st1w cbz",
        0x249c: "uzp1 whilelo b",
        0x24a8: "cmp csel cmp b",
        0x24b8: "mov cmp b",
        0x24c4: "mov mov sub movz b",
        0x24d8: "movz movz ldr movz udiv mul mov cmp b",
        0x24fc: "mov cmp b",
        0x2508: "b",
        0x2510: "ldr add cmp csel add cmp b",
        0x254c: "sub cmp csel add b",
        0x2560: "mov mov mov b",
        0x2570: "whilelo whilelo ld1w ld1w zip1 zip1 whilelo mla ld1w mla mla mov zip1 b",
        0x25b0: "ldr add cmp csel mov cmp b",
        0x25cc: "sub mov mov movz udiv mul b",
        0x25e8: "cmp b",
        0x2608: "cbz",
        0x26b4: "cbz",
        0x26b8: "ldr whilelo uzp1 ld1w add uzp2 st1w ldr ld1w add st1w cbnz",
        0x26ec: "movz str movz str b",
        0x2728: "mov mov mov b",
        0x2740: "ldr uzp1 ld1w add uzp2 st1w ldr ld1w add st1w b",
        0x2788: "ldr whilelo uzp1 uzp2 st1w ldr st1w cbnz",
        0x27d8: "ldr st1w ldr st1w b",
    },
}

#: QgemmS8S8 SVE routine: the UMMLA routine's blocks with SMMLA, except where the compiler laid them out
#: differently (an empty entry: that offset starts no block of its own there).
_BLOCKS["smmla"] = {offset: mnemonics.replace("ummla", "smmla") for offset, mnemonics in _BLOCKS["ummla"].items()}
_BLOCKS["smmla"].update({
        0x03b4: ("ldr lsl add lsl add lsl add str sub str sub add sub lsl add str sub lsl add add add sub lsl add "
                 "str mov str lsl sub str add str add sub str add lsl lsl ldr lsl add add add str add add add str "
                 "add add str add lsl str add str sub str lsl add add str add add str add add str add str add add "
                 "stp movz mov stp mov movz stp stp mov str str add str add str mov str sub str sub str sub str "
                 "add str sub str sub str mov ldr mov mov str and str addvl ldr nop add cmp str csel mov cmp b"),
        0x0568: "add cmp str csel mov cmp b",
        0x0754: "mov ldr mov ld1w mov movprfx mla mla mla mla mla zip1 b",
        0x0825: "",  # after per-column seeds: joined to the next block
        0x0824: ("lsr lsr ubfiz ubfiz ubfiz lsr ldr movprfx mla lsr movprfx mla madd ubfiz madd lsr madd ubfiz lsr "
                 "ubfiz movprfx mla movprfx mla movprfx mla movprfx mla movprfx mla movprfx mla mad movprfx mla "
                 "movprfx mla movprfx mla mad madd movprfx mla madd mad madd movprfx mla mad mad mad cbz"),
        0x082c: ("ldr movz ldr add add str str str nop sub ld1b ld1b ptrue add ld1rqb ld1rqb ld1rqb ld1rqb smmla "
                 "smmla smmla smmla smmla smmla smmla smmla ld1b ld1b smmla smmla smmla smmla smmla ld1b smmla "
                 "smmla smmla add ld1b add smmla smmla smmla smmla smmla smmla smmla smmla cmp b"),
        0x0fac: ("ldr whilelo whilelo mov ldr ld1w mov zip1 ldr ld1w mov zip1 ldr whilelo mov mov ldr whilelo mov "
                 "ld1w ldr ld1w zip1 zip1 ldr mov whilelo"),
        0x1140: ("ldr mov lsl mov lsl add lsl add lsl str sub str add sub add stp add mov add add sub add lsl str "
                 "add sub sub sub add str add add add add add str add add add add add add add stp lsl ldr lsl add "
                 "str add stp add str sub str sub str add str sub add and add add stp add add stp add mov stp movz "
                 "stp str add str str add str mov str lsl addvl str ldr mov ldr add mov str sub str str movz add "
                 "cmp csel cmp b"),
        0x1664: ("ldr uzp1 ld1w uzp2 add st1w ldr ld1w add whilelo uzp1 st1w ldr ld1w add uzp2 st1w ldr ld1w add "
                 "st1w ld1w add st1w ld1w add ldr uzp1 st1w ld1w add uzp2 st1w ld1w add st1w ldr uzp1 whilelo uzp2 "
                 "cbnz"),
        0x1704: ("ldr ld1w add uzp1 uzp2 st1w ldr ld1w add whilelo uzp1 st1w ldr ld1w add uzp2 mov st1w ld1w add "
                 "st1w ldr ld1w add st1w ldr ld1w add ldr st1w add ldr add add add add str ldr add add add add str "
                 "ldr add sub add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr "
                 "add str ldr add str ldr add str ldr add str ldr add str ldr add str cmp b"),
        0x1778: ("ldr st1w add ldr add add add add str ldr add add add add str ldr add sub add str ldr add str ldr "
                 "add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr "
                 "add str ldr add str ldr add str cmp b"),
        0x1780: ("add ldr add add add add str ldr add add add add str ldr add sub add str ldr add str ldr add str "
                 "ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str ldr add str "
                 "ldr add str ldr add str cmp b"),
        0x182c: "",  # joined to the block before it
        0x1a58: ("ldr st1w whilelo uzp1 ldr st1w uzp2 uzp1 ldr st1w uzp1 uzp2 ldr st1w uzp2 st1w ldr st1w st1w "
                 "st1w ldr uzp1 whilelo uzp2 cbz"),
        0x1ab8: "ldr st1w uzp1 whilelo ldr uzp2 mov uzp1 uzp2 st1w ldr st1w st1w ldr st1w b",
        0x1c14: ("ldr uzp1 st1w uzp2 ldr st1w uzp1 uzp2 ldr st1w uzp1 uzp2 ldr st1w uzp1 uzp1 ldr st1w uzp2 uzp2 "
                 "ldr st1w st1w ldr st1w ldr st1w st1w b"),
        0x1c88: ("ldr uzp1 uzp1 uzp2 uzp2 uzp1 add uzp2 ldr ld1w add st1w ld1w add st1w ldr ld1w add st1w ldr ld1w "
                 "add uzp1 st1w ldr ld1w add uzp2 st1w ldr ld1w add uzp1 st1w ld1w add ldr uzp2 st1w ld1w add st1w "
                 "ldr ld1w add st1w ld1w add st1w b"),
})