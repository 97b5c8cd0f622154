"""The schedules of MLAS's fp32 SGEMM routines: every instruction, in order, per call.

``schedule``: ``MlasSgemmKernelZero`` / ``MlasSgemmKernelAdd`` of
onnxruntime/core/mlas/lib/aarch64/SgemmKernelNeon.S. The entry saves d8-d11, computes the C row
pointers x13-x15 and picks ``ProcessRows`` (4, 2 or 1 rows) by CountM; ``ProcessRows`` walks N in
16-column blocks while more than 8 columns remain (``ProcessNextColumnLoop16x``), then one
8-column block (``ProcessRemainingCountN``); per block ``ComputeBlockLoop`` clears the
accumulators v16-v31 (row r: v16+4r..), runs K by 4 (``ldr q`` of 4 A values per row, ``ldp`` of
B's packed 16-wide rows, one ``fmla`` by element per row and 4 columns) and then by 1; the Zero
routine scales by alpha (``MultiplyAlphaBlock``: 4 ``fmul`` per row in the wheels' binaries, also
for the 8-column block), and ``OutputBlock`` stores 16 columns, or the last block's 8/4/2/1-column
pieces by the bits of CountN (``OutputMasked16x``/``OutputRemaining*``), the Add routine doing
``C = C + acc*alpha`` with ``fmla`` on the loaded C.

``gemv_schedule``: ``MlasGemvFloatKernel`` of aarch64/SgemvKernelNeon.S, the M = 1 path of
``MlasSgemmOperation`` (B read in place): 64 columns at a time (v16-v31, B loads interleaved with
the FMLAs), then the 1-63 remaining as 32/16/8/4/2/1-column pieces (v16-v23, v24-v27, v28-v29,
v30, v31, v1); ``ld1r`` broadcasts one A value per k; one chain over all of K per column.

Both are the routines of the ONNX Runtime 1.17.1 to 1.32.0 aarch64 wheels (the same code in each;
their disassemblies were read instruction by instruction). Mnemonics as objdump names them, with
``b.<cond>`` as ``b`` and ``mov xN, #imm`` as :data:`MOVZ`. Lanes are in the call's coordinates
(:mod:`mlas_emu.mlas.schedule`): A (rows, CountK), B (CountK, CountN), C (rows, CountN); the
padding of B's last 16-column panel is ``None``. Alpha is in v0.s[0] at entry (the s0 argument).
"""

from __future__ import annotations

from dataclasses import replace

from .schedule import Emitter, KernelCall, a_lanes, c_lanes

#: the name the measured breakdowns give ``mov xN, #imm`` (the MOVZ alias)
MOVZ = "movz"
#: C row pointers of rows 0-3 (``OutputBlock``'s AddrReg)
_C_PTR = ("x2", "x13", "x14", "x15")
#: A row pointers of rows 0-3 (``LoadMatrixAElementsBy4`` / ``By1``)
_A_PTR = ("x0", "x10", "x11", "x12")


def kernel_rows(count_m: int) -> int:
    """``ProcessRows``' row count for CountM: 4, 2 or 1."""
    return 4 if count_m >= 4 else 2 if count_m >= 2 else 1


def _op(e: Emitter, mnemonic: str, *operands: str, lanes=None, note: str = "", nbytes: int | None = None) -> None:
    """``e.op``, with the bytes moved given when the operands do not say them (lane loads and
    stores ``{v4.s}[0]``, ``ld1r``)."""
    e.op(mnemonic, *operands, lanes=lanes, note=note)
    if nbytes is not None:
        field = "bytes_loaded" if mnemonic.startswith("ld") else "bytes_stored"
        e.records[-1] = replace(e.records[-1], **{field: nbytes})


def _acc(row: int, q: int) -> int:
    return 16 + 4 * row + q


