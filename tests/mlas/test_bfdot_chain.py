"""The fast BFDotAdd chains (mlas_emu.mlas._bfdot_chain) against the exact Fraction reference,
aimed at the edges of the float32 tiers: exponents at the flush and overflow limits of their
precondition. Every tile loop the dispatcher can pick is run on the same operands."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu.isa.tiers import HAS_AVX512
from mlas_emu.mlas import _bfdot_chain as chain
from mlas_emu.mlas._bfdot_chain import bfdot_chains, fp32_tier, unpack_rows

import _sbgemm_reference as ref


def _bf16(sign, expo, mant):
    return (sign << 15) | (expo << 7) | mant


@st.composite
def _near_limits(draw):
    """Operands whose exponent sums sit around the fp32 tier's limits (142 for flush, ~252 for
    overflow), with random mantissas and signs so that products cancel; some zeros."""
    rows = draw(st.integers(1, 8))
    n = draw(st.integers(1, 12))
    ka = 2 * draw(st.integers(1, 12))
    low = draw(st.booleans())
    if low:  # exponent sums around 142: values near 2^-126 after cancellation
        ea = draw(st.integers(1, 140))
        eb = draw(st.integers(max(1, 139 - ea), min(254, 146 - ea)))
    else:  # exponent sums around 252 - log2(ka): sums near 2^127
        ea = draw(st.integers(100, 254))
        eb = draw(st.integers(max(1, 240 - ea), min(254, 256 - ea)))
    spread = draw(st.integers(0, 3))

    def values(count, e0):
        out = []
        for _ in range(count):
            if draw(st.integers(0, 9)) == 0:
                out.append(draw(st.sampled_from([0x0000, 0x8000])))
            else:
                e = min(254, e0 + draw(st.integers(0, spread)))
                out.append(_bf16(draw(st.integers(0, 1)), e, draw(st.integers(0, 127))))
        return out

    a = np.array(values(rows * ka, ea), np.uint16).reshape(rows, ka)
    b = np.array(values(ka * n, eb), np.uint16).reshape(ka, n)
    init_kind = draw(st.sampled_from(["zero", "small", "any"]))
    if init_kind == "zero":
        init = np.zeros(n, np.uint32)
    elif init_kind == "small":  # fp32 exponent fields around the tier's limit of 24
        init = np.array([(draw(st.integers(0, 1)) << 31) | (draw(st.integers(20, 28)) << 23)
                         | draw(st.integers(0, 2**23 - 1)) for _ in range(n)], np.uint32)
    else:
        init = np.array([draw(st.integers(0, 2**32 - 1)) for _ in range(n)], np.uint32)
    return a, b, init


def _tile_loops(a, b, init):
    """The chains of one tile (a: at most 8 rows, b: at most 64 columns) by every tile loop
    whose precondition holds, as fp32 bits (NaN-free operands only)."""
    af, _, _, _ = unpack_rows(a)
    bt, _, _, _ = chain._unpack_bf16_cols(b)
    init_f, _, _, _ = chain._unpack_init(init)
    loops = {"f64": (chain._tile_chains_f64, np.float64)}
    if fp32_tier(a, b, init):
        loops["f32"] = (chain._tile_chains_f32, np.float32)
        if HAS_AVX512:
            loops["f32-rz16"] = (chain._tile_chains_rz16, np.float32)
    out = {}
    for name, (loop, dtype) in loops.items():
        acc = np.zeros((8, 64), dtype)
        acc[: a.shape[0], : b.shape[1]] = init_f.astype(dtype)[None, :]
        loop(af, bt, acc, 0, a.shape[0], 0, b.shape[1])
        out[name] = acc[: a.shape[0], : b.shape[1]].astype(np.float32).view(np.uint32)
    return out


def _check(a, b, init):
    got = bfdot_chains(a, b, init)
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            expected = ref.chain(int(init[j]), a[i].tolist(), b[:, j].tolist())
            assert int(got[i, j]) == expected, (i, j, hex(int(got[i, j])), hex(expected))
    if a.shape[0] <= 8 and b.shape[1] <= 64 and not _has_special(a, b, init):
        for name, bits in _tile_loops(a, b, init).items():
            fine = ~np.isnan(bits.view(np.float32))  # the float64 loop reports overflow as NaN
            np.testing.assert_array_equal(bits[fine], got[fine], err_msg=name)


def _has_special(a, b, init):
    return bool(((a & 0x7F80) == 0x7F80).any() or ((b & 0x7F80) == 0x7F80).any()
                or ((init & 0x7F800000) == 0x7F800000).any())


# Exponent sum exactly 142: products' ulps are 2^-126, a cancelling pair lands on 2^-126.
_AT_FLUSH = (np.array([[_bf16(0, 64, 1), _bf16(0, 64, 0)]], np.uint16),
             np.array([[_bf16(0, 78, 0)], [_bf16(1, 78, 0)]], np.uint16), np.zeros(1, np.uint32))
# Exponent sum 141: the same cancellation gives 2^-127, which BFRound flushes.
_PAST_FLUSH = (np.array([[_bf16(0, 63, 1), _bf16(0, 63, 0)]], np.uint16),
               np.array([[_bf16(0, 78, 0)], [_bf16(1, 78, 0)]], np.uint16), np.zeros(1, np.uint32))
# Largest values: the sum of two products of 2^127-ish overflows to infinity.
_OVERFLOW = (np.array([[_bf16(0, 190, 127), _bf16(0, 190, 127)]], np.uint16),
             np.array([[_bf16(0, 190, 127)], [_bf16(0, 190, 127)]], np.uint16), np.zeros(1, np.uint32))

# A small initial value (exponent field 14) that a product cancels down to 2^-130: flushed.
_INIT_CANCEL = (np.array([[_bf16(0, 71, 0), 0]], np.uint16), np.array([[_bf16(0, 71, 0)], [0]], np.uint16),
                np.array([np.float32(-(2.0**-112 - 2.0**-130))]).view(np.uint32))


@settings(max_examples=60, deadline=None)
@given(_near_limits())
@example(_AT_FLUSH)
@example(_PAST_FLUSH)
@example(_OVERFLOW)
@example(_INIT_CANCEL)
def test_chains_near_the_fp32_tier_limits_match_the_exact_reference(ops):
    _check(*ops)


@pytest.mark.parametrize("ops,tier", [(_AT_FLUSH, True), (_PAST_FLUSH, False), (_OVERFLOW, False),
                                     (_INIT_CANCEL, False)])
def test_tier_choice_at_the_limits(ops, tier):
    assert fp32_tier(*ops) is tier


def test_fp32_tier_runs_for_ordinary_data_and_is_exact():
    rng = np.random.default_rng(5)
    a = ref.bfcvt(rng.standard_normal((8, 64)).astype(np.float32))
    b = ref.bfcvt(rng.standard_normal((64, 24)).astype(np.float32))
    init = rng.standard_normal(24).astype(np.float32).view(np.uint32)
    assert fp32_tier(a, b, init)
    _check(a, b, init)


def test_tiers_are_chosen_per_tile():
    # One row of tiny values sends its 8-row tile to the careful tier; the other tile stays fp32.
    rng = np.random.default_rng(6)
    a = ref.bfcvt(rng.standard_normal((16, 8)).astype(np.float32))
    a[3] = _bf16(0, 2, 5)
    b = ref.bfcvt(rng.standard_normal((8, 5)).astype(np.float32))
    init = np.zeros(5, np.uint32)
    assert not fp32_tier(a[:8], b, init) and fp32_tier(a[8:], b, init)
    _check(a, b, init)


def test_tile_loops_with_a_column_tail_match_the_exact_reference():
    # 53 columns: three 16-lane steps and a 5-column tail in the AVX-512 loop.
    rng = np.random.default_rng(8)
    a = ref.bfcvt(rng.standard_normal((5, 12)).astype(np.float32))
    b = ref.bfcvt(rng.standard_normal((12, 53)).astype(np.float32))
    init = rng.standard_normal(53).astype(np.float32).view(np.uint32)
    assert fp32_tier(a, b, init)
    loops = _tile_loops(a, b, init)
    assert set(loops) == ({"f64", "f32", "f32-rz16"} if HAS_AVX512 else {"f64", "f32"})
    _check(a, b, init)


def test_the_last_argument_of_bfdot_chains_unpacked_is_ignored():
    rng = np.random.default_rng(9)
    a = ref.bfcvt(rng.standard_normal((3, 4)).astype(np.float32))
    b = ref.bfcvt(rng.standard_normal((4, 20)).astype(np.float32))
    init = np.zeros(20, np.uint32)
    want = bfdot_chains(a, b, init)
    for flag in (True, False):
        np.testing.assert_array_equal(chain.bfdot_chains_unpacked(a, unpack_rows(a), b, init, flag), want)
