"""The MLAS kernel routines inside ONNX Runtime's stripped native libraries: where they are,
what they hold, and disassemblies of them for people who write the emulator's schedules.

The aarch64 wheels ship ``onnxruntime_pybind11_state*.so`` (and ``libonnxruntime.so*``) without
symbols, and MLAS's assembly routines have no ``.eh_frame`` entries. A routine is therefore found
from its code alone:

1. anchor words: the executable words that encode the kernel's characteristic instruction
   (BFMMLA, UMMLA, SMMLA, UDOT, SDOT, the SVE UMMLA/SMMLA; encodings from the Arm ARM, DDI0487,
   "A64 instruction set encoding", as in :data:`._count.ENCODINGS`);
2. a window around them is disassembled with GNU ``aarch64-linux-gnu-objdump``;
3. the routine's entry is the nearest address before the anchor that follows an unconditional
   control transfer (``ret``, ``b``, ``br``, padding skipped) and that is a closed entry: the code
   reachable from it (fall-through and direct branches; ``bl`` returns, so it is not followed)
   reaches the anchor, never goes below the entry, and no direct branch from outside the reached
   span jumps into it. MLAS's assembly routines put code after their ``ret`` (the tails of
   ``ProcessRows`` in SgemmKernelNeon.S / SbgemmKernelNeon.S branch back to ``ExitKernel``), so
   the nearest ``ret`` is not the routine's start: an entry candidate there reaches code below
   itself and is rejected;
4. the routine ends after the highest address reached from the entry, plus unreachable direct
   branches right after it that jump back into it (dead code at the end of an assembler macro).

SGEMM's FMLA (by element) words are all over ONNX Runtime, so its routines are found by the
entry of ``MlasSgemmKernelZero`` / ``MlasSgemmKernelAdd`` in
onnxruntime/core/mlas/lib/aarch64/SgemmKernelNeon.S (``stp d8,d9,[sp,#-32]!`` then
``stp d10,d11,[sp,#16]``, 1.17-1.32) among the routines that hold FMLA (by element).
"""

from __future__ import annotations

import functools
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import OracleUnavailable
from . import _paths

OBJDUMP = _paths.CROSS_OBJDUMP

#: kernel name -> (anchor mnemonics of :data:`KERNEL_ENCODINGS`, required entry words or None).
KERNELS: dict[str, tuple[tuple[str, ...], tuple[int, ...] | None]] = {
    "sbgemm": (("bfmmla",), None),
    "sgemm": (("fmla_elem",), (0x6DBE27E8, 0x6D012FEA)),  # stp d8,d9,[sp,#-32]! ; stp d10,d11,[sp,#16]
    "qgemm-ummla": (("ummla",), None),
    "qgemm-smmla": (("smmla",), None),
    "qgemm-udot": (("udot",), None),
    "qgemm-sdot": (("sdot",), None),
    "qgemm-sve": (("sve_ummla", "sve_smmla"), None),
}

#: mnemonic -> [(mask, value)]: the anchors (Arm ARM DDI0487, A64 encodings: BFMMLA, UMMLA,
#: SMMLA, UDOT/SDOT (vector and by element), FMLA (by element, single precision), SVE UMMLA/SMMLA).
KERNEL_ENCODINGS: dict[str, list[tuple[int, int]]] = {
    "bfmmla": [(0xFFE0FC00, 0x6E40EC00)],
    "ummla": [(0xFFE0FC00, 0x6E80A400)],
    "smmla": [(0xFFE0FC00, 0x4E80A400)],
    "udot": [(0xBFE0FC00, 0x2E809400), (0xBFC0F400, 0x2F80E000)],
    "sdot": [(0xBFE0FC00, 0x0E809400), (0xBFC0F400, 0x0F80E000)],
    "fmla_elem": [(0xBFC0F400, 0x0F801000)],
    "sve_ummla": [(0xFFE0FC00, 0x45C09800)],
    "sve_smmla": [(0xFFE0FC00, 0x45009800)],
}

#: How far around an anchor the disassembly window reaches (the routines are a few KB; MLAS's
#: SVE QGEMM routine of 1.30+ is about 10 KB).
WINDOW = 0x10000
#: Entry candidates tried per anchor (a routine has a few dozen unconditional transfers).
MAX_CANDIDATES = 256
_PADDING = {0x00000000, 0xD503201F}  # udf #0, nop
_END_MNEMONICS = {"ret", "b", "br", "retaa", "retab", "braa", "brab", "braaz", "brabz", "udf", ".inst"}
_BRANCHES = {"b", "bl", "cbz", "cbnz", "tbz", "tbnz"}
_OBJDUMP_LINE = re.compile(r"^\s*([0-9a-f]+):\t([0-9a-f]{8}) \t(\S+)(?:\t(.*?))?(?:\s+//.*)?$")
_SYMBOL = re.compile(r"\s*<[^>]*>")  # objdump's "<symbol+offset>" after a target: noise when stripped


