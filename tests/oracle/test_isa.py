"""The isa layer against real instructions: every ``mlas_emu.isa`` function, bit for bit, on
thousands of random registers per run drawn with special values (see oracle_values.py)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from oracle_values import FP32_SPECIALS, bf16_bits, first_mismatches, fp32_bits, int8s, int32s

pytestmark = pytest.mark.oracle

INTEGER_FORMS = {  # name -> (vd, vn, vm dtypes)
    "smmla": (np.int32, np.int8, np.int8),
    "ummla": (np.uint32, np.uint8, np.uint8),
    "usmmla": (np.int32, np.uint8, np.int8),
    "sdot": (np.int32, np.int8, np.int8),
    "udot": (np.uint32, np.uint8, np.uint8),
    "usdot": (np.int32, np.uint8, np.int8),
}

#: FPCR settings QEMU 7.2 implements (no FEAT_EBF16, no FEAT_AFP): None is Linux's default.
FPCR_FIELDS = [None, {"rmode": "RZ"}, {"rmode": "RP"}, {"rmode": "RM"}, {"fz": True},
               {"dn": True}, {"fz": True, "dn": True, "rmode": "RZ"}]


def isa():
    from mlas_emu import isa as module

    return module


def make_fpcr(fields):
    return None if fields is None else isa().FPCR(**fields)


def bf16_registers(seed: int, n: int, segments: int):
    rng = np.random.default_rng(seed)
    vd = fp32_bits(rng, (n, 4 * segments)).view(np.float32)
    vn = bf16_bits(rng, (n, 8 * segments)).view(ml_dtypes.bfloat16)
    vm = bf16_bits(rng, (n, 8 * segments)).view(ml_dtypes.bfloat16)
    return vd, vn, vm


def assert_same_bits(got, expected, *inputs):
    assert got.dtype == expected.dtype and got.shape == expected.shape, (got.dtype, got.shape, expected.shape)
    width = {2: np.uint16, 4: np.uint32}[got.dtype.itemsize]
    assert np.array_equal(got.view(width), expected.view(width)), first_mismatches(got, expected, *inputs)


@pytest.mark.parametrize("name", ["bfmmla", "bfdot"])
@pytest.mark.parametrize("segments", [1, 2, 4])
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
@example(seed=0)
def test_bf16_instructions_match_real_instructions(oracle, name, segments, seed):
    vd, vn, vm = bf16_registers(seed, 3000 // segments, segments)
    got = getattr(isa(), name)(vd, vn, vm)
    expected = oracle.run_instructions(name, vd, vn, vm)
    assert_same_bits(got, expected, vd, vn, vm)


@pytest.mark.parametrize("name", ["bfmmla", "bfdot"])
@pytest.mark.parametrize("fields", FPCR_FIELDS[1:], ids=str)
def test_bf16_instructions_under_fpcr_settings(oracle, name, fields):
    """With FPCR.EBF == 0 BFDotAdd ignores FPCR's rounding and flushing fields: the real
    instruction decides, for every setting QEMU implements."""
    vd, vn, vm = bf16_registers(11, 1500, 1)
    fpcr = make_fpcr(fields)
    got = getattr(isa(), name)(vd, vn, vm, fpcr=fpcr)
    expected = oracle.run_instructions(name, vd, vn, vm, fpcr=fpcr)
    assert_same_bits(got, expected, vd, vn, vm)


def test_bf16_bit_pattern_operands(oracle):
    rng = np.random.default_rng(5)
    vd, vn, vm = fp32_bits(rng, (500, 4)), bf16_bits(rng, (500, 8)), bf16_bits(rng, (500, 8))
    got = isa().bfmmla(vd, vn, vm)
    expected = oracle.run_instructions("bfmmla", vd, vn, vm)
    assert got.dtype == np.float32
    assert_same_bits(got, expected, vd, vn, vm)


@pytest.mark.parametrize("name", sorted(INTEGER_FORMS))
@pytest.mark.parametrize("segments", [1, 2, 4])
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
@example(seed=0)
def test_integer_instructions_match_real_instructions(oracle, name, segments, seed):
    vd_t, vn_t, vm_t = INTEGER_FORMS[name]
    rng = np.random.default_rng(seed)
    n = 2000 // segments
    vd = int32s(rng, (n, 4 * segments), vd_t)
    vn = int8s(rng, (n, 16 * segments), vn_t)
    vm = int8s(rng, (n, 16 * segments), vm_t)
    got = getattr(isa(), name)(vd, vn, vm)
    expected = oracle.run_instructions(name, vd, vn, vm)
    assert_same_bits(got, expected, vd, vn, vm)


def test_bfcvt_matches_real_instruction_on_every_upper_half(oracle):
    """All 65,536 bf16 patterns, each with low halves at and around the rounding point."""
    upper = np.arange(1 << 16, dtype=np.uint32) << 16
    lows = np.array([0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF], np.uint32)
    x = (upper[:, None] | lows[None, :]).reshape(-1).view(np.float32)
    got = isa().bfcvt(x)
    expected = oracle.run_instructions("bfcvt", x)
    assert_same_bits(got, expected, x)


@pytest.mark.parametrize("fields", FPCR_FIELDS[1:], ids=str)
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
@example(seed=0)
def test_bfcvt_under_fpcr_settings(oracle, fields, seed):
    x = fp32_bits(np.random.default_rng(seed), (40, 100)).view(np.float32)
    fpcr = make_fpcr(fields)
    got = isa().bfcvt(x, fpcr=fpcr)
    expected = oracle.run_instructions("bfcvt", x, fpcr=fpcr)
    assert_same_bits(got, expected, x)


@pytest.mark.parametrize("fields", FPCR_FIELDS, ids=str)
def test_fmla_on_every_triple_of_special_values(oracle, fields):
    """FMLA Vd.4S, Vn.4S, Vm.4S on all 27**3 (addend, op1, op2) triples of special fp32 values
    (NaN payloads and order, 0 x inf, inf - inf, signed zeros, denormals under FZ)."""
    d, n, m = np.meshgrid(FP32_SPECIALS, FP32_SPECIALS, FP32_SPECIALS, indexing="ij")
    pad = -d.size % 4
    vd, vn, vm = (np.concatenate([x.reshape(-1), np.zeros(pad, np.uint32)]).reshape(-1, 4)
                  for x in (d, n, m))
    fpcr = make_fpcr(fields)
    got = isa().fmla(vd, vn, vm, fpcr=fpcr)
    expected = oracle.run_instructions("fmla", vd, vn, vm, fpcr=fpcr)
    assert_same_bits(got, expected, vd, vn, vm)


@pytest.mark.parametrize("fields", FPCR_FIELDS, ids=str)
@pytest.mark.parametrize("segments", [1, 2])
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
@example(seed=0)
def test_fmla_matches_real_instruction(oracle, fields, segments, seed):
    rng = np.random.default_rng(seed)
    vd, vn, vm = (fp32_bits(rng, (3000 // segments, 4 * segments)).view(np.float32) for _ in range(3))
    fpcr = make_fpcr(fields)
    got = isa().fmla(vd, vn, vm, fpcr=fpcr)
    expected = oracle.run_instructions("fmla", vd, vn, vm, fpcr=fpcr)
    assert_same_bits(got, expected, vd, vn, vm)


def test_broadcast_leading_dimensions_agree(oracle):
    rng = np.random.default_rng(9)
    vd = fp32_bits(rng, (7, 1, 4)).view(np.float32)
    vn = bf16_bits(rng, (1, 6, 8)).view(ml_dtypes.bfloat16)
    vm = bf16_bits(rng, (6, 8)).view(ml_dtypes.bfloat16)
    got = isa().bfdot(vd, vn, vm)
    expected = oracle.run_instructions("bfdot", vd, vn, vm)
    assert got.shape == (7, 6, 4)
    assert_same_bits(got, expected)
