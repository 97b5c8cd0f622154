"""The Neoverse V1 throughput model on hand-built instruction streams."""

from __future__ import annotations

import pytest

from mlas_emu.mlas.trace import InstructionRecord
from mlas_emu.teach import throughput, trace


def _mmla(op, acc):
    return InstructionRecord(op, (f"v{acc}.4s", "v8.16b", "v4.16b"))


def test_dependent_chain_uses_latency_minus_forwarding():
    # BFMMLA: latency 5, accumulator read 2 cycles late (V1Wr_BFMMA / V1Rd_BFMMA): 5 + 3 (n - 1).
    e = throughput.estimate([_mmla("bfmmla", 16)] * 10)
    assert e.dataflow_cycles == 5 + 3 * 9
    assert e.bound == "latency"


def test_independent_accumulators_are_bound_by_four_vector_pipes():
    recs = [_mmla("smmla", 16 + i % 16) for i in range(400)]
    e = throughput.estimate(recs)
    assert e.resource_cycles == 100
    assert e.macs == 400 * 32


def test_conversions_share_the_vector_pipes():
    recs = [InstructionRecord("bfcvtn", ("v8.4h", "v8.4s"))] * 8 + [_mmla("bfmmla", 16 + i) for i in range(16)]
    e = throughput.estimate(recs)
    assert e.resource_cycles == pytest.approx(24 / 4)


def test_mmla_beats_dot_and_bfmmla_beats_fmla_on_a_tile():
    cycles = {k: throughput.estimate(trace(k, 8, 16, 64, ort_version="1.29.0")).cycles for k in
              ("sgemm", "sbgemm", "qgemm-dot-u8s8", "qgemm-u8s8")}  # fmt: skip
    assert cycles["sbgemm"] < cycles["sgemm"]
    assert cycles["qgemm-u8s8"] < cycles["qgemm-dot-u8s8"]


def test_gemm_cycles_sum_the_kernel_calls():
    one, macs_one = throughput.gemm_cycles("qgemm-u8s8", 8, 8, 64)
    two, macs_two = throughput.gemm_cycles("qgemm-u8s8", 16, 8, 64)
    assert two == pytest.approx(2 * one) and macs_two == 2 * macs_one == 2 * 8 * 8 * 64


def test_amdahl_fraction():
    f = throughput.gemm_fraction_for(1.5, 3.0)
    assert 1 / ((1 - f) + f / 3.0) == pytest.approx(1.5)
