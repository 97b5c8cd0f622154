"""Argument checks shared by the MLAS-level entry points."""

from __future__ import annotations

import numpy as np


def as_f32_matrix(x, name: str) -> np.ndarray:
    """The float32 2-D numpy array ``x`` (not copied), or a ``TypeError``/``ValueError`` saying what
    was expected."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of float32, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{name} must have dtype float32, got {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {x.shape}")
    return x
