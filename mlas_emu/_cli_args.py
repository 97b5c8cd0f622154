"""The command line's argument checks, shared by every subcommand (``mlas-emu demo``, ``model``,
``trace``, ``figures``, ``oracle``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import UsageError

# Each check raises UsageError; wrapped by cli_type it becomes an argparse ``type=`` callable,
# so a bad value stops the command with argparse's one-line usage error (exit status 2) before
# any work starts.


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
