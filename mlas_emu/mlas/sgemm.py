"""MLAS's fp32 SGEMM driver as ONNX Runtime runs it on Arm64 (no bf16 fastmath).

Models onnxruntime/core/mlas/lib/sgemm.cpp: ``MlasGemmBatch`` (thread target from M*N*K,
M or N split), ``MlasSgemmThreaded`` (per-thread ranges, N in blocks of 16),
``MlasSgemmPackedOperation`` (pre-packed B: K blocks of 256), ``MlasSgemmOperation`` (B as
given: K blocks from the per-thread N and K, the M = 1 ``MlasGemvFloatKernel`` shortcut,
``MlasSgemmMultiplyBeta``), ``MlasSgemmKernelLoop`` and ``MlasGemmPackB``. The kernels' arithmetic
is in :mod:`mlas_emu.mlas.sgemm_kernel_neon`, their instruction schedules in
:mod:`mlas_emu.mlas.sgemm_kernel_asm`. ``MatMul<float>::Compute``
(onnxruntime/core/providers/cpu/math/matmul.cc) calls ``MlasGemmBatch`` with beta = 0 and
``alpha`` (1 for MatMul, the attribute for FusedMatMul); ``Gemm`` passes beta and C.

What decides the bits, per element: the K blocks its chain is cut into (blocks joined by
``C = C + acc*alpha``, fused), whether its thread takes the GEMV path (one chain over all of
K), alpha and beta. The thread count matters only through the per-thread N (non-packed K
blocks) and the per-thread M (M = 1 GEMV); with pre-packed B it never changes the bits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import sgemm_kernel_asm as asm
from . import sgemm_kernel_neon as kern
from ..cpus import resolve_cpu
from ..isa.fp32 import fp_mul
from ..releases import release
from ._checks import as_f32_matrix
from .interpret import Memory, Registers, execute
from .schedule import KernelCall
from .threading import check_threads, gemm_thread_ranges, partition


@dataclass(frozen=True)
class Segment:
    """One thread's share of one GEMM of the batch, as ``MlasSgemmThreaded`` hands it out.

    ``k_bounds``: where the K blocks start, then K (each block is one kernel call, its chain
    restarting at +0). ``gemv``: the thread takes ``MlasGemvFloatKernel`` (one chain over K).
    ``thread``: the thread id within the GEMM (``MlasSgemmThreaded``'s ThreadId).
    """

    batch: int
    row_start: int
    row_count: int
    col_start: int
    col_count: int
    k_bounds: tuple[int, ...]
    gemv: bool
    thread: int


# --------------------------------------------------------------------------------------------
# Work division (MlasGemmBatch, MlasSgemmThreaded) and K blocking


def thread_counts(M: int, N: int, K: int, batch: int, threads: int, ort_version=None) -> tuple[int, int]:
    """``MlasGemmBatch`` (onnxruntime/core/mlas/lib/sgemm.cpp): (ThreadCountM, ThreadCountN) per
    GEMM of the batch, by the release's :attr:`~mlas_emu.releases.Release.sgemm_threads` rule
    (:func:`mlas_emu.mlas.threading.partition`).

    Target = floor(M*N*K / 65536) + 1, at most the platform's 64 before 1.22.0 (#23815 dropped
    that cap), at most the session's ``threads``; per GEMM ceil(Target / batch); N > M splits N
    (at most one thread per 16 columns), else M. The non-packed path's K blocks follow the
    per-thread N, and a thread with one row takes the GEMV kernel, so this decides bits. Checked
    bit for bit against ONNX Runtime under the oracle at 1 to 64 and 80 threads on 1.17.0,
    1.27.0, 1.28.0 and 1.32.0 (tests/mlas/test_threads_oracle.py); the cap at 80 threads also on
    1.17.1 (capped), 1.23.2, 1.29.0, 1.30.0 and 1.31.1 (not capped).
    """
    rule = release(ort_version).sgemm_threads
    return partition(M, N, K, batch, threads, rule, kern.STRIDEN_THREAD_ALIGN)


def thread_ranges(M: int, N: int, count_m: int, count_n: int):
    """``MlasSgemmThreaded``: (row_start, rows, col_start, cols) of every thread id."""
    return gemm_thread_ranges(M, N, count_m, count_n, kern.STRIDEN_THREAD_ALIGN)


def operation_strides(N: int, K: int, trans_a: bool) -> tuple[int, int]:
    """``MlasSgemmOperation``: (StrideN, StrideK) for a thread's N and K. Small K widens N;
    small N (and no TransA, whose PanelA holds 128 values of K) widens K up to 1024."""
    stride_n, stride_k = kern.STRIDE_N, kern.STRIDE_K
    if N >= K:
        while stride_k // 2 >= K:
            stride_n *= 2
            stride_k //= 2
    elif not trans_a:
        while stride_n > 16 and stride_n // 2 >= N:
            stride_k *= 2
            stride_n //= 2
    return stride_n, stride_k


def _bounds(K: int, stride_k: int) -> tuple[int, ...]:
    return tuple(range(0, K, stride_k)) + (K,)


def plan(M, N, K, *, batch=1, trans_a=False, trans_b=False, alpha=1.0, beta=0.0,
         packed_b=True, threads=1, ort_version=None) -> list[Segment]:
    """Every kernel segment ORT's ``MlasGemmBatch`` runs for this product, in thread order."""
    count_m, count_n = thread_counts(M, N, K, batch, threads, ort_version)
    segments = []
    alpha32, beta32 = np.float32(alpha), np.float32(beta)
    for g in range(batch):
        for tid, (m0, mc, n0, nc) in enumerate(thread_ranges(M, N, count_m, count_n)):
            if mc == 0 or nc == 0:
                continue
            if packed_b:  # MlasSgemmPackedOperation: fixed K blocks of 256
                segments.append(Segment(g, m0, mc, n0, nc, _bounds(K, kern.PACKED_STRIDE_K), False, tid))
                continue
            gemv = (mc == 1 and not trans_a and not trans_b and alpha32 == 1.0
                    and beta32 in (0.0, 1.0))
            _, stride_k = operation_strides(nc, K, trans_a)
            segments.append(Segment(g, m0, mc, n0, nc, (0, K) if gemv else _bounds(K, stride_k), gemv, tid))
    return segments


