"""Exceptions and warnings shared by every layer."""

from __future__ import annotations

import os
import sys
import warnings

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
