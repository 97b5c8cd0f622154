"""MLAS's fp32 SGEMM micro-kernels for Arm64 NEON (FMLA), instruction by instruction and fast.

Models onnxruntime/core/mlas/lib ``aarch64/SgemmKernelNeon.S`` (``MlasSgemmKernelZero`` /
``MlasSgemmKernelAdd``), ``aarch64/SgemvKernelNeon.S`` (``MlasGemvFloatKernel``, the M = 1
path) and the B packing of ``sgemm.cpp`` (``MlasSgemmCopyPackB``, ``MlasSgemmTransposePackB``,
``MlasSgemmTransposeA``), unchanged in substance from ONNX Runtime 1.17 to 1.27 and checked
against the 1.17.1, 1.23.2 and 1.27.0 aarch64 wheels.

Arithmetic, per element of C and per K block handed to the kernel (``CountK`` values of k)::

    acc = +0                                   # movi v16.16b,#0
    for k in block, increasing:                # fmla v16.4s, v4.4s (B), v8.s[i] (A)
        acc = FPMulAdd(acc, B[k, j], A[i, k])  # one rounding (fused)
    ZeroMode: C = FPMul(acc, alpha)            # fmul, then str
    AddMode:  C = FPMulAdd(C, acc, alpha)      # ld1 C; fmla v4.4s, v16.4s, v0.s[0]; st1

The tile (4 rows x 16 columns in v16-v31, 8-column remainder, column tails stored 8/4/2/1)
decides which register holds an element, never the order of its chain. ``MlasGemvFloatKernel``
runs one unbroken chain over all of K per column, starting from +0 (ZeroMode) or from C itself.

Floating point follows the Arm ARM (DDI0487 M.a.a) pseudocode ``FPMulAdd``, ``FPMul``,
``FPProcessNaNs3`` / ``FPProcessNaNs`` with the Linux user-space FPCR (round to nearest even,
FZ = 0 so denormals are kept, DN = 0 so NaN operands propagate quieted, AH = 0).

Two executions of this model that agree bit for bit (tested):

- :func:`sgemm_kernel` / :func:`gemv_kernel`: the assembly's instruction sequence on register
  images (4 lanes of fp32 bits), with optional :class:`~mlas_emu.mlas.trace.InstructionRecord`
  output; every lane operation is :func:`mlas_emu.isa.fp32.fp_mul_add` (FPMulAdd).
- :func:`chain_rows`: the same per-element chains compiled with numba around the host's
  correctly rounded ``llvm.fma.f32``; elements that end as NaN are recomputed with the
  Arm NaN rules (:func:`fp_mul_add`), since x86 propagates and generates NaNs differently.
"""

from __future__ import annotations

import numpy as np

from mlas_emu._jit import njit, prange
from mlas_emu.isa.fp32 import fp_mul, fp_mul_add

from .trace import InstructionRecord

#: ``MLAS_SGEMM_STRIDEN`` / ``MLAS_SGEMM_STRIDEK`` (mlasi.h): non-packed slices.
STRIDE_N = 128
STRIDE_K = 128
#: ``MLAS_SGEMM_PACKED_STRIDEN`` / ``MLAS_SGEMM_PACKED_STRIDEK`` (mlasi.h): pre-packed B.
PACKED_STRIDE_N = 128
PACKED_STRIDE_K = 256
#: ``MLAS_SGEMM_STRIDEN_THREAD_ALIGN`` (mlasi.h): N split between threads in blocks of 16,
#: also the width of a packed-B panel (``MlasSgemmCopyPackB``).
STRIDEN_THREAD_ALIGN = 16
PANEL_WIDTH = 16
#: ``MLAS_SGEMM_TRANSA_ROWS`` (sgemm.cpp): rows of A transposed at a time into PanelA.
TRANSA_ROWS = 12

# --------------------------------------------------------------------------------------------
# Packing (data movement only: bits are copied, never converted)