# --------------------------------------------------------------------------------------------
# Input checking


def _as_matrix_stack(x, name):
    x = as_f32_matrix(x, name, ndims=(2, 3), expected="2-D (M, K) or 3-D (batch, M, K)")
    return x if x.ndim == 3 else x[None]


def _scalar(x, name):
    if isinstance(x, bool) or not isinstance(x, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    return np.float32(x)


def _check(A, B, C, trans_a, trans_b, alpha, beta, packed_b, threads):
    threads = check_threads(threads)
    for flag, name in ((trans_a, "trans_a"), (trans_b, "trans_b"), (packed_b, "packed_b")):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
    a, b = _as_matrix_stack(A, "A"), _as_matrix_stack(B, "B")
    if packed_b and B.ndim != 2:
        raise ValueError("packed_b=True needs a 2-D B (ONNX Runtime pre-packs only 2-D constant B)")
    a = np.swapaxes(a, 1, 2) if trans_a else a
    b = np.swapaxes(b, 1, 2) if trans_b else b
    batch = max(a.shape[0], b.shape[0])
    if b.shape[0] not in (1, batch) or a.shape[0] not in (1, batch):
        raise ValueError(f"batch sizes of A ({a.shape[0]}) and B ({b.shape[0]}) differ")
    if a.shape[2] != b.shape[1]:
        raise ValueError(
            f"inner dimensions differ: op(A) is {a.shape[1:]} and op(B) is {b.shape[1:]} "
            f"(trans_a={trans_a}, trans_b={trans_b})"
        )
    M, K, N = a.shape[1], a.shape[2], b.shape[2]
    if K == 0:
        raise ValueError("K must be at least 1 (ONNX Runtime's operators fill the output with "
                         "zeros themselves and never call MLAS with K = 0)")
    alpha32, beta32 = _scalar(alpha, "alpha"), _scalar(beta, "beta")
    c = None
    if beta32 != 0.0:
        if C is None:
            raise ValueError("beta != 0 needs C (the matrix that is scaled and accumulated into)")
        c = _as_matrix_stack(C, "C")
        if c.shape[1:] != (M, N) or c.shape[0] not in (1, batch):
            raise ValueError(f"C must have shape {(M, N)} (or ({batch}, {M}, {N})), got {C.shape}")
    out_shape = (M, N) if A.ndim == 2 and B.ndim == 2 else (batch, M, N)
    return a, b, c, alpha32, beta32, threads, batch, out_shape


# --------------------------------------------------------------------------------------------
# Public entry point


def sgemm(A, B, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, C=None, packed_b=True,
          threads=1, path="fast", trace=None, ort_version=None):
    """``alpha * op(A) @ op(B) + beta * C`` in float32, bit for bit as ONNX Runtime's MLAS
    computes it on Arm64 with its NEON FMLA kernels (``MlasGemmBatch``, no bf16 fastmath).

    A: (M, K) float32, or (K, M) with ``trans_a``; B: (K, N), or (N, K) with ``trans_b``.
    A leading batch axis (batch, ., .) on A and/or B is one ``MlasGemmBatch`` call of that
    many GEMMs (the thread target is divided among them). ``packed_b=True``: B was
    pre-packed by ``MlasGemmPackB`` (a constant 2-D initializer in ORT); ``False``: B is
    packed panel by panel during the call (a graph input). ``threads``: the emulated
    session's intra-op thread count and ``ort_version`` the release (a string or
    :class:`~mlas_emu.releases.Release`; None: the newest), which together decide the thread
    partition (:func:`thread_counts`). ``beta``: 0 (C is not read), 1, or anything else
    (``MlasSgemmMultiplyBeta`` first); C is then required. ``path``: "fast" (numba) or
    "instructions" (the routines' schedules, :mod:`mlas_emu.mlas.sgemm_kernel_asm`, interpreted
    on register images; slow, for small shapes); passing a ``trace`` list selects "instructions"
    and receives the records (lanes in the product's coordinates, see :func:`trace_records`).

    Returns a new float32 array (M, N), or (batch, M, N) if an input had a batch axis.
    Inputs are never modified.
    """
    a, b, c, alpha32, beta32, threads, batch, out_shape = _check(
        A, B, C, trans_a, trans_b, alpha, beta, packed_b, threads)
    rel = release(ort_version)
    if path not in ("fast", "instructions"):
        raise ValueError(f"path must be 'fast' or 'instructions', got {path!r}")
    if trace is not None and not isinstance(trace, list):
        raise TypeError(f"trace must be a list (it receives InstructionRecords), got {type(trace).__name__}")
    M, K, N = a.shape[1], a.shape[2], b.shape[2]
    out = np.zeros((batch, M, N), dtype=np.float32)
    if M == 0 or N == 0:
        return out.reshape(out_shape)
    segments = plan(M, N, K, batch=batch, trans_a=trans_a, trans_b=trans_b, alpha=alpha32,
                    beta=beta32, packed_b=packed_b, threads=threads, ort_version=rel)
    if trace is not None or path == "instructions":
        steps = routine_calls(segments, K, trans_a=trans_a, beta=beta32, packed_b=packed_b)
        _run_instructions(np.ascontiguousarray(a), np.ascontiguousarray(b), c, steps, out, alpha32, beta32, trace)
    else:
        _run_fast(a, b, c, segments, out, alpha32, beta32)
    return out.reshape(out_shape)


def _beta_mode(beta32) -> int:
    return 0 if beta32 == 0.0 else 1 if beta32 == 1.0 else 2


def _run_fast(a, b, c, segments, out, alpha32, beta32):
    """Every segment through :func:`~mlas_emu.mlas.sgemm_kernel_neon.chain_rows`."""
    kern.check_host_keeps_denormals()
    mode = _beta_mode(beta32)
    current = None
    for s in segments:
        if current != s.batch:  # contiguous (M, K), (K, N), (M, N) operands of this GEMM
            current = s.batch
            ga = np.ascontiguousarray(a[min(s.batch, a.shape[0] - 1)])
            gb = np.ascontiguousarray(b[min(s.batch, b.shape[0] - 1)])
            gc = (np.ascontiguousarray(c[min(s.batch, c.shape[0] - 1)]) if c is not None
                  else np.zeros((1, 1), np.float32))
        kern.chain_rows(ga, gb, gc, out[s.batch], s.row_start, s.row_start + s.row_count,
                        s.col_start, s.col_start + s.col_count, np.asarray(s.k_bounds, np.int64),
                        alpha32, beta32, mode, s.gemv)


# --------------------------------------------------------------------------------------------
# The routine calls of the plan: what the instruction path executes and traces show


@dataclass(frozen=True)
class RoutineCall:
    """One call of an assembly routine: ``routine`` "sgemm" (``MlasSgemmKernelZero/Add``,
    aarch64/SgemmKernelNeon.S) or "gemv" (``MlasGemvFloatKernel``, aarch64/SgemvKernelNeon.S)."""

    batch: int
    routine: str
    call: KernelCall


@dataclass(frozen=True)
class BetaScale:
    """``MlasSgemmMultiplyBeta`` (C++, no routine of its own): C = C * beta over a block."""

    batch: int
    row: int
    rows: int
    col: int
    cols: int


def routine_calls(segments, K: int, *, trans_a=False, beta=0.0, packed_b=True) -> list:
    """The driver loops of ``MlasSgemmPackedOperation`` / ``MlasSgemmOperation`` over the
    segments of :func:`plan`, in execution order: :class:`BetaScale` steps and the
    :class:`RoutineCall` s (``MlasSgemmKernelLoop``: one call per 4, 2 or 1 rows; with
    ``trans_a`` the rows go 12 at a time through PanelA, ``MlasSgemmTransposeA``)."""
    beta32 = np.float32(beta)
    steps = []
    for s in segments:
        if s.gemv:
            steps.append(RoutineCall(s.batch, "gemv", KernelCall(s.thread, s.row_start, 1, s.col_start, s.col_count,
                                                                 0, K, beta32 == 0.0)))
            continue
        stride_n = kern.PACKED_STRIDE_N if packed_b else operation_strides(s.col_count, K, trans_a)[0]
        for n in range(s.col_start, s.col_start + s.col_count, stride_n):
            count_n = min(s.col_start + s.col_count - n, stride_n)
            if beta32 not in (0.0, 1.0):
                steps.append(BetaScale(s.batch, s.row_start, s.row_count, n, count_n))
            for k, k_end in zip(s.k_bounds, s.k_bounds[1:]):
                steps += _row_calls(s, n, count_n, k, k_end - k, beta32 == 0.0 and k == 0, trans_a)
    return steps


def _row_calls(s: Segment, n, count_n, k, count_k, zero_mode, trans_a) -> list:
    group = kern.TRANSA_ROWS if trans_a else s.row_count
    calls = []
    for g0 in range(s.row_start, s.row_start + s.row_count, group):
        g1 = min(g0 + group, s.row_start + s.row_count)
        m = g0
        while m < g1:
            rows = asm.kernel_rows(g1 - m)
            calls.append(RoutineCall(s.batch, "sgemm", KernelCall(s.thread, m, rows, n, count_n, k, count_k, zero_mode)))
            m += rows
    return calls


_SCHEDULES = {"sgemm": asm.schedule, "gemv": asm.gemv_schedule}


def call_records(step: RoutineCall) -> list:
    """The records of one routine call, lanes in the call's own coordinates."""
    return _SCHEDULES[step.routine](step.call)


def relabel(records, call: KernelCall) -> list:
    """``records`` with lanes named in the GEMM's coordinates: ("A", i, k) of op(A),
    ("B", k, j) of op(B), ("C", i, j); padding stays None."""
    shift = {"A": (call.m, call.k), "B": (call.k, call.n), "C": (call.m, call.n)}

    def name(coord):
        if coord is None:
            return None
        di, dj = shift[coord[0]]
        return (coord[0], coord[1] + di, coord[2] + dj)

    return [replace(r, lanes={reg: tuple(name(c) for c in lanes) for reg, lanes in r.lanes.items()})
            if r.lanes else r for r in records]


def instruction_release(ort_version=None, cpu=None):
    """The release whose SGEMM routines the instruction path and traces stand for on ``cpu``.

    The schedules (:mod:`mlas_emu.mlas.sgemm_kernel_asm`) are of the NEON routines that the
    1.17.1 to 1.32.0 aarch64 wheels run on Graviton2, 3 and 4 (the same code in each release;
    the oracle's per-routine counts, 1.17.1 and 1.32.0 on Graviton3, equal the schedules').
    ``cpu`` is checked (a name of :data:`mlas_emu.cpus.CPUS`); it does not change the routine.
    """
    resolve_cpu(cpu)
    return release(ort_version)


def trace_records(M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1, ort_version=None,
                  cpu=None, kind: str = "sgemm", trans_a: bool = False, alpha=1.0, beta=0.0) -> list:
    """The records of every routine call of one (M, K) x (K, N) product, in execution order
    (threads in id order), lanes in the product's coordinates: the schedules over the same plan
    the instruction path executes (:func:`plan`, :func:`routine_calls`). ``kind`` must be
    "sgemm"; ``alpha`` / ``beta`` / ``trans_a`` as in :func:`sgemm` (they change the calls:
    Add mode, the M = 1 GEMV path, PanelA's 12-row groups). Nothing is computed."""
    if kind != "sgemm":
        raise ValueError(f"kind must be 'sgemm', got {kind!r}")
    for name, dim in (("M", M), ("N", N), ("K", K)):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"{name} must be a positive integer, got {dim!r}")
    rel = instruction_release(ort_version, cpu)
    alpha32, beta32 = _scalar(alpha, "alpha"), _scalar(beta, "beta")
    segments = plan(M, N, K, trans_a=trans_a, alpha=alpha32, beta=beta32, packed_b=packed_b,
                    threads=check_threads(threads), ort_version=rel)
    out = []
    for step in routine_calls(segments, K, trans_a=trans_a, beta=beta32, packed_b=packed_b):
        if isinstance(step, RoutineCall):
            out += relabel(call_records(step), step.call)
    return out


