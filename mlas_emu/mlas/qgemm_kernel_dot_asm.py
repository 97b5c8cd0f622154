"""The schedule of MLAS's DOT-product QGEMM kernels: every instruction one call executes, in order.

Written from onnxruntime/core/mlas/lib/aarch64/QgemmU8X8KernelUdot.S (``MlasGemmU8X8KernelUdot``)
and QgemmS8S8KernelSdot.S (``MlasGemmS8S8KernelSDot``), the routines of the ONNX Runtime 1.17 to
1.32 aarch64 wheels on CPUs with DotProd and without I8MM (Graviton2). Both routines are one
description: the entry saves d8/d9, reads ColumnSumBuffer, ZeroPointB and ZeroMode from the
stack, loads 4 row sums and picks M1 (CountM == 1), M2 (< 4), M4 (< 8) or M8 by compares; each
walks N in blocks of 8 columns (``ProcessNextColumnLoop``): accumulators = row sum (times the
per-column zero point of B when ZeroPointB is not null) + column sum, then the K loop over
PackedCountK blocks of 8 (``UdotByElement`` / ``SdotByElement``: ``udot v16.4s, v0.16b,
v4.4b[0]``; M4 keeps a second accumulator set for k4-7 and folds it), then the 8 columns
(``stp``, Add mode ``ldp`` + ``add`` first) or the last 1-7 (``st1`` of 4, 2, 1 lanes, shifting
the rest down with ``mov``/``dup``). M8 broadcasts the row sums (``dup``) before its column
loop and again after every full 8-column store. The two routines of the wheels are instruction
for instruction the same but for UDOT/SDOT (their disassemblies, 1.17.1 and 1.32.0; ONNX
Runtime's later sources move UDOT's M8 broadcasts to the top of the column loop).

Lanes are in the call's own coordinates (:mod:`mlas_emu.mlas.schedule`): ``("A", r, k)``,
``("B", k, c)``, ``("C", r, c)``, and the kernel's other inputs as further operands:
``("RowSum", 0, r)`` (RowSumBuffer, already scaled as the driver passes it), ``("ColumnSum", 0, c)``
(ColumnSumBuffer) and ``("ZeroPointB", 0, c)`` (the per-column buffer, when not null). Lanes the
routine loads but never lets reach a stored result (row sums past the call's rows, columns past
CountN, K past CountK) are ``None``: zero here, whatever the real memory holds.
"""

from __future__ import annotations

from .schedule import Emitter, KernelCall
from .trace import InstructionRecord

KERNELS = ("udot", "sdot")
#: C row pointers of M8, M4, M2, M1 (x2 = C; the others computed by ``add xN, ..., x6, lsl #2``)
_C_PTRS = ("x2", "x10", "x11", "x12", "x0", "x3", "x4", "x7")
_LABEL = {"udot": ".LGemmU8X8", "sdot": ".LGemmS8S8"}


def kernel_rows(count_m: int) -> int:
    """The rows one call handles for CountM: 1, 2 (CountM < 4), 4 (< 8) or 8."""
    if count_m < 1:
        raise ValueError(f"CountM must be at least 1, got {count_m}")
    return 1 if count_m == 1 else 2 if count_m < 4 else 4 if count_m < 8 else 8


class _Emitter(Emitter):
    """An :class:`Emitter` that remembers the lanes each loaded register holds (for the DOT
    records' lane maps) and labels branches with the routine's own label names."""

    def __init__(self, call: KernelCall, kernel: str):
        super().__init__()
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        self.call, self.kernel, self.held = call, kernel, {}

    def label(self, name: str) -> str:
        return f"{_LABEL[self.kernel]}.{name}"

    def load(self, mnemonic, reg, *operands, lanes, note=""):
        self.held[int(reg.lstrip("vqd").split(".")[0])] = lanes
        self.op(mnemonic, f"{{{reg}}}" if mnemonic == "ld1" else reg, *operands, lanes={reg: lanes}, note=note)

    def raw(self, mnemonic, *operands, lanes=None, loaded=0, stored=0, note=""):
        """A record whose byte count the operand syntax does not give (``ldrb``, ``{v16.s}[0]``)."""
        self.records.append(InstructionRecord(mnemonic, tuple(operands), dict(lanes or {}), loaded, stored, note))

    def dot(self, acc: int, b: int, a: int, index: int, row: int, col: int) -> None:
        c = self.call
        cols = tuple(("C", row, col + i) if col + i < c.count_n else None for i in range(4))
        ops = (f"v{acc}.4s", f"v{b}.16b", f"v{a}.4b[{index}]")
        lanes = {ops[0]: cols, ops[1]: self.held.get(b), ops[2]: self.held.get(a, ())[4 * index:4 * index + 4]}
        self.op(self.kernel, *ops, lanes=lanes, note=f"row {row}, columns {col}-{col + 3}")


