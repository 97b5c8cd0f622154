"""The ``mlas-emu`` command line.

Each subcommand lives in the layer it belongs to and registers itself here through a
``register(subparsers)`` function, imported only when the command line is built, so the
command stays usable with the core dependencies alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ._version import __version__

#: Modules that add subcommands: each defines ``register(subparsers)``; the parser's
#: ``func`` default receives the parsed arguments and returns an exit code.
_COMMAND_MODULES = ("mlas_emu.demo", "mlas_emu.oracle._cli", "mlas_emu.teach._cli", "mlas_emu.analysis.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlas-emu",
        description="Bit-exact emulation of ONNX Runtime's Arm MMLA GEMM kernels.",
    )
    parser.add_argument("--version", action="version", version=f"mlas-emu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
