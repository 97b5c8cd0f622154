"""Each registered tier of mlas_emu.isa.tiers against its specification (mlas_emu.isa.bf16,
mlas_emu.isa.fp32) and against the exact reference tests/naive.py (Arm ARM DDI0487 M.a.a
pseudocode written with Fractions), on operands that satisfy the tier's precondition.

Sweeps are exhaustive over every finite bf16 value of one operand (all 65,280 non-zero normal
patterns plus zeros) with the other operands sampled; the exact reference sees a sample of them
and hypothesis draws further cases near the precondition's limits.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from isa_strategies import fp32_bits
from mlas_emu._jit import njit
from mlas_emu.isa import tiers
from mlas_emu.isa.bf16 import bf_dot_add
from mlas_emu.isa.fp32 import fp_mul_add

#: every registered tier has a test below
TESTED = {"bfdot-f32-rz16", "bfdot-f32", "bfdot-f64", "fma-host"}


def test_every_registered_tier_is_tested_here():
    assert {t.name for t in tiers.TIERS} == TESTED


# All bf16 patterns that BFUnpack reads as finite numbers: zeros, flushed denormals, normals.
_ALL = np.arange(1 << 16, dtype=np.uint32)
FINITE_BF16 = _ALL[((_ALL >> 7) & 0xFF) != 0xFF].astype(np.uint16)


def _flushed_f32(bits16):
    """BFUnpack of bf16 patterns as float32 values (denormals flushed to signed zero)."""
    bits = bits16.astype(np.uint32)
    zero_exp = (bits & 0x7F80) == 0
    return np.where(zero_exp, bits & 0x8000, bits).astype(np.uint32) << 16


def _flushed_init(bits32):
    bits = np.asarray(bits32, np.uint32)
    return np.where((bits & 0x7F800000) == 0, bits & 0x80000000, bits).view(np.float32)


@njit
def _spec_lanes(acc, a0, a1, b0, b1):
    out = np.empty(a0.size, np.uint32)
    for i in range(a0.size):
        out[i] = bf_dot_add(acc[i], a0[i], a1[i], b0[i], b1[i])
    return out


@njit
def _f32_lanes(acc, a0, a1, b0, b1):
    out = np.empty(a0.size, np.float32)
    for i in range(a0.size):
        out[i] = tiers.dot_add_f32(acc[i], a0[i], a1[i], b0[i], b1[i])
    return out


@njit
def _f64_lanes(acc, a0, a1, b0, b1):
    out = np.empty(a0.size, np.float32)
    for i in range(a0.size):
        r = tiers.dot_add_f64(np.float64(acc[i]), np.float64(a0[i]), np.float64(a1[i]),
                              np.float64(b0[i]), np.float64(b1[i]))
        out[i] = np.float32(r)  # exact: the tier's values are fp32 values (or NaN)
    return out


def _rz16_lanes(acc, a0, a1, b0, b1):
    """dot_add_rz16 takes one (a0, a1) per call: lanes come in runs of 16 sharing them."""
    return _rz16_groups(acc, a0, a1, b0, b1)


if tiers.HAS_AVX512:

    @njit
    def _rz16_groups(acc, a0, a1, b0, b1):
        out = acc.copy()
        for c in range(0, a0.size, tiers.RZ_LANES):
            tiers.dot_add_rz16(out, c, b0, b1, c, a0[c], a1[c])
        return out


@njit
def _f32_ok_lanes(amin, amax, bmin, bmax, imin, imax):
    ok = np.empty(amin.size, np.bool_)
    for i in range(amin.size):
        ok[i] = tiers.f32_chains_exact(amin[i], amax[i], bmin[i], bmax[i], imin[i], imax[i], 2)
    return ok


def _f32_ok(acc_bits, a, b):
    """The float32 precondition for single steps: exponent fields of each lane's operands
    (a, b: (lanes, 2) bf16 bits)."""
    def stats(e):
        return np.where(e > 0, e, 255).min(1), np.where(e > 0, e, 0).max(1)

    ea = (a.astype(np.int64) >> 7) & 0xFF
    eb = (b.astype(np.int64) >> 7) & 0xFF
    ei = ((acc_bits.astype(np.int64) >> 23) & 0xFF)[:, None]
    return _f32_ok_lanes(*stats(ea), *stats(eb), *stats(ei))


def _sweep(rng, exp_a, exp_b1, acc_exp):
    """Every finite bf16 b0 (shuffled), with a0, a1 shared by runs of 16 lanes (as the 16-lane
    tier takes them) and b1, acc sampled per lane, exponent fields near the given ones.
    Returns bit arrays (acc, a0, a1, b0, b1)."""
    n = FINITE_BF16.size
    b0 = FINITE_BF16.copy()
    rng.shuffle(b0)
    a0 = np.repeat(_bits16(rng, n // 16, exp_a), 16)
    a1 = np.repeat(_bits16(rng, n // 16, exp_a), 16)
    b1 = _bits16(rng, n, exp_b1)
    acc = ((rng.integers(0, 2, n, dtype=np.uint32) << 31)
           | (np.clip(rng.integers(acc_exp - 3, acc_exp + 4, n), 0, 254).astype(np.uint32) << 23)
           | rng.integers(0, 1 << 23, n, dtype=np.uint32))
    return acc, a0, a1, b0, b1


def _bits16(rng, n, expo):
    expo = np.clip(rng.integers(expo - 3, expo + 4, n), 1, 254)
    return ((rng.integers(0, 2, n) << 15) | (expo << 7) | rng.integers(0, 128, n)).astype(np.uint16)


def _f32_operands(acc, a0, a1, b0, b1):
    return (_flushed_init(acc), _flushed_f32(a0).view(np.float32), _flushed_f32(a1).view(np.float32),
            _flushed_f32(b0).view(np.float32), _flushed_f32(b1).view(np.float32))


def _exact_sample(got, acc, a0, a1, b0, b1, mask, count=300, seed=0):
    """``count`` lanes of ``mask`` against the Fraction reference."""
    idx = np.flatnonzero(mask)
    pick = np.random.default_rng(seed).choice(idx, size=min(count, idx.size), replace=False)
    for i in pick:
        want = naive.bf_dot_add(int(acc[i]), int(a0[i]), int(a1[i]), int(b0[i]), int(b1[i]))
        assert int(got[i]) == want, (i, hex(int(got[i])), hex(want))


# (exponent field of a0/a1, of b1, of acc): ordinary values, products near 2^-126 (the float32
# precondition's flush limit) and near 2^127 (its overflow limit).
SWEEPS = [(127, 127, 127), (71, 71, 30), (190, 190, 250)]
F32_TIERS = [("bfdot-f32", lambda *ops: _f32_lanes(*ops))]
if tiers.HAS_AVX512:
    F32_TIERS.append(("bfdot-f32-rz16", _rz16_lanes))


@pytest.mark.parametrize("name,lanes", F32_TIERS, ids=[n for n, _ in F32_TIERS])
@pytest.mark.parametrize("exps", SWEEPS)
def test_f32_tiers_over_every_bf16_value(name, lanes, exps):
    rng = np.random.default_rng(sum(exps))
    acc, a0, a1, b0, b1 = _sweep(rng, *exps)
    ok = _f32_ok(acc, np.stack([a0, a1], 1), np.stack([b0, b1], 1))
    assert ok.sum() > 1000  # the sweep reaches the tier
    got = lanes(*_f32_operands(acc, a0, a1, b0, b1)).view(np.uint32)
    spec = _spec_lanes(acc, a0, a1, b0, b1)
    bad = np.flatnonzero(ok & (got != spec))
    assert bad.size == 0, [(hex(int(acc[i])), int(a0[i]), int(a1[i]), int(b0[i]), int(b1[i])) for i in bad[:5]]
    _exact_sample(got, acc, a0, a1, b0, b1, ok)


@pytest.mark.parametrize("exps", SWEEPS + [(40, 40, 1), (230, 230, 254)])
def test_f64_tier_over_every_bf16_value(exps):
    rng = np.random.default_rng(sum(exps) + 1)
    acc, a0, a1, b0, b1 = _sweep(rng, *exps)
    got = _f64_lanes(*_f32_operands(acc, a0, a1, b0, b1))
    spec = _spec_lanes(acc, a0, a1, b0, b1)
    overflow = np.isnan(got)
    # NaN exactly where a BFRound of the specification overflowed (its result is then an
    # infinity, or the default NaN of inf - inf: finite operands give neither otherwise).
    np.testing.assert_array_equal(overflow, (spec & 0x7F800000) == 0x7F800000)
    bits = got.view(np.uint32)
    np.testing.assert_array_equal(bits[~overflow], spec[~overflow])
    _exact_sample(bits, acc, a0, a1, b0, b1, ~overflow)


@st.composite
def _step_near_limits(draw):
    """One BFDotAdd step's bits (acc, a0, a1, b0, b1) with exponent sums near the float32
    precondition's limits and cancelling signs."""
    total = draw(st.one_of(st.integers(139, 146), st.integers(245, 256), st.integers(2, 508)))
    ea = draw(st.integers(max(1, total - 254), min(254, total - 1)))
    eb = total - ea

    def bf(e):
        return (draw(st.integers(0, 1)) << 15) | (min(254, max(1, e + draw(st.integers(-1, 1)))) << 7) \
            | draw(st.integers(0, 127))

    acc = draw(st.one_of(fp32_bits(), st.integers(0, 2**32 - 1)))
    acc = acc & 0x807FFFFF if (acc >> 23) & 0xFF == 0xFF else acc
    return acc, bf(ea), bf(ea), bf(eb), bf(eb)


