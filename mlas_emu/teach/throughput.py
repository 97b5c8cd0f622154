"""A simple throughput model of MLAS's GEMM kernels on Neoverse V1 (AWS Graviton3).

Per-instruction costs come from LLVM's scheduling model for Neoverse V1,
``llvm/lib/Target/AArch64/AArch64SchedNeoverseV1.td`` (llvm/llvm-project), entries:

==================  ===============================  ========  ===========  ===============
instruction         write / read types               pipes     latency      accumulator
                                                                            forwarding
==================  ===============================  ========  ===========  ===============
FMLA (vector)       ``V1Wr_FPMA`` / ``V1Rd_FPMA``    V (4)     4            ReadAdvance 2
BFMMLA              ``V1Wr_BFMMA`` / ``V1Rd_BFMMA``  V (4)     5            ReadAdvance 2
SMMLA/UMMLA/USMMLA  ``V1Wr_VMMA`` / ``V1Rd_VMMA``    V (4)     3            ReadAdvance 2
SDOT/UDOT (+lane)   ``V1Wr_VDOT`` / ``V1Rd_VDOT``    V (4)     3            ReadAdvance 2
BFCVTN/BFCVTN2      ``V1Write_4c_1V02``              V0/V2     4
LDR/LD1 (1 reg)     ``V1Write_6c_1L``                L (3)     6
LD1 (4 regs, Q)     ``V1Write_7c_4L``                L (3)     7 (4 uops)
LDP (Q)             ``V1Write_6c_1L`` + ``WriteLDHi`` L (3)    6 (2 uops)
STR/STP/ST1 (Q)     ``V1Write_2c_1L01_1V01``         L01+V01   2
other ASIMD         ``V1Write_2c_1V``                V (4)     2
==================  ===============================  ========  ===========  ===============

``V`` is ``ProcResGroup<[V1UnitV0, V1UnitV1, V1UnitV2, V1UnitV3]>``; ``IssueWidth = 8``.

The estimate for a list of instruction records is the larger of a resource bound (uops per
pipe group, and instructions over the issue width) and a dataflow bound (the critical path over
vector registers, with accumulator forwarding); scalar bookkeeping is ignored. It is a model of
the kernels' inner loops, not of a whole inference: see docs/teach.md for how it compares with
the measured end-to-end speed-ups (1.65x bf16 fastmath, 1.3x int8 MMLA).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from ..mlas import sbgemm, sbgemm_kernel_asm
from ..mlas.schedule import KernelCall

#: LLVM's file the costs are taken from.
SOURCE = "llvm/llvm-project llvm/lib/Target/AArch64/AArch64SchedNeoverseV1.td"

#: Pipes per resource group (AArch64SchedNeoverseV1.td: V1UnitV, V1UnitV02, V1UnitL, V1UnitL01).
PIPES = {"V": 4, "V02": 2, "L": 3, "L01": 2}
ISSUE_WIDTH = 8


@dataclass(frozen=True)
class Cost:
    """Scheduling class of one instruction: uops per resource group, latency, read advance."""

    uops: tuple[tuple[str, int], ...]
    latency: int
    read_advance: int = 0  # cycles early the accumulator operand may arrive
    llvm: str = ""


NEOVERSE_V1 = {
    "fmla": Cost((("V", 1),), 4, 2, "V1Wr_FPMA, V1Rd_FPMA"),
    "fmul": Cost((("V", 1),), 3, 0, "V1Wr_FPM"),
    "bfmmla": Cost((("V", 1),), 5, 2, "V1Wr_BFMMA, V1Rd_BFMMA"),
    "smmla": Cost((("V", 1),), 3, 2, "V1Wr_VMMA, V1Rd_VMMA"),
    "ummla": Cost((("V", 1),), 3, 2, "V1Wr_VMMA, V1Rd_VMMA"),
    "sdot": Cost((("V", 1),), 3, 2, "V1Wr_VDOT, V1Rd_VDOT"),
    "udot": Cost((("V", 1),), 3, 2, "V1Wr_VDOT, V1Rd_VDOT"),
    "bfcvtn": Cost((("V02", 1),), 4, 0, "V1Write_4c_1V02"),
    "bfcvtn2": Cost((("V02", 1),), 4, 0, "V1Write_4c_1V02"),
    "ldr": Cost((("L", 1),), 6, 0, "V1Write_6c_1L"),
    "ld1": Cost((("L", 1),), 6, 0, "V1Write_6c_1L"),
    "ldp": Cost((("L", 2),), 6, 0, "V1Write_6c_1L, WriteLDHi"),
    "str": Cost((("L01", 1), ("V", 1)), 2, 0, "V1Write_2c_1L01_1V01"),
    "stp": Cost((("L01", 1), ("V", 1)), 2, 0, "V1Write_2c_1L01_1V01"),
    "st1": Cost((("L01", 1), ("V", 1)), 2, 0, "V1Write_2c_1L01_1V01"),
}
#: ``LD1 {v4.16b-v7.16b}`` (four Q registers): ``V1Write_7c_4L``.
LD1_FOUR = Cost((("L", 4),), 7, 0, "V1Write_7c_4L")
#: Other ASIMD data processing (mov, eor, movi, add, uzp1/2, dup): ``V1Write_2c_1V``.
DEFAULT = Cost((("V", 1),), 2, 0, "V1Write_2c_1V")

#: Multiply-adds each instruction performs (128-bit forms).
MACS = {"fmla": 4, "bfmmla": 16, "smmla": 32, "ummla": 32, "sdot": 16, "udot": 16}
_REG = re.compile(r"\b[vqds](\d+)\b")
_RANGE = re.compile(r"\{v(\d+)\.\w+\s*-\s*v(\d+)\.\w+\}")
_STORES = {"str", "stp", "st1"}


def cost(record) -> Cost:
    """The scheduling class of an instruction record."""
    if record.mnemonic == "ld1" and record.bytes_loaded == 64:
        return LD1_FOUR
    return NEOVERSE_V1.get(record.mnemonic, DEFAULT)


def _registers(operand: str) -> list[int]:
    m = _RANGE.search(operand)
    if m:
        return list(range(int(m.group(1)), int(m.group(2)) + 1))
    return [int(x) for x in _REG.findall(operand)]


@dataclass(frozen=True)
class Estimate:
    """Cycles of an instruction sequence: resource bound, dataflow bound, their maximum."""

    cycles: float
    resource_cycles: float
    dataflow_cycles: float
    macs: int
    bound: str  # the binding resource ("V", "V02", "L", "L01", "issue") or "latency"

    @property
    def macs_per_cycle(self) -> float:
        return self.macs / self.cycles if self.cycles else 0.0


def estimate(records) -> Estimate:
    """Cycle estimate of instruction records (e.g. a :class:`~mlas_emu.teach.Trace`)."""
    uops = {name: 0 for name in PIPES}
    ready: dict[int, float] = {}
    finish = 0.0
    macs = 0
    count = 0
    for r in records:
        count += 1
        c = cost(r)
        for group, n in c.uops:
            uops[group] += n
        macs += MACS.get(r.mnemonic, 0) if r.lanes or r.mnemonic in MACS else 0
        regs = [_registers(op) for op in r.operands]
        if r.mnemonic in _STORES or not regs:
            sources, dest = [x for rr in regs for x in rr], []
        elif r.mnemonic.startswith("ld"):
            sources, dest = [], [x for rr in regs for x in rr]
        else:
            sources, dest = [x for rr in regs[1:] for x in rr], regs[0]
        start = max((ready.get(x, 0.0) for x in sources), default=0.0)
        if r.mnemonic in MACS and dest:
            start = max(start, ready.get(dest[0], 0.0) - c.read_advance)
        end = start + c.latency
        for x in dest:
            ready[x] = end
        finish = max(finish, end)
    # V02 is part of V: the V group must also absorb the conversions.
    bounds = {group: uops[group] / PIPES[group] for group in PIPES}
    bounds["V"] = (uops["V"] + uops["V02"]) / PIPES["V"]
    bounds["issue"] = count / ISSUE_WIDTH
    resource_key = max(bounds, key=bounds.get)
    resource = bounds[resource_key]
    cycles = max(resource, finish)
    return Estimate(cycles, resource, finish, macs, resource_key if resource >= finish else "latency")


# ----------------------------------------------------------------------------------------------
# Whole GEMMs: sum the estimates of the distinct kernel calls


@lru_cache(maxsize=None)
def _call_estimate(kernel: str, routine: str, call: KernelCall) -> Estimate:
    """The estimate of one routine call (the records of its schedule; calls at another place in
    the product have the same records, so the cache key ignores where)."""
    return estimate(_schedule(kernel, routine, call))


def _schedule(kernel: str, routine: str, call: KernelCall) -> list:
    from ..mlas import qgemm_kernel_dot_asm, qgemm_kernel_mmla_asm, sgemm_kernel_asm

    signed = kernel.endswith("s8s8")
    if kernel == "sbgemm":
        return sbgemm_kernel_asm.schedule(call)
    if kernel == "sgemm":
        return (sgemm_kernel_asm.gemv_schedule if routine == "gemv" else sgemm_kernel_asm.schedule)(call)
    if kernel.startswith("qgemm-dot"):
        return qgemm_kernel_dot_asm.schedule(call, kernel="sdot" if signed else "udot")
    return qgemm_kernel_mmla_asm.schedule(call, kernel="smmla" if signed else "ummla")


def _routine_calls(kernel: str, M: int, N: int, K: int, packed_b: bool) -> list[tuple[str, KernelCall]]:
    """(routine, call) of one thread running the whole product, from the MLAS driver plans."""
    from ..mlas import qgemm, qgemm_kernel_udot, sgemm

    if kernel == "sbgemm":
        return [("sbgemm", c) for c in sbgemm.kernel_calls(M, N, K, packed_b=packed_b)]
    if kernel == "sgemm":
        steps = sgemm.routine_calls(sgemm.plan(M, N, K, packed_b=packed_b), K, packed_b=packed_b)
        return [(s.routine, s.call) for s in steps if isinstance(s, sgemm.RoutineCall)]
    driver = qgemm_kernel_udot.plan if kernel.startswith("qgemm-dot") else qgemm.plan_calls
    return [(kernel, c) for c in driver(M, N, K, packed_b=packed_b)]


def gemm_cycles(kernel: str, M: int, N: int, K: int, *, packed_b: bool = True) -> tuple[float, int]:
    """(estimated cycles, multiply-adds executed) of one thread running the whole GEMM."""
    total, macs = 0.0, 0
    for routine, call in _routine_calls(kernel, M, N, K, packed_b):
        e = _call_estimate(kernel, routine, replace(call, thread=0, m=0, n=0, k=0))
        total += e.cycles
        macs += e.macs
    return total, macs


#: GEMMs of one encoder/decoder layer (hidden 768, FFN 3072, 12 heads of 64) for ``tokens``
#: tokens: name -> (M, N, K, B is a constant initializer, how many per layer).
def transformer_gemms(tokens: int = 128, seq: int = 128):
    return {
        "QKV projections": (tokens, 768, 768, True, 3),
        "attention output": (tokens, 768, 768, True, 1),
        "FFN up": (tokens, 3072, 768, True, 1),
        "FFN down": (tokens, 768, 3072, True, 1),
        "scores Q K^T (per head)": (seq, seq, 64, False, 12 * max(1, tokens // seq)),
        "context P V (per head)": (seq, 64, seq, False, 12 * max(1, tokens // seq)),
    }


#: The models of the AWS blog: BERT-base and RoBERTa-base share these shapes; GPT-2 (small)
#: also, with its language-model head (vocabulary 50257) on top.
MODELS = {"BERT-base": 12, "RoBERTa-base": 12, "GPT-2": 12}

#: Speed-ups measured by the AWS blog (ORT 1.17.1 vs 1.16.0 on c7g.4xlarge, best cases).
MEASURED = {"bf16 fastmath (BFMMLA) vs fp32 (FMLA)": 1.65, "int8 MMLA vs int8 DOT": 1.3}


def compare(tokens: int = 128, seq: int = 128) -> list[dict]:
    """Estimated kernel speed-ups per GEMM shape: BFMMLA vs FMLA and UMMLA vs UDOT."""
    rows = []
    for name, (M, N, K, packed, per_layer) in transformer_gemms(tokens, seq).items():
        fp32, _ = gemm_cycles("sgemm", M, N, K, packed_b=packed)
        bf16, _ = gemm_cycles("sbgemm", M, N, K, packed_b=packed)
        dot, _ = gemm_cycles("qgemm-dot-u8s8", M, N, K, packed_b=packed)
        mmla, _ = gemm_cycles("qgemm-u8s8", M, N, K, packed_b=packed)
        rows.append({"gemm": name, "M": M, "N": N, "K": K, "per_layer": per_layer,
                     "fmla_cycles": fp32, "bfmmla_cycles": bf16, "udot_cycles": dot, "ummla_cycles": mmla,
                     "bf16_speedup": fp32 / bf16, "int8_speedup": dot / mmla})  # fmt: skip
    return rows


def model_speedups(tokens: int = 128, seq: int = 128) -> dict[str, float]:
    """GEMM-only speed-ups of one layer (weighted by how often each GEMM runs)."""
    rows = compare(tokens, seq)
    out = {}
    for a, b, key in (("fmla_cycles", "bfmmla_cycles", "bf16"), ("udot_cycles", "ummla_cycles", "int8")):
        base = sum(r[a] * r["per_layer"] for r in rows)
        new = sum(r[b] * r["per_layer"] for r in rows)
        out[key] = base / new
    return out


def gemm_fraction_for(measured: float, kernel_speedup: float) -> float:
    """Amdahl: the share of the baseline time in GEMMs that turns ``kernel_speedup`` into
    ``measured`` end to end, ``f`` in ``1 / ((1 - f) + f / s) = measured``."""
    return (1 - 1 / measured) / (1 - 1 / kernel_speedup)
