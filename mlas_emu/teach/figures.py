"""Pictures of MMLA tiling, drawn from the kernel models' own traces (matplotlib, ``viz`` extra).

Every picture is computed from :func:`mlas_emu.teach.trace` records (the lane coordinates of
real instructions of the modelled kernels) or the driver plans, never drawn by hand, so picture
and model cannot drift. Each function returns a :class:`matplotlib.figure.Figure` (no pyplot
state, works in notebooks and headless). ``python -m mlas_emu.teach.figures DIR`` writes every
picture as SVG and PNG into DIR (the docs' images come from it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import require
from ..mlas.sbgemm import kernel_calls
from .tracing import trace as _any_trace

_COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac", "#86bcb6", "#d37295", "#fabfd2", "#b6992d", "#499894", "#79706e"]  # fmt: skip


def _trace(kernel, M, N, K):
    """The Advanced SIMD routines these pictures draw: QGEMM's as of 1.29.0 (from 1.30.0 Graviton3/4
    run a compiled SVE routine instead)."""
    return _any_trace(kernel, M, N, K, ort_version="1.29.0" if kernel.startswith("qgemm") else None)


def _figure(width, height):
    mpl_figure = require("matplotlib.figure", "viz")
    return mpl_figure.Figure(figsize=(width, height), layout="constrained")


def _grid(ax, rows, cols, labels, colors, title, xlabel="", ylabel=""):
    """A rows x cols grid of labelled cells; labels/colors are dicts keyed by (row, col)."""
    patches = require("matplotlib.patches", "viz")
    for (r, c), text in labels.items():
        ax.add_patch(patches.Rectangle((c, r), 1, 1, facecolor=colors.get((r, c), "white"), edgecolor="black", lw=0.8))
        ax.text(c + 0.5, r + 0.5, text, ha="center", va="center", fontsize=8)
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_aspect("equal")
    ax.set_xticks([i + 0.5 for i in range(cols)], [str(i) for i in range(cols)], fontsize=7)
    ax.set_yticks([i + 0.5 for i in range(rows)], [str(i) for i in range(rows)], fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)


def _first(t, mnemonic):
    return next(r for r in t if r.mnemonic == mnemonic)


def mmla_tile(kernel: str = "sbgemm"):
    """One MMLA instruction: A (2 x depth) times B (depth x 2) into C (2 x 2), with the lane
    number of every element in its register (``kernel`` "sbgemm" for BFMMLA 2x4 by 4x2,
    "qgemm-s8s8" or "qgemm-u8u8" for SMMLA/UMMLA 2x8 by 8x2)."""
    depth = 4 if kernel == "sbgemm" else 8
    rec = next(r for r in _trace(kernel, 2, 2, depth) if r.mnemonic in ("bfmmla", "smmla", "ummla"))
    vd, vn, vm = rec.operands
    fig = _figure(2.2 + depth * 0.9, 3.2 if depth == 4 else 4.2)
    axes = fig.subplots(1, 3, width_ratios=[depth, 2, 2])
    a = {(co[1], co[2]): f"{lane}" for lane, co in enumerate(rec.lanes[vn]) if co}
    b = {(co[1], co[2]): f"{lane}" for lane, co in enumerate(rec.lanes[vm]) if co}
    c = {(co[1], co[2]): f"{lane}" for lane, co in enumerate(rec.lanes[vd]) if co}
    _grid(axes[0], 2, depth, a, {key: _COLORS[key[0]] + "66" for key in a}, f"A in {vn}: lane 4i+k" if depth == 4
          else f"A in {vn}: lane 8i+k", "k", "i")  # fmt: skip
    _grid(axes[1], depth, 2, b, {key: _COLORS[2 + key[1]] + "66" for key in b}, f"B in {vm}:\nlane {depth}j+k", "j", "k")
    _grid(axes[2], 2, 2, c, {key: "#dddddd" for key in c}, f"C in {vd}:\nlane 2i+j", "j", "i")
    fig.suptitle(f"{rec.mnemonic.upper()} {vd}, {vn}, {vm}: C += A x B (numbers are register lanes)", fontsize=10)
    return fig


def micro_tile(kernel: str = "sbgemm"):
    """The 8 x 8 block of C that one column block of the micro-kernel holds in v16-v31: which
    of the 16 MMLA instructions of a K step writes each element."""
    depth = 4 if kernel == "sbgemm" else 8
    t = _trace(kernel, 8, 8, depth)
    labels, colors = {}, {}
    order = 0
    for r in t:
        if r.mnemonic in ("bfmmla", "smmla", "ummla"):
            vd = r.operands[0]
            for co in r.lanes[vd]:
                labels[(co[1], co[2])] = f"{vd.split('.')[0]}\n#{order}"
                colors[(co[1], co[2])] = _COLORS[order] + "88"
            order += 1
    fig = _figure(6.2, 6.2)
    ax = fig.subplots()
    _grid(ax, 8, 8, labels, colors, f"8x8 tile of C from {order} {kernel} MMLA instructions per K step "
          f"(register, issue order)", "column j", "row i")  # fmt: skip
    return fig


def packed_b_layout(N: int = 12, K: int = 8):
    """SBGEMM's packed B as the kernel reads it: the B loads of one column block, in order, are
    consecutive 16-byte vectors (x1 only moves forward), each holding 2 columns x 4 k; an 8-column
    panel comes first, then the 4-column tail panel."""
    t = _trace("sbgemm", 2, N, K)
    vectors = [r for r in t if r.mnemonic == "ldr" and r.operands[0] in ("q4", "q5", "q6", "q7")]
    fig = _figure(min(14, 2.5 + 0.6 * len(vectors)), 4.2)
    ax = fig.subplots()
    labels, colors = {}, {}
    for v, rec in enumerate(vectors):
        for lane, co in enumerate(next(iter(rec.lanes.values()))):
            labels[(lane, v)] = f"k{co[1]}\nc{co[2]}" if co else "0"
            colors[(lane, v)] = _COLORS[(co[2] // 2) % len(_COLORS)] + "77" if co else "#eeeeee"
    _grid(ax, 8, len(vectors), labels, colors, f"Packed B (bf16), N={N}, K={K}: each 16-byte vector\n"
          "holds 2 columns x 4 k (lane 4j+k)", "vector (16 bytes) in memory order", "lane")  # fmt: skip
    return fig


def k_blocking(M: int = 16, N: int = 24, K: int = 600):
    """Where SBGEMM's K blocks start and end (packed and non-packed B): inside a block each
    element is one chain of BFDotAdd (round to odd); blocks are joined by fp32 adds (round to
    nearest even)."""
    patches = require("matplotlib.patches", "viz")
    fig = _figure(9, 2.8)
    ax = fig.subplots()
    rows = [("B pre-packed (initializer)", True), ("B a graph input (non-packed)", False)]
    for y, (name, packed) in enumerate(rows):
        blocks = sorted({(c.k, c.count_k) for c in kernel_calls(M, N, K, packed_b=packed)})
        for b, (k0, count) in enumerate(blocks):
            ax.add_patch(patches.Rectangle((k0, y + 0.15), count, 0.7, facecolor=_COLORS[b] + "88", edgecolor="black"))
            ax.text(k0 + count / 2, y + 0.5, f"k {k0}..{k0 + count - 1}\nBFDotAdd chain", ha="center", va="center",
                    fontsize=7)  # fmt: skip
            if b:
                ax.annotate("fp32 add\n(RNE)", (k0, y + 0.15), (k0, y - 0.05), ha="center", fontsize=7,
                            arrowprops={"arrowstyle": "->"})  # fmt: skip
    ax.set_xlim(0, K)
    ax.set_ylim(len(rows), -0.3)
    ax.set_yticks([0.5, 1.5], [r[0] for r in rows], fontsize=8)
    ax.set_xlabel("k", fontsize=8)
    ax.set_title(f"SBGEMM K blocking for M={M}, N={N}, K={K}, 1 thread", fontsize=9)
    return fig


def dot_vs_mmla(M: int = 8, N: int = 8, K: int = 8):
    """Data reuse of the DOT and MMLA QGEMM kernels for one 8 x 8 x 8 block: instructions,
    register bytes loaded, and multiply-adds per instruction (from the traces)."""
    pairs = [("qgemm-dot-u8u8", "udot"), ("qgemm-u8u8", "ummla")]
    stats = []
    for kernel, op in pairs:
        t = _trace(kernel, M, N, K)
        n = t.counts[op]
        stats.append((op.upper(), n, t.bytes_loaded, M * N * K / n))
    fig = _figure(9, 3.0)
    axes = fig.subplots(1, 3)
    titles = ["multiply instructions", "bytes loaded from memory", "multiply-adds per instruction"]
    for ax, idx, title in zip(axes, (1, 2, 3), titles):
        values = [s[idx] for s in stats]
        ax.bar([s[0] for s in stats], values, color=[_COLORS[0], _COLORS[1]])
        for x, v in enumerate(values):
            ax.text(x, v, f"{v:g}", ha="center", va="bottom", fontsize=8)
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"u8 QGEMM {M}x{N}x{K}: DOT (4 lanes x 4 products, A broadcast by element) vs "
                 "MMLA (2x8 by 8x2 per register pair)", fontsize=9)  # fmt: skip
    return fig


def draw_trace(t, ax=None, *, step: int = 0):
    """Which C elements each multiply instruction of K step ``step`` updates (issue order)."""
    mult = {"bfmmla", "ummla", "smmla", "udot", "sdot", "fmla"}
    if t.M * t.N > 64 * 64:
        raise ValueError(f"C is {t.M} x {t.N}: too large to draw (at most 64 x 64 elements)")
    fig = None
    if ax is None:
        fig = _figure(6, 6 * min(t.M, 32) / max(min(t.N, 32), 1) + 0.8)
        ax = fig.subplots()
    firsts = {}
    labels, colors = {}, {}
    order = 0
    for r in t:
        if r.mnemonic not in mult or not r.lanes:
            continue
        ks = sorted({co[2] for co in r.lanes[r.operands[2 if r.mnemonic in ("udot", "sdot", "fmla") else 1]] if co}
                    if r.mnemonic not in ("udot", "sdot", "fmla") else
                    {co[2] for co in r.lanes[r.operands[2]] if co})  # fmt: skip
        if not ks:
            continue
        c_lanes = [co for co in r.lanes[r.operands[0]] if co]
        key = c_lanes[0][1:] if c_lanes else None
        if key is None:
            continue
        firsts.setdefault(key, ks[0])
        if ks[0] // max(1, _k_span(r)) != step:
            continue
        for co in c_lanes:
            labels[(co[1], co[2])] = str(order)
            colors[(co[1], co[2])] = _COLORS[order % len(_COLORS)] + "88"
        order += 1
    _grid(ax, t.M, t.N, labels, colors, f"{t.kernel}: C elements updated in K step {step} (instruction order)",
          "column j", "row i")  # fmt: skip
    return fig if fig is not None else ax.figure


def _k_span(r) -> int:
    return {"bfmmla": 4, "ummla": 8, "smmla": 8, "udot": 4, "sdot": 4, "fmla": 1}[r.mnemonic]


#: The pictures the docs use: file stem -> figure function (called without arguments).
FIGURES = {
    "bfmmla-tile": lambda: mmla_tile("sbgemm"),
    "smmla-tile": lambda: mmla_tile("qgemm-s8s8"),
    "micro-tile-8x8": lambda: micro_tile("sbgemm"),
    "packed-b-sbgemm": packed_b_layout,
    "k-blocking": k_blocking,
    "dot-vs-mmla": dot_vs_mmla,
}


def save_all(directory) -> list[Path]:
    """Write every picture of :data:`FIGURES` as SVG and PNG into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    require("matplotlib", "viz").rcParams["svg.hashsalt"] = "mlas-emu"  # stable SVG ids
    written = []
    for stem, make in FIGURES.items():
        fig = make()
        for ext in ("svg", "png"):
            path = out / f"{stem}.{ext}"
            fig.savefig(path, dpi=110, metadata={"Date": None} if ext == "svg" else None)
            written.append(path)
    return written


def main(argv=None) -> int:
    """``python -m mlas_emu.teach.figures FOLDER``: the folder is required, so a bare call never
    overwrites the project's ``docs/images`` by accident (``mlas-emu figures FOLDER`` is the same)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m mlas_emu.teach.figures FOLDER  (e.g. docs/images)", file=sys.stderr)
        return 2
    require("matplotlib", "viz").use("Agg")
    for path in save_all(args[0]):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