def schedule(call: KernelCall) -> list:
    """The records of one ``MlasSgemmKernelZero`` (``call.zero_mode``) or ``MlasSgemmKernelAdd``
    call; ``call.rows`` is the rows it handles (:func:`kernel_rows` of CountM)."""
    e = Emitter()
    e.op("stp", "d8", "d9", "[sp, #-32]!", note="save d8-d11")
    e.op("stp", "d10", "d11", "[sp, #16]")
    for i in range(3):
        e.op("add", f"x{13 + i}", "x2" if i == 0 else f"x{12 + i}", "x7, lsl #2", note=f"C row {i + 1}")
    e.op("mov", "x8", "x0", note="save A")
    rows = call.rows
    e.op("cmp", "x4", "#4")
    e.op("b", "lt .ProcessCountMLessThan4")
    if rows < 4:
        e.op("cmp", "x4", "#2")
        e.op("b", "lt .ProcessCountMLessThan2")
    if _process_rows(e, call) and rows < 4:
        e.op("b", ".ExitKernel")
    e.op("mov", "x0", "x4", note="return the rows handled")
    e.op("ldp", "d10", "d11", "[sp, #16]")
    e.op("ldp", "d8", "d9", "[sp], #32")
    e.op("ret")
    return e.records


def _process_rows(e: Emitter, call: KernelCall) -> bool:
    """``ProcessRows``; True if it ends by falling through its last ``OutputBlock`` (the rows-2
    and rows-1 copies then branch to ExitKernel), False if it branched there itself."""
    rows, left, col = call.rows, call.count_n, 0
    e.op(MOVZ, "x4", f"#{rows}", note="rows handled")
    e.op("cmp", "x5", "#8")
    e.op("b", "le .ProcessRemainingCountN")
    if left > 8:
        while True:  # ProcessNextColumnLoop16x
            _compute_block_loop(e, call, 16, col)
            if call.zero_mode:
                _multiply_alpha(e, rows)
            e.op("sub", "x5", "x5", "#16")
            e.op("tbnz", "x5", "#63", ".OutputMasked16xBlock")
            if left < 16:
                return _output_masked(e, call, left, col)
            _output_block(e, call, 16, col)
            left, col = left - 16, col + 16
            e.op("mov", "x0", "x8", note="reload A")
            e.op("cmp", "x5", "#8")
            e.op("b", "gt .ProcessNextColumnLoop16x")
            if left <= 8:
                break
        e.op("cbz", "x5", ".ExitKernel")
        if left == 0:
            return False
    _compute_block_loop(e, call, 8, col)  # ProcessRemainingCountN
    if call.zero_mode:
        _multiply_alpha(e, rows)
    return _output_masked(e, call, left, col)


def _output_masked(e: Emitter, call: KernelCall, left: int, col: int) -> bool:
    """``OutputMasked16x`` .. ``OutputRemaining1x``: 8/4/2/1-column pieces by the bits of the
    remaining count (x5 is CountN - 16 after a 16-column block: the same low 4 bits)."""
    for bit, piece in ((3, 8), (2, 4), (1, 2), (0, 1)):
        target = ".ExitKernel" if bit == 0 else f".OutputRemaining{piece - 1}xBlock"
        e.op("tbz", "w5", f"#{bit}", target)
        if left & piece:
            _output_block(e, call, piece, col)
            col += piece
    return bool(left & 1)


