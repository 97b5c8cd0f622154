"""``mlas-emu trace`` and ``mlas-emu figures``: the teaching tools from the command line."""

from __future__ import annotations

from .._cli_args import cli_type, creatable_folder, non_negative_int, positive_int
from ..errors import UsageError
from ..releases import resolve_ort_version


def register(sub) -> None:
    p = sub.add_parser("trace", help="list the instructions an MLAS kernel executes for one GEMM",
                       description="List, in execution order, the instructions MLAS's micro-kernel runs "
                                   "for C (M x N) = A (M x K) x B (K x N), and count them.")
    p.add_argument("kernel", type=cli_type(kernel_name),
                   help="sbgemm, sgemm, qgemm-u8u8, qgemm-u8s8, qgemm-s8s8, qgemm-dot-u8u8, ...")
    for dim, what in (("M", "rows of A and C"), ("N", "columns of B and C"), ("K", "columns of A, rows of B")):
        p.add_argument(dim, type=cli_type(positive_int), help=what)
    p.add_argument("--non-packed", action="store_true", help="B is a graph input (not pre-packed)")
    p.add_argument("--threads", type=cli_type(positive_int), default=1, metavar="N",
                   help="ONNX Runtime intra-op threads (default 1)")
    p.add_argument("--ort-version", type=cli_type(resolve_ort_version), default=None, metavar="V",
                   help="ONNX Runtime release (default: the newest that runs the kernel)")
    p.add_argument("--limit", type=cli_type(non_negative_int), default=60, metavar="N",
                   help="instructions to list (default 60; 0: counts only)")
    p.set_defaults(func=run_trace)
    f = sub.add_parser("figures", help="write the MMLA tiling pictures (SVG and PNG)",
                       description="Write every MMLA tiling picture of the documentation as SVG and PNG.")
    f.add_argument("directory", metavar="DIR", type=cli_type(creatable_folder),
                   help="folder to write them into (required; created if missing)")
    f.set_defaults(func=run_figures)


def kernel_name(text: str) -> str:
    """A kernel :func:`mlas_emu.teach.trace` knows (its table is imported only when needed)."""
    from .tracing import KERNELS

    if text not in KERNELS:
        raise UsageError(f"unknown kernel {text!r}; expected one of {', '.join(KERNELS)}")
    return text


def run_trace(args) -> int:
    from .tracing import trace

    try:
        t = trace(args.kernel, args.M, args.N, args.K, packed_b=not args.non_packed, threads=args.threads,
                  ort_version=args.ort_version)  # fmt: skip
    except ValueError as exc:  # sizes, release or CPU that do not go together
        raise UsageError(str(exc)) from None
    if args.limit:
        print(t.to_text(limit=args.limit))
    print("counts:", ", ".join(f"{k} {v}" for k, v in sorted(t.counts.items(), key=lambda kv: -kv[1])))
    return 0


def run_figures(args) -> int:
    from .figures import main

    return main([args.directory])
