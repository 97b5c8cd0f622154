"""Operand checking for the vectorised instruction functions.

Registers are NumPy arrays whose last axis holds the lanes of one (or, for SVE, ``s``)
128-bit segments; leading axes are a batch that broadcasts like NumPy. Every function
returns new arrays and never writes to its inputs.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

BF16 = np.dtype(ml_dtypes.bfloat16)


def _require_array(x, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    return x


def _bits(x, name: str, value_dtype, bits_dtype, what: str) -> np.ndarray:
    x = _require_array(x, name)
    if x.dtype == value_dtype:
        return x.view(bits_dtype)
    if x.dtype == bits_dtype:
        return x
    raise TypeError(f"{name} must be a {what} array (or {np.dtype(bits_dtype).name} bit patterns), "
                    f"got dtype {x.dtype}")


def as_fp32_bits(x, name: str) -> np.ndarray:
    """float32 (or uint32 bit patterns) -> uint32 view, no copy."""
    return _bits(x, name, np.float32, np.uint32, "float32")


def as_bf16_bits(x, name: str) -> np.ndarray:
    """ml_dtypes.bfloat16 (or uint16 bit patterns) -> uint16 view, no copy."""
    return _bits(x, name, BF16, np.uint16, "ml_dtypes.bfloat16")


def as_int32_bits(x, name: str) -> np.ndarray:
    """int32 or uint32 accumulator -> uint32 view (either type is taken as bit patterns)."""
    x = _require_array(x, name)
    if x.dtype not in (np.int32, np.uint32):
        raise TypeError(f"{name} must be an int32 or uint32 array, got dtype {x.dtype}")
    return x.view(np.uint32)


def as_bytes(x, name: str, dtype) -> np.ndarray:
    """int8 / uint8 operand of exactly ``dtype``, returned as it is (no copy)."""
    x = _require_array(x, name)
    if x.dtype != dtype:
        raise TypeError(f"{name} must be a {np.dtype(dtype).name} array, got dtype {x.dtype}")
    return x


def bf16_from_bits(bits: np.ndarray) -> np.ndarray:
    return bits.view(BF16)


def segments(arrays, names, lanes) -> int:
    """Number of 128-bit segments ``s`` shared by all operands (last axis = lanes * s)."""
    seg = None
    for x, name, per in zip(arrays, names, lanes):
        if x.ndim == 0:
            raise ValueError(f"{name} must have a lane axis (last axis of {per}*s lanes), got a 0-d array")
        n = x.shape[-1]
        if n == 0 or n % per:
            raise ValueError(f"{name} must have {per}*s lanes on its last axis (s >= 1 segments of "
                             f"128 bits), got {n}")
        if seg is None:
            seg = n // per
        elif n // per != seg:
            detail = ", ".join(f"{nm} {a.shape[-1]}" for a, nm in zip(arrays, names))
            raise ValueError(f"operands hold different numbers of 128-bit segments ({detail} lanes)")
    return seg


def broadcast_batch(arrays, names):
    """Broadcast the leading (batch) axes; returns ``(batch_shape, [2-D contiguous arrays])``."""
    try:
        batch = np.broadcast_shapes(*(x.shape[:-1] for x in arrays))
    except ValueError:
        detail = ", ".join(f"{nm} {x.shape}" for x, nm in zip(arrays, names))
        raise ValueError(f"batch (leading) dimensions do not broadcast: {detail}") from None
    flat = [np.ascontiguousarray(np.broadcast_to(x, batch + x.shape[-1:])).reshape(-1, x.shape[-1])
            for x in arrays]
    return batch, flat
