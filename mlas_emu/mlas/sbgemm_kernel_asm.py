"""The schedule of ``MlasSbgemmKernelZero`` / ``MlasSbgemmKernelAdd``: every instruction, in order.

Written from onnxruntime/core/mlas/lib/aarch64/SbgemmKernelNeon.S (the routine of the ONNX Runtime
1.17 to 1.32 aarch64 wheels): the entry saves x19-x28 and d8-d15 and computes 7 C row
pointers; ``ProcessRows`` (8, 4, 2 or 1 rows) walks N in blocks of 8 columns while more than 6
remain, then one block of 6, 4 or 2; per block ``ComputeBlockLoop`` sets the accumulators
v16-v31 (``InitBlockAccumulators``: the bias splat or zero), loops over K by 4
(``LoadMatrixAElementsBy8``: ``ldr`` 4 floats per row, ``bfcvtn``/``bfcvtn2``; ``ldr`` of B;
``MultiplyAccumulateBlock``: one ``bfmmla`` per row pair and column pair), runs one more padded
step when CountK % 4 != 0 (reading 4 floats of each A row: up to 3 past it), and
``OutputBlock`` de-interleaves with ``uzp1``/``uzp2`` and stores (Add mode loads C and ``fadd`` s
first). Lanes are in the call's coordinates (:mod:`mlas_emu.mlas.schedule`).
"""

from __future__ import annotations

from . import mmla_kernel_asm as shared
from .schedule import Emitter, KernelCall, a_lanes

#: A row pointers and the register each row is loaded into (``LoadMatrixAElementsBy8``)
_A_ROWS = (("x0", "q8"), ("x10", "q1"), ("x11", "q9"), ("x12", "q1"), ("x20", "q10"), ("x21", "q1"),
           ("x22", "q11"), ("x23", "q1"))


def schedule(call: KernelCall) -> list:
    """The records of one routine call (``call.rows`` = the rows it handles)."""
    e = Emitter()
    e.op("ldr", "x8", "[sp, #0]", note="Bias pointer (5th stack argument)")
    shared.save_registers(e)
    shared.c_row_pointers(e, "x7")
    e.op("mov", "x26", "x0", note="save A")
    _select_rows(e, call.rows)
    shared.process_rows(e, call, _compute_block_loop, "x26")
    shared.exit_kernel(e)
    return e.records


def _select_rows(e: Emitter, rows: int) -> None:
    """The compare-and-branch chain on CountM (x4) that picks ``ProcessRows``."""
    for limit in (8, 4, 2):
        e.op("cmp", "x4", f"#{limit}")
        e.op("b", f"lt .ProcessCountMLessThan{limit}", note=f"CountM < {limit}?")
        if rows >= limit:
            return


def _compute_block_loop(e: Emitter, call: KernelCall, width: int, col: int) -> None:
    """``ComputeBlockLoop``: accumulators, the K loop by 4, the padded last step."""
    _init_block_accumulators(e, call, width, col)
    rows = call.rows
    e.op("add", "x10", "x0", "x6, lsl #2", note="A row 1")
    if rows > 2:
        e.op("add", "x11", "x10", "x6, lsl #2")
        e.op("add", "x12", "x11", "x6, lsl #2")
    if rows > 4:
        e.op("add", "x20", "x12", "x6, lsl #2")
        e.op("add", "x21", "x20", "x6, lsl #2")
    if rows > 6:
        e.op("add", "x22", "x21", "x6, lsl #2")
        e.op("add", "x23", "x22", "x6, lsl #2")
    full, rest = divmod(call.count_k, 4)
    e.op("sub", "x9", "x3", "#4", note="K blocks of 4")
    e.op("tbnz", "x9", "#63", ".ProcessRemainingBlocks")
    for step in range(full):
        _multiply_step(e, call, width, col, 4 * step)
        e.op("sub", "x9", "x9", "#4")
        e.op("tbz", "x9", "#63", ".ComputeBlockBy4Loop")
    e.op("add", "x9", "x9", "#4", note="CountK % 4")
    e.op("cbz", "x9", ".OutputBlock")
    if rest:  # BlockBy4PaddedLoop: 4 floats of each A row, up to 3 past CountK
        _multiply_step(e, call, width, col, 4 * full)


