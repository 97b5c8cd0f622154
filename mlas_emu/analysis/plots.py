"""Pictures of an :class:`~mlas_emu.analysis.report.ErrorReport` (matplotlib, imported lazily).

Without a display the Agg backend is used, so saving a PNG works on servers and CI.
"""

from __future__ import annotations

import numpy as np

from ..errors import require


def _pyplot():
    matplotlib = require("matplotlib", "viz")
    if not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _has_display() -> bool:
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("MPLBACKEND"))


def _axes(ax):
    if ax is not None:
        return ax.figure, ax
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    return fig, ax


def _finish(fig, path):
    if path is not None:
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    return fig


def plot_ulp_histogram(report, ax=None, path=None, title="distance in float32 ulps"):
    """Counts of elements at each ulp distance, bins 0, 1, [2, 4), [4, 8), ... labelled 0, 1, 2^1, 2^2, ..."""
    fig, ax = _axes(ax)
    ulps = report._ulps if report._ulps is not None else np.repeat(
        np.array(list(report.ulp_histogram), dtype=np.int64), list(report.ulp_histogram.values()))
    top = int(ulps.max()) if ulps.size else 0
    edges = [0, 1] + [2 ** i for i in range(1, max(2, top.bit_length() + 1))] + [2 ** max(1, top.bit_length()) + 1]
    edges = sorted(set(edges))
    counts, _ = np.histogram(ulps, bins=edges)
    # bin [2^i, 2^(i+1)) is labelled 2^i; thin the labels when there are many bins
    labels = [str(lo) if lo < 2 else f"2^{lo.bit_length() - 1}" for lo in edges[:-1]]
    ax.bar(range(len(counts)), counts, color="#4c72b0")
    step = max(1, len(labels) // 16)
    ax.set_xticks(range(0, len(counts), step))
    ax.set_xticklabels(labels[::step], rotation=45, ha="right", fontsize=8)
    ax.set_yscale("log" if counts.max(initial=0) > 0 else "linear")
    ax.set_xlabel(title)
    ax.set_ylabel("elements")
    return _finish(fig, path)


def plot_error_heatmap(report, ax=None, path=None, title="log10 |result - reference|"):
    """log10 of the absolute error of each element of the (first) matrix."""
    fig, ax = _axes(ax)
    err = report._abs
    if err is None:
        raise ValueError("this report carries no element errors (it was rebuilt from JSON)")
    err = np.atleast_2d(err)
    err = err.reshape(-1, err.shape[-2], err.shape[-1])[0]
    with np.errstate(divide="ignore"):
        img = np.log10(np.where(err > 0, err, np.nan))
    im = ax.imshow(img, aspect="auto", interpolation="nearest", cmap="viridis")
    fig.colorbar(im, ax=ax, label=title)
    ax.set_xlabel("column (N)")
    ax.set_ylabel("row (M)")
    return _finish(fig, path)
