"""Starting aarch64 programs under qemu-aarch64 (user mode, no binfmt needed).

``qemu-aarch64 -cpu CPU -L SYSROOT PROGRAM``, with the oracle's own QEMU by absolute path: ``-L`` makes QEMU look up the ELF
interpreter and absolute paths in the sysroot first, so the arm64 CPython finds its own
libraries and standard library.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..errors import OracleUnavailable
from . import _paths


def qemu_command(program: Path, *args: str, cpu: str, log: Path | None = None,
                 debug: str | None = None, dfilter: str | None = None) -> list[str]:
    qemu = _paths.qemu_binary()
    if qemu is None:
        raise OracleUnavailable(f"{_paths.QEMU_BINARY} not found; run: mlas-emu oracle setup")
    cmd = [qemu, "-cpu", cpu, "-L", str(_paths.sysroot_dir())]
    if debug:
        cmd += ["-d", debug]
    if dfilter:
        cmd += ["-dfilter", dfilter]
    if log is not None:
        cmd += ["-D", str(log)]
    return cmd + [str(program), *args]


def python_command(script: Path, *args: str, cpu: str, **kwargs) -> list[str]:
    return qemu_command(_paths.arm_python(), "-u", str(script), *args, cpu=cpu, **kwargs)


def python_env(ort_version: str, threads_hint: int = 1) -> dict[str, str]:
    """A clean environment: nothing of the host's Python leaks into the arm64 interpreter."""
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR", "PATH")}
    keep.update(
        PYTHONHOME=str(_paths.sysroot_dir() / "usr"),
        PYTHONPATH=str(_paths.ort_dir(ort_version)),
        PYTHONNOUSERSITE="1",
        PYTHONSAFEPATH="1",  # the worker's own folder (this package) stays off sys.path
        OMP_NUM_THREADS=str(max(1, threads_hint)),
    )
    return keep


#: ``ADDR_NO_RANDOMIZE`` (linux/personality.h), what ``setarch -R`` sets.
_ADDR_NO_RANDOMIZE = 0x0040000


def no_aslr() -> None:
    """``preexec_fn`` for every QEMU process: address randomization off, as ``setarch -R`` does.

    Under QEMU 10 the guest's library mappings move from run to run unless the host process runs
    without ASLR (QEMU 7.2 kept them fixed); instruction counting needs the same addresses in the
    worker that reports the map and in the logged run."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    current = libc.personality(0xFFFFFFFF)
    if current != -1:
        libc.personality(current | _ADDR_NO_RANDOMIZE)


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        import signal

        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit status {returncode}"


def run_once(cmd: list[str], *, env=None, input: bytes | None = None,
             timeout: float | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=no_aslr,
                          env=env, timeout=timeout)
