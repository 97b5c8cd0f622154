"""The schedule of the MMLA QGEMM routines: every instruction one call executes, in order.

Written from onnxruntime/core/mlas/lib/aarch64/QgemmU8X8KernelUmmla.S
(``MlasGemmU8X8KernelUmmlaZero`` / ``...Add``) and QgemmS8S8KernelSmmla.S
(``MlasGemmS8S8KernelSmmlaZero`` / ``...Add``), ONNX Runtime 1.17 to 1.32. The two files are the
same macros with UMMLA or SMMLA as the multiply (``mnemonic``):

* entry: the two stack arguments (ColumnSumBuffer x10, ZeroPointB x11), saves of x19-x28 and
  d8-d15, 7 C row pointers, ``ld1`` of row sums 0-3 (v12), the CountM compare chain (row sums
  4-7 into v13 for 8 rows);
* ``ProcessRows`` (8, 4, 2 or 1 rows): the N walk in blocks of 8 columns while more than 6
  remain, then one of 6, 4 or 2, with every compare and branch;
* ``ComputeBlockLoop``: ``InitBlockAccumulators`` (column sums splatted in column pairs, the
  per-column zero points or ``movi #1``, then per row pair ``RowSum * ZP + ColumnSum`` with
  ``mul``/``mov``/``add``), the loop over PackedCountK blocks of 8 k (``ldr`` of each A row
  pair, one ``ld1`` of 4 B column pairs, one MMLA per row pair and column pair);
* ``OutputBlock``: the output macros shared with SbgemmKernelNeon.S, with the integer ``add``
  where SBGEMM has ``fadd`` (:mod:`mlas_emu.mlas.mmla_kernel_asm`).

Lanes are in the call's coordinates (:mod:`mlas_emu.mlas.schedule`): ``("A", r, k)`` and
``("B", k, c)`` as the packed buffers of ``copy_pack_a`` / ``copy_pack_b``
(:mod:`mlas_emu.mlas.qgemm_kernel_ummla`) hold them (B as packed: XOR 0x80 for u8s8);
``("RowSum", 0, r)`` the row sum of the call's row r (RowSumBuffer, already scaled by the
driver), ``("ColumnSum", 0, c)`` (ColumnSumBuffer), ``("ZeroPointB", 0, c)`` (the per-column
buffer, when not null), ``("C", r, c)``, as :mod:`mlas_emu.mlas.qgemm_kernel_dot_asm` names them.
``None``: zero padding, or lanes the routine loads but never lets reach a stored result (row sums
past the call's rows, columns past CountN, the single row's bytes past its packed row).
"""

from __future__ import annotations

import functools

from . import mmla_kernel_asm as shared
from .schedule import Emitter, KernelCall

KERNELS = ("ummla", "smmla")


