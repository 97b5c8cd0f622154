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

With M = 1 and a non-packed B, ``MlasSgemmOperation`` runs ``MlasGemvFloatKernel`` instead; that
case is traced by the SGEMM model (:mod:`mlas_emu.mlas.sgemm`).
"""

from __future__ import annotations

from ..mlas.trace import InstructionRecord
from ._plan import KernelCall, thread_ranges


def _rows(count_m: int) -> int:
    return 4 if count_m >= 4 else 2 if count_m >= 2 else 1


def sgemm_strides(N: int, K: int, packed_b: bool) -> tuple[int, int]:
    """(StrideN, StrideK) of the SGEMM drivers."""
    if packed_b:
        return 128, 256
    stride_n, stride_k = 128, 128
    if N >= K:
        while stride_k // 2 >= K:
            stride_n, stride_k = stride_n * 2, stride_k // 2
    else:
        while stride_n > 16 and stride_n // 2 >= N:
            stride_n, stride_k = stride_n // 2, stride_k * 2
    return stride_n, stride_k


def sgemm_calls(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1) -> list[KernelCall]:
    calls = []
    for tid, m0, count_m, n0, count_n_thread in thread_ranges(M, N, K, threads):
        stride_n, stride_k = sgemm_strides(count_n_thread, K, packed_b)
        for n in range(0, count_n_thread, stride_n):
            count_n = min(count_n_thread - n, stride_n)
            for k in range(0, K, stride_k):
                count_k = min(K - k, stride_k)
                m = 0
                while m < count_m:
                    rows = _rows(count_m - m)
                    calls.append(KernelCall(tid, m0 + m, rows, n0 + n, count_n, k, count_k, k == 0))
                    m += rows
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


def _rec(out, mnemonic, operands, lanes=None, loaded=0, stored=0, note=""):
    out.append(InstructionRecord(mnemonic, tuple(operands), dict(lanes or {}), loaded, stored, note))


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
    if M == 1 and not packed_b:
        return _gemv_records(K, N, threads)
    out: list[InstructionRecord] = []
    for call in sgemm_calls(M, N, K, packed_b=packed_b, threads=threads):
        out += kernel_records(call, M, N)
    return out


def _gemv_records(K: int, N: int, threads: int) -> list[InstructionRecord]:
    """M = 1 with a non-packed B runs ``MlasGemvFloatKernel`` (aarch64/SgemvKernelNeon.S), not
    the SGEMM kernel: its records come from the SGEMM model's own instruction path
    (:func:`mlas_emu.mlas.sgemm.sgemm`), which carries no lane coordinates."""
    import numpy as np

    from ..mlas.sgemm import sgemm

    out: list[InstructionRecord] = []
    sgemm(np.zeros((1, K), np.float32), np.zeros((K, N), np.float32), packed_b=False, threads=threads, trace=out)
    return out
