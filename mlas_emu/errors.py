"""Exceptions and warnings shared by every layer, and the command line's argument checks."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

#: Frames from files under this folder are the library's own (see :func:`warn_caller`).
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class MlasEmuError(Exception):
    """Base class of mlas-emu's own errors."""


class OracleUnavailable(MlasEmuError, RuntimeError):
    """The real-Arm oracle (qemu-aarch64 + ONNX Runtime aarch64) is not installed or cannot run."""


class OracleError(MlasEmuError, RuntimeError):
    """The Arm side failed: an ONNX Runtime error (message included) or a QEMU crash."""


class OrtDefectWarning(UserWarning):
    """ONNX Runtime itself computes a wrong or undefined result for this input (a known defect).

    The message names the defect, the conditions and what the emulator returned.
    """


class UsageError(MlasEmuError, ValueError):
    """An argument given to a command is invalid: ``mlas-emu`` reports it with exit status 2."""


class MissingExtra(MlasEmuError, ImportError):
    """An optional dependency is needed for this feature."""


def require(module: str, extra: str):
    """Import an optional dependency lazily, or raise :class:`MissingExtra` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtra(
            f"this feature needs the optional dependency {module!r}: "
            f"pip install 'mlas-emu[{extra}]'"
        ) from exc


class OrtConfigWarning(UserWarning):
    """A session config entry that the emulated ONNX Runtime release does not read (ignored, as
    ONNX Runtime ignores it)."""


def warn_caller(message: str, category: type[Warning]) -> None:
    """Warn as ``warnings.warn`` does, attributed to the line that called into mlas-emu, however
    deep in the package the condition was found.

    Found from the frames rather than a fixed ``stacklevel``, which goes stale whenever code moves
    between functions and cannot see past another library between the caller and the package
    (ONNX's reference evaluator runs the operators of :func:`mlas_emu.analysis.run_model`);
    ``skip_file_prefixes`` (Python 3.12) stops at the first frame outside, that library's.
    """
    frame = _calling_frame()
    caller_globals = frame.f_globals  # as warnings.warn: the module and its registry of shown warnings
    warnings.warn_explicit(message, category, frame.f_code.co_filename, frame.f_lineno,
                           module=caller_globals.get("__name__", "<string>"),
                           registry=caller_globals.setdefault("__warningregistry__", {}))


def _calling_frame():
    """The caller of the outermost mlas-emu frame on the stack (that frame if none)."""
    outermost = frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.startswith(_PACKAGE_DIR):
            outermost = frame
        frame = frame.f_back
    return outermost.f_back or outermost


# Command-line argument checks, shared by every subcommand. Each raises UsageError; wrapped
# by cli_type they become argparse ``type=`` callables, so a bad value stops the command with
# argparse's one-line usage error (exit status 2) before any work starts.


def cli_type(check):
    """An argparse ``type=`` from ``check(text)``: its ``ValueError`` (e.g. from
    :func:`mlas_emu.releases.resolve_ort_version`) becomes argparse's error for that argument."""
    import argparse

    def convert(text: str):
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(check, "__name__", "value")  # argparse names the type by it
    return convert


def cli_error(command: str | None, message, status: int) -> int:
    """Print ``mlas-emu COMMAND: error: MESSAGE`` on stderr, as argparse does; return ``status``."""
    prog = f"mlas-emu {command}" if command else "mlas-emu"
    print(f"{prog}: error: {message}", file=sys.stderr)
    return status


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise UsageError(f"expected an integer >= {minimum}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (thread counts, matrix sizes)."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """An integer >= 0 (counts where 0 means none)."""
    return _int_at_least(text, 0)


def writable_folder(text: str) -> str:
    """An existing folder this process may write into."""
    path = Path(text)
    if not path.is_dir():
        raise UsageError(f"{text!r} is not a folder" if path.exists() else f"no folder {text!r}")
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write into the folder {text!r}")
    return text


def creatable_folder(text: str) -> str:
    """A folder to write into, created if missing: an existing writable folder, or a path whose
    nearest existing parent is one."""
    path = Path(text).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if existing == path:
        return writable_folder(text)
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"cannot create the folder {text!r}: {str(existing)!r} is not a writable folder")
    return text


def writable_file(text: str) -> str:
    """A file to (over)write: not a folder, in an existing writable folder."""
    if Path(text).is_dir():
        raise UsageError(f"{text!r} is a folder, not a file")
    writable_folder(str(Path(text).parent))
    return text
