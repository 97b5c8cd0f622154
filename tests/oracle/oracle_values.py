"""Random registers for oracle comparisons, drawn with the values where instructions go wrong:
NaNs with payloads, infinities, signed zeros, denormals, near-overflow and near-underflow
magnitudes, short significands (exact ties and cancellations), int8/int32 extremes."""

from __future__ import annotations

import numpy as np

FP32_SPECIALS = np.array([
    0x00000000, 0x80000000,              # +-0
    0x7F800000, 0xFF800000,              # +-inf
    0x7FC00000, 0xFFC00000,              # default NaNs
    0x7F800001, 0x7FA00000, 0xFF8F0000,  # signalling NaNs with payloads
    0x7FB12345, 0x7FFFFFFF, 0xFFC12345,  # NaNs with payloads
    0x00000001, 0x807FFFFF, 0x00400000,  # denormals
    0x00800000, 0x80800000, 0x00800001,  # min normal and neighbours
    0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F8000,  # max and near max
    0x3F800000, 0xBF800000, 0x3F808000,  # 1, -1, 1 + a bf16 rounding tie
    0x3F808001, 0x3F807FFF, 0x3F818000,  # just above / below the tie, odd tie
], dtype=np.uint32)

BF16_SPECIALS = np.array([
    0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0xFFC0, 0x7F81, 0x7FA0, 0xFFC1, 0x7FFF,
    0x0001, 0x807F, 0x0040, 0x0080, 0x8080, 0x0081, 0x7F7F, 0xFF7F, 0x3F80, 0xBF80,
    0x1F80, 0x5F80, 0x2000, 0x6000,  # 2^-64, 2^64, products on the underflow/overflow edge
], dtype=np.uint16)


def fp32_bits(rng: np.random.Generator, shape) -> np.ndarray:
    """float32 bit patterns (uint32) from a mixture of value classes."""
    n = int(np.prod(shape, dtype=np.int64))
    sign = rng.integers(0, 2, n, dtype=np.uint32) << 31
    frac = rng.integers(0, 1 << 23, n, dtype=np.uint32)
    short = frac & np.uint32(0x7F0000)  # at most 7 significand bits: exact in bf16
    kind = rng.integers(0, 8, n)
    exp = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3, kind == 4, kind == 5],
        [rng.integers(0, 256, n), rng.integers(107, 148, n), rng.integers(124, 131, n),
         rng.integers(246, 255, n), rng.integers(0, 9, n), 127 + rng.integers(-66, 67, n)],
        default=rng.integers(120, 135, n),
    ).astype(np.uint32)
    bits = sign | exp << 23 | np.where(kind == 2, short, frac)
    specials = rng.integers(0, 12, n) == 0
    bits[specials] = rng.choice(FP32_SPECIALS, int(specials.sum()))
    return bits.reshape(shape)


def bf16_bits(rng: np.random.Generator, shape) -> np.ndarray:
    """bfloat16 bit patterns (uint16): the upper halves of :func:`fp32_bits`, plus specials."""
    bits = (fp32_bits(rng, shape) >> 16).astype(np.uint16).reshape(-1)
    specials = rng.integers(0, 10, bits.size) == 0
    bits[specials] = rng.choice(BF16_SPECIALS, int(specials.sum()))
    return bits.reshape(shape)


def int8s(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """int8 or uint8 lanes, a tenth of them at the extremes."""
    info = np.iinfo(dtype)
    values = rng.integers(info.min, info.max + 1, shape).astype(dtype)
    extreme = rng.integers(0, 10, shape) == 0
    values[extreme] = rng.choice(np.array([info.min, info.max, 0, 1], dtype=dtype), int(extreme.sum()))
    return values


def int32s(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """int32 or uint32 accumulators: uniform, small, or within 2^16 of wrapping."""
    n = int(np.prod(shape, dtype=np.int64))
    uniform = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    small = rng.integers(-1000, 1000, n).astype(np.uint64)  # wraps negatives mod 2^64
    near = (rng.integers(-(1 << 16), 1 << 16, n) + (1 << 31)).astype(np.uint64)
    kind = rng.integers(0, 3, n)
    values = np.select([kind == 0, kind == 1], [uniform, small], default=near)
    return (values & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(dtype).reshape(shape)


def first_mismatches(got: np.ndarray, expected: np.ndarray, *inputs: np.ndarray, limit: int = 5) -> str:
    """A readable report of the first registers whose bits differ."""
    lanes_got = got.view(np.uint32 if got.dtype.itemsize == 4 else np.uint16)
    lanes_exp = expected.view(lanes_got.dtype)
    bad = np.argwhere(lanes_got != lanes_exp)
    rows = []
    for index in bad[:limit]:
        reg = tuple(index[:-1])
        rows.append(
            f"  register {reg} lane {index[-1]}: got {int(lanes_got[tuple(index)]):#x} expected "
            f"{int(lanes_exp[tuple(index)]):#x}; inputs "
            + "; ".join(_hex(x[reg] if x.ndim > 1 else x) for x in inputs)
        )
    return f"{len(bad)} of {lanes_got.size} lanes differ:\n" + "\n".join(rows)


def _hex(arr: np.ndarray) -> str:
    width = arr.dtype.itemsize
    view = arr.view({1: np.uint8, 2: np.uint16, 4: np.uint32}[width])
    return " ".join(f"{int(v):0{2 * width}x}" for v in np.ravel(view))
