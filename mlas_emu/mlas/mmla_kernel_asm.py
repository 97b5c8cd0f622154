"""The macro structure the three MMLA routines of MLAS share: saves, ``ProcessRows``, ``OutputBlock``.

onnxruntime/core/mlas/lib/aarch64/SbgemmKernelNeon.S, QgemmU8X8KernelUmmla.S and
QgemmS8S8KernelSmmla.S (ONNX Runtime 1.17 to 1.32) are the same macros around different
``ComputeBlockLoop`` s: the entry saves x19-x28 and d8-d15; ``ProcessRows`` walks N in blocks of
8 columns while more than 6 remain, then one block of 6, 4 or 2, every path ending at ExitKernel;
``OutputBlock`` stores each row pair with ``OutputRow<2*columns>Element`` (``uzp1``/``uzp2``
de-interleave, then ``str``/``stp``; Add mode loads C and adds with ``fadd`` (SBGEMM) or ``add``
(QGEMM) first). Written once here; :mod:`.sbgemm_kernel_asm` and :mod:`.qgemm_kernel_mmla_asm`
supply their ``ComputeBlockLoop``.
"""

from __future__ import annotations

from .schedule import Emitter, KernelCall, c_lanes

SAVED = ("x19, x20", "x21, x22", "x23, x24", "x25, x26", "x27, x28", "d8, d9", "d10, d11", "d12, d13", "d14, d15")
#: C row pointers of the row pairs (``OutputBlock``'s AddrReg1/AddrReg2)
_C_ROWS = (("x2", "x13"), ("x14", "x15"), ("x16", "x17"), ("x18", "x19"))


def save_registers(e: Emitter) -> None:
    e.op("stp", *SAVED[0].split(", "), "[sp, #-144]!", note="save x19-x28, d8-d15")
    for pair in SAVED[1:]:
        e.op("stp", *pair.split(", "), "[sp]")


def c_row_pointers(e: Emitter, ldc: str) -> None:
    for i in range(7):
        e.op("add", f"x{13 + i}", "x2" if i == 0 else f"x{12 + i}", f"{ldc}, lsl #2", note=f"C row {i + 1}")


def exit_kernel(e: Emitter) -> None:
    """``ExitKernel``: return the rows handled, restore the saved registers."""
    e.op("mov", "x0", "x4", note="return the rows handled")
    for pair in reversed(SAVED):
        e.op("ldp", *pair.split(", "), "[sp]")
    e.op("ret")


