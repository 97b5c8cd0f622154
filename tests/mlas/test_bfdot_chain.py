"""The fast BFDotAdd chains (mlas_emu.mlas._bfdot_chain) against the exact Fraction reference,
aimed at the edges of the fp32 tier: exponents at the flush and overflow limits of its proof."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu._host_fp import HAS_MXCSR
from mlas_emu.mlas._bfdot_chain import bfdot_chains, bfdot_chains_unpacked, fp32_tier, unpack_rows

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


#: the fp32 tier's two formulations: TwoSum under round to nearest, and (x86) round toward zero
FORMULATIONS = [False, True] if HAS_MXCSR else [False]


def _check(a, b, init):
    for toward_zero in FORMULATIONS:
        got = bfdot_chains_unpacked(a, unpack_rows(a), b, init, toward_zero)
        for i in range(a.shape[0]):
            for j in range(b.shape[1]):
                expected = ref.chain(int(init[j]), a[i].tolist(), b[:, j].tolist())
                assert int(got[i, j]) == expected, (toward_zero, i, j, hex(int(got[i, j])), hex(expected))


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


def test_default_entry_point_uses_the_host_formulation():
    rng = np.random.default_rng(8)
    a = ref.bfcvt(rng.standard_normal((9, 6)).astype(np.float32))
    b = ref.bfcvt(rng.standard_normal((6, 70)).astype(np.float32))
    init = np.zeros(70, np.uint32)
    np.testing.assert_array_equal(bfdot_chains(a, b, init), bfdot_chains_unpacked(a, unpack_rows(a), b, init, HAS_MXCSR))


@pytest.mark.skipif(not HAS_MXCSR, reason="round toward zero through MXCSR is x86 only")
def test_rounding_mode_is_restored_after_the_chains():
    one, tiny = np.float32(1.0), np.float32(2.0**-24 + 2.0**-30)
    assert one + tiny == np.float32(1.0 + 2.0**-23)  # round to nearest before
    a = ref.bfcvt(np.ones((16, 4), np.float32))
    bfdot_chains_unpacked(a, unpack_rows(a), a.T.copy(), np.zeros(16, np.uint32), True)
    assert one + tiny == np.float32(1.0 + 2.0**-23)  # and after (toward zero would give 1.0)
