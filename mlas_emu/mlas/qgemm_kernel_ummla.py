"""The UMMLA QGEMM kernel family: u8u8 and u8s8 on Arm64 with I8MM.

Models ``onnxruntime/core/mlas/lib/qgemm_kernel_ummla.cpp`` (``MLAS_GEMM_U8X8_KERNEL_UMMLA``:
``MlasGemmQuantFixupZeroPointB``, ``MlasGemmQuantCopyPackA``, ``MlasGemmQuantCopyPackB``) and
``onnxruntime/core/mlas/lib/aarch64/QgemmU8X8KernelUmmla.S`` (``MlasGemmU8X8KernelUmmlaZero`` /
``...Add``), unchanged from ONNX Runtime 1.17 through 1.27. The SMMLA family
(:mod:`mlas_emu.mlas.qgemm_kernel_smmla`) shares the layouts and the kernel walk defined here.

u8s8 runs through this unsigned kernel: every byte of B and B's zero point is XOR-ed with 0x80
(``BitFlipVector``), which maps int8 ``b`` to uint8 ``b + 128``; ``(b + 128) - (zp + 128)`` equals
``b - zp``, so the result is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .trace import InstructionRecord


@dataclass(frozen=True)
class Strides:
    """``MLAS_GEMM_QUANT_STRIDES``: block sizes of the driver loops."""

    M: int
    N: int
    K: int


#: ``MLAS_GEMM_U8X8_KERNEL_UMMLA::PackedK``: K is packed in blocks of 8 bytes.
PACKED_K = 8
#: Strides for B packed on the fly (``Strides{24, 128, 256}``).
STRIDES = Strides(M=24, N=128, K=256)
#: Strides for pre-packed B (``PackedStrides{24, 128, 384}``).
PACKED_STRIDES = Strides(M=24, N=128, K=384)
#: Dispatch ``StrideM``: the thread partition granule along M (``MlasGemmU8X8DispatchUmmla``).
STRIDE_M = 8

MNEMONIC = "ummla"


def fixup_zero_point_b(zero_point_b: int, b_is_signed: bool) -> int:
    """``MlasGemmQuantFixupZeroPointB<MLAS_GEMM_U8X8_KERNEL_UMMLA>``: ``uint8(zp ^ 0x80)`` for signed B.

    ``zero_point_b`` is the zero point as a value of B's type (int8 for signed B).
    """
    if b_is_signed:
        return (int(zero_point_b) & 0xFF) ^ 0x80
    return int(zero_point_b) & 0xFF


def copy_pack_a(a: np.ndarray, *, signed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``MlasGemmQuantCopyPackA``: pack a ``CountM x CountK`` slice of A for the MMLA kernel.

    Rows are taken greedily in groups of 8, then at most one group each of 4, 2 and 1. Within
    a group of g >= 2 rows each block of 8 k is ``g * 8`` bytes, row after row, so every 16 bytes
    are the A operand (two rows x 8 k) of one MMLA; K is zero-padded to a multiple of 8::

        8-row group, one K block (64 bytes):      4-row group (32 bytes):   2-row group (16):
        [ r0k0..r0k7 | r1k0..r1k7 ]  -> v8         [ r0 | r1 ] -> v8          [ r0 | r1 ] -> v8
        [ r2k0..r2k7 | r3k0..r3k7 ]  -> v9         [ r2 | r3 ] -> v9
        [ r4 ...     | r5 ...     ]  -> v10
        [ r6 ...     | r7 ...     ]  -> v11

    A single last row is copied as is and zero-padded to a multiple of **16** bytes: the
    kernel steps 8 bytes per K block but loads 16 (``ldr q8,[x0],#8``), so the upper half is
    a phantom second row (the next K block) that is never stored.

    Returns ``(packed, row_sums)``: the packed bytes (uint8, 1-D) and the int32 sum of each
    row's values (uint8 values, or int8 values when ``signed``), wrapping like ``vpadal``.
    """
    a = np.asarray(a)
    count_m, count_k = a.shape
    raw = a.view(np.uint8) if a.dtype == np.int8 else a.astype(np.uint8, copy=False)
    packed_count_k = -(-count_k // PACKED_K)
    padded = np.zeros((count_m, packed_count_k * PACKED_K), dtype=np.uint8)
    padded[:, :count_k] = raw
    parts = []
    row = 0
    for group in row_groups(count_m):
        block = padded[row:row + group]
        if group == 1:
            width = -(-count_k // 16) * 16
            line = np.zeros(width, dtype=np.uint8)
            line[:count_k] = raw[row]
            parts.append(line)
        else:
            parts.append(block.reshape(group, packed_count_k, PACKED_K).transpose(1, 0, 2).reshape(-1))
        row += group
    values = raw.view(np.int8) if signed else raw
    row_sums = values.astype(np.int64).sum(axis=1).astype(np.int32) if count_k else np.zeros(count_m, np.int32)
    packed = np.concatenate(parts) if parts else np.zeros(0, np.uint8)
    return packed, row_sums


def row_groups(count_m: int) -> list[int]:
    """Row groups of ``MlasGemmQuantCopyPackA`` (qgemm_kernel_ummla.cpp; also
    ``MlasGemmU8X8CopyPackA`` of qgemm_kernel_udot.cpp): 8, 8, ..., then at most one each of
    4, 2, 1."""
    groups = [8] * (count_m // 8)
    rest = count_m % 8
    for size in (4, 2, 1):
        if rest >= size:
            groups.append(size)
            rest -= size
    return groups


def copy_pack_b(b: np.ndarray, *, b_is_signed: bool, flip: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``MlasGemmQuantCopyPackB`` (``MlasGemmU8X8CopyPackBProcessUmmla``): pack a ``CountK x CountN`` slice.

    Columns form 8-wide panels; per block of 8 k a panel holds 64 bytes, column after column,
    so each 16-byte register is two columns x 8 k (the MMLA B operand)::

        panel p, K block kb (64 bytes):
        [ c0k0..c0k7 | c1k0..c1k7 ] -> v4     [ c4 | c5 ] -> v6
        [ c2k0..c2k7 | c3k0..c3k7 ] -> v5     [ c6 | c7 ] -> v7

    Panels follow each other (``[panel][K block][64 bytes]``). K is padded to a multiple of 8
    and N to a multiple of 8 with the byte that becomes 0 after the XOR. With ``flip`` (the
    UMMLA kernel) signed B is XOR-ed with 0x80; the SMMLA kernel packs raw bytes.

    Returns ``(packed, column_sums)``: packed bytes (uint8, 1-D) and int32 sums of each padded
    column's packed values (uint8 for UMMLA, int8 for SMMLA), one per column of every panel.
    """
    b = np.asarray(b)
    count_k, count_n = b.shape
    raw = b.view(np.uint8) if b.dtype == np.int8 else b.astype(np.uint8, copy=False)
    if flip and b_is_signed:
        raw = raw ^ np.uint8(0x80)
    packed_count_k = -(-count_k // PACKED_K)
    panels = -(-count_n // 8)
    padded = np.zeros((packed_count_k * PACKED_K, panels * 8), dtype=np.uint8)
    padded[:count_k, :count_n] = raw
    packed = padded.reshape(packed_count_k, PACKED_K, panels, 8).transpose(2, 0, 3, 1).reshape(-1)
    values = padded if flip else padded.view(np.int8)
    column_sums = values.astype(np.int64).sum(axis=0).astype(np.int32)
    return packed, column_sums


def kernel_rows(count_m: int) -> int:
    """Rows one kernel call handles: 8 if CountM >= 8, else 4, 2 or 1 (the kernel's return value)."""
    for rows in (8, 4, 2):
        if count_m >= rows:
            return rows
    return 1


def column_blocks(count_n: int) -> list[int]:
    """The kernel's N walk: 8-column blocks while more than 6 remain, then one of 6, 4 or 2.

    A block is computed at its full width; when fewer columns remain (7, 5, 3, 1) the extra
    columns are computed from padding and not stored.
    """
    blocks = []
    remaining = count_n
    while remaining > 0:
        width = 8 if remaining > 6 else 6 if remaining > 4 else 4 if remaining > 2 else 2
        blocks.append(width)
        remaining -= width
    return blocks


def gemm_kernel(packed_a, packed_b, c, packed_count_k, count_m, count_n, row_sums, column_sums,
                zero_point_b, zero_mode, *, trace=None, origin=None):
    """``MlasGemmU8X8KernelUmmla{Zero,Add}``: one kernel call, instruction by instruction (UMMLA)."""
    from ..isa import ummla

    return mmla_gemm_kernel(ummla, np.uint32, np.uint8, MNEMONIC, packed_a, packed_b, c, packed_count_k,
                            count_m, count_n, row_sums, column_sums, zero_point_b, zero_mode,
                            trace=trace, origin=origin)


def mmla_gemm_kernel(instruction, acc_dtype, operand_dtype, mnemonic, packed_a, packed_b, c, packed_count_k,
                     count_m, count_n, row_sums, column_sums, zero_point_b, zero_mode, *, trace=None, origin=None):
    """The MMLA micro-kernel walk shared by ``QgemmU8X8KernelUmmla.S`` and ``QgemmS8S8KernelSmmla.S``.

    Computes ``rows = kernel_rows(count_m)`` rows of C (``c``, a 2-D int32 array written in
    place) over ``count_n`` columns and returns ``rows``. For each column block
    (:func:`column_blocks`) the accumulators v16-v31 (row pair p, column pair q: ``v(16+4p+q)``,
    lanes ``{r0c0, r0c1, r1c0, r1c1}``) start at ``RowSum * ZeroPointB + ColumnSum``
    (``InitBlockAccumulators``; the multiplier is 1 without per-column zero points), then each
    8-k block loads A (v8-v11) and B (v4-v7) and runs one MMLA per (row pair, column pair):
    16 per 8 k for an 8x8 tile. Zero mode stores the tile, Add mode adds it to C; all int32
    arithmetic wraps.

    ``instruction`` is :func:`mlas_emu.isa.ummla` or :func:`mlas_emu.isa.smmla`; with a
    ``trace`` list one :class:`InstructionRecord` per load and per MMLA is appended, plus one
    ``str`` record per stored row of C (standing for the ``uzp1``/``uzp2`` + store sequence); the
    accumulator set-up is not recorded. ``origin = (m0, n0, k0, count_k)`` places the tile in
    the whole product for the lane labels; lanes holding padding are ``None``.
    """
    rows = kernel_rows(count_m)
    pairs = max(rows // 2, 1)
    a_regs = _a_registers(packed_a, packed_count_k, rows)
    rs = np.zeros(2 * pairs, dtype=np.int64)
    rs[:rows] = row_sums[:rows]
    col = 0
    for panel, width in enumerate(column_blocks(count_n)):
        q_count = width // 2
        b_regs = np.asarray(packed_b[panel * packed_count_k * 64:(panel + 1) * packed_count_k * 64])
        b_regs = b_regs.reshape(packed_count_k, 4, 16)[:, :q_count]
        acc = _init_accumulators(rs, column_sums, zero_point_b, col, width, acc_dtype)
        for kb in range(packed_count_k):
            vn = a_regs[kb].view(operand_dtype)[:, None, :]
            vm = b_regs[kb].view(operand_dtype)[None, :, :]
            if trace is not None:
                _trace_step(trace, mnemonic, rows, pairs, q_count, kb, col, count_m, count_n, origin)
            acc = np.asarray(instruction(acc, vn, vm))
        stored = min(width, count_n - col)
        tile = acc.view(np.int32).reshape(pairs, q_count, 2, 2).transpose(0, 2, 1, 3).reshape(2 * pairs, width)
        _store(c, tile[:rows, :stored], col, zero_mode)
        if trace is not None:
            _trace_store(trace, rows, col, stored, zero_mode, origin)
        col += width
    return rows


def _a_registers(packed_a, packed_count_k, rows):
    """A operands per K block: (PackedCountK, row pairs, 16) bytes, as the kernel loads them."""
    packed_a = np.asarray(packed_a, dtype=np.uint8)
    if rows >= 2:
        return packed_a[:rows * 8 * packed_count_k].reshape(packed_count_k, rows // 2, 16)
    line = np.zeros(8 * packed_count_k + 8, dtype=np.uint8)
    avail = min(len(packed_a), len(line))
    line[:avail] = packed_a[:avail]  # bytes past the packed row are a phantom row; zero here
    index = 8 * np.arange(packed_count_k)[:, None] + np.arange(16)[None, :]
    return line[index].reshape(packed_count_k, 1, 16)


def _init_accumulators(rs, column_sums, zero_point_b, col, width, acc_dtype):
    """``InitBlockAccumulators``: lane 2i+j of (p, q) = RowSum[2p+i] * ZP[2q+j] + ColSum[2q+j]."""
    cs = np.zeros(width, dtype=np.int64)
    avail = max(0, min(width, len(column_sums) - col))
    cs[:avail] = column_sums[col:col + avail]
    zp = np.ones(width, dtype=np.int64)
    if zero_point_b is not None:
        zp[:] = 0
        zavail = max(0, min(width, len(zero_point_b) - col))
        zp[:zavail] = zero_point_b[col:col + zavail]
    pairs = len(rs) // 2
    init = rs.reshape(pairs, 1, 2, 1) * zp.reshape(1, width // 2, 1, 2) + cs.reshape(1, width // 2, 1, 2)
    return init.reshape(pairs, width // 2, 4).astype(np.uint32).view(np.dtype(acc_dtype))


def _store(c, values, col, zero_mode):
    """Zero mode stores the tile; Add mode loads C and adds (int32 arrays: numpy wraps like the hardware)."""
    rows, cols = values.shape
    target = c[:rows, col:col + cols]
    if zero_mode:
        target[...] = values
    else:
        target += values


def _trace_step(trace, mnemonic, rows, pairs, q_count, kb, col, count_m, count_n, origin):
    """Records of one 8-k step: A loads, the B load, then the MMLAs row pair by row pair."""
    m0, n0, k0, count_k = origin if origin is not None else (0, 0, 0, None)
    a_labels = [_a_lanes(p, rows, kb, m0, k0, count_m, count_k) for p in range(pairs)]
    if rows == 1:
        trace.append(InstructionRecord("ldr", ("q8", "[x0]", "#8"), {"v8.16b": a_labels[0]}, 16, 0,
                                       f"A row {m0}, k block {kb} (upper half: phantom row)"))
    else:
        for p in range(pairs):
            trace.append(InstructionRecord("ldr", (f"q{8 + p}", "[x0]", "#16"), {f"v{8 + p}.16b": a_labels[p]},
                                           16, 0, f"A rows {m0 + 2 * p}-{m0 + 2 * p + 1}, k block {kb}"))
    b_labels = [_b_lanes(col + 2 * q, kb, n0, k0, count_n, count_k) for q in range(4)]
    trace.append(InstructionRecord("ld1", ("{v4.16b-v7.16b}", "[x1]", "#64"),
                                   {f"v{4 + q}.16b": b_labels[q] for q in range(4)}, 64, 0,
                                   f"B columns {n0 + col}-{n0 + col + 7}, k block {kb}"))
    for p in range(pairs):
        for q in range(q_count):
            vd = f"v{16 + 4 * p + q}.4s"
            c_lanes = tuple(
                ("C", m0 + 2 * p + i, n0 + col + 2 * q + j)
                if 2 * p + i < rows and col + 2 * q + j < count_n else None
                for i in range(2) for j in range(2)
            )
            trace.append(InstructionRecord(
                mnemonic, (vd, f"v{8 + p}.16b", f"v{4 + q}.16b"),
                {vd: c_lanes, f"v{8 + p}.16b": a_labels[p], f"v{4 + q}.16b": b_labels[q]}, 0, 0,
                f"k={k0 + 8 * kb}..{k0 + 8 * kb + 7}, rows {m0 + 2 * p}-{m0 + 2 * p + 1} x cols "
                f"{n0 + col + 2 * q}-{n0 + col + 2 * q + 1}"))


def _a_lanes(p, rows, kb, m0, k0, count_m, count_k):
    lanes = []
    for i in range(2):
        for k in range(8):
            row = 2 * p + i
            valid = row < min(rows, count_m) and (count_k is None or 8 * kb + k < count_k)
            lanes.append(("A", m0 + row, k0 + 8 * kb + k) if valid else None)
    return tuple(lanes)


def _b_lanes(col, kb, n0, k0, count_n, count_k):
    lanes = []
    for j in range(2):
        for k in range(8):
            valid = col + j < count_n and (count_k is None or 8 * kb + k < count_k)
            lanes.append(("B", k0 + 8 * kb + k, n0 + col + j) if valid else None)
    return tuple(lanes)


def _trace_store(trace, rows, col, stored, zero_mode, origin):
    m0, n0 = (origin[0], origin[1]) if origin is not None else (0, 0)
    for r in range(rows):
        trace.append(InstructionRecord("str", (f"row{r}",), {}, 0 if zero_mode else 4 * stored, 4 * stored,
                                       f"C row {m0 + r}, cols {n0 + col}-{n0 + col + stored - 1}"
                                       + ("" if zero_mode else " (Add mode: load, add, store)")))
