"""``mlas-emu model PATH.onnx --mode MODE [--inputs FILE.npz]``: per GEMM node errors and end-to-end
metrics of a model run as ONNX Runtime runs it on Arm, against the fp32 run."""

from __future__ import annotations

import sys

from ..releases import DEFAULT_ORT_VERSION


def register(sub):
    from .runner import MODES

    p = sub.add_parser("model", help="run an ONNX model with the emulated Arm GEMM kernels and report errors",
                       description="Run the model as ONNX Runtime on Graviton would (after its graph "
                                   "rewrites), with every MatMul/Gemm/quantized MatMul emulated, and "
                                   "print each GEMM node's path and error against fp32.")
    p.add_argument("path", metavar="PATH.onnx", help="the ONNX model")
    p.add_argument("--mode", choices=[m for m in MODES if m != "fp32"], default="bf16-fastmath",
                   help="what to compare with fp32 (default bf16-fastmath)")
    p.add_argument("--inputs", metavar="FILE.npz",
                   help="feeds: one array per graph input, named like the input (default: random "
                        "values for float inputs, zeros for integer ones; symbolic dims = 1)")
    p.add_argument("--ort-version", default=None, help=f"ONNX Runtime release (default {DEFAULT_ORT_VERSION}, the newest modelled)")
    p.add_argument("--threads", type=int, default=1, help="the session's intra-op thread count (default 1)")
    p.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    p.set_defaults(func=run)


def default_feeds(model, seed: int = 0) -> dict:
    """Feeds for every graph input: standard normal floats, zeros for integers, symbolic dims 1."""
    import numpy as np

    from .graph import graph_inputs

    rng = np.random.default_rng(seed)
    feeds = {}
    for name, (dtype, shape) in graph_inputs(model).items():
        dims = tuple(1 if d is None else d for d in shape)
        feeds[name] = (rng.standard_normal(dims).astype(dtype) if dtype.kind == "f"
                       else np.zeros(dims, dtype=dtype))
    return feeds


def _load_feeds(path):
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def run(args) -> int:
    import json

    from .graph import load_model
    from .runner import compare_modes

    try:
        model = load_model(args.path)
        feeds = _load_feeds(args.inputs) if args.inputs else default_feeds(model)
        cmp = compare_modes(model, feeds, (args.mode,), ort_version=args.ort_version, threads=args.threads,
                            progress=sys.stderr.isatty())
    except (ValueError, TypeError, MemoryError, OSError) as exc:
        print(f"mlas-emu model: {exc}", file=sys.stderr)
        return 1
    print(cmp.table(args.mode))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(cmp.to_dict(), f, indent=1)
    return 0
