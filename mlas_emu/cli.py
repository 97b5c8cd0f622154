"""The ``mlas-emu`` command line.

Each subcommand lives in the layer it belongs to and registers itself here through a
``register(subparsers)`` function, imported only when the command line is built, so the
command stays usable with the core dependencies alone.

Exit status: 0 on success, 2 for bad arguments (argparse's usage error, or a
:class:`~mlas_emu.errors.UsageError` found later), 1 when the work itself fails; errors are
one line on stderr, ``mlas-emu COMMAND: error: ...``, and so are ONNX Runtime's defect and
config warnings (``mlas-emu COMMAND: warning: ...``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from ._version import __version__
from ._cli_args import cli_error
from .errors import MlasEmuError, OrtConfigWarning, OrtDefectWarning, UsageError

#: Modules that add subcommands: each defines ``register(subparsers)``; the parser's
#: ``func`` default receives the parsed arguments and returns an exit code.
_COMMAND_MODULES = ("mlas_emu.demo", "mlas_emu.oracle._cli", "mlas_emu.teach._cli", "mlas_emu.analysis.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlas-emu",
        description="Bit-exact emulation of ONNX Runtime's Arm MMLA GEMM kernels.",
    )
    parser.add_argument("--version", action="version", version=f"mlas-emu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                help="what to do; 'mlas-emu COMMAND --help' describes its arguments")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except MlasEmuError as exc:  # an argument's type= needs a missing extra (reading an ONNX model)
        return cli_error(None, exc, 1)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(args.command)
            return int(args.func(args) or 0)
    except UsageError as exc:
        return cli_error(args.command, exc, 2)
    except MlasEmuError as exc:
        return cli_error(args.command, exc, 1)
    except KeyboardInterrupt:
        return 130


def _one_line_warnings(command: str):
    """``warnings.showwarning`` printing mlas-emu's own warnings as one line, like the errors:
    the line of code they point at means nothing to someone at the command line."""
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, (OrtDefectWarning, OrtConfigWarning)):
            print(f"mlas-emu {command}: warning: {message}", file=sys.stderr if file is None else file)
        else:
            default(message, category, filename, lineno, file, line)

    return show


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