def _init_block_accumulators(e: Emitter, call: KernelCall, width: int, col: int) -> None:
    """``InitBlockAccumulators``: v0-v3 = the bias as {b0, b1, b0, b1} per column pair, or zero,
    then ``InitRowAccumulators`` copies them into every row pair's accumulators."""
    e.op("cbz", "x8", ".SkipBiasAdd", note="Bias == nullptr?")
    if call.bias:
        for half, (src, outs) in enumerate((("v14", ("v0", "v1")), ("v15", ("v2", "v3")))):
            if half and width <= 4:
                break
            c0 = col + 4 * half
            bias = tuple(("Z", 0, c0 + i) if c0 + i < call.count_n else None for i in range(4))
            e.op("ld1", f"{{{src}.4s}}", "[x8], #16", lanes={f"{src}.4s": bias}, note=f"bias {c0}..{c0 + 3}")
            for lane in range(4):
                e.op("dup", f"v{4 + lane}.4s", f"{src}.s[{lane}]")
            e.op("zip1", f"{outs[0]}.4s", "v4.4s", "v5.4s")
            e.op("zip2", f"{outs[1]}.4s", "v6.4s", "v7.4s")
        e.op("b", ".PopulateAccumulators")
    else:
        for v in range(4):
            e.op("eor", f"v{v}.16b", f"v{v}.16b", f"v{v}.16b", note="no bias: zero")
    for p in range(shared.pairs(call.rows)):
        for q in range(width // 2):
            e.op("mov", f"v{16 + 4 * p + q}.16b", f"v{q}.16b")


def _multiply_step(e: Emitter, call: KernelCall, width: int, col: int, k: int) -> None:
    """One 4-k step: ``LoadMatrixAElementsBy8``, the B loads, ``MultiplyAccumulateBlock``."""
    for r in range(call.rows):
        ptr, reg = _A_ROWS[r]
        vn = 8 + r // 2
        over = " (A over-read: 4 floats, past CountK)" if k + 4 > call.count_k else ""
        e.op("ldr", reg, f"[{ptr}], #16", lanes={f"v{reg[1:]}.4s": a_lanes(r, k)},
             note=f"A row {r}, k={k}..{k + 3}{over}")
        if r % 2 == 0:
            e.op("bfcvtn", f"v{vn}.4h", f"v{reg[1:]}.4s")
        else:
            e.op("bfcvtn2", f"v{vn}.8h", "v1.4s")
    b_regs = []
    for q in range(width // 2):
        c0 = col + 2 * q
        lanes = tuple(("B", k + kk, c) if c < call.count_n else None for c in (c0, c0 + 1) for kk in range(4))
        b_regs.append(lanes)
        e.op("ldr", f"q{4 + q}", "[x1], #16", lanes={f"v{4 + q}.8h": lanes}, note=f"B columns {c0}-{c0 + 1}")
    for p in range(shared.pairs(call.rows)):
        rows = [r if r < call.rows else None for r in (2 * p, 2 * p + 1)]
        a_reg = tuple(("A", r, k + kk) if r is not None else None for r in rows for kk in range(4))
        for q in range(width // 2):
            cols = [c if c < call.count_n else None for c in (col + 2 * q, col + 2 * q + 1)]
            c_reg = tuple(("C", r, c) if r is not None and c is not None else None for r in rows for c in cols)
            vd, vn, vm = f"v{16 + 4 * p + q}.4s", f"v{8 + p}.8h", f"v{4 + q}.8h"
            # lanes of an arithmetic record annotate (the interpreter computes from registers)
            e.op("bfmmla", vd, vn, vm, lanes={vd: c_reg, vn: a_reg, vm: b_regs[q]},
                 note=f"rows {2 * p}-{2 * p + 1} x columns {col + 2 * q}-{col + 2 * q + 1}, k={k}..{k + 3}")
