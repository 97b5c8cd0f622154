"""``count_kernel_instructions``: every instruction the real MLAS kernel routines execute, by
mnemonic.

The routines come from :mod:`._routines` (ranges found in the stripped library, mnemonics from
GNU objdump). One worker run under ``qemu-aarch64 -d in_asm,exec,nochain -dfilter RANGES``
(QEMU's ``-d``/``-dfilter`` options, docs/system/... "Logging" and ``qemu-aarch64 -d help``)
logs each translated block whose start lies in RANGES, with its instructions, and one ``Trace``
line per execution of such a block; ``nochain`` keeps QEMU from jumping from block to block
without going through the logging. Count = for each ``Trace`` line, every instruction of that
block (its latest translation) whose address lies in a routine. The routines are entered only
by calls and left only by ``ret``, so no block starts outside a range and runs into it.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from pathlib import Path

from ..errors import OracleError
from . import _api, _count, _paths, _routines, _status

_IN_ROW = re.compile(r"^0x([0-9a-f]+):\s+([0-9a-f]{8})\b")
_TRACE = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")


def count_kernel_instructions(model, feeds, kernel: str, *, ort_version=None, cpu=None, qemu_cpu=None,
                              threads=1, session_config=None, graph_optimization_level=None) -> dict[str, int]:
    """``{mnemonic: count}`` of every instruction executed inside the routines of ``kernel``
    (``"sbgemm"``, ``"sgemm"``, ``"qgemm-ummla"``, ``"qgemm-smmla"``, ``"qgemm-udot"``,
    ``"qgemm-sdot"``, ``"qgemm-sve"``; see :data:`._routines.KERNELS`) while one worker loads
    ``model`` into an ONNX Runtime session and runs it once on ``feeds``.

    Mnemonics are GNU objdump's, normalised by :func:`._routines.normalise`; sorted by count,
    then name. An empty dict means none of the routines ran (another kernel did).
    """
    per_routine = count_routine_instructions(model, feeds, kernel, ort_version=ort_version, cpu=cpu,
                                             qemu_cpu=qemu_cpu, threads=threads, session_config=session_config,
                                             graph_optimization_level=graph_optimization_level)
    total: Counter = Counter()
    for counts in per_routine.values():
        total.update(counts)
    return sorted_counts(total)


def count_routine_instructions(model, feeds, kernel: str, *, ort_version=None, cpu=None, qemu_cpu=None,
                               threads=1, session_config=None,
                               graph_optimization_level=None) -> dict[_routines.Routine, dict[str, int]]:
    """Like :func:`count_kernel_instructions`, per routine that ran (address order); ``kernel``
    may also be a sequence of kernel names (one run logs the routines of all of them)."""
    kernels = (kernel,) if isinstance(kernel, str) else tuple(kernel)
    unknown = [k for k in kernels if k not in _routines.KERNELS]
    if unknown or not kernels:
        raise ValueError(f"unknown kernel {unknown or kernel!r}; known: {', '.join(_routines.KERNELS)}")
    version = _paths.check_oracle_version(ort_version)
    cpu = _status.resolve_qemu_cpu(cpu, qemu_cpu)
    run = _count._run_request(model, feeds, session_config, threads, graph_optimization_level)
    _api._ensure_ready(version, cpu)
    routines = {}
    for name in kernels:  # a routine can hold two kernels' anchors: log it once
        for r in _routines.kernel_routines(version, name):
            routines.setdefault(r.start, r)
    routines = [routines[start] for start in sorted(routines)]
    if not routines:
        return {}
    path = routines[0].library
    base = _count._library_bases(version, cpu).get(path)
    if base is None:
        raise OracleError(f"{path.name} is not mapped in the ONNX Runtime {version} worker")
    with tempfile.TemporaryDirectory(prefix="mlas-emu-kcount-") as tmp:
        log = Path(tmp) / "exec.log"
        dfilter = ",".join(f"0x{base + r.start:x}+0x{r.size:x}" for r in routines)
        request = _count._message({"op": "maps"}) + run + _count._message({"op": "exit"})
        replies = _count._run_logged(request, version, cpu, log, "in_asm,exec,nochain", dfilter)
        logged = _count._bases_from_maps(replies[0].get("maps", ""), [path]).get(path)
        if logged != base:
            raise OracleError(f"{path.name} was loaded at {logged!r} in the logged run, not at {base:#x} "
                              "as in the worker (address randomization is not off)")
        executed = _tally(log, base, routines)
    return {r: sorted_counts(executed[r]) for r in routines if executed[r]}


def sorted_counts(counts) -> dict[str, int]:
    return dict(sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0])))


def _tally(log: Path, base: int, routines) -> dict[_routines.Routine, Counter]:
    """Executions of each routine's instructions, from the in_asm blocks and Trace lines."""
    where = {base + i.address: (r, i) for r in routines for i in r.instructions}
    counts = {r: Counter() for r in routines}
    blocks: dict[int, list[int]] = {}
    current: list[int] | None = None
    with open(log, errors="replace") as fh:
        for line in fh:
            if line.startswith("IN:"):
                current = None
            elif line.startswith("Trace"):
                match = _TRACE.match(line)
                if match:
                    for pc in blocks.get(int(match.group(1), 16), ()):
                        routine, ins = where[pc]
                        counts[routine][ins.key] += 1
            elif (match := _IN_ROW.match(line)) is not None:
                pc, word = int(match.group(1), 16), int(match.group(2), 16)
                if current is None:
                    current = blocks[pc] = []
                if pc in where:
                    if where[pc][1].word != word:
                        raise OracleError(f"the word at {pc:#x} is {word:08x} in the run but "
                                          f"{where[pc][1].word:08x} in {where[pc][0].library.name}")
                    current.append(pc)
    return counts
