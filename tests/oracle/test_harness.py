"""The instruction harness itself (``oracle.run_instructions``) against independent exact
references: integer math for SMMLA/UMMLA/USMMLA/SDOT/UDOT/USDOT, exact small-integer sums for
BFMMLA/BFDOT (which pins the lane layout of docs/concepts-isa.md), the BFCVT facts measured on
real instructions, and the FPCR fields each CPU model keeps (FEAT_EBF16, FEAT_AFP)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from integer_reference import INTEGER_FORMS, integer_reference
from oracle_values import first_mismatches, int8s, int32s

pytestmark = pytest.mark.oracle

@pytest.mark.parametrize("name", sorted(INTEGER_FORMS))
@pytest.mark.parametrize("segments", [1, 2, 3])
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
@example(seed=0)
def test_integer_instructions_match_exact_integer_math(oracle, name, segments, seed):
    vd_t, vn_t, vm_t, is_mmla = INTEGER_FORMS[name]
    rng = np.random.default_rng(seed)
    n = 1000
    vd = int32s(rng, (n, 4 * segments), vd_t)
    vn = int8s(rng, (n, 16 * segments), vn_t)
    vm = int8s(rng, (n, 16 * segments), vm_t)
    got = oracle.run_instructions(name, vd, vn, vm)
    expected = integer_reference(vd, vn, vm, is_mmla)
    assert got.dtype == vd_t and got.shape == vd.shape
    assert np.array_equal(got, expected), first_mismatches(got, expected, vd, vn, vm)


def to_bf16(values) -> np.ndarray:
    return np.asarray(values, np.float32).astype(ml_dtypes.bfloat16)


@pytest.mark.parametrize("segments", [1, 2])
def test_bfmmla_lane_layout_on_exact_values(oracle, segments):
    """Small integers: every product and sum is exact, so the result is the matrix product
    with the lane layout of docs/concepts-isa.md (any other layout gives other numbers)."""
    rng = np.random.default_rng(7)
    n = 200
    A = rng.integers(-16, 17, (n, segments, 2, 4))  # vn lane 4*i+k = A[i,k]
    Bt = rng.integers(-16, 17, (n, segments, 2, 4))  # vm lane 4*j+k = B[k,j]
    C = rng.integers(-1000, 1001, (n, segments, 2, 2))  # vd lane 2*i+j = C[i,j]
    got = oracle.run_instructions("bfmmla", C.reshape(n, -1).astype(np.float32),
                                  to_bf16(A.reshape(n, -1)), to_bf16(Bt.reshape(n, -1)))
    expected = (C + np.einsum("nsik,nsjk->nsij", A, Bt)).reshape(n, -1).astype(np.float32)
    assert np.array_equal(got, expected)


def test_bfdot_lanes_on_exact_values(oracle):
    rng = np.random.default_rng(8)
    vn, vm = rng.integers(-16, 17, (2, 300, 8))
    vd = rng.integers(-1000, 1001, (300, 4))
    got = oracle.run_instructions("bfdot", vd.astype(np.float32), to_bf16(vn), to_bf16(vm))
    expected = (vd + (vn * vm).reshape(300, 4, 2).sum(-1)).astype(np.float32)
    assert np.array_equal(got, expected)


def test_bfmmla_nan_and_round_to_odd_facts(oracle):
    """BFDotAdd (DDI0487 M.a.a): a NaN input gives the default NaN; an inexact product is rounded to
    odd (1 + 2^-24 is not representable: (1 + 2^-7)^2 = 1 + 2^-6 + 2^-14 is, so use a sum)."""
    one = 0x3F80
    nan_vn = np.full(8, one, np.uint16)
    nan_vn[0] = 0x7FA0  # a signalling NaN with a payload
    got = oracle.run_instructions("bfmmla", np.zeros(4, np.float32), nan_vn, np.full(8, one, np.uint16))
    assert got.view(np.uint32)[0] == 0x7FC00000 and got.view(np.uint32)[1] == 0x7FC00000
    # addend 2^24 plus products summing to 1: exact sum 2^24 + 1 is a tie between 2^24 and
    # 2^24 + 2; round to odd keeps the odd neighbour's sticky bit: 2^24 + 2.
    vd = np.full(4, 2.0**24, np.float32)
    vn = to_bf16([1, 0, 0, 0] * 2)
    vm = to_bf16([1, 0, 0, 0] * 2)
    got = oracle.run_instructions("bfmmla", vd, vn, vm)
    assert got[0] == np.float32(2.0**24 + 2)


def test_bfcvt_nan_payloads_as_measured_on_real_instructions(oracle):
    x = np.array([0x7FA00000, 0x7FB12345, 0xFF8F0000, 0x7F810000], np.uint32)
    got = oracle.run_instructions("bfcvt", x).view(np.uint16)
    assert [int(v) for v in got] == [0x7FE0, 0x7FF1, 0xFFCF, 0x7FC1]


def test_bfcvt_matches_round_to_nearest_even_for_every_upper_half(oracle):
    """Every bf16 pattern with the low halves around the rounding point (docs/concepts-isa.md: RNE,
    denormals kept, like ml_dtypes except for NaN)."""
    upper = np.arange(1 << 16, dtype=np.uint32) << 16
    lows = np.array([0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF], np.uint32)
    x = (upper[:, None] | lows[None, :]).reshape(-1)
    got = oracle.run_instructions("bfcvt", x)
    with np.errstate(invalid="ignore"):  # NaN inputs are compared separately
        expected = x.view(np.float32).astype(ml_dtypes.bfloat16)
    finite = ~np.isnan(x.view(np.float32))
    assert got.shape == x.shape and got.dtype == ml_dtypes.bfloat16
    assert np.array_equal(got.view(np.uint16)[finite], expected.view(np.uint16)[finite])
    nan_bits = got.view(np.uint16)[~finite]
    assert np.all((nan_bits & 0x7FC0) == 0x7FC0)  # quiet NaNs


def test_bfcvt_follows_fpcr_rounding_mode(oracle):
    x = np.float32([1 + 2.0**-8 + 2.0**-9, -(1 + 2.0**-8 + 2.0**-9)])  # between 1 and 1 + 2^-7
    as_int = lambda fpcr: [int(v) for v in oracle.run_instructions("bfcvt", x, fpcr=fpcr).view(np.uint16)]
    assert as_int(None) == [0x3F81, 0xBF81]
    assert as_int(3 << 22) == [0x3F80, 0xBF80]  # RZ
    assert as_int(1 << 22) == [0x3F81, 0xBF80]  # RP
    assert as_int(2 << 22) == [0x3F80, 0xBF81]  # RM


def test_harness_cpu_implements_ebf16_and_afp(oracle):
    """QEMU 10's ``max`` CPU has FEAT_EBF16 (ID_AA64ISAR1_EL1.BF16 == 2) and FEAT_AFP
    (ID_AA64MMFR1_EL1.AFP == 1). Its user mode leaves HWCAP2_EBF16 and HWCAP2_AFP clear (its ELF
    loader maps neither feature; Linux on such a CPU sets both), so the harness reads the ID
    registers too. The Graviton models have neither feature."""
    from mlas_emu.oracle._harness import harness_features

    features = harness_features()
    assert features["ebf16"] and features["afp"], features
    assert (features["id_aa64isar1"] >> 44) & 0xF == 2 and (features["id_aa64mmfr1"] >> 44) & 0xF == 1
    for cpu in ("graviton2", "graviton3", "graviton4"):
        features = harness_features(cpu=cpu)
        assert not features["ebf16"] and not features["afp"], features


@pytest.mark.parametrize("fpcr", [1 << 13, 1 << 0, 1 << 1, 1 << 2, 1 << 13 | 0b111 | 0b1111 << 22],
                         ids=["EBF", "FIZ", "AH", "NEP", "EBF+AFP+RMode+FZ+DN"])
def test_feat_ebf16_and_feat_afp_fields_read_back(oracle, fpcr):
    """The harness refuses a value that does not read back, so running at all proves it held."""
    got = oracle.run_instructions("bfcvt", np.float32([1.0, -0.0, 3.0e38, 1e-40]), fpcr=fpcr)
    assert got.dtype == ml_dtypes.bfloat16


def test_fpcr_fields_of_missing_features_are_refused(oracle):
    x = np.float32([1.0])
    with pytest.raises(oracle.OracleUnavailable, match="neoverse-v1 has no FEAT_EBF16"):
        oracle.run_instructions("bfcvt", x, fpcr=1 << 13, cpu="graviton3")
    with pytest.raises(oracle.OracleUnavailable, match="no FEAT_AFP"):
        oracle.run_instructions("bfcvt", x, fpcr=1 << 1, qemu_cpu="neoverse-n1")
    # FPCR.IOE (trapped Invalid Operation): QEMU implements no floating-point traps.
    with pytest.raises(oracle.OracleUnavailable, match="did not keep FPCR = 0x00000100"):
        oracle.run_instructions("bfcvt", x, fpcr=1 << 8)


def test_ebf_fuses_the_dot_product_on_exact_values(oracle):
    """-1 + (1*1 + 2^-30*1): unfused (EBF == 0) the products' sum is rounded to odd, 1 + 2^-23,
    leaving 2^-23; fused (EBF == 1, FPDot) it is rounded once to nearest, 1, leaving +0; with
    RP the fused sum rounds up and leaves 2^-23 again. 2^-126 - 2^-151: under FZ flushed to +0,
    with AH (tininess after rounding) the smallest normal."""
    bf = lambda *v: to_bf16(v)
    vd, vn, vm = np.float32([-1.0] * 4), bf(1, 2.0**-30, 0, 0, 0, 0, 0, 0), bf(1, 1, 0, 0, 0, 0, 0, 0)
    lane0 = lambda fpcr: int(oracle.run_instructions("bfdot", vd, vn, vm, fpcr=fpcr).view(np.uint32)[0])
    assert lane0(None) == 0x34000000
    assert lane0(1 << 13) == 0x00000000
    assert lane0(1 << 13 | 1 << 22) == 0x34000000  # RP
    vn, vm = bf(2.0**-63, 2.0**-75, 0, 0, 0, 0, 0, 0), bf(2.0**-63, -(2.0**-76), 0, 0, 0, 0, 0, 0)
    vd = np.zeros(4, np.float32)
    assert lane0(1 << 13 | 1 << 24) == 0x00000000  # FZ
    assert lane0(1 << 13 | 1 << 24 | 1 << 1) == 0x00800000  # FZ, AH


def test_named_cpu_gives_the_harness_cpu_bits(oracle):
    """Under the default FPCR the results do not depend on the CPU model (256-bit SVE on
    Graviton3's neoverse-v1)."""
    rng = np.random.default_rng(6)
    vd = rng.standard_normal((50, 8)).astype(np.float32)
    vn, vm = (to_bf16(rng.standard_normal((50, 16))) for _ in range(2))
    got = oracle.run_instructions("bfmmla", vd, vn, vm, cpu="graviton3")
    assert np.array_equal(got.view(np.uint32), oracle.run_instructions("bfmmla", vd, vn, vm).view(np.uint32))


def test_results_broadcast_over_leading_dimensions(oracle):
    rng = np.random.default_rng(3)
    vd = int32s(rng, (5, 1, 4), np.int32)
    vn = int8s(rng, (1, 3, 16), np.int8)
    vm = int8s(rng, (3, 16), np.int8)
    got = oracle.run_instructions("smmla", vd, vn, vm)
    assert got.shape == (5, 3, 4)
    expected = integer_reference(np.broadcast_to(vd, (5, 3, 4)), np.broadcast_to(vn, (5, 3, 16)),
                                 np.broadcast_to(vm, (5, 3, 16)), True)
    assert np.array_equal(got, expected)


def test_inputs_are_not_modified(oracle):
    rng = np.random.default_rng(4)
    vd, vn, vm = int32s(rng, (10, 4), np.uint32), int8s(rng, (10, 16), np.uint8), int8s(rng, (10, 16), np.uint8)
    copies = [a.copy() for a in (vd, vn, vm)]
    oracle.run_instructions("ummla", vd, vn, vm)
    assert all(np.array_equal(a, c) for a, c in zip((vd, vn, vm), copies))


def test_bad_arguments_raise_clear_errors(oracle):
    vd, v8 = np.zeros(4, np.int32), np.zeros(16, np.int8)
    with pytest.raises(ValueError, match="unknown instruction"):
        oracle.run_instructions("fmul", vd, v8, v8)
    with pytest.raises(TypeError, match="3 operands"):
        oracle.run_instructions("smmla", vd, v8)
    with pytest.raises(TypeError, match="vn must be int8"):
        oracle.run_instructions("smmla", vd, np.zeros(16, np.float32), v8)
    with pytest.raises(ValueError, match="lanes"):
        oracle.run_instructions("smmla", vd, np.zeros(12, np.int8), np.zeros(12, np.int8))
    with pytest.raises(TypeError, match="float32"):
        oracle.run_instructions("bfcvt", np.zeros(4, np.float64))
    with pytest.raises(ValueError, match="not both"):
        oracle.run_instructions("bfcvt", np.zeros(4, np.float32), cpu="graviton3", qemu_cpu="max")
    with pytest.raises(ValueError, match="unknown cpu"):
        oracle.run_instructions("bfcvt", np.zeros(4, np.float32), cpu="max,sme=off")
