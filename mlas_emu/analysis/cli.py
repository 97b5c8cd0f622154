"""``mlas-emu model PATH.onnx --mode MODE [--inputs FILE.npz]``: per GEMM node errors and end-to-end
metrics of a model run as ONNX Runtime runs it on Arm, against the fp32 run."""

from __future__ import annotations

import sys

from .._cli_args import cli_error, cli_type, positive_int, writable_file
from ..errors import UsageError, require
from ..releases import DEFAULT_ORT_VERSION, resolve_ort_version


def register(sub):
    from .runner import MODES

    p = sub.add_parser("model", help="run an ONNX model with the emulated Arm GEMM kernels and report errors",
                       description="Run the model as ONNX Runtime on Graviton would (after its graph "
                                   "rewrites), with every MatMul/Gemm/quantized MatMul emulated, and "
                                   "print each GEMM node's path and error against fp32.")
    # The model and the feeds are read while the arguments are parsed: a file that is not what
    # it should be is a usage error (exit 2), reported before anything runs.
    p.add_argument("model", metavar="PATH.onnx", type=cli_type(onnx_model), help="the ONNX model file")
    p.add_argument("--mode", choices=[m for m in MODES if m != "fp32"], default="bf16-fastmath",
                   help="what to compare with fp32 (default bf16-fastmath)")
    p.add_argument("--inputs", metavar="FILE.npz", type=cli_type(npz_feeds),
                   help="feeds: one array per graph input, named like the input (default: random "
                        "values for float inputs, zeros for integer ones; symbolic dims = 1)")
    add_session_options(p)
    p.add_argument("--json", metavar="FILE", type=cli_type(writable_file), help="also write the numbers as JSON")
    p.set_defaults(func=run)


def add_session_options(p) -> None:
    """The emulated session's options, shared by ``mlas-emu model`` and ``mlas-emu demo``."""
    p.add_argument("--ort-version", type=cli_type(resolve_ort_version), default=None, metavar="V",
                   help=f"emulated ONNX Runtime release (default {DEFAULT_ORT_VERSION}, the newest modelled)")
    p.add_argument("--threads", type=cli_type(positive_int), default=1, metavar="N",
                   help="the session's intra-op thread count (default 1)")
    p.add_argument("--intended", action="store_true",
                   help="compute what ONNX Runtime intends where it has a known defect (docs/defects.md), "
                        "instead of reproducing the defect as Graviton does")


def onnx_model(path: str):
    """The ``ModelProto`` in the file ``path``; ``UsageError`` if there is none."""
    from .graph import load_model

    require("onnx", "onnx")  # MissingExtra (exit 1) rather than protobuf's ImportError
    from google.protobuf.message import DecodeError

    try:
        model = load_model(path)
    except DecodeError:
        model = None
    except OSError as exc:
        raise UsageError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    if model is None or not model.HasField("graph"):
        raise UsageError(f"{path!r} is not an ONNX model file")
    return model


def npz_feeds(path: str) -> dict:
    """The arrays of the ``.npz`` file ``path``, by name; ``UsageError`` if it is not one."""
    import numpy as np

    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"no file {path!r}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path!r} is not an .npz file of arrays ({exc})") from None
    if not hasattr(data, "files"):
        raise UsageError(f"{path!r} holds one array; feeds need an .npz file of arrays named like the inputs")
    with data:
        return {k: data[k] for k in data.files}


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


def run(args) -> int:
    import json

    from .runner import compare_modes

    try:
        feeds = args.inputs if args.inputs is not None else default_feeds(args.model)
        cmp = compare_modes(args.model, feeds, (args.mode,), ort_version=args.ort_version, threads=args.threads,
                            faithful=not args.intended, progress=sys.stderr.isatty())
    except Exception as exc:  # raised by ORT's rewrites, the evaluator or an operator: the model fails
        return cli_error("model", exc, 1)
    print(cmp.table(args.mode))
    if args.json:
        try:
            with open(args.json, "w") as f:
                json.dump(cmp.to_dict(), f, indent=1)
        except OSError as exc:
            return cli_error("model", f"cannot write {args.json!r}: {exc.strerror or exc}", 1)
    return 0
