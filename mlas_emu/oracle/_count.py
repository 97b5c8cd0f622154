"""``count_instructions``: how many BFMMLA, UMMLA, ... the real ONNX Runtime executes.

Two runs of the same request under qemu-aarch64 (guest addresses are the same from run to run):
1. ``-d in_asm``: every translated block with its instruction words; the blocks holding a
   counted instruction give the address ranges to watch.
2. ``-d in_asm,exec,nochain -dfilter RANGES``: one ``Trace`` line per execution of a block in
   those ranges (``nochain`` stops QEMU from jumping block to block without logging).
Count = sum over executed blocks of the counted words they hold. Without ``-dfilter`` the log of
one session is tens of GB, so the ranges matter.

Instructions are recognized from their encodings (Arm ARM DDI0487, A64 Advanced SIMD encodings),
not from QEMU's disassembler, which prints the MMLA words as ``.byte``.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from ..errors import OracleError
from . import _api, _client, _paths, _qemu, _status

#: mnemonic -> [(mask, value)] of its Advanced SIMD encodings (vector and by-element forms).
ENCODINGS: dict[str, list[tuple[int, int]]] = {
    "bfmmla": [(0xFFE0FC00, 0x6E40EC00)],
    "smmla": [(0xFFE0FC00, 0x4E80A400)],
    "ummla": [(0xFFE0FC00, 0x6E80A400)],
    "usmmla": [(0xFFE0FC00, 0x4E80AC00)],
    "sdot": [(0xBFE0FC00, 0x0E809400), (0xBFC0F400, 0x0F80E000)],
    "udot": [(0xBFE0FC00, 0x2E809400), (0xBFC0F400, 0x2F80E000)],
    "usdot": [(0xBFE0FC00, 0x0E809C00), (0xBFC0F400, 0x0F80F000)],
    "bfdot": [(0xBFE0FC00, 0x2E40FC00), (0xBFC0F400, 0x0F40F000)],
    "bfcvtn": [(0xBFFFFC00, 0x0EA16800)],
    # FMLA (vector), single and double precision; FMLA (by element), single and double.
    "fmla": [(0xBFA0FC00, 0x0E20CC00), (0xBF80F400, 0x0F801000)],
}

DEFAULT_MNEMONICS = ("bfmmla", "ummla", "smmla", "usmmla", "udot", "sdot", "fmla", "bfcvtn")

_BLOCK_LINE = re.compile(r"^0x([0-9a-f]+):\s+([0-9a-f]{8})\s")
_TRACE_LINE = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")


def count_instructions(model, feeds, *, mnemonics=DEFAULT_MNEMONICS, ort_version=None,
                       session_config=None, threads=1, graph_optimization_level=None,
                       cpu=None) -> dict[str, int]:
    """Executed counts of ``mnemonics`` (lower case, see :data:`ENCODINGS`) while one worker
    process loads ``model`` into an ONNX Runtime session and runs it once on ``feeds``.

    The count covers the whole process (session creation included: B pre-packing runs
    BFCVTN there); nothing else runs MMLA or DOT instructions. Keep shapes small: the second
    run logs one line per executed block of the kernels.
    """
    unknown = [m for m in mnemonics if m not in ENCODINGS]
    if unknown or isinstance(mnemonics, str):
        raise ValueError(f"unknown mnemonics {unknown or mnemonics!r}; known: {', '.join(ENCODINGS)}")
    version = _paths.check_oracle_version(ort_version)
    cpu = _paths.DEFAULT_CPU if cpu is None else _status.check_cpu(cpu)
    request = _request_bytes(model, feeds, session_config, threads, graph_optimization_level)
    _api._ensure_ready(version, cpu)
    with tempfile.TemporaryDirectory(prefix="mlas-emu-count-") as tmp:
        first = Path(tmp) / "in_asm.log"
        _run_logged(request, version, cpu, first, "in_asm", None)
        blocks = _blocks(first, mnemonics)
        counts = dict.fromkeys(mnemonics, 0)
        if not blocks:
            return counts
        second = Path(tmp) / "exec.log"
        _run_logged(request, version, cpu, second, "in_asm,exec,nochain", _dfilter(blocks))
        executed = _blocks(second, mnemonics)
        for pc in _executed_pcs(second):
            for name, n in executed.get(pc, {}).items():
                counts[name] += n
    return counts


def classify(word: int) -> str | None:
    """The counted mnemonic an instruction word encodes, if any."""
    for name, forms in ENCODINGS.items():
        if any(word & mask == value for mask, value in forms):
            return name
    return None


def _request_bytes(model, feeds, session_config, threads, level) -> bytes:
    import io

    arrays = _api._feeds(feeds)
    header = {"op": "run", "threads": _api._threads(threads), "config": _api._session_config(session_config),
              "opt_level": _api._opt_level(level),
              "feeds": [[k, v.dtype.str, list(v.shape)] for k, v in arrays.items()]}
    stream = io.BytesIO()
    _client._write(stream, header, [_api._model_bytes(model), *(v.tobytes() for v in arrays.values())])
    _client._write(stream, {"op": "exit"}, ())
    return stream.getvalue()


def _run_logged(request: bytes, version: str, cpu: str, log: Path, debug: str, dfilter) -> None:
    cmd = _qemu.python_command(_client.WORKER_SCRIPT, cpu=cpu, log=log, debug=debug, dfilter=dfilter)
    proc = subprocess.run(cmd, input=request, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=_qemu.python_env(version))
    reply, _ = _client._read(__import__("io").BytesIO(proc.stdout))
    if proc.returncode != 0 or reply is None:
        raise OracleError(f"qemu-aarch64 run for counting failed ({_qemu.describe_exit(proc.returncode)}): "
                          f"{proc.stderr.decode(errors='replace')[-2000:]}")
    if not reply.get("ok"):
        raise OracleError(f"ONNX Runtime {version} on Arm (-cpu {cpu}) failed: {reply.get('error')}")


def _blocks(log: Path, mnemonics) -> dict[int, dict[str, int]]:
    """Translated blocks (start pc -> counts of ``mnemonics`` they hold), blocks without any omitted."""
    wanted = set(mnemonics)
    blocks: dict[int, dict[str, int]] = {}
    start, counts = None, {}
    with open(log, errors="replace") as fh:
        for line in fh:
            match = _BLOCK_LINE.match(line)
            if match is None:
                if start is not None and counts:
                    blocks[start] = counts
                start, counts = None, {}
                continue
            if start is None:
                start = int(match.group(1), 16)
            name = classify(int(match.group(2), 16))
            if name in wanted:
                counts[name] = counts.get(name, 0) + 1
    if start is not None and counts:
        blocks[start] = counts
    return blocks


def _dfilter(blocks: dict[int, dict[str, int]]) -> str:
    """``-dfilter`` ranges: one per counted block start (QEMU filters blocks by start pc)."""
    return ",".join(f"0x{pc:x}+4" for pc in sorted(blocks))


def _executed_pcs(log: Path):
    with open(log, errors="replace") as fh:
        for line in fh:
            if line.startswith("Trace"):
                match = _TRACE_LINE.match(line)
                if match:
                    yield int(match.group(1), 16)