def pairs(rows: int) -> int:
    return max(1, rows // 2)


def process_rows(e: Emitter, call: KernelCall, compute_block_loop, saved_a: str, add: str = "fadd") -> None:
    """``ProcessRows``: the N walk with its compares and branches, every path ending at ExitKernel.
    ``compute_block_loop(e, call, width, col)`` emits the routine's ``ComputeBlockLoop``; A is
    reloaded from ``saved_a`` after each block; ``add`` is the Add mode's addition."""
    rows, left, col = call.rows, call.count_n, 0
    e.op("movz", "x4", f"#{rows}", note="rows handled")
    e.op("cmp", "x5", "#6")
    e.op("b", "le .ProcessNextColumnLoop6x")
    while left > 6:  # ProcessNextColumnLoop8x
        compute_block_loop(e, call, 8, col)
        left -= 8
        e.op("sub", "x5", "x5", "#8")
        e.op("cmp", "x5", "#0")
        e.op("b", "lt .Output14ElementsOnly")
        if left < 0:
            output_block(e, call, add, 7, col)
            e.op("b", ".ExitKernel")
            return
        output_block(e, call, add, 8, col)
        e.op("mov", "x0", saved_a, note="reload A")
        e.op("cmp", "x5", "#6")
        e.op("b", "gt .ProcessNextColumnLoop8x")
        col += 8
        if left <= 6:
            e.op("cbz", "x5", ".ExitKernel")
            if left == 0:
                return
    for width, limit in ((6, 4), (4, 2), (2, None)):
        if limit is not None:
            e.op("cmp", "x5", f"#{limit}")
            e.op("b", f"le .ProcessNextColumnLoop{width - 2}x")
            if left <= limit:
                continue
        compute_block_loop(e, call, width, col)
        e.op("sub", "x5", "x5", f"#{width}")
        e.op("cmp", "x5", "#0")
        e.op("b", f"lt .Output{2 * width - 2}ElementsOnly")
        if left < width:
            output_block(e, call, add, left, col)
        else:
            output_block(e, call, add, width, col)
            e.op("mov", "x0", saved_a, note="reload A")
            e.op("cmp", "x5", f"#{limit or 2}")
            if limit is not None:
                e.op("b", f"gt .ProcessNextColumnLoop{width}x")
        e.op("b", ".ExitKernel")
        return


def output_block(e: Emitter, call: KernelCall, add: str, columns: int, col: int) -> None:
    """``OutputBlock``: ``OutputRow<2*columns>Element`` for each row pair (last_row: a single
    last row is not stored)."""
    e = _Renamed(e, add)
    for p in range(pairs(call.rows)):
        last_row = 2 * p + 1 >= call.rows
        _OUTPUT[columns](e, call.zero_mode, _C_ROWS[p], 16 + 4 * p, 2 * p, col, last_row)


class _Renamed:
    """The macros' ``fadd`` under the routine's name for the Add mode's addition."""

    def __init__(self, e: Emitter, add: str):
        self.e, self.add = e, add

    def op(self, mnemonic, *operands, **kwargs):
        self.e.op(self.add if mnemonic == "fadd" else mnemonic, *operands, **kwargs)


def _zero_pad(e: Emitter, regs) -> None:
    """The Add mode's stand-in for a missing second row: x27 = 0 into the given lanes."""
    e.op("movz", "x27", "#0")
    for reg in regs:
        e.op("mov", reg, "x27")


def _out_2(e, zero, ptrs, acc, r, col, last):
    """2 elements: one column of a row pair, through w27."""
    src = f"v{acc}"
    if not zero:
        e.op("ldr", "s8", f"[{ptrs[0]}], #0", lanes={"s8": c_lanes(r, col, 1)})
        if last:
            _zero_pad(e, ("v9.d[0]", "v9.d[1]"))
        else:
            e.op("ldr", "s9", f"[{ptrs[1]}], #0", lanes={"s9": c_lanes(r + 1, col, 1)})
        e.op("mov", "v8.s[2]", "v9.s[0]")
        e.op("fadd", "v8.4s", "v8.4s", f"{src}.4s")
        src = "v8"
    e.op("mov", "w27", f"{src}.s[0]")
    e.op("str", "w27", f"[{ptrs[0]}], #4", lanes={"w27": c_lanes(r, col, 1)})
    if not last:
        e.op("mov", "w27", f"{src}.s[2]")
        e.op("str", "w27", f"[{ptrs[1]}], #4", lanes={"w27": c_lanes(r + 1, col, 1)})


def _out_4(e, zero, ptrs, acc, r, col, last):
    """4 elements: two columns of a row pair, the accumulator's halves through x27/x28."""
    src = f"v{acc}"
    if not zero:
        e.op("ldr", "d8", f"[{ptrs[0]}], #0", lanes={"d8": c_lanes(r, col, 2)})
        if last:
            _zero_pad(e, ("v9.d[0]", "v9.d[1]"))
        else:
            e.op("ldr", "d9", f"[{ptrs[1]}], #0", lanes={"d9": c_lanes(r + 1, col, 2)})
        e.op("mov", "v8.d[1]", "v9.d[0]")
        e.op("fadd", "v8.4s", "v8.4s", f"{src}.4s")
        src = "v8"
    e.op("mov", "x27", f"{src}.d[0]")
    e.op("mov", "x28", f"{src}.d[1]")
    e.op("str", "x27", f"[{ptrs[0]}], #8", lanes={"x27": c_lanes(r, col, 2)})
    if not last:
        e.op("str", "x28", f"[{ptrs[1]}], #8", lanes={"x28": c_lanes(r + 1, col, 2)})


def _uzp(e, acc, lo, hi, dst=(4, 5)):
    e.op("uzp1", f"v{dst[0]}.2d", f"v{acc + lo}.2d", f"v{acc + hi}.2d")
    e.op("uzp2", f"v{dst[1]}.2d", f"v{acc + lo}.2d", f"v{acc + hi}.2d")


def _out_6(e, zero, ptrs, acc, r, col, last):
    """6 elements: three columns; the first two through uzp into v4/v5, the third through w27."""
    if zero:
        _uzp(e, acc, 0, 1)
        rows = ((ptrs[0], "v4", r),) + (() if last else ((ptrs[1], "v5", r + 1),))
    else:
        for ptr, v, w, rr in ((ptrs[0], 8, "w28", r), (ptrs[1], 9, "w27", r + 1)):
            if rr == r + 1 and last:
                _zero_pad(e, ("v9.d[0]", "v9.d[1]"))
                break
            e.op("ldr", f"d{v}", f"[{ptr}], #8", lanes={f"d{v}": c_lanes(rr, col, 2)})
            e.op("ldr", w, f"[{ptr}], #-8", lanes={w: c_lanes(rr, col + 2, 1)})
            e.op("mov", f"v{v}.s[2]", w)
        _uzp(e, acc, 0, 1)
        e.op("fadd", "v8.4s", "v8.4s", "v4.4s")
        e.op("fadd", "v9.4s", "v9.4s", "v5.4s")
        rows = ((ptrs[0], "v8", r),) + (() if last else ((ptrs[1], "v9", r + 1),))
    for ptr, v, rr in rows:
        e.op("mov", "x27", f"{v}.d[0]")
        e.op("str", "x27", f"[{ptr}], #8", lanes={"x27": c_lanes(rr, col, 2)})
        e.op("mov", "w27", f"{v}.s[2]")
        e.op("str", "w27", f"[{ptr}], #4", lanes={"w27": c_lanes(rr, col + 2, 1)})


def _out_8(e, zero, ptrs, acc, r, col, last):
    """8 elements: four columns, uzp into v4/v5, one q store per row."""
    if not zero:
        e.op("ldr", "q8", f"[{ptrs[0]}], #0", lanes={"q8": c_lanes(r, col, 4)})
        if last:
            _zero_pad(e, ("v9.d[0]", "v9.d[1]"))
        else:
            e.op("ldr", "q9", f"[{ptrs[1]}], #0", lanes={"q9": c_lanes(r + 1, col, 4)})
    _uzp(e, acc, 0, 1)
    out = ("q4", "q5")
    if not zero:
        e.op("fadd", "v8.4s", "v8.4s", "v4.4s")
        e.op("fadd", "v9.4s", "v9.4s", "v5.4s")
        out = ("q8", "q9")
    e.op("str", out[0], f"[{ptrs[0]}], #16", lanes={out[0]: c_lanes(r, col, 4)})
    if not last:
        e.op("str", out[1], f"[{ptrs[1]}], #16", lanes={out[1]: c_lanes(r + 1, col, 4)})


def _out_10(e, zero, ptrs, acc, r, col, last):
    """10 elements: four columns as in 8, the fifth from the third accumulator through w27/w28."""
    if zero:
        _uzp(e, acc, 0, 1)
        e.op("str", "q4", f"[{ptrs[0]}], #16", lanes={"q4": c_lanes(r, col, 4)})
        if not last:
            e.op("str", "q5", f"[{ptrs[1]}], #16", lanes={"q5": c_lanes(r + 1, col, 4)})
        e.op("mov", "w27", f"v{acc + 2}.s[0]")
        e.op("mov", "w28", f"v{acc + 2}.s[2]")
        e.op("str", "w27", f"[{ptrs[0]}], #4", lanes={"w27": c_lanes(r, col + 4, 1)})
        if not last:
            e.op("str", "w28", f"[{ptrs[1]}], #4", lanes={"w28": c_lanes(r + 1, col + 4, 1)})
        return
    e.op("ldr", "q8", f"[{ptrs[0]}], #16", lanes={"q8": c_lanes(r, col, 4)})
    e.op("ldr", "w28", f"[{ptrs[0]}], #-16", lanes={"w28": c_lanes(r, col + 4, 1)})
    if last:
        _zero_pad(e, ("v9.d[0]", "v9.d[1]"))
    else:
        e.op("ldr", "q9", f"[{ptrs[1]}], #16", lanes={"q9": c_lanes(r + 1, col, 4)})
        e.op("ldr", "w27", f"[{ptrs[1]}], #-16", lanes={"w27": c_lanes(r + 1, col + 4, 1)})
    _uzp(e, acc, 0, 1)
    e.op("fadd", "v8.4s", "v8.4s", "v4.4s")
    e.op("fadd", "v9.4s", "v9.4s", "v5.4s")
    e.op("str", "q8", f"[{ptrs[0]}], #16", lanes={"q8": c_lanes(r, col, 4)})
    if not last:
        e.op("str", "q9", f"[{ptrs[1]}], #16", lanes={"q9": c_lanes(r + 1, col, 4)})
    e.op("mov", "v8.s[0]", "w28")
    e.op("mov", "v8.s[2]", "w27")
    e.op("fadd", "v8.4s", "v8.4s", f"v{acc + 2}.4s")
    e.op("mov", "w27", "v8.s[0]")
    e.op("mov", "w28", "v8.s[2]")
    e.op("str", "w27", f"[{ptrs[0]}], #4", lanes={"w27": c_lanes(r, col + 4, 1)})
    if not last:
        e.op("str", "w28", f"[{ptrs[1]}], #4", lanes={"w28": c_lanes(r + 1, col + 4, 1)})


def _out_12(e, zero, ptrs, acc, r, col, last):
    """12 elements: four columns as in 8, two more from the third accumulator through x27/x28."""
    src = f"v{acc + 2}"
    if not zero:
        e.op("ldr", "q8", f"[{ptrs[0]}], #16", lanes={"q8": c_lanes(r, col, 4)})
        e.op("ldr", "d10", f"[{ptrs[0]}], #-16", lanes={"d10": c_lanes(r, col + 4, 2)})
        if last:
            _zero_pad(e, ("v9.d[0]", "v9.d[1]", "v11.d[0]"))
        else:
            e.op("ldr", "q9", f"[{ptrs[1]}], #16", lanes={"q9": c_lanes(r + 1, col, 4)})
            e.op("ldr", "d11", f"[{ptrs[1]}], #-16", lanes={"d11": c_lanes(r + 1, col + 4, 2)})
    _uzp(e, acc, 0, 1)
    out = ("q4", "q5")
    if not zero:
        e.op("fadd", "v8.4s", "v8.4s", "v4.4s")
        e.op("fadd", "v9.4s", "v9.4s", "v5.4s")
        out = ("q8", "q9")
    e.op("str", out[0], f"[{ptrs[0]}], #16", lanes={out[0]: c_lanes(r, col, 4)})
    if not last:
        e.op("str", out[1], f"[{ptrs[1]}], #16", lanes={out[1]: c_lanes(r + 1, col, 4)})
    if not zero:
        e.op("mov", "v10.d[1]", "v11.d[0]")
        e.op("fadd", "v10.4s", "v10.4s", f"{src}.4s")
        src = "v10"
    e.op("mov", "x27", f"{src}.d[0]")
    e.op("mov", "x28", f"{src}.d[1]")
    e.op("str", "x27", f"[{ptrs[0]}], #8", lanes={"x27": c_lanes(r, col + 4, 2)})
    if not last:
        e.op("str", "x28", f"[{ptrs[1]}], #8", lanes={"x28": c_lanes(r + 1, col + 4, 2)})


def _out_14(e, zero, ptrs, acc, r, col, last):
    """14 elements: seven columns; two uzp pairs, then q + x27 + w27 stores per row."""
    if not zero:
        for ptr, qv, dv, w, rr in ((ptrs[0], 8, 10, "w28", r), (ptrs[1], 9, 11, "w27", r + 1)):
            if rr == r + 1 and last:
                _zero_pad(e, ("v9.d[0]", "v9.d[1]", "v11.d[0]", "v11.d[1]"))
                break
            e.op("ldr", f"q{qv}", f"[{ptr}], #16", lanes={f"q{qv}": c_lanes(rr, col, 4)})
            e.op("ldr", f"d{dv}", f"[{ptr}], #8", lanes={f"d{dv}": c_lanes(rr, col + 4, 2)})
            e.op("ldr", w, f"[{ptr}], #-24", lanes={w: c_lanes(rr, col + 6, 1)})
            e.op("mov", f"v{dv}.s[2]", w)
    _uzp(e, acc, 0, 1)
    _uzp(e, acc, 2, 3, (6, 7))
    regs = ((4, 6), (5, 7))
    if not zero:
        for a, b in ((8, 4), (9, 5), (10, 6), (11, 7)):
            e.op("fadd", f"v{a}.4s", f"v{a}.4s", f"v{b}.4s")
        regs = ((8, 10), (9, 11))
    for half, (ptr, rr) in enumerate(((ptrs[0], r), (ptrs[1], r + 1))):
        if half and last:
            break
        q, d = regs[half]
        e.op("str", f"q{q}", f"[{ptr}], #16", lanes={f"q{q}": c_lanes(rr, col, 4)})
        e.op("mov", "x27", f"v{d}.d[0]")
        e.op("str", "x27", f"[{ptr}], #8", lanes={"x27": c_lanes(rr, col + 4, 2)})
        e.op("mov", "w27", f"v{d}.s[2]")
        e.op("str", "w27", f"[{ptr}], #4", lanes={"w27": c_lanes(rr, col + 6, 1)})


def _out_16(e, zero, ptrs, acc, r, col, last):
    """16 elements: eight columns; two uzp pairs, one ``stp`` per row."""
    if not zero:
        e.op("ldp", "q8", "q10", f"[{ptrs[0]}], #0", lanes={"q8": c_lanes(r, col, 4), "q10": c_lanes(r, col + 4, 4)})
        if last:
            _zero_pad(e, ("v9.d[0]", "v9.d[1]", "v11.d[0]", "v11.d[1]"))
        else:
            e.op("ldp", "q9", "q11", f"[{ptrs[1]}], #0",
                 lanes={"q9": c_lanes(r + 1, col, 4), "q11": c_lanes(r + 1, col + 4, 4)})
    _uzp(e, acc, 0, 1)
    _uzp(e, acc, 2, 3, (6, 7))
    regs = ((4, 6), (5, 7))
    if not zero:
        for a, b in ((8, 4), (9, 5), (10, 6), (11, 7)):
            e.op("fadd", f"v{a}.4s", f"v{a}.4s", f"v{b}.4s")
        regs = ((8, 10), (9, 11))
    for half, (ptr, rr) in enumerate(((ptrs[0], r), (ptrs[1], r + 1))):
        if half and last:
            break
        a, b = regs[half]
        e.op("stp", f"q{a}", f"q{b}", f"[{ptr}], #32", lanes={f"q{a}": c_lanes(rr, col, 4), f"q{b}": c_lanes(rr, col + 4, 4)})


#: ``OutputRow<2*columns>Element`` by the number of columns stored
_OUTPUT = {1: _out_2, 2: _out_4, 3: _out_6, 4: _out_8, 5: _out_10, 6: _out_12, 7: _out_14, 8: _out_16}
