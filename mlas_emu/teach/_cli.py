"""``mlas-emu trace`` and ``mlas-emu figures``: the teaching tools from the command line."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("trace", help="list the instructions an MLAS kernel executes for one GEMM")
    p.add_argument("kernel", help="sbgemm, sgemm, qgemm-u8u8, qgemm-u8s8, qgemm-s8s8, qgemm-dot-u8u8, ...")
    p.add_argument("M", type=int)
    p.add_argument("N", type=int)
    p.add_argument("K", type=int)
    p.add_argument("--non-packed", action="store_true", help="B is a graph input (not pre-packed)")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    p.add_argument("--ort-version", default=None)
    p.add_argument("--limit", type=int, default=60, help="instructions to list (0: counts only)")
    p.set_defaults(func=run_trace)
    f = sub.add_parser("figures", help="write the MMLA tiling pictures (SVG and PNG)")
    f.add_argument("directory", nargs="?", default="docs/images")
    f.set_defaults(func=run_figures)


def run_trace(args) -> int:
    from .tracing import trace

    try:
        t = trace(args.kernel, args.M, args.N, args.K, packed_b=not args.non_packed, threads=args.threads,
                  ort_version=args.ort_version)  # fmt: skip
    except ValueError as exc:
        print(f"mlas-emu trace: {exc}")
        return 2
    if args.limit:
        print(t.to_text(limit=args.limit))
    print("counts:", ", ".join(f"{k} {v}" for k, v in sorted(t.counts.items(), key=lambda kv: -kv[1])))
    return 0


def run_figures(args) -> int:
    from .figures import main

    return main([args.directory])
