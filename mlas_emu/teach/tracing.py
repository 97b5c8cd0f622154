"""Instruction traces of MLAS's GEMM micro-kernels, for learning how MMLA tiling works.

``trace("sbgemm", 8, 8, 8)`` lists, in execution order, the instructions ONNX Runtime's MLAS
kernel runs for that GEMM on a Graviton3-class CPU: each with its registers, the matrix
coordinates each lane holds (``("A", i, k)``, ``("B", k, j)``, ``("C", i, j)``, ``None`` for
padding) and the bytes it loads and stores. ``.counts`` gives the number of each instruction;
the MMLA and DOT counts equal what the real kernels execute (measured under QEMU on ONNX
Runtime 1.17.1: see the package docs, "Traces").
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..cpus import DEFAULT_CPU, resolve_cpu
from ..mlas.qgemm import instruction_release
from ..mlas.threading import check_threads
from ..mlas.trace import InstructionRecord
from ..ort.versions import resolve_ort_version

#: Kernel names accepted by :func:`trace`, with what MLAS runs for them.
KERNELS = {
    "sbgemm": "fp32 MatMul in bf16 fastmath mode: SbgemmKernelNeon.S (BFMMLA)",
    "sgemm": "fp32 SGEMM: SgemmKernelNeon.S (FMLA)",
    "qgemm-u8u8": "QGEMM u8 x u8 with I8MM: QgemmU8X8KernelUmmla.S (UMMLA)",
    "qgemm-u8s8": "QGEMM u8 x s8 with I8MM: QgemmU8X8KernelUmmla.S, B flipped by XOR 0x80 (UMMLA)",
    "qgemm-s8s8": "QGEMM s8 x s8 with I8MM: QgemmS8S8KernelSmmla.S (SMMLA)",
    "qgemm-dot-u8u8": "QGEMM u8 x u8 with DotProd only: QgemmU8X8KernelUdot.S (UDOT)",
    "qgemm-dot-u8s8": "QGEMM u8 x s8 with DotProd only: QgemmU8X8KernelUdot.S, B flipped (UDOT)",
    "qgemm-dot-s8s8": "QGEMM s8 x s8 with DotProd only: QgemmS8S8KernelSdot.S (SDOT)",
}

#: The largest M*N*K a trace is built for (traces are for learning, not for whole models).
MAX_VOLUME = 1 << 20


@dataclass(frozen=True)
class Trace:
    """Instruction records of one GEMM on one MLAS kernel, in execution order."""

    kernel: str
    M: int
    N: int
    K: int
    packed_b: bool
    threads: int
    ort_version: str
    records: tuple[InstructionRecord, ...] = field(repr=False)
    cpu: str = DEFAULT_CPU

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, index):
        return self.records[index]

    @property
    def counts(self) -> dict[str, int]:
        """Executed instructions per lower-case mnemonic."""
        return dict(Counter(r.mnemonic for r in self.records))

    @property
    def bytes_loaded(self) -> int:
        return sum(r.bytes_loaded for r in self.records)

    @property
    def bytes_stored(self) -> int:
        return sum(r.bytes_stored for r in self.records)

    def routine(self) -> str:
        """What MLAS runs for this trace's kernel, release and CPU."""
        if self.kernel in _MMLA_QGEMM and _sve(self.ort_version, self.cpu):
            impl = "S8S8KernelSmmla" if self.kernel.endswith("s8s8") else "U8X8KernelUmmla"
            return f"QGEMM on the compiled SVE routine of 1.30.0+ (MlasGemm{impl}SveImpl)"
        return KERNELS[self.kernel]

    def header(self) -> str:
        return (
            f"{self.kernel} M={self.M} N={self.N} K={self.K} packed_b={self.packed_b} "
            f"threads={self.threads} ort={self.ort_version} cpu={self.cpu}: {len(self)} instructions"
        )

    def to_text(self, limit: int | None = None) -> str:
        """Assembly-like listing, one instruction a line with its note as a comment."""
        lines = [f"// {self.header()}", f"// {self.routine()}"]
        shown = self.records if limit is None else self.records[:limit]
        for r in shown:
            ops = ", ".join(r.operands)
            comment = f"  // {r.note}" if r.note else ""
            lines.append(f"    {r.mnemonic:<8} {ops:<32}{comment}".rstrip())
        if limit is not None and len(self.records) > limit:
            lines.append(f"    // ... {len(self.records) - limit} more")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text(limit=40)

    def _repr_html_(self) -> str:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items(), key=lambda kv: -kv[1]))
        rows = []
        for i, r in enumerate(self.records[:200]):
            rows.append(
                f"<tr><td>{i}</td><td><code>{html.escape(r.mnemonic)}</code></td>"
                f"<td><code>{html.escape(', '.join(r.operands))}</code></td>"
                f"<td>{r.bytes_loaded or ''}</td><td>{r.bytes_stored or ''}</td>"
                f"<td>{html.escape(r.note)}</td></tr>"
            )
        more = f"<p>... {len(self.records) - 200} more</p>" if len(self.records) > 200 else ""
        return (
            f"<div><b>{html.escape(self.header())}</b><br>{html.escape(self.routine())}"
            f"<p>counts: {html.escape(counts)}</p><details><summary>instructions</summary>"
            "<table><tr><th>#</th><th>op</th><th>operands</th><th>loaded</th><th>stored</th>"
            f"<th>note</th></tr>{''.join(rows)}</table>{more}</details></div>"
        )

    def draw(self, ax=None, *, step: int = 0):
        """Picture of which C elements the MMLA/DOT instructions of one K step update
        (matplotlib; needs the ``viz`` extra). Returns the matplotlib Figure."""
        from .figures import draw_trace

        return draw_trace(self, ax=ax, step=step)