@settings(max_examples=200, deadline=None)
@given(st.lists(_step_near_limits(), min_size=16, max_size=16))
def test_tiers_match_the_exact_reference_near_their_limits(steps):
    acc, a0, a1, b0, b1 = (np.array(col, dtype) for col, dtype in
                           zip(zip(*steps), (np.uint32, np.uint16, np.uint16, np.uint16, np.uint16)))
    want = np.array([naive.bf_dot_add(*map(int, s)) for s in steps], np.uint32)
    ops = _f32_operands(acc, a0, a1, b0, b1)
    ok = _f32_ok(acc, np.stack([a0, a1], 1), np.stack([b0, b1], 1))
    got = _f32_lanes(*ops).view(np.uint32)
    np.testing.assert_array_equal(got[ok], want[ok])
    if tiers.HAS_AVX512:  # one (a0, a1) per 16 lanes: lanes with this step's a0, a1
        for i in np.flatnonzero(ok):
            same = [np.full(16, x[i], x.dtype) for x in ops]
            assert int(_rz16_lanes(*same).view(np.uint32)[0]) == int(want[i])
    f64 = _f64_lanes(*ops)
    fine = ~np.isnan(f64)
    np.testing.assert_array_equal(f64.view(np.uint32)[fine], want[fine])
    assert ((want[~fine] & 0x7F800000) == 0x7F800000).all()