@dataclass(frozen=True)
class Instruction:
    address: int  # virtual address in the library (add the load base for the guest address)
    word: int
    mnemonic: str  # as objdump prints it (``b.lt``)
    operands: str

    @property
    def key(self) -> str:
        """The counting key, see :func:`normalise`."""
        return normalise(self.mnemonic, self.word)


@dataclass(frozen=True, eq=False)  # identity: routines are cached per library
class Routine:
    library: Path
    start: int  # virtual address of the entry
    end: int  # one past the last instruction
    instructions: tuple[Instruction, ...]

    @property
    def size(self) -> int:
        return self.end - self.start

    def listing(self) -> str:
        """One line per instruction: address, word, mnemonic, operands (objdump's)."""
        return "\n".join(f"{i.address:#010x}  {i.word:08x}  {i.mnemonic:<8} {i.operands}".rstrip()
                         for i in self.instructions) + "\n"


#: MOVZ / MOVN (Arm ARM DDI0487, "Move wide (immediate)": sf opc 100101 hw imm16 Rd).
_MOVE_WIDE = {(0x7F800000, 0x52800000): "movz", (0x7F800000, 0x12800000): "movn"}


def normalise(mnemonic: str, word: int | None = None) -> str:
    """The counting key of an objdump mnemonic: lower case, ``b.<cond>`` -> ``b``, ``bc.<cond>``
    -> ``bc``, and objdump's ``mov`` alias of a move-wide immediate keeps its instruction's name
    (``mov x4, #0x8`` is ``movz``; ``mov`` stays for register and vector-element copies). Other
    preferred aliases are kept (``cmp``, ``lsl``, ``mul``, ...), and upper-half forms stay apart
    (``bfcvtn2`` is not ``bfcvtn``)."""
    mnemonic = mnemonic.lower()
    for prefix in ("b.", "bc."):
        if mnemonic.startswith(prefix):
            return prefix[:-1]
    if mnemonic == "mov" and word is not None:
        for (mask, value), name in _MOVE_WIDE.items():
            if word & mask == value:
                return name
    return mnemonic


def objdump() -> str:
    found = shutil.which(OBJDUMP)
    if found is None:
        raise OracleUnavailable(f"{OBJDUMP} not found (Debian package binutils-aarch64-linux-gnu); "
                                "run: mlas-emu oracle setup")
    return found


def library(version: str) -> Path:
    """The native library a Python session runs ORT's kernels in (the pybind extension)."""
    capi = _paths.ort_dir(version) / "onnxruntime" / "capi"
    found = sorted(capi.glob("onnxruntime_pybind11_state*.so"))
    if not found:
        raise OracleUnavailable(f"onnxruntime {version} is not installed in the oracle; run: "
                                f"mlas-emu oracle setup --ort-version {version}")
    return found[0]


