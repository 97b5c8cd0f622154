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


def _finish(fig, ax, path, own: bool):
    """Save if asked; return the Axes when drawn into the caller's, else our Figure, closed.

    Closed in pyplot, our Figure shows once in Jupyter (as the cell's value) instead of twice (the
    inline backend also shows every figure still open at the end of a cell). The caller's figure
    is theirs to show or close, as with pandas' and seaborn's ``ax=``.
    """
    if path is not None:
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    if not own:
        return ax
    _pyplot().close(fig)
    return fig


#: Label of the bar of elements whose two values have opposite signs.
SIGN_CHANGE = "sign change"


def ulp_histogram_bars(report) -> tuple[list, list]:
    """The bars of :func:`plot_ulp_histogram`: (labels, counts).

    Same-sign distances fall in bins 0, 1, [2, 4), [4, 8), ... labelled 0, 1, 2^1, 2^2, ... A
    distance between values of opposite signs is counted through zero: |x| + |y| in ulps from
    zero, about 2^30-2^31 for any magnitudes from 1e-7 to 1e3, so these elements (references near
    zero whose sign flipped) would pile up in one spike there; they get their own last bar.
    """
    flips = report._sign_change_histogram or {}
    counts = [0]
    for k, c in report.ulp_histogram.items():
        c -= flips.get(k, 0)
        if c:
            b = int(k).bit_length()  # 0 -> 0, 1 -> 1, [2^i, 2^(i+1)) -> i + 1
            counts += [0] * (b + 1 - len(counts))
            counts[b] += c
    labels = [str(b) if b < 2 else f"2^{b - 1}" for b in range(len(counts))]
    if flips:
        labels.append(SIGN_CHANGE)
        counts.append(sum(flips.values()))
    return labels, counts


def plot_ulp_histogram(report, ax=None, path=None, title="distance in float32 ulps"):
    """Counts of elements at each ulp distance (:func:`ulp_histogram_bars`), sign changes in red.

    Returns the Figure (closed in pyplot: shown once in Jupyter), or ``ax`` when given.
    """
    own = ax is None
    fig, ax = _axes(ax)
    labels, counts = ulp_histogram_bars(report)
    colors = ["#c44e52" if lab == SIGN_CHANGE else "#4c72b0" for lab in labels]
    ax.bar(range(len(counts)), counts, color=colors)
    step = max(1, len(labels) // 16)  # thin the labels when there are many bins, keep the last
    ticks = sorted(set(range(0, len(counts), step)) | {len(counts) - 1})
    ax.set_xticks(ticks)
    ax.set_xticklabels([labels[i] for i in ticks], rotation=45, ha="right", fontsize=8)
    ax.set_yscale("log" if max(counts) > 0 else "linear")
    ax.set_xlabel(title)
    ax.set_ylabel("elements")
    return _finish(fig, ax, path, own)


def plot_error_heatmap(report, ax=None, path=None, title="log10 |result - reference|"):
    """log10 of the absolute error of each element of the (first) matrix.

    Returns the Figure (closed in pyplot: shown once in Jupyter), or ``ax`` when given.
    """
    err = report._abs
    if err is None:
        raise ValueError("this report carries no element errors (it was rebuilt from JSON)")
    own = ax is None
    fig, ax = _axes(ax)
    err = np.atleast_2d(err)
    err = err.reshape(-1, err.shape[-2], err.shape[-1])[0]
    with np.errstate(divide="ignore"):
        img = np.log10(np.where(err > 0, err, np.nan))
    im = ax.imshow(img, aspect="auto", interpolation="nearest", cmap="viridis")
    fig.colorbar(im, ax=ax, label=title)
    ax.set_xlabel("column (N)")
    ax.set_ylabel("row (M)")
    return _finish(fig, ax, path, own)