def schedule(call: KernelCall, *, kernel: str = "ummla", zero_point_b: bool = False) -> list:
    """The records of one routine call: ``kernel`` "ummla" (QgemmU8X8KernelUmmla.S) or "smmla"
    (QgemmS8S8KernelSmmla.S); ``zero_point_b``: per-column zero points (ZeroPointB not null).
    ``call.rows`` must be 8, 4, 2 or 1 (:func:`~mlas_emu.mlas.qgemm_kernel_ummla.kernel_rows`)."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if call.rows not in (8, 4, 2, 1) or call.count_n < 1 or call.count_k < 1:
        raise ValueError(f"the routine handles 8, 4, 2 or 1 rows of at least one column and one k, got {call}")
    key = (call.rows, call.count_n, call.count_k, call.zero_mode, kernel, bool(zero_point_b))
    return list(_cached(*key))


@functools.lru_cache(maxsize=4096)
def _cached(rows, count_n, count_k, zero_mode, mnemonic, per_column) -> tuple:
    call = KernelCall(0, 0, rows, 0, count_n, 0, count_k, zero_mode)
    e = Emitter()
    e.op("ldr", "x10", "[sp, #0]", note="ColumnSumBuffer (stack argument)")
    e.op("ldr", "x11", "[sp, #8]", note="ZeroPointB (stack argument)")
    shared.save_registers(e)
    shared.c_row_pointers(e, "x6")
    e.op("mov", "x8", "x0", note="save A")
    e.op("ld1", "{v12.4s}", "[x7], #16", lanes={"v12.4s": _row_sums(call, 0)}, note="row sums 0-3")
    _select_rows(e, call)
    def compute(e, call, width, col):
        _compute_block_loop(e, call, mnemonic, per_column, width, col)

    shared.process_rows(e, call, compute, "x8", add="add")
    shared.exit_kernel(e)
    return tuple(e.records)


def _row_sums(call: KernelCall, first: int) -> tuple:
    """Lanes of a row-sum load (the rows past the call's hold the panel's next rows or stale data)."""
    return tuple(("RowSum", 0, r) if r < call.rows else None for r in range(first, first + 4))


def _select_rows(e: Emitter, call: KernelCall) -> None:
    """The compare chain on CountM (x4): 8 rows (and row sums 4-7), else 4, 2 or 1."""
    e.op("cmp", "x4", "#8")
    e.op("b", "lt .ProcessCountMLessThan8")
    if call.rows == 8:
        e.op("ld1", "{v13.4s}", "[x7], #16", lanes={"v13.4s": _row_sums(call, 4)}, note="row sums 4-7")
        return
    for limit in (4, 2):
        e.op("cmp", "x4", f"#{limit}")
        e.op("b", f"lt .ProcessCountMLessThan{limit}")
        if call.rows >= limit:
            return


def _column_lanes(kind: str, call: KernelCall, first: int) -> tuple:
    return tuple((kind, 0, c) if c < call.count_n else None for c in range(first, first + 4))


def _init_block_accumulators(e: Emitter, call: KernelCall, per_column: bool, width: int, col: int) -> None:
    """``InitBlockAccumulators``: v0-v3 = column sums as {c0, c1, c0, c1} per column pair,
    v8-v11 = the zero points likewise (or 1), then ``InitRowAccumulators`` per row pair:
    acc = {r0, r0, r1, r1} * ZP + ColumnSum."""
    halves = (("v14", ("v0", "v1")),) + ((("v15", ("v2", "v3")),) if width > 4 else ())
    for half, (src, _) in enumerate(halves):
        e.op("ld1", f"{{{src}.4s}}", "[x10], #16", lanes={f"{src}.4s": _column_lanes("ColumnSum", call, col + 4 * half)},
             note=f"column sums {col + 4 * half}..{col + 4 * half + 3}")
    for src, (lo, hi) in halves:
        for lane in range(4):
            e.op("dup", f"v{4 + lane}.4s", f"{src}.s[{lane}]")
        e.op("zip1", f"{lo}.4s", "v4.4s", "v5.4s")
        e.op("zip2", f"{hi}.4s", "v6.4s", "v7.4s")
    for v in range(8, 12):
        e.op("movi", f"v{v}.4s", "#1")
    e.op("cbz", "x11", ".SkipScaleByZeroPointB", note="per-tensor zero point?")
    if per_column:
        for half in range(2):
            e.op("ld1", f"{{v{4 + half}.4s}}", "[x11], #16",
                 lanes={f"v{4 + half}.4s": _column_lanes("ZeroPointB", call, col + 4 * half)},
                 note=f"zero points {col + 4 * half}..{col + 4 * half + 3}")
        for q in range(4):
            e.op("dup", "v6.4s", f"v{4 + q // 2}.s[{2 * (q % 2)}]")
            e.op("dup", "v7.4s", f"v{4 + q // 2}.s[{2 * (q % 2) + 1}]")
            e.op("zip1", f"v{8 + q}.4s", "v6.4s", "v7.4s")
    for p in range(shared.pairs(call.rows)):
        src = f"v{12 + p // 2}"
        e.op("dup", "v4.4s", f"{src}.s[{2 * (p % 2)}]", note=f"row sums {2 * p}, {2 * p + 1}")
        e.op("dup", "v5.4s", f"{src}.s[{2 * (p % 2) + 1}]")
        e.op("uzp1", "v6.2d", "v4.2d", "v5.2d")
        for q in range(width // 2):
            acc = f"v{16 + 4 * p + q}"
            e.op("mul", "v7.4s", "v6.4s", f"v{8 + q}.4s")
            e.op("mov", f"{acc}.16b", "v7.16b")
            e.op("add", f"{acc}.4s", f"{acc}.4s", f"v{q}.4s")


def _compute_block_loop(e: Emitter, call: KernelCall, mnemonic: str, per_column: bool, width: int,
                        col: int) -> None:
    """``ComputeBlockLoop``: the accumulators, then PackedCountK steps of 8 k (x9 counts them
    down; the padded-loop branch is never taken since PackedCountK >= 1)."""
    _init_block_accumulators(e, call, per_column, width, col)
    e.op("sub", "x9", "x3", "#1", note="PackedCountK - 1")
    e.op("tbnz", "x9", "#63", ".ProcessRemainingBlocks")
    for kb in range(-(-call.count_k // 8)):
        _multiply_step(e, call, mnemonic, width, col, kb)
        e.op("sub", "x9", "x9", "#1")
        e.op("tbz", "x9", "#63", ".ComputeBlockBy4Loop")
    e.op("add", "x9", "x9", "#1")
    e.op("cbz", "x9", ".OutputBlock")


def _a_lanes(call: KernelCall, p: int, kb: int) -> tuple:
    """The 16 bytes of one A load: rows 2p and 2p+1, k = 8kb..8kb+7. A single row (``ldr q8,
    [x0], #8``) loads its next K block as the phantom second row."""
    lanes = []
    for i in range(2):
        row, k0 = (0, 8 * (kb + i)) if call.rows == 1 else (2 * p + i, 8 * kb)
        for k in range(k0, k0 + 8):
            lanes.append(("A", row, k) if k < call.count_k else None)
    return tuple(lanes)


def _b_lanes(call: KernelCall, col: int, kb: int) -> tuple:
    return tuple(("B", k, c) if c < call.count_n and k < call.count_k else None
                 for c in (col, col + 1) for k in range(8 * kb, 8 * kb + 8))


def _multiply_step(e: Emitter, call: KernelCall, mnemonic: str, width: int, col: int, kb: int) -> None:
    """``LoadPackedMatrixABy16Elements``, the B load, ``MultiplyAccumulateBlock``."""
    k0 = 8 * kb
    if call.rows == 1:
        e.op("ldr", "q8", "[x0], #8", lanes={"v8.16b": _a_lanes(call, 0, kb)},
             note=f"A row 0, k={k0}..{k0 + 7} (upper half: the next 8 k, a phantom row)")
    for p in range(shared.pairs(call.rows) if call.rows > 1 else 0):
        e.op("ldr", f"q{8 + p}", "[x0], #16", lanes={f"v{8 + p}.16b": _a_lanes(call, p, kb)},
             note=f"A rows {2 * p}-{2 * p + 1}, k={k0}..{k0 + 7}")
    e.op("ld1", "{v4.16b - v7.16b}", "[x1], #64",
         lanes={f"v{4 + q}.16b": _b_lanes(call, col + 2 * q, kb) for q in range(4)},
         note=f"B columns {col}..{col + 7}, k={k0}..{k0 + 7}")
    for p in range(shared.pairs(call.rows)):
        a_reg = _a_lanes(call, p, kb)
        for q in range(width // 2):
            vd, vn, vm = f"v{16 + 4 * p + q}.4s", f"v{8 + p}.16b", f"v{4 + q}.16b"
            c_reg = tuple(("C", r, c) if r < call.rows and c < call.count_n else None
                          for r in (2 * p, 2 * p + 1) for c in (col + 2 * q, col + 2 * q + 1))
            # lanes of an arithmetic record annotate (the interpreter computes from registers)
            e.op(mnemonic, vd, vn, vm, lanes={vd: c_reg, vn: a_reg, vm: _b_lanes(call, col + 2 * q, kb)},
                 note=f"rows {2 * p}-{2 * p + 1} x columns {col + 2 * q}-{col + 2 * q + 1}, k={k0}..{k0 + 7}")