def _check_size(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def trace(kernel: str, M: int, N: int, K: int, *, packed_b: bool = True, threads: int = 1,
          ort_version: str | None = None, cpu: str | None = None, faithful: bool = True) -> Trace:  # fmt: skip
    """Instruction trace of MLAS's ``kernel`` computing C (M x N) = A (M x K) x B (K x N).

    ``kernel``: one of :data:`KERNELS`. ``packed_b``: B is a constant initializer pre-packed by
    ONNX Runtime (K slices of 256 for SBGEMM, 384 for QGEMM) or a graph input packed per call.
    ``threads``: the session's intra-op thread count; MLAS's own rules decide how many threads
    run and which rows or columns each gets (threads follow one another in the trace; a trace is
    at most :data:`MAX_VOLUME` multiply-adds, so at most 17 threads run and no release's cap of
    64 applies).
    ``ort_version``: any modelled release (:data:`mlas_emu.releases.ORT_RELEASES`, None: the
    newest). The assembly routines are the same in all of them; from 1.30.0 Graviton3/4 run
    QGEMM on a compiled SVE routine instead (:mod:`mlas_emu.mlas.qgemm_kernel_sve_asm`: its
    vector data path lane by lane, its scalar and control instructions by mnemonic). ``cpu``: a
    name of :data:`mlas_emu.cpus.CPUS` that runs ``kernel`` (the MMLA kernels need BF16 and I8MM,
    Graviton3/4; the DOT kernels are what Graviton2 runs); None picks the default CPU, or
    Graviton2 for the DOT kernels. Among CPUs that run a kernel, the trace does not depend on the
    CPU, except through the SVE routine's vector length. ``faithful`` (SBGEMM): lanes name what
    the release's kernel really reads under ONNX Runtime's defects (misplaced elements; ``None``
    for memory nothing wrote), or, with False, what the code intended.

    A trace covers the kernel routine(s) only (for SBGEMM ``MlasSbgemmKernelZero/Add``),
    every instruction they execute, prologue and branches included; B's packing and the C++
    driver are not in it.
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; expected one of {sorted(KERNELS)}")
    M, N, K = (_check_size(n, v) for n, v in (("M", M), ("N", N), ("K", K)))
    if M * N * K > MAX_VOLUME:
        raise ValueError(f"M*N*K = {M * N * K} is too large for a trace (at most {MAX_VOLUME}); trace a smaller GEMM")
    if not isinstance(packed_b, (bool, np.bool_)):
        raise ValueError(f"packed_b must be a bool, got {packed_b!r}")
    threads = check_threads(threads)
    cpu = _kernel_cpu(kernel, cpu)
    if kernel.startswith("qgemm"):
        version = instruction_release(ort_version, cpu).version
    else:
        version = resolve_ort_version(ort_version)
    if not isinstance(faithful, (bool, np.bool_)):
        raise ValueError(f"faithful must be a bool, got {faithful!r}")
    records = _records(kernel, M, N, K, bool(packed_b), threads, version, cpu, bool(faithful))
    return Trace(kernel, M, N, K, bool(packed_b), threads, version, tuple(records), cpu)


_MMLA_QGEMM = ("qgemm-u8u8", "qgemm-u8s8", "qgemm-s8s8")


def _sve(version: str, cpu: str) -> bool:
    from ..mlas.qgemm import sve_bits

    return sve_bits(version, cpu) > 0


def _kernel_cpu(kernel: str, cpu: str | None) -> str:
    """The CPU a trace of ``kernel`` stands for: ``cpu`` validated, or the default one that runs it."""
    dot = kernel.startswith("qgemm-dot")
    if cpu is None:
        return "graviton2" if dot else DEFAULT_CPU
    desc = resolve_cpu(cpu)
    mmla = kernel in ("sbgemm", "qgemm-u8u8", "qgemm-u8s8", "qgemm-s8s8")
    if (mmla and not desc.has_mmla) or (dot and desc.i8mm):
        runs = "the DOT-product kernels (qgemm-dot-*) and sgemm" if not desc.has_mmla else \
            "the MMLA kernels (sbgemm, qgemm-u8u8/u8s8/s8s8) and sgemm"
        raise ValueError(f"MLAS does not run {kernel!r} on {desc.name} ({desc.core}); it runs {runs} there")
    return desc.name


def _records(kernel: str, M, N, K, packed_b, threads, version, cpu, faithful) -> list:
    """The kernel routine's schedule over its MLAS driver plan (:mod:`mlas_emu.mlas`), lanes in
    the product's coordinates."""
    from ..mlas import qgemm, qgemm_kernel_udot, sbgemm, sgemm

    args = dict(packed_b=packed_b, threads=threads, ort_version=version)
    if kernel == "sbgemm":
        return sbgemm.trace_records(M, N, K, faithful=faithful, **args)
    if kernel == "sgemm":
        return sgemm.trace_records(M, N, K, cpu=cpu, **args)
    driver = qgemm_kernel_udot if kernel.startswith("qgemm-dot") else qgemm
    return driver.trace_records(M, N, K, cpu=cpu, kind=kernel[-4:], **args)

