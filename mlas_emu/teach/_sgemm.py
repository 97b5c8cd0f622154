"""Instruction records of MLAS's fp32 SGEMM micro-kernel (the FMLA kernel).

Models the instruction sequence of onnxruntime/core/mlas/lib ``aarch64/SgemmKernelNeon.S``
(``MlasSgemmKernelZero/Add``, ONNX Runtime 1.17.1) under the drivers of ``sgemm.cpp``
(``MlasSgemmPackedOperation``: N slices of 128, K slices of 256 over a pre-packed B;
``MlasSgemmOperation``: N and K strides of 128 widened or narrowed from N and K, B copied into a
16-column panel per slice). The kernel:

- handles 4, 2 or 1 rows per call (accumulators v16-v19 for row 0, v20-v23 row 1, ...);
- walks N in 16-column blocks while more than 8 columns remain, then one 8-column block; B panels
  are always 16 columns wide; a last partial block is stored 8, 4, 2, 1 columns at a time;
- per k: ``FMLA Vd.4S, Vn.4S, Vm.S[e]``, one per row and 4 columns (4 for a 16-column block,
  2 for an 8-column block): the B vector times one broadcast A element, fused (one rounding);
- K runs 4 at a time (``ldr q`` of 4 A values per row) and then 1 at a time (``ldr s``);
- zero mode scales by alpha with ``fmul``; add mode adds to C with ``fmla`` (C += acc * alpha):
  one per 4 columns stored (``OutputRow16Element`` issues 4, ``OutputRow8Element`` 2).

A thread with one row and a non-packed B runs ``MlasGemvFloatKernel`` instead
(``MlasSgemmOperation``); such products are traced by the SGEMM model (:mod:`mlas_emu.mlas.sgemm`).
Thread ranges, strides and K blocks come from the driver model's :func:`mlas_emu.mlas.sgemm.plan`.
"""

from __future__ import annotations

from ..mlas import sgemm_kernel_neon as kern
from ..mlas.sgemm import operation_strides, plan
from ..mlas.trace import InstructionRecord
from ._mmla import _rec
from ._plan import KernelCall, row_calls


def sgemm_calls(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1,
                gemv_as_sgemm: bool = False) -> list[KernelCall]:
    """Kernel calls of ``MlasSgemmKernelZero/Add`` in thread order, from the driver's own plan
    (:func:`mlas_emu.mlas.sgemm.plan`: thread ranges and K blocks) cut into its N slices
    (``MLAS_SGEMM_PACKED_STRIDEN``, or :func:`~mlas_emu.mlas.sgemm.operation_strides`) and row
    groups (:func:`~mlas_emu.mlas.sgemm_kernel_neon.process_rows`).

    Threads that take ``MlasGemvFloatKernel`` make no calls of this kernel, unless
    ``gemv_as_sgemm``: the throughput model, which has no GEMV model, then costs them as the
    calls ``MlasSgemmOperation`` would make without the GEMV shortcut.
    """
    calls = []
    for seg in plan(M, N, K, packed_b=packed_b, threads=threads):
        if seg.gemv and not gemv_as_sgemm:
            continue
        stride_n, stride_k = operation_strides(seg.col_count, K, False)
        if packed_b:
            stride_n = kern.PACKED_STRIDE_N
        bounds = tuple(range(0, K, stride_k)) + (K,) if seg.gemv else seg.k_bounds
        for n in range(0, seg.col_count, stride_n):
            count_n = min(seg.col_count - n, stride_n)
            for k, k_end in zip(bounds, bounds[1:]):
                calls += row_calls(kern.process_rows, seg.thread, seg.row_start, seg.row_count, seg.col_start + n,
                                   count_n, k, k_end - k, k == 0)
    return calls


def column_blocks(count_n: int) -> list[tuple[int, int, int]]:
    """(first column, columns computed, columns stored) of the kernel's N walk."""
    blocks, n, left = [], 0, count_n
    while left > 8:
        blocks.append((n, 16, min(16, left)))
        n, left = n + 16, left - 16
    if left > 0:
        blocks.append((n, 8, left))
    return blocks


