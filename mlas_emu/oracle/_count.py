"""``count_instructions``: how many BFMMLA, UMMLA, ... the real ONNX Runtime executes.

``-d in_asm,exec,nochain -dfilter RANGES`` (QEMU's logging options: ``qemu-aarch64 -d help``
and the "-d" / "-dfilter" entries of the QEMU user-mode documentation) logs each translated
block that starts in RANGES with its instruction words, and one ``Trace`` line per execution of
such a block (``nochain`` stops QEMU from jumping block to block without logging). Count = sum over executed blocks of the counted
words they hold. Without ``-dfilter`` the log of one session is tens of GB, so RANGES matter:
- fast path: the words that encode a counted instruction are found in the executable segments of
  ONNX Runtime's native libraries, and their load addresses are read from a live worker's
  /proc/self/maps (guest addresses are the same from run to run; the logged run reports its own
  map, and a different layout falls back to the next path);
- the two-run recipe: a first run with ``-d in_asm`` finds the translated blocks that hold
  a counted word, a second run logs those.

Instructions are recognized from their encodings (Arm ARM DDI0487, "A64 Instruction Set
Encoding": Advanced SIMD three-same (extra), vector x indexed element, and SVE integer matrix
multiply / dot product groups), not from QEMU's disassembler, which may print the MMLA words as
``.byte``. :func:`mlas_emu.oracle.count_kernel_instructions` counts every instruction of the
kernel routines instead.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import OracleError
from . import _api, _client, _paths, _qemu, _status
from ._worker import read_message, write_message

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
    # SVE forms (Zda.S, Zn.B, Zm.B), counted apart: one SVE instruction covers VL/128 segments.
    "sve_smmla": [(0xFFE0FC00, 0x45009800)],
    "sve_ummla": [(0xFFE0FC00, 0x45C09800)],
    "sve_usmmla": [(0xFFE0FC00, 0x45809800)],
    "sve_sdot": [(0xFFE0FC00, 0x44800000)],
    "sve_udot": [(0xFFE0FC00, 0x44800400)],
    "sve_usdot": [(0xFFE0FC00, 0x44807800)],
}

DEFAULT_MNEMONICS = ("bfmmla", "ummla", "smmla", "usmmla", "udot", "sdot", "fmla", "bfcvtn")

#: A block header (``IN: symbol``, empty groups) or an instruction line (pc, word).
_LOG_ROW = re.compile(r"^(?:IN:|0x([0-9a-f]+):\s+([0-9a-f]{8})\s)", re.MULTILINE)
_TRACE_LINE = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")


def count_instructions(model, feeds, *, mnemonics=DEFAULT_MNEMONICS, ort_version=None,
                       session_config=None, threads=1, graph_optimization_level=None,
                       cpu=None, qemu_cpu=None) -> dict[str, int]:
    """Executed counts of ``mnemonics`` (lower case, see :data:`ENCODINGS`) while one worker
    process loads ``model`` into an ONNX Runtime session and runs it once on ``feeds``.

    Counts cover the whole session, creation included (B pre-packing runs BFCVTN there), in
    ONNX Runtime's own native libraries. Keep shapes small: every executed block of the
    kernels is logged. ``cpu`` / ``qemu_cpu`` as in :func:`mlas_emu.oracle.run_model`.
    """
    unknown = [m for m in ([mnemonics] if isinstance(mnemonics, str) else mnemonics) if m not in ENCODINGS]
    if isinstance(mnemonics, str) or unknown:
        raise ValueError(f"unknown mnemonics {unknown or mnemonics!r} (pass a sequence); known: "
                         f"{', '.join(ENCODINGS)}")
    version = _paths.check_oracle_version(ort_version)
    cpu = _status.resolve_qemu_cpu(cpu, qemu_cpu)
    run = _run_request(model, feeds, session_config, threads, graph_optimization_level)
    _api._ensure_ready(version, cpu)
    with tempfile.TemporaryDirectory(prefix="mlas-emu-count-") as tmp:
        counts = _count_one_run(run, version, cpu, tuple(mnemonics), Path(tmp))
        if counts is None:
            counts = _count_two_runs(run, version, cpu, tuple(mnemonics), Path(tmp))
    return counts


#: QEMU tests every executed block against every -dfilter range: with FMLA, whose words are all
#: over ORT (about 120 ranges), one run is slower than the two-run recipe (measured 55 s vs 35 s);
#: the MMLA and DOT kernels fit in a handful of ranges (one run: 6 s, two runs: 13 s).
MAX_FAST_RANGES = 16


def _count_one_run(run: bytes, version, cpu, mnemonics, tmp: Path) -> dict[str, int] | None:
    """Fast path: the candidate words come from the ORT libraries' files and their load
    addresses from a live worker; one logged run, which also reports its own memory map so a
    different layout is detected (then ``None``: use :func:`_count_two_runs`)."""
    bases = _library_bases(version, cpu)
    if not bases:
        return None
    ranges = []
    for path, base in bases.items():
        ranges += [(base + a - 2048, base + a) for a in _static_words(path, mnemonics)]
    counts = dict.fromkeys(mnemonics, 0)
    if not ranges:
        return counts
    dfilter = _merge(ranges)
    if dfilter.count(",") >= MAX_FAST_RANGES:
        return None
    log = tmp / "exec.log"
    request = _message({"op": "maps"}) + run + _message({"op": "exit"})
    replies = _run_logged(request, version, cpu, log, "in_asm,exec,nochain", dfilter)
    if _bases_from_maps(replies[0].get("maps", ""), bases) != bases:
        return None
    return _tally(log, mnemonics, counts)


def _count_two_runs(run: bytes, version, cpu, mnemonics, tmp: Path) -> dict[str, int]:
    """The two-run recipe: ``-d in_asm`` finds the blocks, a second run counts them."""
    request = run + _message({"op": "exit"})
    first = tmp / "in_asm.log"
    _run_logged(request, version, cpu, first, "in_asm", None)
    blocks = _blocks(first, mnemonics)
    counts = dict.fromkeys(mnemonics, 0)
    if not blocks:
        return counts
    second = tmp / "exec2.log"
    _run_logged(request, version, cpu, second, "in_asm,exec,nochain", _dfilter(blocks))
    return _tally(second, mnemonics, counts)


def _tally(log: Path, mnemonics, counts: dict[str, int]) -> dict[str, int]:
    executed = _blocks(log, mnemonics)
    for pc in _executed_pcs(log):
        for name, n in executed.get(pc, {}).items():
            counts[name] += n
    return counts


_BASES: dict[tuple[str, str], dict[Path, int]] = {}


def _library_bases(version: str, cpu: str) -> dict[Path, int]:
    """Load address of each native library of onnxruntime in a worker (stable from run to run)."""
    key = (version, cpu)
    if key not in _BASES:
        libraries = sorted((_paths.ort_dir(version) / "onnxruntime" / "capi").glob("*.so"))
        reply, _ = _client.worker(version, cpu).request({"op": "maps"})
        _BASES[key] = _bases_from_maps(reply.get("maps", ""), {p: 0 for p in libraries}) if reply.get("ok") else {}
    return _BASES[key]


def _bases_from_maps(maps: str, libraries) -> dict[Path, int]:
    """The address of each library's mapping at file offset 0 (its load base)."""
    names = {p.name: p for p in libraries}
    bases = {}
    for line in maps.splitlines():
        fields = line.split()
        if len(fields) >= 6 and int(fields[2], 16) == 0:
            path = names.get(fields[5].rsplit("/", 1)[-1])
            if path is not None and path not in bases:
                bases[path] = int(fields[0].split("-")[0], 16)
    return bases


