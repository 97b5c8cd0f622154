"""The SVE QGEMM routine of ONNX Runtime 1.30.0-1.32.0: the vector instructions one call executes.

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
  ZeroPointB, else ``mov #1``; then ``RowSums * ZeroPoints + ColumnSums`` (``movprfx``/``mla``);
* the K loop, one block of 8 k per step (``ptrue``): the L B loads, A per row pair ``ld1rqb``
  (16 bytes replicated to every segment; ``ld1rd`` of the row's 8 bytes for one row), one
  UMMLA/SMMLA per row pair and B load (every segment: a 2x2 tile of a column pair);
* stores per two loads (4S columns): ``uzp1``/``uzp2 .d`` (one row each) and ``st1w`` under
  ``whilelo`` of the valid columns, after ``ld1w`` + ``add`` of C in Add mode; chunks without a
  valid column are skipped;
* 12, 8 and 1 rows: the row sums once, then the N tiles; 4 and 2 rows: per row pair the N walk,
  the row sums loaded per tile.

Modelled here: every vector instruction of that data path, in the routine's order, with lanes
(registers allocated canonically: row-sum and A vectors z0-z5, column sums / zero points and B
z6-z7, accumulators z8-z31; the compiled routine allocates differently). NOT modelled: the
routine's scalar work (address arithmetic, its many compares and branches, the stack frame,
spills of vector registers, the predicates' ``whilelo``/``ptrue`` and the seed instructions'
exact ``mov``/``movprfx``/``mla``/``mad`` split). The counts of the data-path mnemonics
(:data:`COUNTED`) equal the real routine's (tests/mlas/test_qgemm_kernel_sve_asm.py); the other
mnemonics do not.

Lanes are in the call's coordinates as in :mod:`mlas_emu.mlas.qgemm_kernel_mmla_asm`
(``("A", r, k)``, ``("B", k, c)`` as packed, ``("RowSum", 0, r)``, ``("ColumnSum", 0, c)``,
``("ZeroPointB", 0, c)``, ``("C", r, c)``); ``None``: padding, inactive lanes, columns past CountN.
"""

from __future__ import annotations

import functools

from .dispatch import QGEMM_SVE
from .schedule import Emitter, KernelCall

KERNELS = ("ummla", "smmla")

#: The mnemonics whose counts this schedule reproduces exactly (the data path).
COUNTED = ("ummla", "smmla", "ld1b", "ld1rqb", "ld1rd", "ld1rqw", "ld1rw", "ld1w", "st1w", "uzp1", "uzp2",
           "zip1")


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
    """The vector instructions of one routine call (see the module docstring for what is left out):
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
    e = _Emitter()
    loads = 6 if rows == 8 else 4
    if rows in (12, 8, 1):  # row sums loaded once per call
        pairs = list(range(max(1, rows // 2)))
        _row_sums(e, call, pairs, segments)
        _walk(e, call, pairs, loads, mnemonic, per_column, segments)
    else:
        for p in range(max(1, rows // 2)):  # 4 and 2 rows: the N walk per row pair
            _walk(e, call, [p], loads, mnemonic, per_column, segments, row_sums=True)
    e.op("ret")
    return tuple(e.records)


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


def _walk(e, call, pairs, loads, mnemonic, per_column, segments, row_sums=False):
    """The N walk: per tile the accumulators, the K loop and the stores."""
    width = 2 * segments
    for col in range(0, call.count_n, loads * width):
        if row_sums:
            _row_sums(e, call, pairs, segments)
        starts = _starts(call, col, loads, segments)
        _init(e, call, pairs, starts, per_column, segments, loads)
        spill = not row_sums and call.rows > 1  # the row sums outlive the K loop, which reuses z0-z5
        for i in range(len(pairs) if spill else 0):
            e.op("str", f"z{i}", f"[sp, #{i}, mul vl]", note="spill the row sums")
        for kb in range(-(-call.count_k // 8)):
            _k_step(e, call, pairs, starts, mnemonic, kb, segments, loads)
        _stores(e, call, pairs, starts, segments, loads)
        for i in range(len(pairs) if spill and col + loads * width < call.count_n else 0):
            e.op("ldr", f"z{i}", f"[sp, #{i}, mul vl]", note="reload the row sums for the next tile")


def _acc(i, j, loads):
    return f"z{8 + i * loads + j}"


def _column_vector(kind, start, valid, segments):
    """``ld1w`` of a load's column values (whilelo: ``valid`` lanes)."""
    return tuple((kind, 0, start + i) if i < valid else None for i in range(4 * segments))


def _init(e, call, pairs, starts, per_column, segments, loads):
    """Seeds: ColumnSum (and ZeroPointB) per load, ``zip1 .d`` to 2x2-tile order, then
    acc = RowSums * ZeroPoints + ColumnSums per row pair (``movprfx`` + ``mla``)."""
    if not per_column:
        e.op("mov", "z7.s", "#1", note="ZeroPointB null: scale 1")
    for j, (start, valid) in enumerate(starts):
        e.op("whilelo", "p2.s", "xzr", f"#{valid}", note=f"{valid} valid columns from {start}")
        e.op("ld1w", "{z6.s}", "p2/z", "[x8]", lanes={"z6.s": _column_vector("ColumnSum", start, valid, segments)},
             lane_bytes=4, note=f"column sums {start}..")
        e.op("zip1", "z6.d", "z6.d", "z6.d")
        if per_column:
            e.op("ld1w", "{z7.s}", "p2/z", "[x27]",
                 lanes={"z7.s": _column_vector("ZeroPointB", start, valid, segments)}, lane_bytes=4,
                 note=f"zero points {start}..")
            e.op("zip1", "z7.d", "z7.d", "z7.d")
        for i, _ in enumerate(pairs):
            acc = _acc(i, j, loads)
            e.op("movprfx", acc, "z6")
            e.op("mla", f"{acc}.s", "p1/m", f"z{i}.s", "z7.s")


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


def _k_step(e, call, pairs, starts, mnemonic, kb, segments, loads):
    """One block of 8 k: A per row pair, then each B load and its MMLA per row pair."""
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


def _stores(e, call, pairs, starts, segments, loads):
    """Per two loads (4S columns): rows of the 2x2 tiles with ``uzp1``/``uzp2 .d``, then per row
    ``st1w`` of the valid columns (Add mode: C loaded and added first); a chunk without a valid
    column is skipped, and so is the phantom second row of one row."""
    for chunk in range(0, len(starts), 2):
        (start, v0), (_, v1) = starts[chunk], starts[chunk + 1]
        valid = v0 + v1
        if valid == 0:
            continue
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