def _compute_block_loop(e: Emitter, call: KernelCall, columns: int, col: int) -> None:
    """``ComputeBlockLoop``: clear, A row pointers, K by 4 then by 1."""
    rows, vecs = call.rows, columns // 4
    for r in range(rows):
        for q in range(vecs):
            e.op("movi", f"v{_acc(r, q)}.16b", "#0")
    for r in range(1, rows):
        e.op("add", _A_PTR[r], _A_PTR[r - 1], "x6, lsl #2", note=f"A row {r}")
    full, rest = divmod(call.count_k, 4)
    e.op("sub", "x9", "x3", "#4", note="K blocks of 4")
    e.op("tbnz", "x9", "#63", ".ProcessRemainingBlocks")
    for step in range(full):  # BlockBy4Loop
        k = 4 * step
        for r in range(rows):
            e.op("ldr", f"q{8 + r}", f"[{_A_PTR[r]}], #16", lanes={f"v{8 + r}.4s": a_lanes(r, k)},
                 note=f"A row {r}, k={k}..{k + 3}")
        for kk in range(4):
            first = kk == 0
            _load_b(e, call, vecs, col, k + kk, "[x1], #256" if first else f"[x1, #{-256 + 64 * kk}]",
                    f"[x1, #{-224 + 64 * kk}]")
            _multiply_accumulate(e, call, vecs, col, k + kk, kk)
        e.op("sub", "x9", "x9", "#4")
        e.op("tbz", "x9", "#63", ".BlockBy4Loop")
    e.op("add", "x9", "x9", "#4", note="CountK % 4")
    e.op("cbz", "x9", ".OutputBlock")
    for k in range(4 * full, 4 * full + rest):  # BlockBy1Loop
        for r in range(rows):
            e.op("ldr", f"s{8 + r}", f"[{_A_PTR[r]}], #4", lanes={f"s{8 + r}": a_lanes(r, k, 1)}, note=f"A row {r}, k={k}")
        _load_b(e, call, vecs, col, k, "[x1], #64", "[x1, #-32]")
        _multiply_accumulate(e, call, vecs, col, k, 0)
        e.op("sub", "x9", "x9", "#1")
        e.op("cbnz", "x9", ".BlockBy1Loop")


def _b_lanes(call: KernelCall, k: int, c0: int) -> tuple:
    return tuple(("B", k, c) if c < call.count_n else None for c in range(c0, c0 + 4))


