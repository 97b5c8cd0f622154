"""Exceptions and warnings shared by every layer."""

from __future__ import annotations


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
