"""Hypothesis strategies for raw bit patterns of every floating-point class.

fp32 and bf16 patterns are drawn as sign + exponent field + fraction, with the exponent field
weighted towards the edges (0: zeros and denormals, 255: infinities and NaNs, 1 and 254: the
smallest and largest normals) and towards the middle where products and sums stay in range.
"""

from __future__ import annotations

from hypothesis import strategies as st

_FP32_EXPONENTS = st.one_of(
    st.sampled_from([0, 1, 2, 126, 127, 128, 253, 254, 255]),
    st.integers(60, 190),  # products and sums of these stay normal
    st.integers(0, 255),
)
_FP32_FRACTIONS = st.one_of(
    st.sampled_from([0, 1, 0x200000, 0x3FFFFF, 0x400000, 0x400001, 0x7FFFFF, 0x10000, 0xFFFF]),
    st.integers(0, (1 << 23) - 1),
)
_BF16_EXPONENTS = st.one_of(
    st.sampled_from([0, 1, 2, 63, 64, 65, 126, 127, 128, 189, 190, 191, 253, 254, 255]),
    st.integers(90, 160),
    st.integers(0, 255),
)
_BF16_FRACTIONS = st.one_of(st.sampled_from([0, 1, 0x3F, 0x40, 0x41, 0x7F]), st.integers(0, 0x7F))


@st.composite
def fp32_bits(draw) -> int:
    """An fp32 bit pattern: signed zeros, denormals, normals, infinities, quiet and signalling NaNs."""
    return (draw(st.integers(0, 1)) << 31) | (draw(_FP32_EXPONENTS) << 23) | draw(_FP32_FRACTIONS)


@st.composite
def bf16_bits(draw) -> int:
    """A bf16 bit pattern of any class (quiet NaN: fraction bit 6 set; signalling: clear)."""
    return (draw(st.integers(0, 1)) << 15) | (draw(_BF16_EXPONENTS) << 7) | draw(_BF16_FRACTIONS)


def f32(x: float) -> int:
    """Bit pattern of a Python float that is exactly representable in fp32."""
    import struct

    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    assert struct.unpack("<f", struct.pack("<I", bits))[0] == x or x != x, x
    return bits


def bf16(x: float) -> int:
    """Bit pattern of a Python float that is exactly representable in bf16."""
    bits = f32(x)
    assert bits & 0xFFFF == 0, f"{x!r} is not a bf16 value"
    return bits >> 16


@st.composite
def bf16_pairs_near_range_limits(draw) -> tuple[int, int]:
    """Two normal bf16 values whose product lies near 2^-126 (flush) or 2^128 (overflow).

    Exponent fields e1 + e2 - 127 is the product's biased exponent (plus one when the
    significands' product reaches 2): targets 126..129 straddle the flush threshold,
    380..382 the overflow threshold.
    """
    target = draw(st.sampled_from([125, 126, 127, 128, 129, 380, 381, 382]))
    lo, hi = max(1, target - 254), min(254, target - 1)
    e1 = draw(st.integers(lo, hi))
    e2 = target - e1
    s1, s2 = draw(st.integers(0, 1)), draw(st.integers(0, 1))
    f1, f2 = draw(_BF16_FRACTIONS), draw(_BF16_FRACTIONS)
    return (s1 << 15) | (e1 << 7) | f1, (s2 << 15) | (e2 << 7) | f2