def test_bfdot_tier_picks_by_the_precondition():
    # Standard-normal-sized exponents: float32; products reaching 2^-126: float64.
    assert tiers.bfdot_tier(120, 130, 120, 130, 255, 0, 256, True) == tiers.TIER_F32_RZ16
    assert tiers.bfdot_tier(120, 130, 120, 130, 255, 0, 256, False) == tiers.TIER_F32
    assert tiers.bfdot_tier(70, 130, 71, 130, 255, 0, 256, True) == tiers.TIER_F64
    assert tiers.bfdot_tier(120, 190, 120, 190, 255, 0, 256, True) == tiers.TIER_F64


# --------------------------------------------------------------------------------------------
# Fused multiply-add


@njit
def _fma_tier(x, y, z):
    out = np.empty(x.size, np.float32)
    for i in range(x.size):
        out[i] = tiers.fmaf(x[i], y[i], z[i])
    return out


@njit
def _fma_spec(x, y, z):
    out = np.empty(x.size, np.uint32)
    for i in range(x.size):
        out[i] = fp_mul_add(z[i], x[i], y[i])
    return out


def test_host_keeps_denormals():
    assert tiers.host_keeps_denormals()


def test_host_fma_over_every_bf16_top_half():
    """x runs over every 16-bit top half with random low halves (all exponents and signs), y and
    z random: the host FMA equals FPMulAdd wherever the result is not NaN."""
    rng = np.random.default_rng(3)
    n = 1 << 16
    x = (np.arange(n, dtype=np.uint32) << 16) | rng.integers(0, 1 << 16, n, dtype=np.uint32)
    y = rng.integers(0, 2**32, n, dtype=np.uint32)
    z = rng.integers(0, 2**32, n, dtype=np.uint32)
    z[::2] = (x[::2] ^ 0x80000000) & 0xFFFF0000  # cancellation against the product
    y[::2] = 0x3F800000
    got = _fma_tier(x.view(np.float32), y.view(np.float32), z.view(np.float32))
    spec = _fma_spec(x, y, z)
    fine = ~np.isnan(got)
    np.testing.assert_array_equal(got.view(np.uint32)[fine], spec[fine])
    assert np.isnan(spec.view(np.float32)[~fine]).all()
    for i in rng.choice(np.flatnonzero(fine), 300, replace=False):
        assert int(spec[i]) == naive.fp_mul_add(int(z[i]), int(x[i]), int(y[i])), i


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(fp32_bits(), fp32_bits(), fp32_bits()), min_size=1, max_size=30))
def test_host_fma_matches_the_exact_reference(cases):
    x, y, z = (np.array(c, np.uint32) for c in zip(*cases))
    got = _fma_tier(x.view(np.float32), y.view(np.float32), z.view(np.float32)).view(np.uint32)
    for i, (xi, yi, zi) in enumerate(cases):
        want = naive.fp_mul_add(zi, xi, yi)
        if not np.isnan(np.uint32(want).view(np.float32)):
            assert int(got[i]) == want, (hex(xi), hex(yi), hex(zi))
