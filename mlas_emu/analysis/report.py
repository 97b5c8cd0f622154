"""``compare(result, reference)`` -> :class:`ErrorReport`: how far a result is from a reference.

Absolute and relative errors are computed in float64 from the values given (a float64
reference keeps its precision); ulp distances, bitwise identity and flushing are judged on the
float32 encodings of both arrays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

#: Smallest positive normal float32, 2^-126 (IEEE 754 binary32, emin = -126): a non-zero
#: reference below it that comes back as zero was flushed (FZ / BFDotAdd's BFUnpack and BFRound).
FLT_MIN_NORMAL = float.fromhex("0x1p-126")

_FLOAT_KINDS = ("f",)


@dataclass(frozen=True, repr=False)
class ErrorReport:
    """Error of ``result`` against ``reference`` (same shape), element by element.

    Attributes (DESIGN section 6):
        max_abs_error, median_abs_error: |result - reference| over the elements where both are
            finite (NaN when there is none).
        max_rel_error, median_rel_error: |result - reference| / |reference| over the elements whose
            reference is finite and non-zero and whose result is finite.
        normwise_rel_error: ||result - reference||_F / ||reference||_F over the elements where both
            are finite (0 when both norms are 0, inf when only the reference's is).
        ulp_histogram: {distance: count}, the distance in float32 ulps between the two float32
            encodings, sign-aware (counted through zero; +0 and -0 are 0 apart), NaN excluded.
        fraction_identical: fraction of elements whose float32 bit patterns are equal.
        nan_count, inf_count: NaN and infinite elements of ``result``.
        flushed_count: elements where ``result`` is zero while the reference is non-zero and below
            2^-126 in magnitude.
        size: number of elements; finite_count: elements where both are finite;
        nonfinite_mismatch_count: elements where exactly one of the two is finite, or both are
            infinite with different signs.
    """

    size: int
    max_abs_error: float
    median_abs_error: float
    max_rel_error: float
    median_rel_error: float
    normwise_rel_error: float
    ulp_histogram: dict
    fraction_identical: float
    nan_count: int
    inf_count: int
    flushed_count: int
    finite_count: int
    nonfinite_mismatch_count: int
    max_ulp_error: int | None = None
    _ulps: np.ndarray | None = field(default=None, repr=False, compare=False)
    _abs: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """Plain Python types only (``json.dumps`` works); histogram keys become strings."""
        out = {}
        for name in _FIELDS:
            value = getattr(self, name)
            if name == "ulp_histogram":
                value = {str(k): int(v) for k, v in value.items()}
            out[name] = _jsonable(value)
        return out

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        """One line: the numbers people look at first."""
        return (f"max abs {self.max_abs_error:.3g}, max rel {self.max_rel_error:.3g}, "
                f"normwise rel {self.normwise_rel_error:.3g}, identical {self.fraction_identical:.1%}, "
                f"max ulp {self.max_ulp_error}, NaN {self.nan_count}, inf {self.inf_count}, "
                f"flushed {self.flushed_count}")

    def __repr__(self) -> str:
        # The full histogram can hold thousands of bins: show it summarised, as the HTML table does.
        return f"ErrorReport(size={self.size}, {self.summary()}, ulps: {_histogram_text(self.ulp_histogram)})"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        rows = []
        for name in _FIELDS:
            value = getattr(self, name)
            if name == "ulp_histogram":
                value = _histogram_text(value)
            elif isinstance(value, float):
                value = f"{value:.6g}"
            rows.append(f"<tr><th style='text-align:left'>{name}</th><td>{value}</td></tr>")
        return "<table class='mlas-emu-error-report'>" + "".join(rows) + "</table>"

    def plot_ulp_histogram(self, ax=None, path=None):
        """Bar chart of the ulp distances (matplotlib; saved to ``path`` if given)."""
        from .plots import plot_ulp_histogram

        return plot_ulp_histogram(self, ax=ax, path=path)

    def plot_heatmap(self, ax=None, path=None):
        """Heat map of log10 |result - reference| over the last two axes (first matrix of a batch)."""
        from .plots import plot_error_heatmap

        return plot_error_heatmap(self, ax=ax, path=path)


_FIELDS = ("size", "max_abs_error", "median_abs_error", "max_rel_error", "median_rel_error",
           "normwise_rel_error", "ulp_histogram", "fraction_identical", "nan_count", "inf_count",
           "flushed_count", "finite_count", "nonfinite_mismatch_count", "max_ulp_error")


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if np.isfinite(value) else str(value)  # JSON has no NaN/inf
    return value


def _histogram_text(hist: dict, limit: int = 8) -> str:
    items = sorted(hist.items())
    text = ", ".join(f"{k}: {v}" for k, v in items[:limit])
    return text + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def _as_float_array(x, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple, float, int)):
            x = np.asarray(x, dtype=np.float64 if name == "reference" else np.float32)
        else:
            raise TypeError(f"{name} must be a numpy array of floats, got {type(x).__name__}")
    if x.dtype.kind not in _FLOAT_KINDS and x.dtype.name != "bfloat16":
        raise TypeError(f"{name} must have a floating dtype (float16/32/64 or bfloat16), got {x.dtype}")
    return x


def ordered_float32(bits: np.ndarray) -> np.ndarray:
    """float32 bit patterns -> int64 keys whose differences are ulp distances (through zero).

    Positive values keep their pattern, negative ones map to minus their magnitude's pattern, so
    -0 and +0 share the key 0 and neighbours differ by 1 (IEEE 754's lexicographic order).
    """
    b = bits.astype(np.int64)
    mag = b & 0x7FFFFFFF
    return np.where(b & 0x80000000, -mag, mag)


def ulp_distance(result, reference) -> np.ndarray:
    """Sign-aware distance in float32 ulps between two arrays' float32 encodings (-1 where NaN)."""
    r32 = np.asarray(result).astype(np.float32)
    e32 = np.asarray(reference).astype(np.float32)
    d = np.abs(ordered_float32(r32.view(np.uint32)) - ordered_float32(e32.view(np.uint32)))
    return np.where(np.isnan(r32) | np.isnan(e32), -1, d)


def compare(result, reference) -> ErrorReport:
    """Measure ``result`` against ``reference`` (arrays of the same shape): see :class:`ErrorReport`.

    Neither input is modified. ``reference`` may be float64 (e.g. an exact product); ulps and
    bitwise identity use its float32 rounding.
    """
    res = _as_float_array(result, "result")
    ref = _as_float_array(reference, "reference")
    if res.shape != ref.shape:
        raise ValueError(f"result and reference must have the same shape, got {res.shape} and {ref.shape}")
    with np.errstate(invalid="ignore", over="ignore"):
        return _compare(res, ref)


def _compare(res: np.ndarray, ref: np.ndarray) -> ErrorReport:
    r64 = res.astype(np.float64).ravel()
    e64 = ref.astype(np.float64).ravel()
    r32 = res.astype(np.float32).ravel()
    e32 = ref.astype(np.float32).ravel()
    fin = np.isfinite(r64) & np.isfinite(e64)
    diff = np.abs(r64[fin] - e64[fin])
    rel_mask = fin & (e64 != 0)
    rel = np.abs(r64[rel_mask] - e64[rel_mask]) / np.abs(e64[rel_mask])
    ulps = ulp_distance(r32, e32)
    ulps = ulps[ulps >= 0]
    values, counts = np.unique(ulps, return_counts=True)
    return ErrorReport(
        size=int(r64.size),
        max_abs_error=_stat(np.max, diff),
        median_abs_error=_stat(np.median, diff),
        max_rel_error=_stat(np.max, rel),
        median_rel_error=_stat(np.median, rel),
        normwise_rel_error=_normwise(r64[fin], e64[fin]),
        ulp_histogram=dict(zip(values.tolist(), counts.tolist())),
        fraction_identical=float(np.mean(r32.view(np.uint32) == e32.view(np.uint32))) if r32.size else 1.0,
        nan_count=int(np.isnan(r64).sum()),
        inf_count=int(np.isinf(r64).sum()),
        flushed_count=int(((r64 == 0) & (e64 != 0) & (np.abs(e64) < FLT_MIN_NORMAL)).sum()),
        finite_count=int(fin.sum()),
        nonfinite_mismatch_count=_nonfinite_mismatch(r64, e64),
        max_ulp_error=int(ulps.max()) if ulps.size else None,
        _ulps=ulps,
        _abs=np.where(fin, np.abs(r64 - e64), np.nan).reshape(res.shape),
    )


def _stat(fn, values) -> float:
    return float(fn(values)) if values.size else float("nan")


def _normwise(r: np.ndarray, e: np.ndarray) -> float:
    # Scale before squaring so huge (or tiny) finite values neither overflow nor underflow.
    scale = max(np.max(np.abs(e), initial=0.0), np.max(np.abs(r), initial=0.0))
    if scale == 0:
        return 0.0
    num = np.linalg.norm((r - e) / scale)
    den = np.linalg.norm(e / scale)
    if den == 0:
        return 0.0 if num == 0 else float("inf")
    return float(num / den)


def _nonfinite_mismatch(r: np.ndarray, e: np.ndarray) -> int:
    one_finite = np.isfinite(r) != np.isfinite(e)
    both_inf = np.isinf(r) & np.isinf(e) & (np.sign(r) != np.sign(e))
    nan_vs_inf = (np.isnan(r) & np.isinf(e)) | (np.isinf(r) & np.isnan(e))
    return int((one_finite | both_inf | nan_vs_inf).sum())
