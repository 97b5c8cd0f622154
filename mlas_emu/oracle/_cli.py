"""``mlas-emu oracle setup`` and ``mlas-emu oracle status``."""

from __future__ import annotations

import sys

from ..cpus import CPUS, DEFAULT_CPU
from .._cli_args import cli_error, cli_type
from . import _paths


def register(sub):
    p = sub.add_parser("oracle", help="real-Arm oracle (qemu-aarch64 + ONNX Runtime aarch64)",
                       description="Provision and inspect the real-Arm oracle.")
    actions = p.add_subparsers(dest="oracle_command", metavar="ACTION", help="setup or status")
    p.set_defaults(func=lambda args: p.print_help(sys.stderr) or 2)

    s = actions.add_parser(
        "setup", help="install qemu-aarch64, an arm64 CPython, ORT aarch64 wheels and the harness",
        description="Idempotent: what is installed is kept; a rerun takes about a second. "
                    f"Cache folder: {_paths.oracle_dir()} (env MLAS_EMU_ORACLE_DIR overrides).")
    s.add_argument("--ort-version", action="append", metavar="V", dest="ort_versions",
                   type=cli_type(_paths.check_oracle_version),
                   help="ONNX Runtime release to install (repeatable; default: "
                        f"{', '.join(_paths.DEFAULT_SETUP_VERSIONS)}; any of "
                        f"{_paths.OLDEST_ORACLE_VERSION}..{_paths.oracle_versions()[-1]})")
    s.add_argument("--cpu", default=None, choices=sorted(CPUS),
                   help=f"also check that ONNX Runtime imports on this CPU (default {DEFAULT_CPU})")
    s.set_defaults(func=_setup)

    st = actions.add_parser("status", help="what is installed: versions, sizes, paths (exit 1 when not ready)")
    st.add_argument("--json", action="store_true", help="print the status as JSON")
    st.set_defaults(func=_status)


def _setup(args) -> int:
    from ..errors import OracleUnavailable
    from ._provision import setup

    try:
        setup(args.ort_versions, cpu=args.cpu, log=lambda msg: print(f"oracle setup: {msg}", flush=True))
    except (OracleUnavailable, ValueError) as exc:
        return cli_error("oracle setup", exc, 1)
    return _status(None)


def _status(args) -> int:
    from ._status import status

    info = status()
    if args is not None and getattr(args, "json", False):
        import json

        print(json.dumps(info, indent=2))
    else:
        print(format_status(info))
    return 0 if info["ready"] else 1


def format_status(info: dict) -> str:
    qemu = info["qemu"]
    lines = [
        f"oracle folder   {info['dir']}  ({info['total_mb']} MB)",
        f"qemu-aarch64    {qemu['version'] or 'missing'}  {qemu['path'] or ''}".rstrip(),
        f"cross compiler  {info['cross_compiler'] or 'missing'}",
        f"default cpu     {info['default_cpu']}",
        _installed("arm64 python", info["sysroot"]),
        f"harness         {'built' if info['harness']['built'] else 'missing'}",
    ]
    if info["missing_host_packages"]:
        lines.append(f"missing host packages: {' '.join(info['missing_host_packages'])}")
    if not info["ort"]:
        lines.append("onnxruntime     none installed")
    for version, ort in info["ort"].items():
        lines.append(f"onnxruntime     {version:<8} numpy {ort['numpy']:<8} {ort['mb']:>7} MB")
    lines.append("ready" if info["ready"] else f"not ready: {info['unavailable_reason']}")
    return "\n".join(lines)


def _installed(label: str, part: dict) -> str:
    state = f"{part['mb']} MB" if part["installed"] else "missing"
    return f"{label:<15} {state}"
