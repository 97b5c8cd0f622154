"""Instruction records of MLAS's MMLA micro-kernels, one kernel call at a time.

Models the instruction sequence (not the arithmetic) of onnxruntime/core/mlas/lib
``aarch64/SbgemmKernelNeon.S`` (``MlasSbgemmKernelZero/Add``), ``aarch64/QgemmU8X8KernelUmmla.S``
and ``aarch64/QgemmS8S8KernelSmmla.S`` (ONNX Runtime 1.17.1). All three share one macro
structure (``ProcessRows`` -> ``ComputeBlockLoop`` -> ``MultiplyAccumulateBlock``):

- rows per call 8, 4, 2 or 1; row pair p accumulates in v(16+4p) .. v(19+4p);
- N walk: 8-column blocks while more than 6 columns remain (7 are computed as 8), then one
  block of 6, 4 or 2 columns (3, 2 or 1 B registers);
- per K step (4 values for BFMMLA, 8 for UMMLA/SMMLA) and column block: A loads (SBGEMM:
  ``ldr`` of 4 fp32 per row then ``bfcvtn``/``bfcvtn2`` into one register per row pair; QGEMM:
  one 16-byte packed register per row pair), B loads, then one MMLA per row pair and B register;
- SBGEMM's K loop runs ``ceil(CountK/4)`` steps (a last partial step reads 4 floats of A);
  QGEMM's runs ``PackedCountK = ceil(CountK/8)`` steps.

Scalar address arithmetic and branches are left out; the accumulator set-up and the output
stores are kept (``uzp1``/``uzp2`` then ``str``/``stp``, with ``ldr`` + add in add mode).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..mlas.trace import InstructionRecord
from ._plan import KernelCall


@dataclass(frozen=True)
class MmlaKernel:
    """The per-kernel constants of the shared MMLA macro structure."""

    mnemonic: str  # "bfmmla", "ummla", "smmla"
    k_step: int  # K values per MMLA: 4 (bf16) or 8 (bytes)
    a_arrangement: str  # "8h" or "16b"
    sbgemm: bool  # A converted from fp32 in the kernel (SBGEMM) or pre-packed (QGEMM)


SBGEMM = MmlaKernel("bfmmla", 4, "8h", True)
UMMLA = MmlaKernel("ummla", 8, "16b", False)
SMMLA = MmlaKernel("smmla", 8, "16b", False)


def column_blocks(count_n: int) -> list[tuple[int, int, int]]:
    """The kernels' N walk as (first column, columns computed, columns stored)."""
    blocks = []
    n, left = 0, count_n
    while left > 6:
        blocks.append((n, 8, min(8, left)))
        n, left = n + 8, left - 8
    if left > 0:
        width = 6 if left > 4 else 4 if left > 2 else 2
        blocks.append((n, width, left))
    return blocks


def _rec(out, mnemonic, operands, lanes=None, loaded=0, stored=0, note=""):
    out.append(InstructionRecord(mnemonic, tuple(operands), dict(lanes or {}), loaded, stored, note))


