"""Argument checks shared by the MLAS-level entry points."""

from __future__ import annotations

import numpy as np


def as_f32_matrix(x, name: str, *, ndims: tuple[int, ...] = (2,), expected: str = "2-D") -> np.ndarray:
    """The float32 numpy array ``x`` (not copied) of a rank in ``ndims``, or a
    ``TypeError``/``ValueError`` saying what was expected (``expected`` names the ranks)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of float32, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{name} must have dtype float32, got {x.dtype}")
    if x.ndim not in ndims:
        raise ValueError(f"{name} must be {expected}, got shape {x.shape}")
    return x


def as_f32_bias(bias, n: int) -> np.ndarray | None:
    """``bias`` as a float32 (n,) numpy array (not copied) or None, else a ``TypeError``/``ValueError``."""
    if bias is None:
        return None
    if not isinstance(bias, np.ndarray) or bias.dtype != np.float32:
        raise TypeError("bias must be a float32 numpy.ndarray or None")
    if bias.shape != (n,):
        raise ValueError(f"bias must have shape ({n},), got {bias.shape}")
    return bias