def copy_pack_b(B: np.ndarray) -> np.ndarray:
    """``MlasSgemmCopyPackB``: a (CountK, CountN) block of B as 16-column panels.

    Panel p holds columns 16p..16p+15, one row of 16 values per k; a last panel narrower
    than 16 is zero-padded::

        panel 0: [B[0,0] .. B[0,15]] [B[1,0] .. B[1,15]] ... [B[K-1,0] .. B[K-1,15]]
        panel 1: [B[0,16] .. B[0,31]] ...

    Returns a flat uint32 array of ``ceil(CountN/16) * 16 * CountK`` bit patterns.
    """
    bits = np.ascontiguousarray(B).view(np.uint32)
    count_k, count_n = bits.shape
    panels = -(-count_n // PANEL_WIDTH)
    out = np.zeros((panels, count_k, PANEL_WIDTH), dtype=np.uint32)
    for p in range(panels):
        cols = bits[:, p * PANEL_WIDTH : (p + 1) * PANEL_WIDTH]
        out[p, :, : cols.shape[1]] = cols
    return out.reshape(-1)


def transpose_pack_b(Bt: np.ndarray) -> np.ndarray:
    """``MlasSgemmTransposePackB``: the same panel layout as :func:`copy_pack_b`, read from
    a (CountN, CountK) block of B stored transposed (``TransB``)."""
    return copy_pack_b(np.ascontiguousarray(Bt).T)


def pack_b(B: np.ndarray, *, trans_b: bool = False) -> np.ndarray:
    """``MlasGemmPackB``: K blocks of ``PACKED_STRIDE_K`` one after another, each block all N
    columns in 16-column panels (``AlignedN * CountK`` values per block)."""
    b = np.asarray(B).T if trans_b else np.asarray(B)
    count_k = b.shape[0]
    blocks = [copy_pack_b(b[k : k + PACKED_STRIDE_K]) for k in range(0, count_k, PACKED_STRIDE_K)]
    return np.concatenate(blocks) if blocks else np.zeros(0, np.uint32)


# --------------------------------------------------------------------------------------------
# Instruction-level kernels (register images of 4 fp32 lanes, as bit patterns)


class _Neon:
    """Vector registers v0-v31 and the trace of a kernel call."""

    def __init__(self, trace):
        self.v = np.zeros((32, 4), dtype=np.uint32)
        self.trace = trace

    def emit(self, mnemonic, operands, note="", lanes=None, loaded=0, stored=0):
        if self.trace is not None:
            self.trace.append(
                InstructionRecord(mnemonic, tuple(operands), lanes or {}, loaded, stored, note)
            )

    def movi_zero(self, r):
        self.v[r] = 0
        self.emit("movi", (f"v{r}.16b", "#0"))

    def load(self, r, memory, offset, lanes, name, record=True):
        """ldr q / d / s: ``lanes`` consecutive values, the rest of the register zeroed."""
        self.v[r] = 0
        self.v[r, :lanes] = memory[offset : offset + lanes]
        if record:
            kind = {4: "q", 2: "d", 1: "s"}[lanes]
            self.emit("ldr", (f"{kind}{r}", f"[{name}]"), loaded=4 * lanes)

    def fmla(self, d, n, m, element, lanes_info=None, width=4):
        """FMLA Vd.4S, Vn.4S, Vm.S[element] (or Vm.4S when ``element`` is None)."""
        for lane in range(width):
            op2 = self.v[m, lane if element is None else element]
            self.v[d, lane] = fp_mul_add(int(self.v[d, lane]), int(self.v[n, lane]), int(op2))
        vm = f"v{m}.4s" if element is None else f"v{m}.s[{element}]"
        self.emit("fmla", (f"v{d}.4s", f"v{n}.4s", vm), lanes=lanes_info)

    def fmul(self, d, n, m, element):
        for lane in range(4):
            self.v[d, lane] = fp_mul(int(self.v[n, lane]), int(self.v[m, element]))
        self.emit("fmul", (f"v{d}.4s", f"v{n}.4s", f"v{m}.s[{element}]"))


def _acc_regs(row):
    """Accumulators of tile row 0-3: v16-v19, v20-v23, v24-v27, v28-v31 (4 columns each)."""
    return [16 + 4 * row + q for q in range(4)]


def _compute_block(cpu, a, a_off, lda, b, b_off, count_k, rows, columns, coords):
    """``ComputeBlockLoop``: clear the accumulators, then FMLA over k (4 at a time, then 1).
    ``coords``: (first row, first column, first k, valid columns) for trace labels."""
    vecs = columns // 4  # 4 (16 columns) or 2 (8 columns)
    for r in range(rows):
        for q in range(vecs):
            cpu.movi_zero(_acc_regs(r)[q])
    row0, col0, k0, valid = coords
    k = 0
    while count_k - k >= 4:  # BlockBy4Loop: ldr q8..q11 (4 k of each row), 4 broadcasts
        for r in range(rows):
            cpu.load(8 + r, a, a_off + r * lda + k, 4, f"A row {row0 + r}")
        for e in range(4):
            _multiply_accumulate(cpu, b, b_off + (k + e) * PANEL_WIDTH, rows, vecs, e,
                                 (row0, col0, k0 + k + e, valid))
        k += 4
    while k < count_k:  # BlockBy1Loop: ldr s8..s11
        for r in range(rows):
            cpu.load(8 + r, a, a_off + r * lda + k, 1, f"A row {row0 + r}")
        _multiply_accumulate(cpu, b, b_off + k * PANEL_WIDTH, rows, vecs, 0, (row0, col0, k0 + k, valid))
        k += 1


def _multiply_accumulate(cpu, b, offset, rows, vecs, element, where):
    """``MultiplyAccumulateBlock``: load one packed row of B (ldp q4,q5 [q6,q7]), then one
    FMLA per accumulator with A's element ``element`` broadcast. Lanes past the ``valid``
    columns hold the panel's zero padding (labelled ``None`` in traces)."""
    row0, col0, k, valid = where
    for q in range(vecs):
        cpu.load(4 + q, b, offset + 4 * q, 4, f"B k={k}", record=False)
    for q in range(0, vecs, 2):  # ldp q4,q5 (and q6,q7): 8 columns of one packed row each
        cpu.emit("ldp", (f"q{4 + q}", f"q{5 + q}", f"[B k={k}]"), loaded=32)
    for r in range(rows):
        for q in range(vecs):
            info = None
            if cpu.trace is not None:
                cols = [c if c < col0 + valid else None for c in range(col0 + 4 * q, col0 + 4 * q + 4)]
                info = {
                    f"v{_acc_regs(r)[q]}.4s": tuple(None if c is None else ("C", row0 + r, c) for c in cols),
                    f"v{4 + q}.4s": tuple(None if c is None else ("B", k, c) for c in cols),
                    f"v{8 + r}.s[{element}]": (("A", row0 + r, k),),
                }
            cpu.fmla(_acc_regs(r)[q], 4 + q, 8 + r, element, info)


def _output_block(cpu, c, c_off, ldc, rows, count, zero_mode, alpha_reg=0):
    """``OutputBlock`` for ``count`` columns (16, 8, 4, 2 or 1) of every row, then shift the
    remaining accumulator lanes down as the assembly does."""
    for r in range(rows):
        regs = _acc_regs(r)
        values = np.concatenate([cpu.v[x] for x in regs])[:count]
        at = c_off + r * ldc
        store = "stp" if count >= 8 else "st1"
        if not zero_mode:  # ld C; fmla v4.4s, acc, v0.s[0] per 4 (or fewer) columns
            cpu.emit("ldp" if count >= 8 else "ld1", (f"[C row {r}]",), loaded=4 * count)
            for j in range(count):
                c[at + j] = fp_mul_add(int(c[at + j]), int(values[j]), int(cpu.v[alpha_reg, 0]))
            for q in range(max(1, count // 4)):
                cpu.emit("fmla", (f"v{4 + q}.{'4s' if count >= 4 else '2s'}", f"v{regs[q]}.4s", "v0.s[0]"),
                         note="C = C + acc*alpha")
        else:
            c[at : at + count] = values
        cpu.emit(store, (f"v{regs[0]}", f"[C row {r}]"), stored=4 * count, note=f"{count} columns")
        rest = np.concatenate([cpu.v[x] for x in regs])[count:]
        flat = np.zeros(16, np.uint32)
        flat[: rest.size] = rest
        for q, x in enumerate(regs):
            cpu.v[x] = flat[4 * q : 4 * q + 4]


def process_rows(count_m: int) -> int:
    """Rows one kernel call handles (``ProcessRows`` of SgemmKernelNeon.S): 4, 2 or 1."""
    return 4 if count_m >= 4 else 2 if count_m >= 2 else 1


def sgemm_kernel(a, a_off, lda, b, b_off, c, c_off, ldc, count_k, count_m, count_n, alpha,
                 zero_mode, trace=None, coords=(0, 0, 0)):
    """``MlasSgemmKernelZero`` / ``MlasSgemmKernelAdd`` (aarch64/SgemmKernelNeon.S) on memory
    images: ``a``, ``b`` (packed panels) and ``c`` are flat uint32 arrays of fp32 bits,
    ``*_off`` element offsets. Handles 4, 2 or 1 rows (``ProcessRows``) and returns that count.

    Columns: while more than 8 remain, 16-column blocks (v16-v31: 4 rows x 4 vectors); then
    one 8-column block. A block with fewer valid columns is computed whole and stored as
    8/4/2/1-column pieces (``OutputMasked16x``, ``OutputRemaining7x`` ...). ZeroMode scales
    the accumulators by alpha (fmul) and stores; AddMode does ``C = C + acc*alpha`` (fmla).
    ``coords`` (row, column, k of this call's origin in the whole product) only labels traces.
    """
    rows = process_rows(count_m)
    cpu = _Neon(trace)
    cpu.v[0, 0] = np.float32(alpha).view(np.uint32)
    row0, col0, k0 = coords
    remaining = count_n
    col = 0
    while True:
        columns = 16 if remaining > 8 else 8
        _compute_block(cpu, a, a_off, lda, b, b_off + col * count_k, count_k, rows, columns,
                       (row0, col0 + col, k0, min(columns, remaining)))
        if zero_mode:
            for r in range(rows):
                for q in range(columns // 4):
                    cpu.fmul(_acc_regs(r)[q], _acc_regs(r)[q], 0, 0)
        if remaining >= 16:
            _output_block(cpu, c, c_off + col, ldc, rows, 16, zero_mode)
            remaining -= 16
            col += 16
            if remaining == 0:
                return rows
            continue
        at = col
        for piece in (8, 4, 2, 1):  # stored pieces of the last block, by the bits of remaining
            if remaining & piece:
                _output_block(cpu, c, c_off + at, ldc, rows, piece, zero_mode)
                at += piece
        return rows


#: First accumulator of each column piece of ``MlasGemvFloatKernel``.
_GEMV_ACC = {64: 16, 32: 16, 16: 24, 8: 28, 4: 30, 2: 31, 1: 1}


def gemv_kernel(a, a_off, b, b_off, ldb, c, c_off, count_k, count_n, zero_mode, trace=None):
    """``MlasGemvFloatKernel`` (aarch64/SgemvKernelNeon.S), the M = 1 path of
    ``MlasSgemmOperation``: B is read in place (row stride ``ldb``), 64 columns at a time
    (v16-v31), then the 1-63 remaining in pieces of 32/16/8/4/2/1 (v16-v23, v24-v27,
    v28-v29, v30, v31, v1). Each column is one FMLA chain over all of K, starting from +0
    (ZeroMode) or from the value in C (beta = 1): no K blocks, no alpha."""
    cpu = _Neon(trace)
    col = 0
    while col < count_n:
        width = 64 if count_n - col >= 64 else count_n - col
        pieces = [64] if width == 64 else [p for p in (32, 16, 8, 4, 2, 1) if width & p]
        acc = np.zeros(width, np.uint32)
        if not zero_mode:
            acc[:] = c[c_off + col : c_off + col + width]
        cpu.emit("movi" if zero_mode else "ldp", ("v16-v31",), note=f"{width} columns")
        for k in range(count_k):
            x = int(a[a_off + k])
            cpu.emit("ld1r", ("v0.4s", f"[A k={k}]"), loaded=4)
            row = b_off + k * ldb + col
            at = 0
            for p in pieces:
                for q in range(0, p, 4):
                    lanes = min(4, p - q)
                    for lane in range(lanes):
                        acc[at + q + lane] = fp_mul_add(int(acc[at + q + lane]), int(b[row + at + q + lane]), x)
                    if trace is not None:
                        vd = f"v{_GEMV_ACC[p] + q // 4}.4s"
                        cols = range(col + at + q, col + at + q + lanes)
                        info = {vd: tuple(("C", 0, j) for j in cols),
                                "v4.4s": tuple(("B", k, j) for j in cols), "v0.4s": (("A", 0, k),)}
                        cpu.emit("fmla", (vd, "v4.4s", "v0.4s"), lanes=info,
                                 note=f"columns {cols.start}-{cols.stop - 1}")
                at += p
        c[c_off + col : c_off + col + width] = acc
        cpu.emit("stp", ("v16-v31",), stored=4 * width)
        col += width


# --------------------------------------------------------------------------------------------
# Fast path: the same chains, vectorised over columns around the host's fused multiply-add


def _fmaf_intrinsic():
    """``llvm.fma.f32``: IEEE fusedMultiplyAdd, one rounding (never ``llvm.fmuladd``, which may
    split). Lowered to vfmadd on x86 with FMA, else to libm's correctly rounded ``fmaf``."""
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def fmaf(typingctx, x, y, z):
        sig = types.float32(types.float32, types.float32, types.float32)

        def codegen(context, builder, signature, args):
            flt = ir.FloatType()
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(flt, [flt, flt, flt]), "llvm.fma.f32"
            )
            return builder.call(fn, args)

        return sig, codegen

    return fmaf


def _fmaf_python(x, y, z):
    """Pure-Python stand-in for ``llvm.fma.f32`` when numba's JIT is disabled (coverage runs)."""
    bits = fp_mul_add(int(np.float32(z).view(np.uint32)), int(np.float32(x).view(np.uint32)),
                      int(np.float32(y).view(np.uint32)))
    return np.uint32(bits).view(np.float32)


def _select_fmaf():
    import numba

    return _fmaf_python if numba.config.DISABLE_JIT else _fmaf_intrinsic()


_fmaf = _select_fmaf()


@njit
def element_bits(a_bits, b_bits, c_bits, i, j, kb, alpha, beta, beta_mode, gemv):
    """One element of C with the Arm rules throughout (:func:`fp_mul_add` / :func:`fp_mul`):
    the reference the fast path falls back to for elements that end as NaN.

    ``kb``: K block bounds [0, ..., K]; ``beta_mode``: 0 (beta = 0: ZeroMode first block),
    1 (beta = 1) or 2 (other beta: C = C*beta first, ``MlasSgemmMultiplyBeta``); ``gemv``:
    one chain over all of K from +0 or C, no alpha (``MlasGemvFloatKernel``).
    """
    cur = 0
    if beta_mode == 1:
        cur = c_bits[i, j]
    elif beta_mode == 2:
        cur = fp_mul(c_bits[i, j], beta)
    if gemv:
        acc = cur
        for k in range(kb[0], kb[kb.size - 1]):
            acc = fp_mul_add(acc, b_bits[k, j], a_bits[i, k])
        return acc
    for blk in range(kb.size - 1):
        acc = 0
        for k in range(kb[blk], kb[blk + 1]):
            acc = fp_mul_add(acc, b_bits[k, j], a_bits[i, k])
        if blk == 0 and beta_mode == 0:
            cur = fp_mul(acc, alpha)
        else:
            cur = fp_mul_add(cur, acc, alpha)
    return cur


_ROW_BLOCK = 8
_COL_TILE = 64


@njit(parallel=True)
def chain_rows(a, b, c_in, out, r0, r1, c0, c1, kb, alpha, beta, beta_mode, gemv):
    """Rows ``r0:r1`` x columns ``c0:c1`` of C as one MLAS kernel segment computes them (see
    :func:`element_bits` for the arguments), into ``out``; ``a`` (M, K), ``b`` (K, N) and
    ``c_in`` (M, N) are contiguous float32. Chains run in increasing k per element, in tiles
    of 8 rows x 64 columns (parallel); the loop over a tile's columns is innermost so it
    vectorises without reordering any chain."""
    a_bits = a.view(np.uint32)
    b_bits = b.view(np.uint32)
    c_bits = c_in.view(np.uint32)
    alpha_bits = np.uint32(np.array([alpha], np.float32).view(np.uint32)[0])
    beta_bits = np.uint32(np.array([beta], np.float32).view(np.uint32)[0])
    n_rb = (r1 - r0 + _ROW_BLOCK - 1) // _ROW_BLOCK
    n_ct = (c1 - c0 + _COL_TILE - 1) // _COL_TILE
    for task in prange(n_rb * n_ct):
        i0 = r0 + (task // n_ct) * _ROW_BLOCK
        j0 = c0 + (task % n_ct) * _COL_TILE
        i1 = min(i0 + _ROW_BLOCK, r1)
        j1 = min(j0 + _COL_TILE, c1)
        _tile(a, b, c_in, out, i0, i1, j0, j1, kb, alpha, beta, beta_mode, gemv)
        for i in range(i0, i1):
            out_bits = out[i].view(np.uint32)
            for j in range(j0, j1):
                if out[i, j] != out[i, j]:  # NaN: the host's NaN is not Arm's; redo with Arm rules
                    out_bits[j] = element_bits(a_bits, b_bits, c_bits, i, j, kb,
                                               alpha_bits, beta_bits, beta_mode, gemv)


@njit
def _tile(a, b, c_in, out, i0, i1, j0, j1, kb, alpha, beta, beta_mode, gemv):
    """One tile's chains (host FMA, NaN not yet Arm's) into ``out[i0:i1, j0:j1]``."""
    rows, w = i1 - i0, j1 - j0
    cur = np.zeros((_ROW_BLOCK, _COL_TILE), np.float32)
    acc = np.empty((_ROW_BLOCK, _COL_TILE), np.float32)
    for r in range(rows):
        if beta_mode == 1:
            cur[r, :w] = c_in[i0 + r, j0:j1]
        elif beta_mode == 2:
            for c in range(w):
                cur[r, c] = c_in[i0 + r, j0 + c] * beta
    if gemv:
        _fma_chains(a, b, cur, i0, rows, j0, j1, kb[0], kb[kb.size - 1])
    else:
        for blk in range(kb.size - 1):
            acc[:, :] = 0.0
            _fma_chains(a, b, acc, i0, rows, j0, j1, kb[blk], kb[blk + 1])
            for r in range(rows):
                cr = cur[r]
                ar = acc[r]
                if blk == 0 and beta_mode == 0:
                    for c in range(w):
                        cr[c] = ar[c] * alpha
                else:
                    for c in range(w):
                        cr[c] = _fmaf(ar[c], alpha, cr[c])
    for r in range(rows):
        out[i0 + r, j0:j1] = cur[r, :w]


@njit
def _fma_chains(a, b, acc, i0, rows, j0, j1, k0, k1):
    """``acc[r, c] = fma(B[k, j0 + c], A[i0 + r, k], acc[r, c])`` for k in k0..k1, in order."""
    w = j1 - j0
    for k in range(k0, k1):
        brow = b[k, j0:j1]
        for r in range(rows):
            x = a[i0 + r, k]
            ar = acc[r]
            for c in range(w):
                ar[c] = _fmaf(brow[c], x, ar[c])


@njit
def _denormal_probe(tiny):
    return _fmaf(tiny, np.float32(1.0), np.float32(0.0)), np.float32(np.float64(tiny) * 0.5)


def check_host_keeps_denormals():
    """Raise ``RuntimeError`` if this thread's FPU flushes denormals (x86 MXCSR FTZ/DAZ, which
    a library built with -ffast-math can set when loaded): the fast path would then lose the
    denormals that Arm keeps (FPCR.FZ = 0)."""
    tiny = np.float32(2.0**-148)
    fused, converted = _denormal_probe(tiny)
    if fused != tiny or converted != np.float32(2.0**-149):
        raise RuntimeError(
            "the host FPU flushes denormals to zero (FTZ/DAZ set in this thread, e.g. by a "
            "library compiled with -ffast-math); mlas_emu's fast SGEMM path would not be exact"
        )