def kernel_records(kernel: MmlaKernel, call: KernelCall, M: int, N: int, K: int) -> list[InstructionRecord]:
    """The records of one kernel call on a GEMM of shape (M, N, K)."""
    out: list[InstructionRecord] = []
    pairs = max(1, call.rows // 2)
    k_end = call.k + call.count_k
    steps = -(-call.count_k // kernel.k_step)

    def a_ok(i, k):
        return ("A", i, k) if (i < call.m + call.rows and i < M and k < k_end) else None

    def b_ok(k, j, n_end):
        return ("B", k, j) if (k < k_end and j < n_end) else None

    for n0, width, stored in column_blocks(call.count_n):
        col0 = call.n + n0
        n_end = call.n + call.count_n
        nregs = width // 2
        _init(out, kernel, call, pairs, nregs)
        for s in range(steps):
            k0 = call.k + s * kernel.k_step
            a_regs = _load_a(out, kernel, call, pairs, k0, k_end, a_ok)
            b_regs = {}
            for q in range(nregs):
                cols = (col0 + 2 * q, col0 + 2 * q + 1)
                b_regs[q] = tuple(b_ok(k0 + kk, j, n_end) for j in cols for kk in range(kernel.k_step))
            if kernel.sbgemm:
                for q in range(nregs):
                    _rec(out, "ldr", (f"q{4 + q}",), {f"q{4 + q}": b_regs[q]}, 16, note=f"packed B, k={k0}..{k0 + 3}")
            else:
                names = "{v4.16b - v7.16b}"
                pad = (None,) * (2 * kernel.k_step)  # panels are padded to 8 columns
                lanes = sum((b_regs.get(q, pad) for q in range(4)), ())
                _rec(out, "ld1", (names,), {names: lanes}, 64, note=f"packed B, k={k0}..{k0 + 7}")
            for p in range(pairs):
                for q in range(nregs):
                    r0, c0 = call.m + 2 * p, col0 + 2 * q
                    vd, vn, vm = f"v{16 + 4 * p + q}.4s", f"v{8 + p}.{kernel.a_arrangement}", f"v{4 + q}.{kernel.a_arrangement}"
                    c_lanes = tuple(
                        ("C", i, j) if (i < min(M, call.m + call.rows) and j < n_end) else None
                        for i in (r0, r0 + 1) for j in (c0, c0 + 1)
                    )
                    note = f"rows {r0}-{r0 + 1} x cols {c0}-{c0 + 1}, k={k0}..{k0 + kernel.k_step - 1}"
                    _rec(out, kernel.mnemonic, (vd, vn, vm), {vd: c_lanes, vn: a_regs[p], vm: b_regs[q]}, note=note)
        _store(out, kernel, call, pairs, nregs, col0, stored, M)
    return out


def _init(out, kernel, call, pairs, nregs):
    """``InitBlockAccumulators``: zero (or bias / row+column sums) into each accumulator."""
    if kernel.sbgemm:
        for v in range(4):
            _rec(out, "eor", (f"v{v}.16b", f"v{v}.16b", f"v{v}.16b"), note="no bias: zero")
    else:
        _rec(out, "ld1", ("v2.4s", "v3.4s"), loaded=16 * max(1, nregs // 2), note="column sums")
    for p in range(pairs):
        for q in range(nregs):
            _rec(out, "mov", (f"v{16 + 4 * p + q}.16b", f"v{q}.16b"), note="init accumulator")


def _load_a(out, kernel, call, pairs, k0, k_end, a_ok):
    """A loads of one K step; returns, per row pair, the lanes of its MMLA A register."""
    regs = {}
    ks = kernel.k_step
    for p in range(pairs):
        r0 = call.m + 2 * p
        lanes = tuple(a_ok(i, k0 + kk) if (i - call.m) < call.rows else None for i in (r0, r0 + 1) for kk in range(ks))
        regs[p] = lanes
        if kernel.sbgemm:
            over = " (reads past the row: A over-read)" if k0 + 4 > k_end else ""
            for half, i in enumerate((r0, r0 + 1)):
                if i - call.m >= call.rows:
                    continue
                src = f"q{8 + p}" if half == 0 else "q1"
                _rec(out, "ldr", (src,), {src: tuple(a_ok(i, k0 + kk) for kk in range(4))}, 16,
                     note=f"A row {i}, k={k0}..{k0 + 3} as fp32{over}")  # fmt: skip
                op = "bfcvtn" if half == 0 else "bfcvtn2"
                dst = f"v{8 + p}.4h" if half == 0 else f"v{8 + p}.8h"
                # bfcvtn writes lanes 0-3 (and zeroes 4-7); bfcvtn2 fills lanes 4-7
                _rec(out, op, (dst, f"v{8 + p if half == 0 else 1}.4s"), {dst: lanes[:4] if half == 0 else lanes},
                     note=f"A row {i} to bf16 (round to nearest even)")  # fmt: skip
        else:
            phantom = " (upper 8 bytes: phantom row)" if call.rows == 1 else ""
            _rec(out, "ldr", (f"q{8 + p}",), {f"q{8 + p}": lanes}, 16,
                 note=f"packed A rows {r0}-{r0 + 1}, k={k0}..{k0 + 7}{phantom}")  # fmt: skip
    return regs


def _store(out, kernel, call, pairs, nregs, col0, stored, M):
    """``OutputBlock``: de-interleave the 2x2 tiles and store the rows (add mode adds C first)."""
    add = "fadd" if kernel.sbgemm else "add"
    for p in range(pairs):
        rows = [i for i in (call.m + 2 * p, call.m + 2 * p + 1) if i - call.m < call.rows]
        for q in range(0, nregs, 2):
            regs = (f"v{16 + 4 * p + q}.2d", f"v{16 + 4 * p + min(q + 1, nregs - 1)}.2d")
            _rec(out, "uzp1", ("v4.2d",) + regs, note=f"row {rows[0]}")
            _rec(out, "uzp2", ("v5.2d",) + regs, note=f"row {rows[0] + 1}")
        for idx, i in enumerate(rows):
            lanes = tuple(("C", i, j) for j in range(col0, col0 + stored))
            regs = ("q4", "q6") if idx == 0 else ("q5", "q7")  # uzp1 results: row i, uzp2: row i+1
            if not call.zero_mode:
                _rec(out, "ldr", (f"q{8 + idx}",), {}, 4 * stored, note=f"add mode: load C row {i}")
                _rec(out, add, (f"v{8 + idx}.4s", f"v{8 + idx}.4s", f"v{4 + idx}.4s"), note=f"C row {i} += block")
            _rec(out, "stp" if stored == 8 else "str", regs, {regs[0]: lanes}, stored=4 * stored,
                 note=f"store C row {i}, columns {col0}-{col0 + stored - 1}")  # fmt: skip
