"""The UMMLA QGEMM kernel family: u8u8 and u8s8 on Arm64 with I8MM.

Models ``onnxruntime/core/mlas/lib/qgemm_kernel_ummla.cpp`` (``MLAS_GEMM_U8X8_KERNEL_UMMLA``:
``MlasGemmQuantFixupZeroPointB``, ``MlasGemmQuantCopyPackA``, ``MlasGemmQuantCopyPackB``) and
the row count of ``MlasGemmU8X8KernelUmmla{Zero,Add}`` (its schedule, shared with SMMLA, is
:mod:`mlas_emu.mlas.qgemm_kernel_mmla_asm`), unchanged from ONNX Runtime 1.17 through 1.32. The
SMMLA family (:mod:`mlas_emu.mlas.qgemm_kernel_smmla`) shares the layouts defined here.

u8s8 runs through this unsigned kernel: every byte of B and B's zero point is XOR-ed with 0x80
(``BitFlipVector``), which maps int8 ``b`` to uint8 ``b + 128``; ``(b + 128) - (zp + 128)`` equals
``b - zp``, so the result is unchanged.
"""

from __future__ import annotations

import numpy as np

from .dispatch import QGEMM_UMMLA


#: ``MLAS_GEMM_U8X8_KERNEL_UMMLA::PackedK`` (:data:`mlas_emu.mlas.dispatch.QGEMM_UMMLA`).
PACKED_K = QGEMM_UMMLA.packed_k

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


#: Rows one kernel call handles: the dispatch's (8, 4, 2 or 1, the routine's compare chain on CountM).
kernel_rows = QGEMM_UMMLA.kernel_rows