# --------------------------------------------------------------------------------------------
# Lanes


def _a_lanes(call: KernelCall, rows, k0: int) -> tuple:
    """Packed A: 4 bytes (k0..k0+3) of each of ``rows``, row after row."""
    return tuple(("A", r, k) if k < call.count_k else None for r in rows for k in range(k0, k0 + 4))


def _b_lanes(call: KernelCall, col: int, k0: int) -> tuple:
    """Packed B: 4 columns from ``col``, 4 bytes (k0..k0+3) each."""
    return tuple(("B", k, c) if k < call.count_k and c < call.count_n else None
                 for c in range(col, col + 4) for k in range(k0, k0 + 4))


def _vector(call: KernelCall, name: str, first: int, limit: int) -> tuple:
    return tuple((name, 0, i) if i < limit else None for i in range(first, first + 4))


# --------------------------------------------------------------------------------------------
# The routine


def schedule(call: KernelCall, *, kernel: str = "udot", zero_point_b: bool = False) -> list:
    """The records of one call of ``MlasGemmU8X8KernelUdot`` (``kernel="udot"``) or
    ``MlasGemmS8S8KernelSDot`` (``"sdot"``); ``call.rows`` must be :func:`kernel_rows` of the
    CountM passed, ``zero_point_b``: whether the ZeroPointB pointer is not null (per-column
    zero points)."""
    if call.rows not in (1, 2, 4, 8) or call.count_n < 1 or call.count_k < 1:
        raise ValueError(f"not a call the DOT kernels make: {call}")
    e = _Emitter(call, kernel)
    e.op("stp", "d8", "d9", "[sp, #-16]!", note="save d8/d9")
    e.op("ldr", "x8", "[sp, #16]", note="ColumnSumBuffer")
    e.op("ldr", "x9", "[sp, #24]", note="ZeroPointB")
    e.raw("ldrb", "w13", "[sp, #32]", loaded=1, note="ZeroMode")
    e.op("mov", "x14", "x0", note="save A")
    e.load("ld1", "v8.4s", "[x7], #16", lanes=_vector(call, "RowSum", 0, call.rows), note="row sums 0-3")
    e.op("mov", "x15", "x3", note="save PackedCountK")
    for limit, cond, target in ((1, "eq", "M1.ProcessLoop"), (4, "lo", "M2.ProcessLoop"),
                                (8, "lo", "M4.ProcessNextColumnLoop")):  # fmt: skip
        e.op("cmp", "x4", f"#{limit}")
        e.op("b", f"{cond} {e.label(target)}", note=f"CountM {'==' if limit == 1 else '<'} {limit}?")
        if call.rows < max(limit, 2):
            break
    {8: _m8, 4: _m4, 2: _m2, 1: _m1}[call.rows](e, zero_point_b)
    e.op("movz", "x0", f"#{call.rows}", note="return the rows handled")
    e.op("ldp", "d8", "d9", "[sp], #16")
    e.op("ret")
    return e.records


def _columns(call: KernelCall):
    """The column blocks: (first column, columns left including this block)."""
    return [(col, call.count_n - col) for col in range(0, call.count_n, 8)]


def _dup_row_sums(e: _Emitter, rows: int, stores=None) -> None:
    """``dup v(17+2r).4s, v8/v9.s[r%4]``: each row's sum over a register (interleaved with the
    SDOT M8 full stores when ``stores`` is given)."""
    for r in range(rows):
        if stores is not None:
            stores(r)
        e.op("dup", f"v{17 + 2 * r}.4s", f"v{8 + r // 4}.s[{r % 4}]", note=f"row sum {r}")


# --- M8 ---------------------------------------------------------------------------------------

_M8_DOTS = {  # register of A -> (B registers of columns 0-3 / 4-7, accumulator offset)
    4: ((0, 1), 0), 5: ((0, 1), 8), 6: ((2, 3), 0), 7: ((2, 3), 8),
}