def _run_instructions(a, b, c, steps, out, alpha32, beta32, trace):
    """Every step on register images: the routines' schedules through
    :func:`mlas_emu.mlas.interpret.execute`, operands read from op(A), op(B) (packing moves no
    bits) and C written in ``out``."""
    out_bits = out.view(np.uint32)
    if c is not None:
        out_bits[:] = np.broadcast_to(c.view(np.uint32), out.shape)
    alpha_bytes = np.frombuffer(alpha32.tobytes(), np.uint8)
    for step in steps:
        g = step.batch
        if isinstance(step, BetaScale):
            block = out_bits[g, step.row : step.row + step.rows, step.col : step.col + step.cols]
            block[:] = np.vectorize(lambda x: fp_mul(int(x), int(beta32.view(np.uint32))), otypes=[np.uint32])(block)
            continue
        kc = step.call
        a_g, b_g = a[min(g, a.shape[0] - 1)].view(np.uint32), b[min(g, b.shape[0] - 1)].view(np.uint32)
        memory = Memory(A=a_g[kc.m : kc.m + kc.rows, kc.k : kc.k + kc.count_k],
                        B=b_g[kc.k : kc.k + kc.count_k, kc.n : kc.n + kc.count_n],
                        C=out_bits[g, kc.m : kc.m + kc.rows, kc.n : kc.n + kc.count_n])
        regs = Registers()
        regs.v[0, :4] = alpha_bytes  # s0: Alpha
        records = call_records(step)
        execute(records, memory, regs)
        if trace is not None:
            trace += relabel(records, kc)
