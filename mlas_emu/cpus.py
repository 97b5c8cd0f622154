"""The Arm server CPUs mlas-emu models, and how the oracle's QEMU stands in for each.

One table, used by the emulator (which MLAS kernels a CPU's features select) and the oracle
(which ``qemu-aarch64 -cpu`` model runs Arm ORT). Features follow what each QEMU model
advertises in ``/proc/cpuinfo``-style HWCAPs, which is what ONNX Runtime's cpuinfo reads.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cpu:
    """One modelled CPU.

    qemu_cpu: the ``-cpu`` value the oracle runs (never one that advertises SME: ORT would take
        KleidiAI SME kernels that no Graviton runs).
    sve_bits: the SVE vector length (0: no SVE). The GEMMs modelled here give the same bits on
        every CPU (oracle, 1.17.0-1.32.0: fp32 SGEMM runs NEON FMLA everywhere; QGEMM's SVE
        UMMLA/SMMLA kernel from 1.30.0 sums exactly and keeps the fmaf output step); what
        tells the CPUs apart there is BF16 (fastmath) and, from 1.29.0, a NaN in
        DynamicQuantizeMatMul's A (SVE min/max kernel, see releases.Release.sve_min_max).
        ORT's Softmax and LogSoftmax have SVE kernels (from 1.24-1.27; reworked with FEXPA in
        1.29.0) whose bits differ from NEON's and depend on the vector length; from 1.29.0 Exp
        runs an SVE kernel too (docs/cpus.md).
    """

    name: str
    core: str
    qemu_cpu: str
    dotprod: bool
    bf16: bool
    i8mm: bool
    sve_bits: int
    sve2: bool

    @property
    def has_mmla(self) -> bool:
        """BFMMLA and SMMLA/UMMLA present: MLAS selects its MMLA kernels (SBGEMM, QGEMM I8MM)."""
        return self.bf16 and self.i8mm


#: Graviton4 is a Neoverse V2 (SVE2, 128-bit); QEMU 10 has no V2 model, and its Neoverse N2 has
#: the same features that matter here (SVE2 128-bit, BF16, I8MM, dotprod).
CPUS: dict[str, Cpu] = {
    "graviton2": Cpu("graviton2", "Neoverse N1", "neoverse-n1", dotprod=True, bf16=False,
                     i8mm=False, sve_bits=0, sve2=False),
    "graviton3": Cpu("graviton3", "Neoverse V1", "neoverse-v1", dotprod=True, bf16=True,
                     i8mm=True, sve_bits=256, sve2=False),
    "graviton4": Cpu("graviton4", "Neoverse V2", "neoverse-n2", dotprod=True, bf16=True,
                     i8mm=True, sve_bits=128, sve2=True),
}

#: What ``cpu=None`` means.
DEFAULT_CPU = "graviton3"


def resolve_cpu(cpu: str | None) -> Cpu:
    """The :class:`Cpu` named ``cpu`` (``None``: the default), or ``ValueError`` listing the names."""
    if cpu is None:
        cpu = DEFAULT_CPU
    if not isinstance(cpu, str) or cpu not in CPUS:
        raise ValueError(f"unknown cpu {cpu!r}; accepted: {', '.join(CPUS)} (None means {DEFAULT_CPU}); "
                         "raw QEMU -cpu strings are accepted only by the oracle's qemu_cpu= argument")
    return CPUS[cpu]
