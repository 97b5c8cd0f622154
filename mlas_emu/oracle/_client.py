"""Host side of the ORT worker: one persistent arm64 Python per (ORT release, CPU).

Importing ONNX Runtime under QEMU takes seconds; a worker pays it once and then runs sessions
for as long as this interpreter lives. Workers are shut down at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import struct
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from ..errors import OracleError
from . import _qemu
from ._worker import read_message as _read, write_message as _write  # the one wire format

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")

_POOL: dict[tuple[str, str], "OrtWorker"] = {}
_POOL_LOCK = threading.Lock()


class OrtWorker:
    """A running ``_worker.py`` under qemu-aarch64 for one ORT release and CPU model."""

    def __init__(self, ort_version: str, cpu: str):
        self.ort_version, self.cpu = ort_version, cpu
        self._lock = threading.Lock()
        self._stderr = tempfile.TemporaryFile()
        cmd = _qemu.python_command(WORKER_SCRIPT, cpu=cpu)
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._stderr, env=_qemu.python_env(ort_version),
                                      preexec_fn=_qemu.no_aslr)

    def alive(self) -> bool:
        return self._proc.poll() is None

    def request(self, header: dict, blobs=()) -> tuple[dict, list[bytes]]:
        """Send one request and wait for its reply (raises ``OracleError`` if the worker died
        or gave no answer within ``$MLAS_EMU_ORACLE_TIMEOUT`` seconds, default 1800)."""
        with self._lock:
            try:
                _write(self._proc.stdin, header, blobs)
                if not _wait_readable(self._proc.stdout, _timeout()):
                    self._proc.kill()
                    self._proc.wait()
                    raise OracleError(
                        f"ONNX Runtime {self.ort_version} under qemu-aarch64 gave no answer within "
                        f"{_timeout():.0f} s (MLAS_EMU_ORACLE_TIMEOUT); the worker was stopped")
                reply, out = _read(self._proc.stdout)
            except (BrokenPipeError, EOFError, OSError, struct.error) as exc:
                raise self._crashed() from exc
        if reply is None:
            raise self._crashed()
        return reply, out

    def _crashed(self) -> OracleError:
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        self._stderr.seek(0)
        tail = self._stderr.read().decode(errors="replace")[-4000:]
        return OracleError(
            f"the Arm side crashed (qemu-aarch64 running ONNX Runtime {self.ort_version}, "
            f"-cpu {self.cpu}: {_qemu.describe_exit(self._proc.returncode)}); its stderr:\n{tail}"
        )

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                _write(self._proc.stdin, {"op": "exit"}, ())
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()


def worker(ort_version: str, cpu: str) -> OrtWorker:
    """The live worker for ``(ort_version, cpu)``, started (and its ORT import checked) if needed."""
    key = (ort_version, cpu)
    with _POOL_LOCK:
        current = _POOL.get(key)
        if current is not None and current.alive():
            return current
        if current is not None:
            current.close()
        current = OrtWorker(ort_version, cpu)
        _POOL[key] = current
    reply, _ = current.request({"op": "info"})
    if reply.get("ort") != ort_version:
        raise OracleError(f"the worker for {ort_version} imported onnxruntime {reply.get('ort')}")
    return current


def shutdown() -> None:
    """Stop every worker (also done automatically at interpreter exit)."""
    with _POOL_LOCK:
        workers = list(_POOL.values())
        _POOL.clear()
    for w in workers:
        w.close()


atexit.register(shutdown)


def run_session(model_bytes: bytes, feeds: dict[str, np.ndarray], *, ort_version: str, cpu: str,
                threads: int, config: dict[str, str], opt_level: int | None) -> dict[str, np.ndarray]:
    header, blobs = run_request(model_bytes, feeds, threads=threads, config=config, opt_level=opt_level)
    reply, out = worker(ort_version, cpu).request(header, blobs)
    if not reply.get("ok"):
        raise OracleError(f"ONNX Runtime {ort_version} on Arm (-cpu {cpu}) failed: {reply.get('error')}")
    return {name: np.frombuffer(blob, dtype=np.dtype(dtype)).reshape(shape).copy()
            for (name, dtype, shape), blob in zip(reply["outputs"], out)}


def run_request(model_bytes: bytes, feeds: dict[str, np.ndarray], *, threads: int, config: dict[str, str],
                opt_level: int | None) -> tuple[dict, list[bytes]]:
    """The worker's ``"run"`` request: its header and blobs (model, then one per feed)."""
    header = {"op": "run", "feeds": [[name, value.dtype.str, list(value.shape)] for name, value in feeds.items()],
              "threads": threads, "config": config, "opt_level": opt_level}
    return header, [model_bytes, *(value.tobytes() for value in feeds.values())]


def _timeout() -> float:
    return float(os.environ.get("MLAS_EMU_ORACLE_TIMEOUT", "1800"))


def _wait_readable(stream, timeout: float) -> bool:
    """Whether the worker's reply starts within ``timeout`` seconds (its buffer is empty
    between replies, so waiting on the pipe itself is enough)."""
    import select

    ready, _, _ = select.select([stream.fileno()], [], [], timeout)
    return bool(ready)