def disassemble(path: Path, lo: int, hi: int) -> list[Instruction]:
    """objdump's disassembly of virtual addresses [lo, hi) of ``path``."""
    out = subprocess.run([objdump(), "-d", f"--start-address={lo:#x}", f"--stop-address={hi:#x}", str(path)],
                         check=True, capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        match = _OBJDUMP_LINE.match(line)
        if match:
            address, word, mnemonic, operands = match.groups()
            found.append(Instruction(int(address, 16), int(word, 16), mnemonic.lower(),
                                     _SYMBOL.sub("", operands or "").strip()))
    return found


def _segments(path: Path):
    """(vaddr, uint32 words) of each executable PT_LOAD segment of an ELF64 little-endian file."""
    data = path.read_bytes()
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for i in range(phnum):
        p_type, p_flags, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1 and p_flags & 1:  # PT_LOAD, PF_X
            start = p_offset + (-p_offset % 4)
            yield p_vaddr + start - p_offset, np.frombuffer(data, "<u4", (p_offset + p_filesz - start) // 4, start)


def anchors(path: Path, names) -> list[tuple[int, int, int]]:
    """(address, segment start, segment end) of every executable word encoding one of ``names``."""
    found = []
    for vaddr, words in _segments(path):
        hit = np.zeros(words.size, bool)
        for name in names:
            for mask, value in KERNEL_ENCODINGS[name]:
                hit |= (words & np.uint32(mask)) == np.uint32(value)
        end = vaddr + 4 * words.size
        found += [(vaddr + 4 * int(i), vaddr, end) for i in np.flatnonzero(hit)]
    return found


def _sequence(path: Path, words: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Like :func:`anchors`, for the start of each occurrence of the word sequence ``words``."""
    found = []
    for vaddr, code in _segments(path):
        hit = np.ones(code.size - len(words) + 1, bool)
        for k, word in enumerate(words):
            hit &= code[k:code.size - len(words) + 1 + k] == np.uint32(word)
        end = vaddr + 4 * code.size
        found += [(vaddr + 4 * int(i), vaddr, end) for i in np.flatnonzero(hit)]
    return found


def _target(ins: Instruction) -> int | None:
    if ins.key in _BRANCHES or ins.key == "bc":
        last = ins.operands.rsplit(",", 1)[-1].strip()
        if re.fullmatch(r"[0-9a-f]+", last):
            return int(last, 16)
    return None


class _Window:
    """A disassembled stretch of code with its direct branches."""

    def __init__(self, path: Path, lo: int, hi: int):
        self.code = {i.address: i for i in disassemble(path, lo, hi)}
        self.lo, self.hi = lo, hi
        branches = [(a, t) for a, i in self.code.items() if (t := _target(i)) is not None and i.mnemonic != "bl"]
        self.sources, self.targets = (np.array(x, np.int64).reshape(-1) for x in zip(*branches or [((), ())]))
        self._reach: dict[int, set[int]] = {}

    def reach(self, entry: int) -> set[int]:
        """Addresses reachable from ``entry`` by fall-through and direct branches in the window."""
        if entry not in self._reach:
            self._reach[entry] = self._walk(entry)
        return self._reach[entry]

    def _walk(self, entry: int) -> set[int]:
        seen, todo = set(), [entry]
        while todo:
            pc = todo.pop()
            while pc in self.code and pc not in seen:
                seen.add(pc)
                ins = self.code[pc]
                target = _target(ins)
                if target is not None and ins.mnemonic != "bl" and self.lo <= target < self.hi:
                    todo.append(target)
                if ins.mnemonic in _END_MNEMONICS:
                    break
                pc += 4
        return seen

    def entry_candidates(self, anchor: int):
        """Addresses at or before ``anchor`` that follow an unconditional transfer (padding
        skipped), nearest first."""
        pc = anchor
        while pc - 4 in self.code:
            if self.code[pc - 4].mnemonic in _END_MNEMONICS:
                start = pc
                while start < anchor and self.code[start].word in _PADDING:
                    start += 4
                yield start
            pc -= 4

    def routine(self, anchor: int) -> tuple[int, int] | None:
        for n, entry in enumerate(dict.fromkeys(self.entry_candidates(anchor))):
            if n == MAX_CANDIDATES:
                break
            reached = self.reach(entry)
            if anchor not in reached or min(reached) < entry:
                continue
            last = max(reached)
            # unreachable branches back into the routine right after it are its own dead code
            # (SbgemmKernelNeon.S ends its macro with a second ``b ExitKernel``)
            while (after := self.code.get(last + 4)) is not None and entry <= (_target(after) or -1) <= last:
                last += 4
            inside = (self.targets >= entry) & (self.targets <= last)
            if np.any(inside & ((self.sources < entry) | (self.sources > last))):
                continue
            return entry, last + 4
        return None


@functools.lru_cache(maxsize=None)
def find_routines(path: Path, names: tuple[str, ...], entry_words: tuple[int, ...] = ()) -> tuple[Routine, ...]:
    """Every routine of ``path`` that holds a word encoding one of ``names`` (or, with
    ``entry_words``, that holds that sequence of words) -- see the module docstring for how its
    range is found -- in address order."""
    routines: list[Routine] = []
    window = None
    for address, seg_lo, seg_hi in (_sequence(path, entry_words) if entry_words else anchors(path, names)):
        if routines and routines[-1].start <= address < routines[-1].end:
            continue
        if window is None or not window.lo + WINDOW // 2 <= address < window.hi - WINDOW // 2:
            window = _Window(path, max(seg_lo, address - WINDOW), min(seg_hi, address + WINDOW))
        span = window.routine(address)
        if span is None:
            continue  # a data word that happens to match, or code this analysis cannot close
        routines.append(Routine(path, *span, tuple(window.code[a] for a in range(*span, 4) if a in window.code)))
    return tuple(routines)


def kernel_routines(version: str, kernel: str) -> tuple[Routine, ...]:
    """The candidate routines of ``kernel`` (a key of :data:`KERNELS`) in ORT ``version``'s
    pybind library. Which of them run depends on the CPU and the model; counting reports those."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; known: {', '.join(KERNELS)}")
    names, entry_words = KERNELS[kernel]
    path = library(_paths.check_oracle_version(version))
    if entry_words is None:
        return find_routines(path, names)
    return tuple(r for r in find_routines(path, (), entry_words)
                 if any(_encodes(i.word, names) for i in r.instructions))


def _encodes(word: int, names) -> bool:
    return any(word & mask == value for name in names for mask, value in KERNEL_ENCODINGS[name])


def kernel_disassembly(kernel: str, ort_version=None) -> str:
    """The disassembly of every candidate routine of ``kernel`` in ORT ``ort_version``'s pybind
    library: a header per routine (library, address range relative to the load base, size,
    instruction count), then one line per instruction (address, word, mnemonic, operands)."""
    version = _paths.check_oracle_version(ort_version)
    parts = []
    for r in kernel_routines(version, kernel):
        parts.append(f"# {kernel} routine in ONNX Runtime {version}, {r.library.name}: "
                     f"{r.start:#x}..{r.end:#x} ({r.size} bytes, {len(r.instructions)} instructions)\n")
        parts.append(r.listing())
    return "\n".join(parts)