def _m8(e: _Emitter, zp: bool) -> None:
    call = e.call
    e.load("ld1", "v9.4s", "[x7]", lanes=_vector(call, "RowSum", 4, call.rows), note="row sums 4-7")
    _dup_row_sums(e, 8)
    for col, left in _columns(call):
        e.op("mov", "x0", "x14", note="reload A")
        e.load("ld1", "v3.4s", "[x8], #16", lanes=_vector(call, "ColumnSum", col, call.count_n), note="column sums")
        e.op("mov", "x3", "x15", note="reload PackedCountK")
        e.load("ld1", "v7.4s", "[x8], #16", lanes=_vector(call, "ColumnSum", col + 4, call.count_n),
               note="column sums")
        e.op("cbz", "x9", e.label("M8.SkipScaleByZeroPointB"))
        _m8_init(e, col, zp)
        _m8_loop(e, col)
        _output(e, 8, col, left)
        if left < 8:  # StoreOutputPartial ends at ExitKernel
            return
        e.op("cbnz", "x5", e.label("M8.ProcessNextColumnLoop"), note="more columns?")


def _m8_init(e: _Emitter, col: int, zp: bool) -> None:
    """Accumulators from the sums, with the first block's loads of A and B interleaved."""
    call = e.call
    if zp:
        e.load("ld1", "v0.4s", "[x9], #16", lanes=_vector(call, "ZeroPointB", col, call.count_n), note="ZeroPointB")
        for i, r in enumerate(range(8)):
            e.op("mul", f"v{16 + 2 * r}.4s", "v0.4s", f"v{17 + 2 * r}.4s")
            if i == 1:
                e.load("ld1", "v1.4s", "[x9], #16", lanes=_vector(call, "ZeroPointB", col + 4, call.count_n),
                       note="ZeroPointB")
        for r in range(8):
            e.op("mul", f"v{17 + 2 * r}.4s", "v1.4s", f"v{17 + 2 * r}.4s")
    loads = {0: ("ld1", "v0.16b", "[x1], #16", _b_lanes(call, col, 0)), 2: ("ldr", "q4", "[x0], #16",
             _a_lanes(call, range(4), 0)), 4: ("ldr", "q5", "[x0], #16", _a_lanes(call, range(4, 8), 0)),
             6: ("ld1", "v1.16b", "[x1], #16", _b_lanes(call, col + 4, 0)), 8: ("ldr", "q6", "[x0], #16",
             _a_lanes(call, range(4), 4)), 10: ("ld1", "v2.16b", "[x1], #16", _b_lanes(call, col, 4))}
    adds = [(16 + 2 * r, 3, (16 if zp else 17) + 2 * r) for r in range(8)] + \
           [(17 + 2 * r, 7, 17 + 2 * r) for r in range(8)]
    for i, (dst, sums, src) in enumerate(adds):
        if i in loads:
            m, reg, addr, lanes = loads[i]
            e.load(m, reg, addr, lanes=lanes)
        e.op("add", f"v{dst}.4s", f"v{sums}.4s", f"v{src}.4s")
    if zp:
        e.op("b", e.label("M8.ComputeBlockLoop"))


