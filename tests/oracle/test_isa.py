"""The isa layer against real instructions: every ``mlas_emu.isa`` function, bit for bit, on
thousands of random registers per run drawn with special values (see oracle_values.py), under
every FPCR field the instructions read: QEMU 10's ``-cpu max`` implements FEAT_EBF16 (FPCR.EBF)
and FEAT_AFP (FPCR.FIZ, AH), so the fused BFDOT/BFMMLA and the alternative behaviours are
checked against the real instructions as well as against the exact reference (tests/naive.py)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import naive
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

#: FPCR settings of the base architecture (no FEAT_EBF16, no FEAT_AFP): None is Linux's default.
FPCR_FIELDS = [None, {"rmode": "RZ"}, {"rmode": "RP"}, {"rmode": "RM"}, {"fz": True},
               {"dn": True}, {"fz": True, "dn": True, "rmode": "RZ"}]

#: FEAT_AFP fields (FPCR.FIZ, AH), alone and with the base fields they interact with.
AFP_FIELDS = [{"fiz": True}, {"ah": True}, {"fz": True, "fiz": True}, {"ah": True, "fz": True},
              {"ah": True, "fiz": True, "rmode": "RM"}, {"ah": True, "dn": True, "rmode": "RP"}]

#: FPCR.EBF == 1 (FEAT_EBF16): BFDotAdd = FPAdd(addend, FPDot(...)), which reads RMode, FZ, FIZ
#: and AH (DN is forced to 1, so dn=True must change nothing); AH with FZ detects tininess
#: after rounding.
EBF_FIELDS = [{"ebf": True, **fields} for fields in (
    {}, {"rmode": "RZ"}, {"rmode": "RP"}, {"rmode": "RM"}, {"fz": True}, {"fiz": True}, {"ah": True},
    {"dn": True}, {"fz": True, "ah": True}, {"fz": True, "ah": True, "rmode": "RP"},
    {"fiz": True, "ah": True, "rmode": "RM"}, {"fz": True, "fiz": True, "rmode": "RZ"})]


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


def ebf_edge_registers(seed: int, n: int, segments: int):
    """Registers whose dot products land where FPCR matters: each register gets a product
    exponent near the underflow threshold (2^-134 to 2^-119: denormal results, flush to zero),
    near overflow (2^118 to 2^128: infinity or the largest normal by rounding mode) or near 1;
    the two products of a pair are sometimes far apart in exponent (sticky bits) or cancel
    exactly (the sign of zero by rounding mode). A quarter of the registers hold, in every
    BFDotAdd, 2^-126 minus 2^-(126+k), k = 23..30: below the smallest normal before rounding,
    equal to it after rounding for most k and modes (tininess before or after rounding: FZ
    flushes it unless AH). About one input in twelve is a bf16 denormal (FZ/FIZ); addends are
    zeros, denormals, the smallest normals, values near the products, near the largest normal,
    infinities or a NaN."""
    rng = np.random.default_rng(seed)
    lanes = 8 * segments
    region = rng.integers(0, 4, (n, 1))
    target = np.select([region == 0, region == 1],
                       [rng.integers(-134, -118, (n, 1)), rng.integers(118, 129, (n, 1))],
                       rng.integers(-8, 9, (n, 1)))  # exponent of a product, per register
    split = rng.integers(np.maximum(-126, target - 127), np.minimum(127, target + 126) + 1)
    gap = np.where(rng.integers(0, 4, (n, lanes)) == 0, rng.integers(0, 40, (n, lanes)),
                   rng.integers(0, 2, (n, lanes)))

    def bf16_lanes(exp):
        frac = np.where(rng.integers(0, 3, exp.shape) == 0, rng.choice([0, 1, 0x40, 0x7F], exp.shape),
                        rng.integers(0, 128, exp.shape))
        bits = rng.integers(0, 2, exp.shape) << 15 | (np.clip(exp, -126, 127) + 127) << 7 | frac
        denormal = rng.integers(0, 12, exp.shape) == 0
        bits[denormal] = (bits[denormal] & 0x8000) | rng.integers(1, 128, int(denormal.sum()))
        return bits.astype(np.uint16)

    vn = bf16_lanes(split - gap * rng.integers(0, 2, (n, lanes)))
    vm = bf16_lanes(target - split - gap * rng.integers(0, 2, (n, lanes)))
    # BFDOT and BFMMLA both pair adjacent lanes (2e, 2e+1) of vn and vm in one BFDotAdd.
    cancel = np.repeat(rng.integers(0, 6, (n, lanes // 2)) == 0, 2, axis=1) & (np.arange(lanes) % 2 == 1)
    vn[cancel] = vn[np.roll(cancel, -1, axis=1)] ^ 0x8000
    vm[cancel] = vm[np.roll(cancel, -1, axis=1)]
    # Region 3: even lanes 2^e * 2^(-126-e) = 2^-126, odd lanes -(2^e * 2^(-126-k-e)), one sign
    # per register (BFDOT and BFMMLA then see the same pair of products in every BFDotAdd).
    tiny = np.nonzero(region[:, 0] == 3)[0]
    e = rng.integers(-63, -50, (tiny.size, 1))
    k = rng.integers(23, 31, (tiny.size, 1))
    sign = rng.integers(0, 2, (tiny.size, 1)) << 15
    odd = np.arange(lanes) % 2 == 1
    vn[tiny] = np.where(odd, sign ^ 0x8000, sign) | (e + 127) << 7
    vm[tiny] = np.where(odd, -126 - k - e, -126 - e) + 127 << 7
    shape = (n, 4 * segments)
    kind = rng.integers(0, 8, shape)
    sign = rng.integers(0, 2, shape).astype(np.uint32) << 31
    frac = rng.integers(0, 1 << 23, shape).astype(np.uint32)
    near = np.clip(target + 127 + rng.integers(-2, 3, shape), 1, 254).astype(np.uint32)
    vd = np.select([kind == 0, kind == 1, kind == 2, kind == 3, kind == 4],
                   [sign, sign | frac, sign | np.uint32(1 << 23) | frac, sign | np.uint32(0x7F7FFFFF) - (frac & 0xF),
                    sign | np.uint32(0x7F800000)],
                   sign | near << 23 | frac).astype(np.uint32)
    vd[rng.integers(0, 40, shape) == 0] = 0x7FA00000
    return vd.view(np.float32), vn.view(ml_dtypes.bfloat16), vm.view(ml_dtypes.bfloat16)


def mixed_registers(seed: int, n: int, segments: int):
    """Half random registers of every class (:func:`bf16_registers`), half edge registers."""
    halves = bf16_registers(seed, n // 2, segments), ebf_edge_registers(seed, n - n // 2, segments)
    return tuple(np.concatenate(pair) for pair in zip(*halves))


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
@pytest.mark.parametrize("fields", FPCR_FIELDS[1:] + AFP_FIELDS, ids=str)
def test_bf16_instructions_under_fpcr_settings(oracle, name, fields):
    """With FPCR.EBF == 0 BFDotAdd ignores FPCR's rounding and flushing fields and reads AH
    alone (the default NaN's sign): the real instruction decides, for every setting."""
    vd, vn, vm = mixed_registers(11, 1500, 1)
    fpcr = make_fpcr(fields)
    got = getattr(isa(), name)(vd, vn, vm, fpcr=fpcr)
    expected = oracle.run_instructions(name, vd, vn, vm, fpcr=fpcr)
    assert_same_bits(got, expected, vd, vn, vm)


@pytest.mark.parametrize("name", ["bfmmla", "bfdot"])
@pytest.mark.parametrize("segments", [1, 2, 4])
@pytest.mark.parametrize("fields", EBF_FIELDS, ids=str)
@settings(max_examples=1, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
@example(seed=0)
def test_ebf_bf16_instructions_match_real_instructions(oracle, name, segments, fields, seed):
    """FEAT_EBF16, NEON and SVE forms (2 and 4 segments), on random and edge registers."""
    vd, vn, vm = mixed_registers(seed, 3000 // segments, segments)
    fpcr = make_fpcr(fields)
    got = getattr(isa(), name)(vd, vn, vm, fpcr=fpcr)
    expected = oracle.run_instructions(name, vd, vn, vm, fpcr=fpcr)
    assert_same_bits(got, expected, vd, vn, vm)


def test_ebf_edge_registers_reach_every_result_class_and_every_field_acts(oracle):
    """The comparisons above are not vacuous: on the edge registers the real BFMMLA returns
    denormals, zeros of both signs, the largest normal, infinities and NaNs, and each FPCR
    field changes many results: EBF, each rounding mode, FZ, FIZ, AH (with FZ and FIZ both set,
    so inputs are flushed either way, AH alone moves the flush of results to after rounding),
    while DN changes none (EBF forces it)."""
    vd, vn, vm = ebf_edge_registers(1, 3000, 1)

    def run(**fields):
        return oracle.run_instructions("bfmmla", vd, vn, vm, fpcr=isa().FPCR(ebf=True, **fields)).view(np.uint32)

    fused, fused_rm = run(), run(rmode="RM")
    magnitude = fused & 0x7FFFFFFF
    classes = {
        "denormal": (magnitude > 0) & (magnitude < 0x00800000), "+0": fused == 0,
        "-0 (RM)": fused_rm == 0x80000000, "max normal": magnitude == 0x7F7FFFFF,
        "infinity": magnitude == 0x7F800000, "NaN": magnitude > 0x7F800000,
    }
    counts = {name: int(mask.sum()) for name, mask in classes.items()}
    assert min(counts.values()) >= 10, counts
    differs = lambda a, b: int(np.count_nonzero(a != b))
    unfused = oracle.run_instructions("bfmmla", vd, vn, vm).view(np.uint32)
    assert differs(fused, unfused) > 1000
    for fields in ({"rmode": "RZ"}, {"rmode": "RP"}, {"rmode": "RM"}, {"fz": True}, {"fiz": True}):
        assert differs(fused, run(**fields)) > 1000, fields
    flush = run(fz=True, fiz=True)
    finite = (flush & 0x7FFFFFFF) <= 0x7F800000  # AH also flips the default NaN's sign
    assert differs(flush[finite], run(fz=True, fiz=True, ah=True)[finite]) > 200
    assert differs(fused, run(dn=True)) == 0


@st.composite
def dot_near_thresholds(draw):
    """(addend, a0, a1, b0, b1) bit patterns: the first product near 2^-126 or 2^128, the
    second within 0 to 40 binades below it, and an addend near the product, zero or denormal."""
    target = draw(st.sampled_from([-127, -126, -125, -100, 0, 126, 127, 128]))
    gap = draw(st.one_of(st.integers(0, 2), st.integers(0, 40), st.integers(23, 26)))

    def pair(product_exp):
        e1 = draw(st.integers(max(-126, product_exp - 127), min(127, product_exp + 126)))
        e2 = min(127, max(-126, product_exp - e1))
        frac = st.one_of(st.sampled_from([0, 1, 0x40, 0x7F]), st.integers(0, 0x7F))
        return tuple(draw(st.integers(0, 1)) << 15 | (e + 127) << 7 | draw(frac) for e in (e1, e2))

    a0, b0 = pair(target)
    a1, b1 = pair(target - gap)
    if draw(st.integers(0, 5)) == 0:
        a1, b1 = a0 ^ 0x8000, b0  # exact cancellation
    addend = draw(st.one_of(
        st.sampled_from([0, 0x80000000, 1, 0x807FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF800000]),
        st.builds(lambda s, e, f: s << 31 | e << 23 | f, st.integers(0, 1),
                  st.integers(max(1, target + 125), min(254, target + 129)), st.integers(0, (1 << 23) - 1))))
    return addend, a0, a1, b0, b1


EBF_FPCRS = st.builds(lambda rmode, fz, fiz, ah, dn: {"ebf": True, "rmode": rmode, "fz": fz, "fiz": fiz,
                                                       "ah": ah, "dn": dn},
                      st.sampled_from(["RNE", "RZ", "RP", "RM"]), st.booleans(), st.booleans(),
                      st.booleans(), st.booleans())


@settings(max_examples=25, deadline=None)
@given(cases=st.lists(dot_near_thresholds(), min_size=1, max_size=48), fields=EBF_FPCRS)
@example(cases=[(0xBF800000, 0x3F80, 0x3080, 0x3F80, 0x3F80)], fields={"ebf": True})  # -1 + (1 + 2^-30)
# 2^-126 - 2^-151: tiny before rounding (flushed under FZ), not after (AH: the smallest normal)
@example(cases=[(0, 0x2000, 0x1A00, 0x2000, 0x9980)], fields={"ebf": True, "fz": True, "ah": True})
@example(cases=[(0, 0x2000, 0x1A00, 0x2000, 0x9980)], fields={"ebf": True, "fz": True})
def test_ebf_bfdot_near_thresholds_three_ways(oracle, cases, fields):
    """Property: for any FPCR with EBF == 1 and operands whose products straddle the flush and
    overflow thresholds, the real BFDOT, ``isa.bfdot`` and the exact reference agree."""
    lanes = np.array(cases + [cases[-1]] * (-len(cases) % 4), np.uint32).reshape(-1, 4, 5)
    vd = lanes[..., 0].copy()
    vn = lanes[..., [1, 2]].reshape(-1, 8).astype(np.uint16)
    vm = lanes[..., [3, 4]].reshape(-1, 8).astype(np.uint16)
    fpcr = make_fpcr(fields)
    expected = oracle.run_instructions("bfdot", vd, vn, vm, fpcr=fpcr)
    assert_same_bits(isa().bfdot(vd, vn, vm, fpcr=fpcr), expected, vd, vn, vm)
    exact = [naive.bf_dot_add(*map(int, case), fpcr) for case in lanes.reshape(-1, 5)]
    assert [int(v) for v in expected.view(np.uint32).reshape(-1)] == exact, cases


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


@pytest.mark.parametrize("fields", FPCR_FIELDS[1:] + AFP_FIELDS, ids=str)
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
@example(seed=0)
def test_bfcvt_under_fpcr_settings(oracle, fields, seed):
    x = fp32_bits(np.random.default_rng(seed), (40, 100)).view(np.float32)
    fpcr = make_fpcr(fields)
    got = isa().bfcvt(x, fpcr=fpcr)
    expected = oracle.run_instructions("bfcvt", x, fpcr=fpcr)
    assert_same_bits(got, expected, x)


#: FMLA under FEAT_AFP: FIZ only (``isa.fmla`` refuses FPCR.AH, whose NaN and negation rules it
#: does not model).
FMLA_FIELDS = FPCR_FIELDS + [f for f in AFP_FIELDS if not f.get("ah")]


@pytest.mark.parametrize("fields", FMLA_FIELDS, ids=str)
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


@pytest.mark.parametrize("fields", FMLA_FIELDS, ids=str)
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
