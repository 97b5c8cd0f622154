"""The Neon SBGEMM kernel of MLAS: B conversion/packing and the BFMMLA micro-kernel.

Models ``onnxruntime/core/mlas/lib/sbgemm_kernel_neon.cpp`` (``MlasSBGemmConvertCopyPackB``,
``MlasSBGemmConvertPackB``, ``MlasSBGemmKernel``) and ``lib/aarch64/SbgemmKernelNeon.S``
(``MlasSbgemmKernelZero`` / ``MlasSbgemmKernelAdd``) as shipped in the ONNX Runtime 1.17.1 to
1.32.0 aarch64 wheels.

The assembly routine's instructions are described once, in :mod:`.sbgemm_kernel_asm`, and run
by :mod:`.interpret` (the instruction path); :func:`kernel_fast` computes the same per-element
BFDotAdd chains in numba (:mod:`mlas_emu.mlas._bfdot_chain`). Both take the kernel's *operands as
the kernel reads them*: :func:`read_a_operand` and :func:`read_b_operand` reproduce which memory
the assembly loads, including the reads past the end of an A row when ``CountK % 4 != 0`` and
reads of a packed buffer at another layout than the one written; which memory that is, is the
plan's business (:mod:`.sbgemm_plan`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._jit import njit
from ._bfdot_chain import bfdot_chains_unpacked, unpack_rows
from ._isa_bridge import fp_convert_bf_array
from .dispatch import SBGEMM_NEON

#: ``MLAS_SBGEMM_KERNEL_NEON`` constants (sbgemm_kernel_neon.cpp).
PACKED_N = 16  # MLAS_SGEMM_STRIDEN_THREAD_ALIGN
#: ``MlasSBGemmDispatchNeon.BufOverRead``: the kernel may read 32 bytes past a packed buffer.
BUF_OVER_READ_BYTES = 32
#: ``MlasGetPreferredBufferAlignment()`` on aarch64 (MLAS_DEFAULT_PREFERRED_BUFFER_ALIGNMENT).
BUFFER_ALIGNMENT_BYTES = 64


def align_up(x: int, a: int) -> int:
    return (x + a - 1) // a * a


def pack_b_size(n: int, k: int) -> int:
    """``MlasSBGemmPackBSize``: bytes of the packed B buffer (align(N,16)*align(K,4)*2 + 32, aligned)."""
    raw = align_up(n, PACKED_N) * align_up(k, SBGEMM_NEON.packed_k) * 2 + BUF_OVER_READ_BYTES
    return align_up(raw, BUFFER_ALIGNMENT_BYTES)


def panel_width(columns_left: int) -> int:
    """bf16 elements per 4-k group of the panel that starts with ``columns_left`` columns to go.

    8 for 1-2 columns, 16 for 3-4, 24 for 5-6, 32 for 7 or more: the packer writes 4/2/1-column
    pieces (each padded to 2 columns); the kernel walks blocks of 8, then one of 6, 4 or 2.
    """
    return 8 * ((min(columns_left, 8) + 1) // 2)


def bfcvtn_bits(x: np.ndarray) -> np.ndarray:
    """BFCVTN/BFCVTN2 of fp32 values (default FPCR): bf16 bit patterns (uint16)."""
    return fp_convert_bf_array(np.ascontiguousarray(x, dtype=np.float32).view(np.uint32))


def convert_copy_pack_b(b_bits: np.ndarray, fill=0) -> np.ndarray:
    """``MlasSBGemmConvertCopyPackB`` for one K block, on already converted bf16 bits.

    ``b_bits`` is (Kb, CountN) uint16; returns the flat uint16 run the packer writes (any other
    dtype is packed the same way: the plan packs source indices, with ``fill`` for padding). Layout
    (each cell one bf16, ``cN kM`` = B[M, N]; a 4-k *group* per row of the picture)::

        full 8-column panel p (columns 8p..8p+7), ceil(Kb/4) groups of 32:
          group g: c0k0 c0k1 c0k2 c0k3 | c1k0 .. c1k3 | c2k0 .. | ... | c7k0 c7k1 c7k2 c7k3
                   \\___ one 16-byte register = 2 columns x 4 k = BFMMLA's B operand ___/
        then the tail panel (CountN % 8 = r columns), groups of 8*ceil(r/2) elements:
          r=5: c0k0..c3k3 (4-column piece, 16) | c4k0..c4k3 0 0 0 0 (1-column piece, 8)

    Rows k >= Kb of the last group are 0 (the packer loads zeros instead). Panels follow each
    other; within a panel the groups follow each other.
    """
    kb, n = b_bits.shape
    groups = (kb + 3) // 4
    padded = np.full((groups * 4, n), fill, dtype=b_bits.dtype)
    padded[:kb] = b_bits
    full = n // 8
    parts = []
    if full:
        # (G, 4, P, 8) -> (P, G, 8, 4): panel, group, column, k
        body = padded[:, : full * 8].reshape(groups, 4, full, 8).transpose(2, 0, 3, 1)
        parts.append(body.reshape(-1))
    rem = n - full * 8
    if rem:
        width = panel_width(rem) // 4  # columns the tail piece occupies, padded to even
        tail = np.full((groups, width, 4), fill, dtype=b_bits.dtype)
        tail[:, :rem, :] = padded[:, full * 8 :].reshape(groups, 4, rem).transpose(0, 2, 1)
        parts.append(tail.reshape(-1))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=b_bits.dtype)


def convert_pack_b_into(buf: np.ndarray, written: np.ndarray | None, b: np.ndarray, *, convert: bool = True,
                        fill=0) -> None:
    """``MlasSBGemmConvertPackB(PackedB=buf, B=b, CountN, CountK)``: convert and pack into ``buf``.

    ``b`` is the (CountK, CountN) fp32 block of B. The packer walks K in blocks of
    ``Strides.K = 256``, packs each with :func:`convert_copy_pack_b` and advances the
    destination by ``align(CountN, 16) * Kb`` elements (Kb unpadded). ``written`` (optional,
    bool like ``buf``) records which elements this call wrote. ``convert=False`` packs ``b`` as
    it is (source indices, :mod:`.sbgemm_plan`), padding with ``fill``.
    """
    count_k, count_n = b.shape
    aligned_n = align_up(count_n, PACKED_N)
    bits = bfcvtn_bits(b) if convert else b
    pos = 0
    for k in range(0, count_k, SBGEMM_NEON.strides.K):
        kb = min(count_k - k, SBGEMM_NEON.strides.K)
        run = convert_copy_pack_b(bits[k : k + kb], fill)
        buf[pos : pos + run.size] = run
        if written is not None:
            written[pos : pos + run.size] = True
        pos += aligned_n * kb


def convert_pack_b(b: np.ndarray) -> np.ndarray:
    """The pre-packed B buffer ORT builds for a constant B (``GemmPackBBfloat16`` in matmul.cc).

    A zero-filled buffer of :func:`pack_b_size` bytes (as uint16 elements) filled by
    ``MlasSBGemmConvertPackB`` over the whole (K, N) matrix.
    """
    count_k, count_n = b.shape
    buf = np.zeros(pack_b_size(count_n, count_k) // 2, dtype=np.uint16)
    convert_pack_b_into(buf, None, b)
    return buf


def b_operand_index(offset: int, count_n: int, count_k: int) -> np.ndarray:
    """Element indices (4*ceil(CountK/4), CountN) of the packed buffer the kernel loads for B[k, j].

    ``SbgemmKernelNeon.S`` never rewinds its B pointer: panel p starts where panel p-1's
    ``ceil(CountK/4)`` groups end, so it assumes one contiguous run per panel. Row ``k`` of
    column ``j`` is at ``base[j] + (k // 4) * width[j] + k % 4`` (:func:`_b_operand_columns`).
    """
    base, width = _b_operand_columns(offset, count_n, count_k)
    kpos = np.arange(4 * ((count_k + 3) // 4))
    g, kk = divmod(kpos, 4)
    return base[None, :] + (g[:, None] * width[None, :]) + kk[:, None]


def _b_operand_columns(offset: int, count_n: int, count_k: int):
    """Per column: where its first 4-k group starts, and the stride from group to group."""
    groups = (count_k + 3) // 4
    j = np.arange(count_n, dtype=np.int64)
    panel, col = divmod(j, 8)
    width = np.where(panel < count_n // 8, 32, panel_width(count_n % 8)).astype(np.int64)
    return offset + panel * groups * 32 + col * 4, width


def read_b_operand(buf: np.ndarray, known: np.ndarray | None, offset: int, count_n: int, count_k: int):
    """B as the kernel loads it from ``buf``: (bits uint16 (4G, CountN), defined bool (4G, CountN)).

    ``known`` marks the buffer elements holding data (None: all); reads past the buffer are
    undefined (bits 0, not defined). Same addresses as :func:`b_operand_index`.
    """
    base, width = _b_operand_columns(offset, count_n, count_k)
    has_known = known is not None
    return _gather_b(np.ascontiguousarray(buf, dtype=np.uint16),
                     known if has_known else np.zeros(0, np.bool_), has_known,
                     base, width, 4 * ((count_k + 3) // 4))


@njit
def _gather_b(buf, known, has_known, base, width, rows):
    """The loads of :func:`read_b_operand`, element by element."""
    n = base.size
    bits = np.zeros((rows, n), dtype=np.uint16)
    defined = np.zeros((rows, n), dtype=np.bool_)
    for k in range(rows):
        for j in range(n):
            i = base[j] + (k // 4) * width[j] + k % 4
            if 0 <= i < buf.size:
                bits[k, j] = buf[i]
                defined[k, j] = known[i] if has_known else True
    return bits, defined


@dataclass
class AOperand:
    """A's rows as the kernel loads them: 4 floats per row per 4-k step, BFCVTN-converted.

    bits: uint16 (rows, 4*ceil(CountK/4)); over_read: bool, same shape, lanes at k >= CountK
    (the last step's load past the row, defect 3 of docs/defects.md); past_end: lanes beyond
    the caller's A buffer (their content is unknown).
    """

    bits: np.ndarray
    over_read: np.ndarray
    past_end: np.ndarray
    #: the fp32 bit patterns loaded (uint32, same shape), before the kernel's BFCVTN
    raw: np.ndarray | None = None
    #: ``bits`` unpacked for :func:`kernel_fast`, kept so that every N slice reuses it
    unpacked: tuple | None = None

    def unpacked_rows(self) -> tuple:
        if self.unpacked is None:
            self.unpacked = unpack_rows(self.bits)
        return self.unpacked

    def zero_lanes(self, mask: np.ndarray) -> "AOperand":
        """The operand with the ``mask`` lanes reading +0.0 (the zero-padded copy of A)."""
        return AOperand(np.where(mask, np.uint16(0), self.bits), self.over_read, self.past_end & ~mask,
                        np.where(mask, np.uint32(0), self.raw))


def read_a_operand(a_flat: np.ndarray, row_offsets: np.ndarray, count_k: int) -> AOperand:
    """The kernel's loads of A: row i reads ``a_flat[row_offsets[i] + k]`` for k < 4*ceil(CountK/4).

    Past the end of ``a_flat`` the value is taken as +0.0 (flagged in ``past_end``).
    """
    lanes = 4 * ((count_k + 3) // 4)
    over = np.broadcast_to(np.arange(lanes)[None, :] >= count_k, (row_offsets.size, lanes))
    vals = strided_rows(a_flat, row_offsets, lanes)
    if vals is not None:  # every load inside the buffer
        return AOperand(bfcvtn_bits(vals), over, np.zeros(over.shape, dtype=np.bool_), vals.view(np.uint32))
    idx = row_offsets[:, None] + np.arange(lanes)[None, :]
    past_end = idx >= a_flat.size
    vals = np.where(past_end, np.float32(0.0), a_flat[np.where(past_end, 0, idx)])
    return AOperand(bfcvtn_bits(vals), over, past_end, vals.view(np.uint32))


def strided_rows(flat: np.ndarray, row_offsets: np.ndarray, width: int) -> np.ndarray | None:
    """``flat[row_offsets[i] + j]`` for j < width as a 2-D view when the rows are evenly spaced
    and inside ``flat`` (None otherwise)."""
    rows = row_offsets.size
    if rows == 0:
        return None
    first = int(row_offsets[0])
    ld = int(row_offsets[1] - first) if rows > 1 else width
    if rows > 2 and not np.array_equal(np.diff(row_offsets), np.full(rows - 1, ld)):
        return None
    return strided_view(flat, first, rows, ld, width)


def strided_view(flat: np.ndarray, first: int, rows: int, ld: int, width: int) -> np.ndarray | None:
    """``flat[first + i * ld + j]`` (i < rows, j < width) as a 2-D view of the flat buffer, or
    None when it would be empty or reach outside ``flat``."""
    if rows == 0 or width == 0 or ld < 0 or first < 0 or first + (rows - 1) * ld + width > flat.size:
        return None
    return np.lib.stride_tricks.as_strided(flat[first:], shape=(rows, width),
                                           strides=(ld * flat.itemsize, flat.itemsize))


def _init_bits(bias: np.ndarray | None, count_n: int) -> np.ndarray:
    if bias is None:
        return np.zeros(count_n, dtype=np.uint32)
    return np.ascontiguousarray(bias, dtype=np.float32).view(np.uint32).copy()


def kernel_fast(a_bits: np.ndarray, b_bits: np.ndarray, bias: np.ndarray | None,
                a_unpacked: tuple | None = None) -> np.ndarray:
    """The kernel's accumulators after the K loop (before storing): uint32 (rows, CountN).

    Same result as :func:`kernel_instructions`, computed as per-element chains.
    ``a_unpacked`` is ``unpack_rows(a_bits)`` when the caller already has it.
    """
    a_bits = np.ascontiguousarray(a_bits, dtype=np.uint16)
    if a_unpacked is None:
        a_unpacked = unpack_rows(a_bits)
    return bfdot_chains_unpacked(
        a_bits, a_unpacked, np.ascontiguousarray(b_bits, dtype=np.uint16), _init_bits(bias, b_bits.shape[1]),
    )


def store_tile(c: np.ndarray, acc_bits: np.ndarray, zero_mode: bool) -> None:
    """ZeroMode stores the accumulators; Add mode does ``C = C + acc`` with fp32 FADD (RNE).

    All NaNs the kernel can produce are the default NaN (BFDotAdd) and FADD on Arm keeps an
    operand NaN or returns the default NaN for inf - inf, so every NaN in C is 0x7FC00000.
    """
    acc = acc_bits.view(np.float32)
    if zero_mode:
        c[...] = acc
        return
    with np.errstate(invalid="ignore", over="ignore"):
        np.add(c, acc, out=c)
    nan = np.isnan(c)
    if nan.any():
        c[nan] = np.uint32(0x7FC00000).view(np.float32)
