"""MLAS's DOT-product QGEMM kernel for Arm CPUs without I8MM (UDOT; SDOT in the sibling module).

Models onnxruntime/core/mlas/lib ``qgemm_kernel_udot.cpp`` (``MLAS_GEMM_U8X8_KERNEL_UDOT``:
``PackedK = 8``, ``Strides{24, 128, 256}``, ``PackedStrides{24, 128, 384}``,
``MlasGemmU8X8CopyPackA`` / ``MlasGemmU8X8CopyPackB``) and ``aarch64/QgemmU8X8KernelUdot.S``
(``MlasGemmU8X8KernelUdot``), as shipped in ONNX Runtime 1.17.1. MLAS selects it for u8u8 and
u8s8 on CPUs with DotProd but without I8MM (``platform.cpp``); u8s8 flips B's sign bit
(XOR 0x80) so one unsigned kernel serves both.

Packed A (``MlasGemmU8X8CopyPackA``), rows grouped greedily 8, 4, 2, 1; K padded with zeros to
a multiple of 8 (the 1-row group to a multiple of 16). For a group of ``g`` rows, every 4 values
of K take ``4*g`` bytes, row after row::

    8 rows, k0..3: [r0k0 r0k1 r0k2 r0k3  r1k0 .. r3k3] [r4k0 .. r7k3]   (two 16-byte vectors)
    8 rows, k4..7: [r0k4 .. r3k7] [r4k4 .. r7k7]

Packed B (``MlasGemmU8X8CopyPackB``), 8-column panels, K padded to a multiple of 8, missing
columns padded; every 4 values of K take 32 bytes: ``[c0k0..3 c1k0..3 c2k0..3 c3k0..3]
[c4k0..3 .. c7k0..3]``, so one 16-byte vector holds 4 columns x 4 k, the operand of
``UDOT Vd.4S, Vn.16B, Vm.4B[e]`` whose element ``e`` picks one row of A.

The micro-kernel holds up to 8 rows x 8 columns in v16-v31 (row r: v(16+2r) columns 0-3,
v(17+2r) columns 4-7) and issues, per 8 values of K and 8-column block, 32 DOT instructions
for 8 rows, 16 for 4 rows (into a second accumulator set folded at the end), 8 for 2 rows and
4 for 1 row. Column tails are computed 8 wide and stored partially.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .qgemm_kernel_ummla import row_groups
from .trace import InstructionRecord

#: ``MLAS_GEMM_U8X8_KERNEL_UDOT::PackedK``: K is packed in blocks of 8.
PACKED_K = 8
#: ``Strides`` (M, N, K) and ``PackedStrides`` of the DOT kernels.
STRIDES = (24, 128, 256)
PACKED_STRIDES = (24, 128, 384)


@dataclass(frozen=True)
class DotKernelSpec:
    """What distinguishes the UDOT and SDOT kernels: the instruction and the signedness."""

    mnemonic: str  # "udot" or "sdot"
    signed: bool  # operands are int8 (SDOT) or uint8 (UDOT)


UDOT = DotKernelSpec("udot", signed=False)


# --------------------------------------------------------------------------------------------
# Packing


def pack_a_layout(A: np.ndarray, pad) -> np.ndarray:
    """Arrange the (CountM, CountK) block ``A`` as ``MlasGemmU8X8CopyPackA`` lays out the DOT
    kernels' packed A; padding takes ``pad``. Any dtype (also index arrays, for traces)."""
    count_m, count_k = A.shape
    out = []
    r = 0
    for g in row_groups(count_m):  # MlasGemmU8X8CopyPackA's row groups
        block = A[r : r + g]
        if g == 1:  # contiguous row, zero padded to 16 bytes
            kp = -(-count_k // 16) * 16
            row = np.full(kp, pad, dtype=A.dtype)
            row[:count_k] = block[0]
            out.append(row)
        else:
            kp = -(-count_k // PACKED_K) * PACKED_K
            padded = np.full((g, kp), pad, dtype=A.dtype)
            padded[:, :count_k] = block
            # chunk c of 4 k: rows one after another, 4 bytes each
            out.append(padded.reshape(g, kp // 4, 4).transpose(1, 0, 2).reshape(-1))
        r += g
    return np.concatenate(out) if out else np.zeros(0, dtype=A.dtype)


def pack_b_layout(B: np.ndarray, pad) -> np.ndarray:
    """Arrange the (CountK, CountN) block ``B`` as ``MlasGemmU8X8CopyPackB`` lays out the DOT
    kernels' packed B: 8-column panels, 32 bytes per 4 k; padding takes ``pad``."""
    count_k, count_n = B.shape
    kp = -(-count_k // PACKED_K) * PACKED_K
    np_ = -(-count_n // 8) * 8
    padded = np.full((kp, np_), pad, dtype=B.dtype)
    padded[:count_k, :count_n] = B
    # (panel, chunk of 4 k, column in panel, k in chunk)
    return padded.reshape(kp // 4, 4, np_ // 8, 8).transpose(2, 0, 3, 1).reshape(-1)


def copy_pack_a(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``MlasGemmU8X8CopyPackA``: packed bytes of A (any 8-bit dtype) and its row sums (int32)."""
    packed = pack_a_layout(np.asarray(A), 0)
    row_sums = np.asarray(A).astype(np.int64).sum(axis=1)
    return packed, row_sums.astype(np.int64)


def copy_pack_b(B: np.ndarray, b_is_signed: bool, spec: DotKernelSpec = UDOT) -> tuple[np.ndarray, np.ndarray]:
    """``MlasGemmU8X8CopyPackB``: packed B and its column sums.

    For the UDOT kernel a signed B has its sign bit flipped (``b ^ 0x80``, i.e. ``b + 128`` as
    uint8) so that the unsigned kernel can be used; padding becomes 0 after the flip.
    """
    B = np.asarray(B)
    if spec.signed:
        values = B.astype(np.int8)
    elif b_is_signed:
        values = (B.view(np.uint8) ^ np.uint8(0x80)).astype(np.uint8)
    else:
        values = B.astype(np.uint8)
    return pack_b_layout(values, 0), values.astype(np.int64).sum(axis=0)


# --------------------------------------------------------------------------------------------
# The instruction schedule of one kernel call (shared by execution and tracing)

# A dot step: (accumulator, B register, A register, A element).
_M8_DOTS = (
    [(16 + 2 * r, 0, 4, r) for r in range(4)]
    + [(17 + 2 * r, 1, 4, r) for r in range(4)]
    + [(24 + 2 * r, 0, 5, r) for r in range(4)]
    + [(25 + 2 * r, 1, 5, r) for r in range(4)]
    + [(16 + 2 * r, 2, 6, r) for r in range(4)]
    + [(17 + 2 * r, 3, 6, r) for r in range(4)]
    + [(24 + 2 * r, 2, 7, r) for r in range(4)]
    + [(25 + 2 * r, 3, 7, r) for r in range(4)]
)
_M4_DOTS = [
    (16, 0, 4, 0), (18, 0, 4, 1), (20, 0, 5, 0), (22, 0, 5, 1),
    (17, 1, 4, 0), (19, 1, 4, 1), (21, 1, 5, 0), (23, 1, 5, 1),
    (24, 2, 6, 0), (26, 2, 6, 1), (28, 2, 7, 0), (30, 2, 7, 1),
    (25, 3, 6, 0), (27, 3, 6, 1), (29, 3, 7, 0), (31, 3, 7, 1),
]  # fmt: skip
_M2_DOTS = [(16, 0, 4, 0), (17, 1, 4, 0), (18, 0, 4, 1), (19, 1, 4, 1),
            (16, 2, 5, 0), (17, 3, 5, 0), (18, 2, 5, 1), (19, 3, 5, 1)]  # fmt: skip
_M1_DOTS = [(16, 0, 4, 0), (17, 1, 4, 0), (16, 2, 4, 1), (17, 3, 4, 1)]

# A register -> (byte offset in one 8-k block of the packed A group, size in bytes).
_A_LOADS = {
    8: {4: (0, 16), 5: (16, 16), 6: (32, 16), 7: (48, 16)},
    4: {4: (0, 8), 5: (8, 8), 6: (16, 8), 7: (24, 8)},
    2: {4: (0, 8), 5: (8, 8)},
    1: {4: (0, 8)},
}
_DOTS = {8: _M8_DOTS, 4: _M4_DOTS, 2: _M2_DOTS, 1: _M1_DOTS}
# Register names the assembly gives the four 16-byte B vectors of one 8-k block.
_B_NAMES = {8: (0, 1, 2, 3), 4: (0, 1, 0, 1), 2: (0, 1, 6, 7), 1: (0, 1, 6, 7)}


def _acc_row_col(rows: int, acc: int) -> tuple[int, int]:
    """Row in the tile and first column of accumulator ``v<acc>`` (M4 folds v24-v31)."""
    if rows == 4 and acc >= 24:
        acc -= 8
    return (acc - 16) // 2, 4 * ((acc - 16) % 2)


def _a_lane_rows(rows: int, areg: int) -> tuple[list[int], int]:
    """Rows held by A register ``areg`` (4 bytes each) and its k offset within the 8-k block."""
    if rows == 8:
        return ([0, 1, 2, 3] if areg in (4, 6) else [4, 5, 6, 7]), (0 if areg in (4, 5) else 4)
    if rows == 4:
        return ([0, 1] if areg in (4, 6) else [2, 3]), (0 if areg in (4, 5) else 4)
    if rows == 2:
        return [0, 1], (0 if areg == 4 else 4)
    return [0, 0], 0  # one row: elements 0 and 1 are k0-3 and k4-7 of row 0


# --------------------------------------------------------------------------------------------
# Kernel


def _dot_by_element(acc, vn, vm, element, signed):
    """``UDOT/SDOT Vd.4S, Vn.16B, Vm.4B[e]``: lane i += sum of Vn[4i+j] * Vm[4e+j], wrapping
    modulo 2^32 (Arm ARM DDI0487 M.a.a, UDOT/SDOT (by element))."""
    a = vm[4 * element : 4 * element + 4].astype(np.int64)
    b = vn.reshape(4, 4).astype(np.int64)
    total = acc.astype(np.int64) + b @ a
    return ((total + 2**31) % 2**32 - 2**31).astype(np.int64)


def _column_blocks(count_n: int):
    """The kernel's N walk: 8-column blocks, the last one stored partially."""
    n = 0
    while n < count_n:
        yield n, min(8, count_n - n)
        n += 8


def gemm_kernel(packed_a, packed_b, c, packed_count_k, count_m, count_n, row_sums, column_sums,
                zero_point_b=None, zero_mode=True, *, spec: DotKernelSpec = UDOT, trace=None,
                coords=None):  # fmt: skip
    """One call of ``MlasGemmU8X8KernelUdot`` (or ``MlasGemmS8S8KernelSDot``).

    Computes rows ``0..rows-1`` of ``c`` (int64 array, CountM x CountN view; ``None`` records
    the instructions without computing) from the packed
    panels: ``acc = RowSum * ZeroPointB + ColumnSum`` (or ``RowSum + ColumnSum`` without
    per-column zero points), plus the DOT products over ``packed_count_k`` blocks of 8; in add
    mode (``zero_mode=False``) the previous contents of ``c`` are added. Returns the rows
    handled (8, 4, 2 or 1). ``trace``, if a list, receives one InstructionRecord per modelled
    instruction; ``coords`` = (A index layout, B index layout, (m0, n0, k0)) names the matrix
    coordinates of each lane.
    """
    rows = 8 if count_m >= 8 else 4 if count_m >= 4 else 2 if count_m >= 2 else 1
    dtype = np.int8 if spec.signed else np.uint8
    pa = np.asarray(packed_a).view(dtype)
    pb = np.asarray(packed_b).view(dtype)
    group_bytes = 8 * rows if rows > 1 else 8  # bytes of packed A per 8-k block
    for block, (n0, width) in enumerate(_column_blocks(count_n)):
        acc = {}
        for r in range(rows):
            for half in (0, 1):
                cols = slice(n0 + 4 * half, n0 + 4 * half + 4)
                cs = np.zeros(4, np.int64)
                cs[: max(0, min(4, count_n - n0 - 4 * half))] = column_sums[cols]
                rs = row_sums[r] if r < count_m else 0
                zp = np.ones(4, np.int64)
                if zero_point_b is not None:
                    zp = np.zeros(4, np.int64)
                    zp[: max(0, min(4, count_n - n0 - 4 * half))] = zero_point_b[cols]
                acc[16 + 2 * r + half] = rs * zp + cs
        if rows == 4:
            for v in range(24, 32):
                acc[v] = np.zeros(4, np.int64)
        _emit_init(trace, rows, n0, coords)
        for kb in range(packed_count_k):
            a_base = kb * group_bytes
            b_base = (block * packed_count_k + kb) * 64
            regs_a = {reg: pa[a_base + off : a_base + off + size] for reg, (off, size) in _A_LOADS[rows].items()}
            regs_b = {reg: pb[b_base + 16 * reg : b_base + 16 * reg + 16] for reg in range(4)}
            _emit_loads(trace, rows, kb, a_base, b_base, coords)
            for accr, breg, areg, elem in _DOTS[rows]:
                if c is not None:  # c=None: record the instructions only
                    acc[accr] = _dot_by_element(acc[accr], regs_b[breg], regs_a[areg], elem, spec.signed)
                _emit_dot(trace, spec, rows, accr, breg, areg, elem, a_base, b_base, coords, n0)
        if rows == 4:  # fold the second accumulator set
            for v in range(16, 24):
                acc[v] = acc[v] + acc[v + 8]
                _emit(trace, "add", (f"v{v}.4s", f"v{v}.4s", f"v{v + 8}.4s"), note="fold k4-7 accumulators")
        _store(c, acc, rows, count_m, n0, width, zero_mode, trace, coords)
    return rows


def _store(c, acc, rows, count_m, n0, width, zero_mode, trace, coords):
    for r in range(min(rows, count_m)):
        tile = np.concatenate([acc[16 + 2 * r], acc[17 + 2 * r]])[:width]
        if not zero_mode:
            _emit(trace, "ldp" if width == 8 else "ld1", (f"q{16 + 2 * r}", f"q{17 + 2 * r}"),
                  bytes_loaded=4 * width, note=f"add mode: load C row {r}")  # fmt: skip
            _emit(trace, "add", (f"v{16 + 2 * r}.4s", f"v{16 + 2 * r}.4s", "v0.4s"), note=f"C row {r} += tile")
            if c is not None:
                tile = tile + c[r, n0 : n0 + width]
        if c is not None:
            c[r, n0 : n0 + width] = (tile + 2**31) % 2**32 - 2**31
        lanes = None
        if coords is not None:
            m0, cn0 = coords[3], coords[2][1]
            lanes = tuple(("C", m0 + r, cn0 + n0 + j) for j in range(width))
        _emit(trace, "stp" if width == 8 else "st1", (f"q{16 + 2 * r}", f"q{17 + 2 * r}"),
              lanes={f"q{16 + 2 * r}": lanes} if lanes else {}, bytes_stored=4 * width,
              note=f"store C row {r}, {width} columns")  # fmt: skip


# --------------------------------------------------------------------------------------------
# Trace records


def _emit(trace, mnemonic, operands=(), lanes=None, bytes_loaded=0, bytes_stored=0, note=""):
    if trace is not None:
        trace.append(InstructionRecord(mnemonic, tuple(operands), dict(lanes or {}), bytes_loaded, bytes_stored, note))


def _emit_init(trace, rows, n0, coords):
    if trace is None:
        return
    _emit(trace, "ld1", ("v2.4s",), bytes_loaded=16, note="column sums, columns 0-3")
    _emit(trace, "ld1", ("v3.4s",), bytes_loaded=16, note="column sums, columns 4-7")
    for r in range(rows):
        for half in (0, 1):
            v = 16 + 2 * r + half
            _emit(trace, "add", (f"v{v}.4s", f"v{2 + half}.4s", f"v{v}.4s"), note=f"acc = row sum {r} + column sums")
    if rows == 4:
        for v in range(24, 32):
            _emit(trace, "movi", (f"v{v}.4s",), note="second accumulator set for k4-7")


def _lanes_a(coords, rows, areg, a_base):
    if coords is None:
        return None
    a_idx, _, (m0, _, k0), _ = coords
    off, size = _A_LOADS[rows][areg]
    return tuple(_coord("A", a_idx, a_base + off + i, m0, k0) for i in range(size))


def _lanes_b(coords, breg, b_base):
    if coords is None:
        return None
    _, b_idx, (_, n0, k0), _ = coords
    return tuple(_coord("B", b_idx, b_base + 16 * breg + i, n0, k0) for i in range(16))


def _coord(name, index_layout, pos, origin0, k0):
    """Matrix coordinate of packed byte ``pos`` from an index layout (-1 marks padding)."""
    flat = int(index_layout[0][pos])
    if flat < 0:
        return None
    ncols = index_layout[1]
    i, j = divmod(flat, ncols)
    if name == "A":
        return ("A", origin0 + i, k0 + j)
    return ("B", k0 + i, origin0 + j)


def _emit_loads(trace, rows, kb, a_base, b_base, coords):
    if trace is None:
        return
    for areg, (off, size) in _A_LOADS[rows].items():
        kind = "q" if size == 16 else "d"
        lanes = _lanes_a(coords, rows, areg, a_base)
        _emit(trace, "ldr", (f"{kind}{areg}",), {f"{kind}{areg}": lanes} if lanes else {}, bytes_loaded=size,
              note=f"packed A, k block {kb}")  # fmt: skip
    for breg in range(4):
        lanes = _lanes_b(coords, breg, b_base)
        name = f"v{_B_NAMES[rows][breg]}.16b"
        _emit(trace, "ld1", (name,), {name: lanes} if lanes else {}, bytes_loaded=16,
              note=f"packed B, k block {kb}, columns {4 * (breg % 2)}-{4 * (breg % 2) + 3}")  # fmt: skip


def _emit_dot(trace, spec, rows, accr, breg, areg, elem, a_base, b_base, coords, n0):
    if trace is None:
        return
    row, col = _acc_row_col(rows, accr)
    lane_rows, _ = _a_lane_rows(rows, areg)
    ops = (f"v{accr}.4s", f"v{_B_NAMES[rows][breg]}.16b", f"v{areg}.4b[{elem}]")
    lanes = {}
    if coords is not None:
        m0, cn0 = coords[3], coords[2][1]
        a_lanes = _lanes_a(coords, rows, areg, a_base)
        lanes = {
            ops[0]: tuple(("C", m0 + row, cn0 + n0 + col + i) for i in range(4)),
            ops[1]: _lanes_b(coords, breg, b_base),
            ops[2]: a_lanes[4 * elem : 4 * elem + 4],
        }
    khalf = "k0-3" if breg < 2 else "k4-7"
    _emit(trace, spec.mnemonic, ops, lanes, note=f"row {row} x cols {col}-{col + 3}, {khalf} (A row {lane_rows[elem]})")


# --------------------------------------------------------------------------------------------
# Driver (one thread), for the kernel's end-to-end use and its tests


def gemm(A, B, a_zero_point=0, b_zero_point=0, *, packed_b=False, spec: DotKernelSpec = UDOT,
         trace=None, with_coords=False, origin=(0, 0)):  # fmt: skip
    """QGEMM through the DOT kernel, one thread: ``MlasGemmQuantOperation`` (or the packed
    operation's K slices of 384) with this module's packing and kernel. Returns int32 (M, N).

    Zero points follow ``qgemm.h``: column sums scaled by ``-ZeroPointA``; row sums reduced by
    ``CountK * ZeroPointA`` then scaled by ``-ZeroPointB``. For UDOT with signed B the zero point
    is flipped like B (``MlasGemmU8X8FixupZeroPointB``). ``trace``: a list receiving the
    InstructionRecords; ``with_coords`` names the lanes' matrix coordinates, offset by
    ``origin`` = (first row, first column) when A and B are one thread's part of a larger GEMM.
    """
    A = np.asarray(A)
    B = np.asarray(B)
    M, K = A.shape
    N = B.shape[1]
    b_signed = B.dtype == np.int8
    zpb = int(b_zero_point)
    if b_signed and not spec.signed:
        zpb = (zpb ^ 0x80) & 0xFF
    c = np.zeros((M, N), np.int64)
    stride_m, stride_n, stride_k = PACKED_STRIDES if packed_b else STRIDES
    for k in range(0, K, stride_k):
        count_k = min(K - k, stride_k)
        pck = -(-count_k // PACKED_K)
        for n in range(0, N, stride_n):
            count_n = min(N - n, stride_n)
            pb, col_sums = copy_pack_b(B[k : k + count_k, n : n + count_n], b_signed, spec)
            col_sums = col_sums * -int(a_zero_point)
            b_idx = None
            if with_coords:
                b_idx = (pack_b_layout(np.arange(count_k * count_n).reshape(count_k, count_n), -1), count_n)
            for m in range(0, M, stride_m):
                count_m = min(M - m, stride_m)
                pa, row_sums = copy_pack_a(A[m : m + count_m, k : k + count_k])
                row_sums = (row_sums - count_k * int(a_zero_point)) * -zpb
                a_idx = None
                if with_coords:
                    a_idx = (pack_a_layout(np.arange(count_m * count_k).reshape(count_m, count_k), -1), count_k)
                r = 0
                a_off = 0
                while r < count_m:
                    coords = None
                    if with_coords:
                        coords = ((a_idx[0][a_off:], a_idx[1]), b_idx, (origin[0] + m, origin[1] + n, k),
                                  origin[0] + m + r)  # fmt: skip
                    rows = gemm_kernel(pa[a_off:], pb, c[m + r :, n:], pck, count_m - r, count_n,
                                       row_sums[r:], col_sums, None, k == 0, spec=spec, trace=trace,
                                       coords=coords)  # fmt: skip
                    a_off += _group_bytes(rows, count_k)
                    r += rows
    return ((c + 2**31) % 2**32 - 2**31).astype(np.int32)


def _group_bytes(rows: int, count_k: int) -> int:
    """Bytes of packed A taken by one row group."""
    if rows == 1:
        return -(-count_k // 16) * 16
    return rows * (-(-count_k // PACKED_K) * PACKED_K)