def kernel_records(call: KernelCall, M: int, N: int) -> list[InstructionRecord]:
    out: list[InstructionRecord] = []
    n_end = call.n + call.count_n
    for nb, width, stored in column_blocks(call.count_n):
        col0 = call.n + nb
        nregs = width // 4
        for r in range(call.rows):
            for q in range(nregs):
                _rec(out, "movi", (f"v{16 + 4 * r + q}.16b", "#0"), note="clear accumulator")
        k = call.k
        k_end = call.k + call.count_k
        while k < k_end:
            by = 4 if k_end - k >= 4 else 1
            for r in range(call.rows):
                reg = f"q{8 + r}" if by == 4 else f"s{8 + r}"
                lanes = tuple(("A", call.m + r, k + e) for e in range(by))
                _rec(out, "ldr", (reg,), {reg: lanes}, 4 * by, note=f"A row {call.m + r}, k={k}..{k + by - 1}")
            for e in range(by):
                kk = k + e
                for q in range(0, nregs, 2):
                    regs = (f"q{4 + q}", f"q{5 + q}")
                    _rec(out, "ldp", regs, {}, 32, note=f"packed B, k={kk}, columns {col0 + 4 * q}-{col0 + 4 * q + 7}")
                for r in range(call.rows):
                    i = call.m + r
                    for q in range(nregs):
                        c0 = col0 + 4 * q
                        vd, vn, vm = f"v{16 + 4 * r + q}.4s", f"v{4 + q}.4s", f"v{8 + r}.s[{e}]"
                        lanes = {
                            vd: tuple(("C", i, j) if j < n_end else None for j in range(c0, c0 + 4)),
                            vn: tuple(("B", kk, j) if j < n_end else None for j in range(c0, c0 + 4)),
                            vm: (("A", i, kk),),
                        }
                        _rec(out, "fmla", (vd, vn, vm), lanes, note=f"row {i} x cols {c0}-{c0 + 3}, k={kk}")
            k += by
        _output(out, call, col0, nregs, stored)
    return out


def _output(out, call, col0, nregs, stored):
    """``MultiplyAlphaBlock`` (zero mode) then ``OutputBlock`` pieces of 16/8/4/2/1 columns."""
    if call.zero_mode:
        for r in range(call.rows):
            for q in range(nregs):
                _rec(out, "fmul", (f"v{16 + 4 * r + q}.4s", f"v{16 + 4 * r + q}.4s", "v0.s[0]"), note="times alpha")
    pieces = [16] if stored == 16 else [p for p in (8, 4, 2, 1) if stored & p]
    c = col0
    for piece in pieces:
        for r in range(call.rows):
            i = call.m + r
            lanes = tuple(("C", i, j) for j in range(c, c + piece))
            if not call.zero_mode:
                _rec(out, "ldp" if piece >= 8 else "ld1", ("v4",), {}, 4 * piece, note=f"add mode: load C row {i}")
                for _ in range(max(1, piece // 4)):
                    _rec(out, "fmla", ("v4.4s", f"v{16 + 4 * r}.4s", "v0.s[0]"), note=f"C row {i} += acc * alpha")
            _rec(out, "stp" if piece >= 8 else "st1", (f"q{16 + 4 * r}",), {f"q{16 + 4 * r}": lanes},
                 stored=4 * piece, note=f"store C row {i}, columns {c}-{c + piece - 1}")  # fmt: skip
        c += piece


def records(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1) -> list[InstructionRecord]:
    if any(seg.gemv for seg in plan(M, N, K, packed_b=packed_b, threads=threads)):
        return _model_records(M, N, K, threads)
    out: list[InstructionRecord] = []
    for call in sgemm_calls(M, N, K, packed_b=packed_b, threads=threads):
        out += kernel_records(call, M, N)
    return out


def _model_records(M: int, N: int, K: int, threads: int) -> list[InstructionRecord]:
    """A thread with one row and a non-packed B runs ``MlasGemvFloatKernel``
    (aarch64/SgemvKernelNeon.S), not the SGEMM kernel: the records then come from the SGEMM
    model's own instruction path (:func:`mlas_emu.mlas.sgemm.sgemm`), which labels the GEMV
    kernel's lanes but not its loads."""
    import numpy as np

    from ..mlas.sgemm import sgemm

    out: list[InstructionRecord] = []
    sgemm(np.zeros((M, K), np.float32), np.zeros((K, N), np.float32), packed_b=False, threads=threads, trace=out)
    return out