def _m8_dots(e: _Emitter, a: int, bi: int, col: int):
    """The 4 DOTs of A register ``a`` (rows 0-3 or 4-7) with B register index ``bi`` (0: columns 0-3)."""
    bregs, off = _M8_DOTS[a]
    for i in range(4):
        e.dot(16 + off + 2 * i + bi, bregs[bi], a, i, off // 2 + i, col + 4 * bi)


def _m8_loop(e: _Emitter, col: int) -> None:
    """``ComputeBlockLoop`` (and its ``Finish``): 32 DOTs per block of 8 k, next block's loads."""
    call = e.call
    blocks = -(-call.count_k // 8)
    for kb in range(blocks):
        k0 = 8 * kb
        e.op("sub", "x3", "x3", "#1")
        e.load("ld1", "v3.16b", "[x1], #16", lanes=_b_lanes(call, col + 4, k0 + 4))
        e.dot(16, 0, 4, 0, 0, col)
        e.dot(18, 0, 4, 1, 1, col)
        e.load("ldr", "q7", "[x0], #16", lanes=_a_lanes(call, range(4, 8), k0 + 4))
        e.dot(20, 0, 4, 2, 2, col)
        e.dot(22, 0, 4, 3, 3, col)
        e.op("cbz", "x3", e.label("M8.ComputeBlockLoopFinish"))
        if kb == blocks - 1:
            break
        nk = k0 + 8
        _m8_dots(e, 4, 1, col)
        e.load("ldr", "q4", "[x0], #16", lanes=_a_lanes(call, range(4), nk))
        _m8_dots(e, 5, 0, col)
        e.load("ld1", "v0.16b", "[x1], #16", lanes=_b_lanes(call, col, nk))
        _m8_dots(e, 5, 1, col)
        e.load("ld1", "v1.16b", "[x1], #16", lanes=_b_lanes(call, col + 4, nk))
        e.dot(16, 2, 6, 0, 0, col)
        e.dot(18, 2, 6, 1, 1, col)
        e.load("ldr", "q5", "[x0], #16", lanes=_a_lanes(call, range(4, 8), nk))
        e.dot(20, 2, 6, 2, 2, col)
        e.dot(22, 2, 6, 3, 3, col)
        _m8_dots(e, 6, 1, col)
        e.load("ldr", "q6", "[x0], #16", lanes=_a_lanes(call, range(4), nk + 4))
        _m8_dots(e, 7, 0, col)
        e.load("ld1", "v2.16b", "[x1], #16", lanes=_b_lanes(call, col, nk + 4))
        _m8_dots(e, 7, 1, col)
        e.op("b", e.label("M8.ComputeBlockLoop"))
    _m8_finish(e, col)


def _m8_finish(e: _Emitter, col: int) -> None:
    """``ComputeBlockLoopFinish``: the last block's remaining 28 DOTs with the C row pointers."""
    dots = [(a, bi, i) for a, bi in ((4, 1), (5, 0), (5, 1), (6, 0), (6, 1), (7, 0), (7, 1)) for i in range(4)]
    extra = {2: (("x10", "x2"), ("x11", "x10")), 4: (("x12", "x11"), ("x0", "x12")),
             6: (("x3", "x0"), ("x4", "x3")), 8: (("x7", "x4"),)}  # after that many DOTs
    for step, (a, bi, i) in enumerate(dots):
        for dst, src in extra.get(step, ()):
            e.op("add", dst, src, "x6, lsl #2", note="C row pointer")
        if step == 8:
            e.op("subs", "x5", "x5", "#8", note="CountN remaining")
        bregs, off = _M8_DOTS[a]
        e.dot(16 + off + 2 * i + bi, bregs[bi], a, i, off // 2 + i, col + 4 * bi)


# --- M4 ---------------------------------------------------------------------------------------


def _m4(e: _Emitter, zp: bool) -> None:
    call = e.call
    for col, left in _columns(call):
        e.load("ld1", "v0.16b", "[x1], #16", lanes=_b_lanes(call, col, 0))
        e.op("mov", "x0", "x14", note="reload A")
        e.load("ld1", "v2.4s", "[x8], #16", lanes=_vector(call, "ColumnSum", col, call.count_n), note="column sums")
        e.op("mov", "x3", "x15", note="reload PackedCountK")
        e.load("ld1", "v3.4s", "[x8], #16", lanes=_vector(call, "ColumnSum", col + 4, call.count_n),
               note="column sums")
        _dup_row_sums(e, 4)
        e.op("cbz", "x9", e.label("M4.SkipScaleByZeroPointB"))
        if zp:
            e.load("ld1", "v30.4s", "[x9], #16", lanes=_vector(call, "ZeroPointB", col, call.count_n))
            for i, r in enumerate(range(4)):
                e.op("mul", f"v{16 + 2 * r}.4s", "v30.4s", f"v{17 + 2 * r}.4s")
                if i == 1:
                    e.load("ld1", "v31.4s", "[x9], #16", lanes=_vector(call, "ZeroPointB", col + 4, call.count_n))
            for r in range(4):
                e.op("mul", f"v{17 + 2 * r}.4s", "v31.4s", f"v{17 + 2 * r}.4s")
        for r in range(4):
            e.op("add", f"v{16 + 2 * r}.4s", "v2.4s", f"v{(16 if zp else 17) + 2 * r}.4s")
        for r in range(4):
            e.op("add", f"v{17 + 2 * r}.4s", "v3.4s", f"v{17 + 2 * r}.4s")
        if zp:
            e.op("b", e.label("M4.ComputeBlockLoopStart"))
        _m4_loop(e, col)
        _output(e, 4, col, left)
        if left < 8:  # StoreOutputPartial ends at ExitKernel
            return
        e.op("cbnz", "x5", e.label("M4.ProcessNextColumnLoop"), note="more columns?")


def _m4_loop(e: _Emitter, col: int) -> None:
    """``ComputeBlockLoopStart``, ``ComputeBlockLoop``, ``ComputeBlockLoopFinish``: rows 0-3 of
    k0-3 into v16-v23, of k4-7 into v24-v31, folded at the end."""
    call = e.call
    e.load("ldr", "d4", "[x0], #32", lanes=_a_lanes(call, (0, 1), 0))
    for v, load in ((24, None), (25, ("d5", "[x0, #-24]", (2, 3), 0)), (26, None),
                    (27, ("d6", "[x0, #-16]", (0, 1), 4)), (28, None), (29, None), (30, None), (31, None)):  # fmt: skip
        e.op("movi", f"v{v}.4s", "#0", note="k4-7 accumulators")
        if load:
            e.load("ldur", load[0], load[1], lanes=_a_lanes(call, load[2], load[3]))
    blocks = -(-call.count_k // 8)
    for kb in range(blocks):
        k0 = 8 * kb
        e.load("ld1", "v1.16b", "[x1], #16", lanes=_b_lanes(call, col + 4, k0))
        e.dot(16, 0, 4, 0, 0, col)
        e.dot(18, 0, 4, 1, 1, col)
        e.load("ldur", "d7", "[x0, #-8]", lanes=_a_lanes(call, (2, 3), k0 + 4))
        e.dot(20, 0, 5, 0, 2, col)
        e.dot(22, 0, 5, 1, 3, col)
        e.load("ld1", "v0.16b", "[x1], #16", lanes=_b_lanes(call, col, k0 + 4))
        e.dot(17, 1, 4, 0, 0, col + 4)
        e.dot(19, 1, 4, 1, 1, col + 4)
        e.op("sub", "x3", "x3", "#1")
        e.op("cbz", "x3", e.label("M4.ComputeBlockLoopFinish"))
        last = kb == blocks - 1
        if not last:
            e.load("ldr", "d4", "[x0], #32", lanes=_a_lanes(call, (0, 1), k0 + 8))
        e.dot(21, 1, 5, 0, 2, col + 4)
        e.dot(23, 1, 5, 1, 3, col + 4)
        e.load("ld1", "v1.16b", "[x1], #16", lanes=_b_lanes(call, col + 4, k0 + 4))
        e.dot(24, 0, 6, 0, 0, col)
        e.dot(26, 0, 6, 1, 1, col)
        if not last:
            e.load("ldur", "d5", "[x0, #-24]", lanes=_a_lanes(call, (2, 3), k0 + 8))
        e.dot(28, 0, 7, 0, 2, col)
        e.dot(30, 0, 7, 1, 3, col)
        if not last:
            e.load("ld1", "v0.16b", "[x1], #16", lanes=_b_lanes(call, col, k0 + 8))
        e.dot(25, 1, 6, 0, 0, col + 4)
        e.dot(27, 1, 6, 1, 1, col + 4)
        if not last:
            e.load("ldur", "d6", "[x0, #-16]", lanes=_a_lanes(call, (0, 1), k0 + 12))
        e.dot(29, 1, 7, 0, 2, col + 4)
        e.dot(31, 1, 7, 1, 3, col + 4)
        if not last:
            e.op("b", e.label("M4.ComputeBlockLoop"))
    for group, ptr in (((16, 18, 20, 22), ("x10", "x2")), ((17, 19, 21, 23), ("x11", "x10"))):
        e.op("add", ptr[0], ptr[1], "x6, lsl #2", note="C row pointer")
        for v in group:
            e.op("add", f"v{v}.4s", f"v{v}.4s", f"v{v + 8}.4s", note="fold the k4-7 accumulators")
    e.op("add", "x12", "x11", "x6, lsl #2", note="C row pointer")
    e.op("subs", "x5", "x5", "#8", note="CountN remaining")


# --- M2 and M1 ----------------------------------------------------------------------------------


def _m2(e: _Emitter, zp: bool) -> None:
    call = e.call
    e.op("dup", "v9.4s", "v8.s[1]", note="row sum 1")
    e.op("dup", "v8.4s", "v8.s[0]", note="row sum 0")
    for col, left in _columns(call):
        _m21_head(e, col, zp, 2)
        blocks = -(-call.count_k // 8)
        for kb in range(blocks):
            k0 = 8 * kb
            e.op("sub", "x3", "x3", "#1")
            e.load("ld1", "v6.16b", "[x1], #16", lanes=_b_lanes(call, col, k0 + 4))
            e.load("ld1", "v7.16b", "[x1], #16", lanes=_b_lanes(call, col + 4, k0 + 4))
            _m2_dots(e, 0, 1, 4, col)
            e.op("cbz", "x3", e.label("M2.ComputeBlockLoopFinish"))
            if kb == blocks - 1:
                break
            e.load("ldr", "d4", "[x0], #8", lanes=_a_lanes(call, (0, 1), k0 + 8))
            e.load("ld1", "v0.16b", "[x1], #16", lanes=_b_lanes(call, col, k0 + 8))
            e.load("ld1", "v1.16b", "[x1], #16", lanes=_b_lanes(call, col + 4, k0 + 8))
            _m2_dots(e, 6, 7, 5, col)
            e.load("ldr", "d5", "[x0], #8", lanes=_a_lanes(call, (0, 1), k0 + 12))
            e.op("b", e.label("M2.ComputeBlockLoop"))
        e.op("add", "x10", "x2", "x6, lsl #2", note="C row pointer")
        e.op("subs", "x5", "x5", "#8", note="CountN remaining")
        _m2_dots(e, 6, 7, 5, col)
        _output(e, 2, col, left)
        if left < 8:  # StoreOutputPartial ends at ExitKernel
            return
        e.op("cbnz", "x5", e.label("M2.ProcessNextColumnLoop"), note="more columns?")


def _m2_dots(e: _Emitter, b0: int, b1: int, a: int, col: int) -> None:
    e.dot(16, b0, a, 0, 0, col)
    e.dot(17, b1, a, 0, 0, col + 4)
    e.dot(18, b0, a, 1, 1, col)
    e.dot(19, b1, a, 1, 1, col + 4)


def _m21_head(e: _Emitter, col: int, zp: bool, rows: int) -> None:
    """M2/M1 ``ProcessNextColumnLoop`` up to the K loop: B, sums, accumulators, first A."""
    call = e.call
    e.load("ld1", "v0.16b", "[x1], #16", lanes=_b_lanes(call, col, 0))
    e.load("ld1", "v1.16b", "[x1], #16", lanes=_b_lanes(call, col + 4, 0))
    e.op("mov", "x0", "x14", note="reload A")
    e.load("ld1", "v2.4s", "[x8], #16", lanes=_vector(call, "ColumnSum", col, call.count_n), note="column sums")
    e.op("mov", "x3", "x15", note="reload PackedCountK")
    e.load("ld1", "v3.4s", "[x8], #16", lanes=_vector(call, "ColumnSum", col + 4, call.count_n), note="column sums")
    e.op("cbz", "x9", e.label(f"M{rows}.SkipScaleByZeroPointB"))
    if zp:
        e.load("ld1", "v30.4s", "[x9], #16", lanes=_vector(call, "ZeroPointB", col, call.count_n))
        e.load("ld1", "v31.4s", "[x9], #16", lanes=_vector(call, "ZeroPointB", col + 4, call.count_n))
        for r in range(rows):
            e.op("mul", f"v{16 + 2 * r}.4s", "v30.4s", f"v{8 + r}.4s")
        for r in range(rows):
            e.op("mul", f"v{17 + 2 * r}.4s", "v31.4s", f"v{8 + r}.4s")
    src = (lambda r, h: f"v{16 + 2 * r + h}.4s") if zp else (lambda r, h: f"v{8 + r}.4s")
    if rows == 2:
        for half, (reg, k0) in enumerate((("d4", 0), ("d5", 4))):
            e.load("ldr", reg, "[x0], #8", lanes=_a_lanes(call, (0, 1), k0))
            for r in range(2):
                e.op("add", f"v{16 + 2 * r + half}.4s", f"v{2 + half}.4s", src(r, half))
    else:
        e.load("ldr", "d4", "[x0], #8", lanes=_a_lanes(call, (0,), 0) + _a_lanes(call, (0,), 4))
        e.load("ld1", "v6.16b", "[x1], #16", lanes=_b_lanes(call, col, 4))
        e.load("ld1", "v7.16b", "[x1], #16", lanes=_b_lanes(call, col + 4, 4))
        for half in (0, 1):
            e.op("add", f"v{16 + half}.4s", f"v{2 + half}.4s", src(0, half))
    if zp:
        e.op("b", e.label(f"M{rows}.ComputeBlockLoop"))


def _m1(e: _Emitter, zp: bool) -> None:
    call = e.call
    e.op("dup", "v8.4s", "v8.s[0]", note="row sum 0")
    for col, left in _columns(call):
        _m21_head(e, col, zp, 1)
        blocks = -(-call.count_k // 8)
        for kb in range(blocks):
            k0 = 8 * kb
            e.op("sub", "x3", "x3", "#1")
            e.dot(16, 0, 4, 0, 0, col)
            e.dot(17, 1, 4, 0, 0, col + 4)
            e.op("cbz", "x3", e.label("M1.ComputeBlockLoopFinish"))
            if kb == blocks - 1:
                break
            nk = k0 + 8
            e.load("ld1", "v0.16b", "[x1], #16", lanes=_b_lanes(call, col, nk))
            e.load("ld1", "v1.16b", "[x1], #16", lanes=_b_lanes(call, col + 4, nk))
            e.dot(16, 6, 4, 1, 0, col)
            e.dot(17, 7, 4, 1, 0, col + 4)
            e.load("ldr", "d4", "[x0], #8", lanes=_a_lanes(call, (0,), nk) + _a_lanes(call, (0,), nk + 4))
            e.load("ld1", "v6.16b", "[x1], #16", lanes=_b_lanes(call, col, nk + 4))
            e.load("ld1", "v7.16b", "[x1], #16", lanes=_b_lanes(call, col + 4, nk + 4))
            e.op("b", e.label("M1.ComputeBlockLoop"))
        e.op("subs", "x5", "x5", "#8", note="CountN remaining")
        e.dot(16, 6, 4, 1, 0, col)
        e.dot(17, 7, 4, 1, 0, col + 4)
        _output(e, 1, col, left)
        if left < 8:  # StoreOutputPartial ends at ExitKernel
            return
        e.op("cbnz", "x5", e.label("M1.ProcessNextColumnLoop"), note="more columns?")


# --- Output ----------------------------------------------------------------------------------


def _c_lanes(e: _Emitter, row: int, col: int, count: int) -> tuple:
    return tuple(("C", row, c) for c in range(col, col + count))


def _output(e: _Emitter, rows: int, col: int, left: int) -> None:
    """After ``subs x5, x5, #8``: the full 8-column store (``stp``) or StoreOutputPartial."""
    m = f"M{rows}"
    zero = e.call.zero_mode
    e.op("b", f"lo {e.label(m + '.StoreOutputPartial')}", note="fewer than 8 columns left?")
    if left < 8:
        _partial(e, rows, col, left)
        return
    e.op("cbnz", "x13", e.label(m + ".SkipAccumulateOutput"), note="ZeroMode?")
    if not zero:
        _ldp(e, 0, col)
        for r in range(rows):
            if r + 1 < rows:
                _ldp(e, r + 1, col)
            for h in (0, 1):
                e.op("add", f"v{16 + 2 * r + h}.4s", f"v{16 + 2 * r + h}.4s", f"v{2 * (r % 4) + h}.4s")

    def store(r):
        lanes = {f"q{16 + 2 * r}": _c_lanes(e, r, col, 4), f"q{17 + 2 * r}": _c_lanes(e, r, col + 4, 4)}
        e.op("stp", f"q{16 + 2 * r}", f"q{17 + 2 * r}", f"[{_C_PTRS[r]}]" + (", #32" if r == 0 else ""), lanes=lanes)

    if rows == 8:
        _dup_row_sums(e, 8, stores=store)
    else:
        for r in range(rows):
            store(r)


def _ldp(e: _Emitter, r: int, col: int) -> None:
    q = 2 * (r % 4)
    lanes = {f"q{q}": _c_lanes(e, r, col, 4), f"q{q + 1}": _c_lanes(e, r, col + 4, 4)}
    e.op("ldp", f"q{q}", f"q{q + 1}", f"[{_C_PTRS[r]}]", lanes=lanes, note=f"Add mode: C row {r}")


def _partial(e: _Emitter, rows: int, col: int, left: int) -> None:
    """StoreOutputPartial: 4, 2, then 1 columns by the bits of CountN - 8 (x5), each
    store shifting the rest of the row down (``mov`` / ``dup``)."""
    m = f"M{rows}"
    zero = e.call.zero_mode
    e.op("cbz", "x13", e.label(f"{m}.StoreOutputPartialAddMode"), note="Add mode?")
    mode = "ZeroMode" if zero else "AddMode"
    cur = col
    for bit, width, label in ((2, 4, "2"), (1, 2, "1"), (0, 1, None)):
        target = e.label(f"{m}.StoreOutputPartial{label}{mode}") if label else e.label(f"{m}.ExitKernel")
        e.op("tbz", "x5", f"#{bit}", target)
        if not left & width:
            continue
        if width == 1:
            (_one_zero if zero else _one_add)(e, rows, cur)
            e.op("b", e.label(f"{m}.ExitKernel"))
        else:
            _shift_store(e, rows, cur, width, zero)
            cur += width


def _st1(e: _Emitter, r: int, col: int, width: int) -> None:
    reg, ptr = 16 + 2 * r, _C_PTRS[r]
    if width == 1:
        e.raw("st1", f"{{v{reg}.s}}[0]", f"[{ptr}]", lanes={f"v{reg}.s[0]": _c_lanes(e, r, col, 1)}, stored=4)
    else:
        name = f"v{reg}.{width}s"
        e.op("st1", f"{{{name}}}", f"[{ptr}], #{4 * width}", lanes={name: _c_lanes(e, r, col, width)})


def _ld1_c(e: _Emitter, r: int, col: int, width: int) -> None:
    reg, ptr = r % 8, _C_PTRS[r]
    if width == 1:
        e.raw("ld1", f"{{v{reg}.s}}[0]", f"[{ptr}]", lanes={f"v{reg}.s[0]": _c_lanes(e, r, col, 1)}, loaded=4)
    else:
        name = f"v{reg}.{width}s"
        e.op("ld1", f"{{{name}}}", f"[{ptr}]", lanes={name: _c_lanes(e, r, col, width)}, note=f"Add mode: C row {r}")


def _shift(e: _Emitter, r: int, width: int) -> None:
    reg = 16 + 2 * r
    if width == 4:
        e.op("mov", f"v{reg}.16b", f"v{reg + 1}.16b", note="shift the rest down")
    else:
        e.op("dup", f"v{reg}.4s", f"v{reg}.s[2]", note="shift the rest down")


def _add_c(e: _Emitter, r: int) -> None:
    e.op("add", f"v{16 + 2 * r}.4s", f"v{16 + 2 * r}.4s", f"v{r}.4s")


def _shift_store(e: _Emitter, rows: int, col: int, width: int, zero: bool) -> None:
    """4 or 2 columns of every row: Zero mode st1 + shift per row; Add mode all rows' ld1,
    then per pair of rows two adds and two st1 + shift."""
    if zero:
        for r in range(rows):
            _st1(e, r, col, width)
            _shift(e, r, width)
        return
    for r in range(rows):
        _ld1_c(e, r, col, width)
    for p in range(0, rows, 2):
        pair = range(p, min(p + 2, rows))
        for r in pair:
            _add_c(e, r)
        for r in pair:
            _st1(e, r, col, width)
            _shift(e, r, width)


def _one_zero(e: _Emitter, rows: int, col: int) -> None:
    for r in range(rows):
        _st1(e, r, col, 1)


#: Add mode, 1 column: the order of the routine's ld1 (L), add (A) and st1 (S) per row.
_ONE_ADD = {
    1: "L0 A0 S0",
    2: "L0 L1 A0 A1 S0 S1",
    4: "L0 L1 A0 L2 A1 L3 A2 S0 S1 A3 S2 S3",
    8: "L0 L1 A0 L2 A1 L3 A2 S0 S1 A3 S2 S3 L4 L5 L6 L7 A4 S4 A5 S5 A6 S6 A7 S7",
}


def _one_add(e: _Emitter, rows: int, col: int) -> None:
    for step in _ONE_ADD[rows].split():
        r = int(step[1:])
        {"L": lambda: _ld1_c(e, r, col, 1), "A": lambda: _add_c(e, r), "S": lambda: _st1(e, r, col, 1)}[step[0]]()
