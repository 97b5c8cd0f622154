"""``compare(result, reference)`` -> :class:`ErrorReport`: how far a result is from a reference.

Absolute and relative errors are computed in float64 from the values given (a float64
reference keeps its precision); ulp distances, bitwise identity and flushing are judged on the
float32 encodings of both arrays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

#: Smallest positive normal float32, 2^-126 (IEEE 754 binary32, emin = -126): a non-zero
#: reference below it that comes back as zero was flushed (FZ / BFDotAdd's BFUnpack and BFRound).
FLT_MIN_NORMAL = float.fromhex("0x1p-126")

#: The headline ulp statistics cover the elements whose |reference| is at least this fraction of
#: the largest finite |reference|: near zero a GEMM's absolute error is that of its large terms, so
#: tiny references (cancellation) sit millions of ulps away, or at ~2^31 when the sign flips.
ULP_FLOOR = 1e-6

_FLOAT_KINDS = ("f",)


@dataclass(frozen=True, repr=False)
class ErrorReport:
    """Error of ``result`` against ``reference`` (same shape), element by element.

    Attributes (the metrics table of docs/analysis.md):
        max_abs_error, median_abs_error: |result - reference| over the elements where both are
            finite (NaN when there is none).
        max_rel_error, median_rel_error, p99_rel_error: |result - reference| / |reference| over the
            elements whose reference is finite and non-zero and whose result is finite (p99:
            ``np.percentile``, linear interpolation).
        normwise_rel_error: ||result - reference||_F / ||reference||_F over the elements where both
            are finite (0 when both norms are 0, inf when only the reference's is).
        ulp_histogram: {distance: count} over all elements, the distance in float32 ulps between
            the two float32 encodings, sign-aware (counted through zero; +0 and -0 are 0 apart),
            NaN excluded. max_ulp_error: its largest distance.
        ulp_floor: ``ULP_FLOOR`` times the largest finite |reference|; the *significant* elements
            are those whose |reference| is at least this (NaN excluded).
        significant_count, significant_ulp_histogram: the ulp histogram of the significant elements.
        significant_median_ulp, significant_p99_ulp, significant_max_ulp: the smallest distance
            within which 50% / 99% / all of the significant elements lie (None when there is none).
        sign_change_count: elements whose two float32 encodings have opposite signs (zeros have
            none): their distance, through zero, is about 2^30-2^31 for magnitudes from 1e-7 to 1e3.
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
    p99_rel_error: float = float("nan")
    ulp_floor: float = 0.0
    significant_count: int = 0
    significant_ulp_histogram: dict = field(default_factory=dict)
    significant_median_ulp: int | None = None
    significant_p99_ulp: int | None = None
    significant_max_ulp: int | None = None
    sign_change_count: int = 0
    _sign_change_histogram: dict | None = field(default=None, repr=False, compare=False)
    _abs: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """Plain Python types only (``json.dumps`` works); histogram keys become strings."""
        out = {}
        for name in _FIELDS:
            value = getattr(self, name)
            if name in _HISTOGRAMS:
                value = {str(k): int(v) for k, v in value.items()}
            out[name] = _jsonable(value)
        return out

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def summary(self) -> str:
        """One line: normwise and percentile figures first, then the counts."""
        return "; ".join(self._parts())

    def _parts(self) -> tuple[str, str, str]:
        return (f"normwise rel {self.normwise_rel_error:.3g}, rel error median {self.median_rel_error:.3g} "
                f"p99 {self.p99_rel_error:.3g} max {self.max_rel_error:.3g}",
                f"ulps where |ref| >= {self.ulp_floor:.2g}: median {self.significant_median_ulp} "
                f"p99 {self.significant_p99_ulp} max {self.significant_max_ulp}, "
                f"identical {self.fraction_identical:.1%}",
                f"all elements: max abs {self.max_abs_error:.3g}, max ulp {self.max_ulp_error}, "
                f"sign changes {self.sign_change_count}, NaN {self.nan_count}, inf {self.inf_count}, "
                f"flushed {self.flushed_count}")

    def __repr__(self) -> str:
        # The histogram can hold thousands of bins: summarised, as in the HTML table.
        lines = (f"ErrorReport, {self.size} elements:",) + self._parts() + (
            f"ulp histogram where |ref| >= floor: {_histogram_text(self.significant_ulp_histogram, 6)}",)
        return "\n  ".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        rows = []
        for name in _HTML_ORDER:
            value = getattr(self, name)
            if name in _HISTOGRAMS:
                value = _histogram_text(value)
            elif isinstance(value, float):
                value = f"{value:.6g}"
            rows.append(f"<tr><th style='text-align:left'>{name}</th><td>{value}</td></tr>")
        return "<table class='mlas-emu-error-report'>" + "".join(rows) + "</table>"

    def plot_ulp_histogram(self, ax=None, path=None):
        """Bar chart of the ulp distances, sign changes apart (see :func:`plots.plot_ulp_histogram`)."""
        from .plots import plot_ulp_histogram

        return plot_ulp_histogram(self, ax=ax, path=path)

    def plot_heatmap(self, ax=None, path=None):
        """Heat map of log10 |result - reference| over the last two axes (first matrix of a batch)."""
        from .plots import plot_error_heatmap

        return plot_error_heatmap(self, ax=ax, path=path)


_FIELDS = ("size", "max_abs_error", "median_abs_error", "max_rel_error", "median_rel_error",
           "normwise_rel_error", "ulp_histogram", "fraction_identical", "nan_count", "inf_count",
           "flushed_count", "finite_count", "nonfinite_mismatch_count", "max_ulp_error",
           "p99_rel_error", "ulp_floor", "significant_count", "significant_ulp_histogram",
           "significant_median_ulp", "significant_p99_ulp", "significant_max_ulp", "sign_change_count")

_HISTOGRAMS = ("ulp_histogram", "significant_ulp_histogram")

# The HTML table leads with the figures that summarise the whole array.
_LEAD = ("normwise_rel_error", "median_rel_error", "p99_rel_error", "max_rel_error", "significant_median_ulp",
         "significant_p99_ulp", "significant_max_ulp", "ulp_floor", "significant_count", "fraction_identical")
_HTML_ORDER = _LEAD + tuple(f for f in _FIELDS if f not in _LEAD)


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
    bitwise identity use its float32 rounding. Memory: one float64 value per element for the
    medians and one per element of the first matrix for the heat map, besides the inputs; the
    rest is computed in chunks.
    """
    res = _as_float_array(result, "result")
    ref = _as_float_array(reference, "reference")
    if res.shape != ref.shape:
        raise ValueError(f"result and reference must have the same shape, got {res.shape} and {ref.shape}")
    with np.errstate(invalid="ignore", over="ignore"):
        return _compare(res, ref)


#: Elements per chunk: small enough that the chunk's temporaries stay a few MB.
_CHUNK = 1 << 16


class _Chunk:
    """One flat slice (C order) of both arrays: float64 values, float32 encodings on demand."""

    def __init__(self, start, res, ref):
        self.start, self.res, self.ref = start, res, ref
        self.r64, self.e64 = res.astype(np.float64), ref.astype(np.float64)
        self.fin = np.isfinite(self.r64) & np.isfinite(self.e64)

    @cached_property
    def r32(self):
        return np.asarray(self.res, np.float32)

    @cached_property
    def e32(self):
        return np.asarray(self.ref, np.float32)


def _pieces(a: np.ndarray, size: int):
    # A contiguous array is sliced without copying; any other layout is read through .flat.
    flat = a.reshape(-1) if a.flags.c_contiguous else a.flat
    return (flat[i:i + size] for i in range(0, a.size, size))


def _chunks(res, ref):
    size = _CHUNK
    for i, (r, e) in enumerate(zip(_pieces(res, size), _pieces(ref, size))):
        yield _Chunk(i * size, r, e)


def _gather(res, ref, buf: np.ndarray, values) -> np.ndarray:
    """``values(chunk)`` of every chunk, one after another in ``buf``: the vector the whole-array
    expression gives (same elements, same order) without whole-array temporaries."""
    n = 0
    for c in _chunks(res, ref):
        v = values(c)
        buf[n:n + v.size] = v
        n += v.size
    return buf[:n]


class _Histogram:
    """{value: count} of integer values added chunk by chunk, merged exactly."""

    def __init__(self):
        self.keys = np.zeros(0, np.int64)
        self.counts = np.zeros(0, np.int64)
        self.pending = []

    def add(self, values: np.ndarray):
        if values.size:
            self.pending.append(np.unique(values, return_counts=True))
        # Merge once the pending bins outnumber the merged ones: linear-logarithmic in the bins
        # even when every element has its own distance.
        if sum(k.size for k, _ in self.pending) > max(self.keys.size, _CHUNK):
            self._merge()

    def _merge(self):
        keys = np.concatenate([self.keys] + [k for k, _ in self.pending])
        counts = np.concatenate([self.counts] + [c.astype(np.int64) for _, c in self.pending])
        self.pending = []
        if keys.size:
            order = np.argsort(keys, kind="stable")
            keys, counts = keys[order], counts[order]
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            self.keys, self.counts = keys[starts], np.add.reduceat(counts, starts)

    def to_dict(self) -> dict:
        self._merge()
        return dict(zip(self.keys.tolist(), self.counts.tolist()))

    def total(self) -> int:
        self._merge()
        return int(self.counts.sum())


def _compare(res: np.ndarray, ref: np.ndarray) -> ErrorReport:
    top_ref, scale = _maxima(res, ref)
    t = _Totals(ULP_FLOOR * top_ref, _first_matrix_size(res.shape))
    for c in _chunks(res, ref):
        t.add(c)
    # One float64 scratch vector, refilled: normwise, then |differences|, then relative errors.
    buf = np.empty(res.size, np.float64)
    normwise = _normwise(res, ref, buf, scale)
    diff = _gather(res, ref, buf, lambda c: np.abs(c.r64[c.fin] - c.e64[c.fin]))
    max_abs, median_abs = _stat(np.max, diff), _median(diff)
    rel = _gather(res, ref, buf, _rel)
    hist, significant = t.hist.to_dict(), t.significant.to_dict()
    return ErrorReport(
        size=int(res.size),
        max_abs_error=max_abs,
        median_abs_error=median_abs,
        max_rel_error=_stat(np.max, rel),
        median_rel_error=_median(rel),
        normwise_rel_error=normwise,
        ulp_histogram=hist,
        fraction_identical=t.identical / res.size if res.size else 1.0,
        nan_count=t.nan,
        inf_count=t.inf,
        flushed_count=t.flushed,
        finite_count=t.finite,
        nonfinite_mismatch_count=t.mismatch,
        max_ulp_error=max(hist) if hist else None,
        p99_rel_error=_percentile(rel, 99),
        ulp_floor=t.floor,
        significant_count=sum(significant.values()),
        significant_ulp_histogram=significant,
        significant_median_ulp=_rank_percentile(significant, 50),
        significant_p99_ulp=_rank_percentile(significant, 99),
        significant_max_ulp=max(significant) if significant else None,
        sign_change_count=t.sign_changes.total(),
        _sign_change_histogram=t.sign_changes.to_dict(),
        _abs=t.heat.reshape(_first_matrix_shape(res.shape)),
    )


def _maxima(res, ref) -> tuple[float, float]:
    """Largest finite |reference|, and the norms' scale: largest |value| where both are finite."""
    top_ref = scale = 0.0
    for c in _chunks(res, ref):
        top_ref = max(top_ref, np.max(np.abs(c.e64[np.isfinite(c.e64)]), initial=0.0))
        scale = max(scale, np.max(np.abs(c.e64[c.fin]), initial=0.0), np.max(np.abs(c.r64[c.fin]), initial=0.0))
    return top_ref, scale


def _first_matrix_shape(shape: tuple) -> tuple:
    # The heat map shows the first matrix of a batch: the first M*N elements in C order.
    return shape[-2:] if len(shape) >= 2 else shape


def _first_matrix_size(shape: tuple) -> int:
    return int(np.prod(_first_matrix_shape(shape), dtype=np.int64))


class _Totals:
    """Counts, ulp histograms and the heat map's errors, accumulated chunk by chunk."""

    def __init__(self, floor: float, heat_size: int):
        self.floor = float(floor)
        self.finite = self.identical = self.nan = self.inf = self.flushed = self.mismatch = 0
        self.hist, self.significant, self.sign_changes = _Histogram(), _Histogram(), _Histogram()
        self.heat = np.full(heat_size, np.nan)

    def add(self, c: _Chunk):
        self._ulps(c)
        self._counts(c)
        if c.start < self.heat.size:
            n = min(self.heat.size - c.start, c.fin.size)
            self.heat[c.start:c.start + n] = np.where(c.fin, np.abs(c.r64 - c.e64), np.nan)[:n]

    def _ulps(self, c: _Chunk):
        kr = ordered_float32(c.r32.view(np.uint32))
        ke = ordered_float32(c.e32.view(np.uint32))
        ok = ~(np.isnan(c.r32) | np.isnan(c.e32))
        d = np.abs(kr - ke)
        self.hist.add(d[ok])
        self.significant.add(d[ok & (np.abs(c.e64) >= self.floor)])
        self.sign_changes.add(d[ok & (np.sign(kr) * np.sign(ke) < 0)])

    def _counts(self, c: _Chunk):
        r, e = c.r64, c.e64
        self.finite += int(np.count_nonzero(c.fin))
        self.identical += int(np.count_nonzero(c.r32.view(np.uint32) == c.e32.view(np.uint32)))
        self.nan += int(np.isnan(r).sum())
        self.inf += int(np.isinf(r).sum())
        self.flushed += int(((r == 0) & (e != 0) & (np.abs(e) < FLT_MIN_NORMAL)).sum())
        self.mismatch += _nonfinite_mismatch(r, e)


def _normwise(res, ref, buf, scale) -> float:
    # Scale before squaring so huge (or tiny) finite values neither overflow nor underflow. Each
    # norm is one np.linalg.norm of the whole vector, gathered into buf: the same sum as before.
    if scale == 0:
        return 0.0
    num = np.linalg.norm(_gather(res, ref, buf, lambda c: (c.r64[c.fin] - c.e64[c.fin]) / scale))
    den = np.linalg.norm(_gather(res, ref, buf, lambda c: c.e64[c.fin] / scale))
    if den == 0:
        return 0.0 if num == 0 else float("inf")
    return float(num / den)


def _rel(c: _Chunk) -> np.ndarray:
    m = c.fin & (c.e64 != 0)
    return np.abs(c.r64[m] - c.e64[m]) / np.abs(c.e64[m])


def _median(values: np.ndarray) -> float:
    # In place (the buffer is scratch): np.median's own partition, so the same value, without a copy.
    return float(np.median(values, overwrite_input=True)) if values.size else float("nan")


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q, overwrite_input=True)) if values.size else float("nan")


def _rank_percentile(hist: dict, q: int) -> int | None:
    """Smallest distance within which at least q% of the histogram's elements lie (nearest rank)."""
    total = sum(hist.values())
    if not total:
        return None
    need, seen = -(-q * total // 100), 0  # ceil(q% of total) in integers
    for k in sorted(hist):
        seen += hist[k]
        if seen >= need:
            return k
    return max(hist)


def _stat(fn, values) -> float:
    return float(fn(values)) if values.size else float("nan")


def _nonfinite_mismatch(r: np.ndarray, e: np.ndarray) -> int:
    one_finite = np.isfinite(r) != np.isfinite(e)
    both_inf = np.isinf(r) & np.isinf(e) & (np.sign(r) != np.sign(e))
    nan_vs_inf = (np.isnan(r) & np.isinf(e)) | (np.isinf(r) & np.isnan(e))
    return int((one_finite | both_inf | nan_vs_inf).sum())