@functools.lru_cache(maxsize=None)
def _static_words(path: Path, mnemonics) -> tuple[int, ...]:
    """Virtual addresses (relative to the load base) of the words in the executable segments
    of an ELF64 little-endian file that encode one of ``mnemonics``."""
    data = path.read_bytes()
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    found = []
    for i in range(phnum):
        p_type, p_flags, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type != 1 or not p_flags & 1:  # PT_LOAD with PF_X
            continue
        start = p_offset + (-p_offset % 4)
        words = np.frombuffer(data, "<u4", (p_offset + p_filesz - start) // 4, start)
        hit = np.zeros(words.size, bool)
        for name in mnemonics:
            hit |= _encodes(words, name)
        found += (p_vaddr + (start - p_offset) + 4 * np.flatnonzero(hit)).tolist()
    return tuple(found)


def _merge(ranges) -> str:
    """``-dfilter`` value: the ranges, overlapping ones merged (a block holds at most 512
    instructions, so one that contains a word starts at most 2 KB before it)."""
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 4:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return ",".join(f"0x{lo:x}..0x{hi:x}" for lo, hi in merged)


def _encodes(words: np.ndarray, name: str) -> np.ndarray:
    """Which of the uint32 instruction ``words`` encode ``name`` (any of its forms)."""
    hit = np.zeros(words.size, bool)
    for mask, value in ENCODINGS[name]:
        hit |= (words & np.uint32(mask)) == np.uint32(value)
    return hit


def classify(word: int) -> str | None:
    """The counted mnemonic an instruction word encodes, if any."""
    for name, forms in ENCODINGS.items():
        if any(word & mask == value for mask, value in forms):
            return name
    return None


def _run_request(model, feeds, session_config, threads, level) -> bytes:
    arrays = _api._feeds(feeds)
    # arguments are checked in the order the request lists them, the model last
    threads, config, level = _api._threads(threads), _api._session_config(session_config), _api._opt_level(level)
    header, blobs = _client.run_request(_api._model_bytes(model), arrays, threads=threads, config=config,
                                        opt_level=level)
    return _message(header, blobs)


def _message(header: dict, blobs=()) -> bytes:
    stream = io.BytesIO()
    write_message(stream, header, blobs)
    return stream.getvalue()


def _run_logged(request: bytes, version: str, cpu: str, log: Path, debug: str, dfilter) -> list[dict]:
    """Run the worker once under the logging flags; its replies, the last one checked."""
    cmd = _qemu.python_command(_client.WORKER_SCRIPT, cpu=cpu, log=log, debug=debug, dfilter=dfilter)
    proc = subprocess.run(cmd, input=request, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=_qemu.python_env(version), preexec_fn=_qemu.no_aslr)
    stream, replies = io.BytesIO(proc.stdout), []
    while True:
        reply, _ = read_message(stream)
        if reply is None:
            break
        replies.append(reply)
    if proc.returncode != 0 or not replies:
        raise OracleError(f"qemu-aarch64 run for counting failed ({_qemu.describe_exit(proc.returncode)}): "
                          f"{proc.stderr.decode(errors='replace')[-2000:]}")
    if not replies[-1].get("ok"):
        raise OracleError(f"ONNX Runtime {version} on Arm (-cpu {cpu}) failed: {replies[-1].get('error')}")
    return replies


def _blocks(log: Path, mnemonics) -> dict[int, dict[str, int]]:
    """Translated blocks (start pc -> counts of ``mnemonics`` they hold), blocks without any
    omitted. Vectorized: the first log holds every block QEMU translated (tens of MB)."""
    text = log.read_text(errors="replace")
    rows = _LOG_ROW.findall(text)
    if not rows:
        return {}
    is_header = np.fromiter((not pc for pc, _ in rows), bool, len(rows))
    block_id = np.cumsum(is_header)
    keep = ~is_header
    pcs = np.fromiter((int(pc, 16) for pc, _ in rows if pc), np.uint64)
    words = np.fromiter((int(w, 16) for pc, w in rows if pc), np.uint32)
    block_id = block_id[keep]
    first = np.ones(block_id.size, bool)
    first[1:] = block_id[1:] != block_id[:-1]
    start_of = pcs[first][np.cumsum(first) - 1]  # each instruction's block start
    blocks: dict[int, dict[str, int]] = {}
    for name in mnemonics:
        starts, counts = np.unique(start_of[_encodes(words, name)], return_counts=True)
        for pc, n in zip(starts.tolist(), counts.tolist()):
            blocks.setdefault(pc, {})[name] = n
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