def _load_b(e: Emitter, call: KernelCall, vecs: int, col: int, k: int, first: str, second: str) -> None:
    """One packed row of B (16 floats per k): ``ldp q4,q5`` and, for 16 columns, ``ldp q6,q7``."""
    for pair, address in ((0, first), (2, second))[: vecs // 2]:
        regs = (4 + pair, 5 + pair)
        e.op("ldp", f"q{regs[0]}", f"q{regs[1]}", address,
             lanes={f"v{v}.4s": _b_lanes(call, k, col + 4 * (v - 4)) for v in regs},
             note=f"B k={k}, columns {col + 4 * pair}..{col + 4 * pair + 7}")


def _multiply_accumulate(e: Emitter, call: KernelCall, vecs: int, col: int, k: int, element: int) -> None:
    """``MultiplyAccumulateBlock``: per row, ``fmla`` of each B vector by A's element."""
    for r in range(call.rows):
        for q in range(vecs):
            vd, vn, vm = f"v{_acc(r, q)}.4s", f"v{4 + q}.4s", f"v{8 + r}.s[{element}]"
            lanes = {vd: tuple(None if b is None else ("C", r, b[2]) for b in _b_lanes(call, k, col + 4 * q)),
                     vn: _b_lanes(call, k, col + 4 * q), vm: (("A", r, k),)}
            e.op("fmla", vd, vn, vm, lanes=lanes, note=f"row {r} x columns {col + 4 * q}..{col + 4 * q + 3}, k={k}")


def _multiply_alpha(e: Emitter, rows: int) -> None:
    """``MultiplyAlphaBlock``: 4 ``fmul`` by v0.s[0] per row (8-column blocks included)."""
    for r in range(rows):
        for q in range(4):
            e.op("fmul", f"v{_acc(r, q)}.4s", f"v{_acc(r, q)}.4s", "v0.s[0]", note="times alpha")


def _output_block(e: Emitter, call: KernelCall, piece: int, col: int) -> None:
    """``OutputBlock``: ``OutputRow<piece>Element`` for every row, then the remaining
    accumulator lanes shifted down (mov / dup)."""
    for r in range(call.rows):
        _OUTPUT_ROW[piece](e, call.zero_mode, _C_PTR[r], _acc(r, 0), r, col)


def _row_16(e, zero, ptr, a, r, col):
    if zero:
        e.op("stp", f"q{a}", f"q{a + 1}", f"[{ptr}], #64", lanes={f"v{a}.4s": c_lanes(r, col, 4), f"v{a + 1}.4s": c_lanes(r, col + 4, 4)})
        e.op("stp", f"q{a + 2}", f"q{a + 3}", f"[{ptr}, #-32]",
             lanes={f"v{a + 2}.4s": c_lanes(r, col + 8, 4), f"v{a + 3}.4s": c_lanes(r, col + 12, 4)})
        return
    e.op("ldp", "q4", "q5", f"[{ptr}]", lanes={"v4.4s": c_lanes(r, col, 4), "v5.4s": c_lanes(r, col + 4, 4)})
    e.op("ldp", "q6", "q7", f"[{ptr}, #32]", lanes={"v6.4s": c_lanes(r, col + 8, 4), "v7.4s": c_lanes(r, col + 12, 4)})
    for q in range(4):
        e.op("fmla", f"v{4 + q}.4s", f"v{a + q}.4s", "v0.s[0]", note="C = C + acc*alpha")
    e.op("stp", "q4", "q5", f"[{ptr}], #64", lanes={"v4.4s": c_lanes(r, col, 4), "v5.4s": c_lanes(r, col + 4, 4)})
    e.op("stp", "q6", "q7", f"[{ptr}, #-32]", lanes={"v6.4s": c_lanes(r, col + 8, 4), "v7.4s": c_lanes(r, col + 12, 4)})


def _row_8(e, zero, ptr, a, r, col):
    lanes = {"v4.4s": c_lanes(r, col, 4), "v5.4s": c_lanes(r, col + 4, 4)}
    if zero:
        e.op("stp", f"q{a}", f"q{a + 1}", f"[{ptr}], #32", lanes={f"v{a}.4s": lanes["v4.4s"], f"v{a + 1}.4s": lanes["v5.4s"]})
    else:
        e.op("ldp", "q4", "q5", f"[{ptr}]", lanes=lanes)
        e.op("fmla", "v4.4s", f"v{a}.4s", "v0.s[0]", note="C = C + acc*alpha")
        e.op("fmla", "v5.4s", f"v{a + 1}.4s", "v0.s[0]", note="C = C + acc*alpha")
        e.op("stp", "q4", "q5", f"[{ptr}], #32", lanes=lanes)
    e.op("mov", f"v{a}.16b", f"v{a + 2}.16b", note="shift remaining elements down")
    e.op("mov", f"v{a + 1}.16b", f"v{a + 3}.16b")


def _row_4(e, zero, ptr, a, r, col):
    src = f"v{a}"
    if not zero:
        e.op("ld1", "{v4.4s}", f"[{ptr}]", lanes={"v4.4s": c_lanes(r, col, 4)})
        e.op("fmla", "v4.4s", f"v{a}.4s", "v0.s[0]", note="C = C + acc*alpha")
        src = "v4"
    e.op("st1", f"{{{src}.4s}}", f"[{ptr}], #16", lanes={f"{src}.4s": c_lanes(r, col, 4)})
    e.op("mov", f"v{a}.16b", f"v{a + 1}.16b", note="shift remaining elements down")


def _row_2(e, zero, ptr, a, r, col):
    src = f"v{a}"
    if not zero:
        e.op("ld1", "{v4.2s}", f"[{ptr}]", lanes={"v4.2s": c_lanes(r, col, 2)})
        e.op("fmla", "v4.2s", f"v{a}.2s", "v0.s[0]", note="C = C + acc*alpha")
        src = "v4"
    e.op("st1", f"{{{src}.2s}}", f"[{ptr}], #8", lanes={f"{src}.2s": c_lanes(r, col, 2)})
    e.op("dup", f"v{a}.4s", f"v{a}.s[2]", note="shift remaining elements down")


def _row_1(e, zero, ptr, a, r, col):
    src = f"v{a}"
    if not zero:
        _op(e, "ld1", "{v4.s}[0]", f"[{ptr}]", lanes={"v4.s[0]": c_lanes(r, col, 1)}, nbytes=4)
        e.op("fmla", "v4.2s", f"v{a}.2s", "v0.s[0]", note="C = C + acc*alpha")
        src = "v4"
    _op(e, "st1", f"{{{src}.s}}[0]", f"[{ptr}]", lanes={f"{src}.s[0]": c_lanes(r, col, 1)}, nbytes=4)


_OUTPUT_ROW = {16: _row_16, 8: _row_8, 4: _row_4, 2: _row_2, 1: _row_1}


# --------------------------------------------------------------------------------------------
# MlasGemvFloatKernel (aarch64/SgemvKernelNeon.S)


def gemv_schedule(call: KernelCall) -> list:
    """The records of one ``MlasGemvFloatKernel`` call (one row, CountN columns, all of CountK;
    ``call.zero_mode``: ZeroMode, else C is loaded as the chains' start)."""
    e = Emitter()
    left, col = call.count_n, 0
    e.op("cmp", "x4", "#64")
    e.op("b", "lo .ProcessRemainingCountN")
    if left >= 64:
        e.op("mov", "x14", "x0", note="preserve vector A")
        while left >= 64:
            _gemv_by_64(e, call, col)
            left, col = left - 64, col + 64
            e.op("cbz", "x4", ".ExitKernel")
            if left == 0:
                e.op("ret")
                return e.records
            e.op("cmp", "x4", "#64")
            e.op("b", "hs .ProcessColumnLoopBy64")
    _gemv_partial(e, call, left, col)
    e.op("ret")
    return e.records


def _gemv_b(call, k, c0):
    return {f"v{4 + (c0 // 4) % 4}.4s": tuple(("B", k, c) for c in range(c0, c0 + 4))}


def _gemv_by_64(e: Emitter, call: KernelCall, col: int) -> None:
    """``ProcessColumnLoopBy64``: v16-v31 over all of K, the next row's first 3 vectors loaded
    before the last 3 FMLAs of the row (after the last row: the stores)."""
    def load_b(k, j, address):  # vector j (4 columns) of row k into q4+j%4
        e.op("ldr", f"q{4 + j % 4}", address, lanes={f"v{4 + j % 4}.4s": tuple(("B", k, col + c) for c in range(4 * j, 4 * j + 4))})

    def fmla(k, j):
        cols = range(col + 4 * j, col + 4 * j + 4)
        e.op("fmla", f"v{16 + j}.4s", f"v{4 + j % 4}.4s", "v0.4s",
             lanes={f"v{16 + j}.4s": tuple(("C", 0, c) for c in cols), f"v{4 + j % 4}.4s": tuple(("B", k, c) for c in cols),
                    "v0.4s": (("A", 0, k),) * 4}, note=f"columns {cols.start}..{cols.stop - 1}, k={k}")

    load_b(0, 0, "[x1]")
    e.op("add", "x15", "x1", "#256", note="next B column block")
    load_b(0, 1, "[x1, #16]")
    e.op("tst", "w6", "#0xff", note="ZeroMode?")
    e.op("mov", "x13", "x3", note="reload CountK")
    load_b(0, 2, "[x1, #32]")
    e.op("b", "eq .LoadOutputBy64")
    if call.zero_mode:
        for v in range(16, 32):
            e.op("movi", f"v{v}.4s", "#0")
        e.op("b", ".MultiplyAccumulateBy64")
    else:
        for p in range(8):
            e.op("ldp", f"q{16 + 2 * p}", f"q{17 + 2 * p}", f"[x2, #{32 * p}]" if p else "[x2]",
                 lanes={f"v{16 + 2 * p + h}.4s": c_lanes(0, col + 8 * p + 4 * h, 4) for h in range(2)})
    for k in range(call.count_k):
        _op(e, "ld1r", "{v0.4s}", "[x0]", lanes={"v0.4s": (("A", 0, k),) * 4}, nbytes=4, note=f"A k={k}")
        e.op("add", "x0", "x0", "#4")
        e.op("sub", "x13", "x13", "#1")
        for j in range(13):
            fmla(k, j)
            load_b(k, j + 3, f"[x1, #{16 * (j + 3)}]")
        e.op("add", "x1", "x1", "x5, lsl #2", note="next B row")
        e.op("cbz", "x13", ".StoreOutputBy64")
        if k + 1 < call.count_k:
            for j in range(13, 16):
                load_b(k + 1, j - 13, f"[x1, #{16 * (j - 13)}]" if j > 13 else "[x1]")
                fmla(k, j)
            e.op("b", ".MultiplyAccumulateBy64")
    last = call.count_k - 1
    tail = [lambda j=j: fmla(last, j) for j in range(13, 16)]
    tail += [lambda: e.op("sub", "x4", "x4", "#64"), lambda: e.op("mov", "x0", "x14", note="reload A"),
             lambda: e.op("mov", "x1", "x15")]
    for p in range(8):  # stores interleaved with the last 3 FMLAs and the pointer updates
        e.op("stp", f"q{16 + 2 * p}", f"q{17 + 2 * p}", f"[x2, #{32 * p}]" if p else "[x2]",
             lanes={f"v{16 + 2 * p + h}.4s": c_lanes(0, col + 8 * p + 4 * h, 4) for h in range(2)})
        if p < len(tail):
            tail[p]()
    e.op("add", "x2", "x2", "#256", note="next C column block")


#: pieces of the 1-63 remaining columns: (bit of CountN, first accumulator, vectors)
_PIECES = ((5, 16, 8), (4, 24, 4), (3, 28, 2), (2, 30, 1), (1, 31, 1), (0, 1, 1))


def _gemv_partial(e: Emitter, call: KernelCall, left: int, col: int) -> None:
    """``ProcessRemainingCountN``: the pieces of ``left`` (< 64) columns."""
    e.op("tst", "w6", "#0xff", note="ZeroMode?")
    e.op("b", "eq .LoadOutputPartial32")
    pieces, at = [], col
    for bit, acc, vecs in _PIECES:
        width = 1 << bit
        if left & width:
            pieces.append((bit, acc, vecs, at, width))
            at += width
    if call.zero_mode:
        for v in list(range(16, 32)) + [1]:
            e.op("movi", f"v{v}.4s", "#0")
        e.op("b", ".ProcessNextPartialRow")
    else:
        e.op("mov", "x15", "x2")
        _gemv_partial_memory(e, left, pieces, "ld", "x15")
    for k in range(call.count_k):
        _op(e, "ld1r", "{v0.4s}", "[x0]", lanes={"v0.4s": (("A", 0, k),) * 4}, nbytes=4, note=f"A k={k}")
        e.op("add", "x0", "x0", "#4")
        e.op("sub", "x3", "x3", "#1")
        e.op("mov", "x15", "x1")
        for bit, acc, vecs, c0, width in _all_pieces(left, pieces):
            e.op("tbz", "w4", f"#{bit}", f".MultiplyAccumulatePartial{width // 2}" if bit else ".AdvancePartialRow")
            if c0 is not None:
                _gemv_piece_fmla(e, k, bit, acc, vecs, c0, width)
        e.op("add", "x1", "x1", "x5, lsl #2", note="next B row")
        e.op("cbnz", "x3", ".ProcessNextPartialRow")
    _gemv_partial_memory(e, left, pieces, "st", "x2")


def _all_pieces(left, pieces):
    """Every bit test of the partial path, with the piece it guards (``None`` when clear)."""
    present = {p[0]: p for p in pieces}
    return [present.get(bit, (bit, acc, vecs, None, 1 << bit)) for bit, acc, vecs in _PIECES]


def _gemv_piece_fmla(e, k, bit, acc, vecs, c0, width):
    """The B loads and FMLAs of one piece, in the routine's interleaving."""
    def b(j):
        return tuple(("B", k, c) if c < c0 + width else None for c in range(c0 + 4 * j, c0 + 4 * j + 4))

    def fmla(j, reg):
        cols = tuple(None if x is None else ("C", 0, x[2]) for x in b(j))
        e.op("fmla", f"v{acc + j}.4s", f"v{reg}.4s", "v0.4s",
             lanes={f"v{acc + j}.4s": cols, f"v{reg}.4s": b(j), "v0.4s": (("A", 0, k),) * 4}, note=f"k={k}")

    def ldp(j, address):
        e.op("ldp", f"q{4 + j % 4}", f"q{5 + j % 4}", address, lanes={f"v{4 + j % 4}.4s": b(j), f"v{5 + j % 4}.4s": b(j + 1)})

    if bit == 5:
        ldp(0, "[x15], #128"); fmla(0, 4); ldp(2, "[x15, #-96]"); fmla(1, 5); ldp(4, "[x15, #-64]")  # noqa: E702
        fmla(2, 6); fmla(3, 7); ldp(6, "[x15, #-32]")  # noqa: E702
        for j in range(4, 8):
            fmla(j, 4 + j % 4)
    elif bit == 4:
        ldp(0, "[x15], #64"); fmla(0, 4); ldp(2, "[x15, #-32]")  # noqa: E702
        for j in range(1, 4):
            fmla(j, 4 + j)
    elif bit == 3:
        ldp(0, "[x15], #32"); fmla(0, 4); fmla(1, 5)  # noqa: E702
    else:
        reg, post = {2: ("q4", ", #16"), 1: ("d4", ", #8"), 0: ("s4", "")}[bit]
        e.op("ldr", reg, f"[x15]{post}", lanes={f"v4.{width}s" if width > 1 else "s4": b(0)[:width]})
        fmla(0, 4)


def _gemv_partial_memory(e, left, pieces, kind, ptr):
    """``LoadOutputPartial*`` (C into the accumulators, Add mode) or ``StoreOutputPartial*``."""
    present = {p[0]: p for p in pieces}
    for bit, acc, vecs in _PIECES:
        width = 1 << bit
        last = bit == 0
        target = (".ProcessNextPartialRow" if kind == "ld" else ".ExitKernel") if last else f".{'Load' if kind == 'ld' else 'Store'}OutputPartial{width // 2}"
        e.op("tbz", "w4", f"#{bit}", target)
        if bit not in present:
            continue
        c0 = present[bit][3]
        if vecs >= 2:
            for p in range(vecs // 2):
                addr = f"[{ptr}], #{4 * width}" if p == 0 else f"[{ptr}, #{-4 * width + 32 * p}]"
                e.op(f"{kind}p", f"q{acc + 2 * p}", f"q{acc + 2 * p + 1}", addr,
                     lanes={f"v{acc + 2 * p + h}.4s": c_lanes(0, c0 + 8 * p + 4 * h, 4) for h in range(2)})
        else:
            reg = {2: "q", 1: "d", 0: "s"}[bit] + str(acc)
            post = {2: ", #16", 1: ", #8", 0: ""}[bit]
            key = f"v{acc}.{width}s" if width > 1 else reg
            e.op(f"{kind}r", reg, f"[{ptr}]{post}", lanes={key: c_lanes(0, c0, width)})
