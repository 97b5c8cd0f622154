"""Run a kernel schedule on register images: the instruction path of every MLAS kernel model.

A kernel *schedule* (``schedule(call)`` in each kernel module) is the list of
:class:`~mlas_emu.mlas.trace.InstructionRecord` s the kernel routine executes for one call, in
order, written once from the routine's assembly. Traces show it; this module executes it.

Memory is not addressed by pointers: a load's ``lanes`` name, per lane of each destination
register, the operand element it reads (``("A", r, k)``, ``("B", k, c)``, ``("C", r, c)``,
``("Z", r, c)`` for the accumulator's initial value, ``None`` for zero padding), in the kernel
call's own coordinates; a store's ``lanes`` name where each lane of each source register goes.
:class:`Memory` resolves those names to bits through the call's operand matrices, which the
driver's plan built (and which already say which source element each lane really holds, under
ONNX Runtime's defects). Vector instructions run through :mod:`mlas_emu.isa`; scalar address
arithmetic and branches are part of the schedule (they are counted) but change no register
image the results depend on.

Register names follow the assembler: ``v16.4s``, ``v8.8h``, ``v4.16b``, ``v9.s[2]``, ``q8``,
``d8``, ``s8``, ``x27``, ``w27``; ``{v4.16b - v7.16b}`` lists. SVE: ``z16.s`` / ``z4.b`` / ``z3``
(the whole vector length, :attr:`Registers.vl` bytes, a multiple of 16: MMLA works on each 128-bit
segment) and predicates ``p1/m``, ``p0/z``, ``p2.s``. A predicated load or store names ``None``
for its inactive lanes (a load zeroes them, a store skips them), so predicates need no images;
the predicated arithmetic modelled (``mla``/``mad`` under ``ptrue``) has every lane active.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ._isa_bridge import bfcvt_bits, isa_op

#: bytes per lane of each arrangement letter
_SIZES = {"b": 1, "h": 2, "s": 4, "d": 8}
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_VEC = re.compile(r"^v(\d+)\.(\d*)([bhsd])(?:\[(\d+)\])?$", re.IGNORECASE)
_SCALAR_VEC = re.compile(r"^([qdsh])(\d+)$")
_GPR = re.compile(r"^([xw])(\d+)$")
_ZREG = re.compile(r"^z(\d+)(?:\.([bhsdq]))?$", re.IGNORECASE)
_PREG = re.compile(r"^p(\d+)(?:/[mz]|\.[bhsd])?$", re.IGNORECASE)
_SCALAR_BYTES = {"q": 16, "d": 8, "s": 4, "h": 2}


@dataclass(frozen=True)
class Reg:
    """One register operand: a vector register (``kind="v"``) or a general-purpose one ("x")."""

    kind: str
    number: int
    lane_bytes: int  # element size
    lanes: int  # elements the operand covers (1 for an indexed element)
    index: int | None = None  # element index of ``v9.s[2]``
    width: int = 16  # bytes the operand spans (a write of a narrower scalar zeroes the rest)

    @property
    def dtype(self):
        return _UINT[self.lane_bytes]


def parse_reg(name: str) -> Reg | None:
    """The register an operand string names, or None for immediates, addresses and labels."""
    name = name.strip()
    m = _VEC.match(name)
    if m:
        num, count, letter, index = int(m.group(1)), m.group(2), m.group(3).lower(), m.group(4)
        size = _SIZES[letter]
        if index is not None:
            return Reg("v", num, size, 1, int(index), size)
        lanes = int(count) if count else 16 // size
        return Reg("v", num, size, lanes, None, size * lanes)
    m = _SCALAR_VEC.match(name)
    if m:
        width = _SCALAR_BYTES[m.group(1)]
        return Reg("v", int(m.group(2)), width, 1, None, width)
    m = _ZREG.match(name)
    if m:  # SVE vector: lanes = 0 means "the vector length" (Registers.vl)
        return Reg("z", int(m.group(1)), _SIZES.get((m.group(2) or "b").lower(), 16), 0, None, 0)
    m = _PREG.match(name)
    if m:
        return Reg("p", int(m.group(1)), 1, 0, None, 0)
    m = _GPR.match(name)
    if m:
        width = 8 if m.group(1) == "x" else 4
        return Reg("x", int(m.group(2)), width, 1, None, width)
    return None


class Memory:
    """What a kernel call's loads read and its stores write, by operand coordinates.

    ``operands`` maps a kind ("A", "B", "C", "Z", ...) to a 2-D array of bit patterns whose
    item size is the lane size the schedule loads it with. ``C`` is written by stores.
    """

    def __init__(self, **operands: np.ndarray):
        self.operands = operands

    def load(self, coord, dtype) -> int:
        if coord is None:
            return 0
        array = self.operands[coord[0]]
        if array.dtype.itemsize != np.dtype(dtype).itemsize:
            raise ValueError(f"{coord[0]} holds {array.dtype.itemsize}-byte elements, loaded as "
                             f"{np.dtype(dtype).itemsize}-byte lanes")
        return int(array[coord[1], coord[2]].view(_UINT[array.dtype.itemsize]))

    def store(self, coord, value: int) -> None:
        array = self.operands[coord[0]]
        array[coord[1], coord[2]] = np.array(value, dtype=_UINT[array.dtype.itemsize]).view(array.dtype)


@dataclass
class Registers:
    """Register images: 32 vector registers of 16 bytes, 31 general-purpose ones of 8, and the 32
    SVE vectors of ``vl`` bytes (0: set by the first SVE load, from the lanes it names). The SVE
    images are kept apart from ``v``: no modelled routine mixes the two views."""

    v: np.ndarray = field(default_factory=lambda: np.zeros((32, 16), np.uint8))
    x: np.ndarray = field(default_factory=lambda: np.zeros((32, 8), np.uint8))
    vl: int = 0
    z: np.ndarray = field(default_factory=lambda: np.zeros((32, 256), np.uint8))
    spills: dict = field(default_factory=dict)

    def _bytes(self, reg: Reg) -> np.ndarray:
        if reg.kind == "z":
            if not self.vl:
                raise ValueError("the SVE vector length is unknown: pass Registers(vl=...) or load first")
            return self.z[reg.number, : self.vl]
        return (self.v if reg.kind == "v" else self.x)[reg.number]

    def read(self, reg: Reg) -> np.ndarray:
        """The operand's lanes (a copy), as unsigned integers of the lane size."""
        raw = self._bytes(reg).view(reg.dtype)
        if reg.kind == "z":
            return raw.copy()
        if reg.index is not None:
            return raw[reg.index : reg.index + 1].copy()
        return raw[: reg.lanes].copy()

    def write(self, reg: Reg, values) -> None:
        """Write the operand; a whole-register write of fewer than 16 bytes zeroes the rest,
        an element write (``v8.s[2]``) keeps the other lanes (Arm ARM: V[] and Vpart[])."""
        raw = self._bytes(reg)
        lanes = raw.view(reg.dtype)
        values = np.asarray(values).astype(reg.dtype, copy=False)
        if reg.kind == "z":  # SVE writes the whole vector
            lanes[:] = values.reshape(-1)
            return
        if reg.index is not None:
            lanes[reg.index] = values.reshape(-1)[0]
            return
        raw[:] = 0
        lanes[: reg.lanes] = values.reshape(-1)[: reg.lanes]


def _split_list(operand: str) -> list[str]:
    """``{v4.16b - v7.16b}`` -> the registers it lists; other operands unchanged."""
    operand = operand.strip()
    if not operand.startswith("{"):
        return [operand]
    inner = operand.strip("{}").replace(" ", "")
    if "-" in inner:
        first, last = inner.split("-")
        lo, hi = parse_reg(first), parse_reg(last)
        suffix = first.split(".", 1)[1]
        return [f"v{n}.{suffix}" for n in range(lo.number, hi.number + 1)]
    return inner.split(",")


def _is_load(mnemonic: str) -> bool:
    return mnemonic.startswith("ld")


def _is_store(mnemonic: str) -> bool:
    return mnemonic.startswith("st")


def execute(records, memory: Memory, regs: Registers | None = None) -> Registers:
    """Run ``records`` in order on ``regs`` (fresh registers if None); returns the registers.

    Loads and stores move the lanes their ``lanes`` name (registers without lanes: pointers,
    saved registers: no effect on results); vector arithmetic goes through
    :func:`mlas_emu.mlas._isa_bridge.isa_op`; other instructions (address arithmetic,
    compares, branches) have no effect here.
    """
    regs = Registers() if regs is None else regs
    for rec in records:
        if _sve_spill(rec, regs):
            continue
        if _is_load(rec.mnemonic):
            for name, lanes in rec.lanes.items():
                reg = parse_reg(name)
                if reg.kind == "z" and not regs.vl:
                    regs.vl = len(lanes) * reg.lane_bytes
                reg = reg if reg.kind == "z" else _widen(reg, len(lanes))
                regs.write(reg, [memory.load(c, reg.dtype) for c in lanes])
        elif _is_store(rec.mnemonic):
            for name, lanes in rec.lanes.items():
                reg = parse_reg(name)
                reg = reg if reg.kind == "z" else _widen(reg, len(lanes))
                for value, coord in zip(regs.read(reg), lanes):
                    if coord is not None:
                        memory.store(coord, int(value))
        else:
            _compute(rec, regs)
    return regs


def _widen(reg: Reg, lanes: int) -> Reg:
    """A loaded or stored register as ``lanes`` equal elements (``str x27`` of two fp32 lanes,
    ``ldr q8`` of four)."""
    if lanes == reg.lanes:
        return reg
    size = reg.width // lanes
    return Reg(reg.kind, reg.number, size, lanes, None, reg.width)


def _compute(rec, regs: Registers) -> None:
    """One non-memory instruction: vector ones through :mod:`mlas_emu.isa` / lane moves."""
    op = _OPS.get(rec.mnemonic)
    if op is None:
        return
    operands = [parse_reg(o) for o in rec.operands]
    if not operands or operands[0] is None:
        return
    if operands[0].kind in ("v", "z") or rec.mnemonic in ("mov", "movz"):  # scalar arithmetic: addresses, counters
        op(regs, rec, operands)


def _sve_spill(rec, regs: Registers) -> bool:
    """``str z2, [x0, #1, mul vl]`` / ``ldr z2, [x0, #1, mul vl]`` without lanes: a spill slot
    on the stack, named by the address operand (the routine reloads from the same operand)."""
    if rec.lanes or rec.mnemonic not in ("str", "ldr") or len(rec.operands) < 2:
        return False
    reg = parse_reg(rec.operands[0])
    if reg is None or reg.kind != "z":
        return False
    slot = ", ".join(rec.operands[1:])
    if rec.mnemonic == "str":
        regs.spills[slot] = regs.read(reg)
    else:
        regs.write(reg, regs.spills[slot])
    return True


def _mov(regs, rec, ops):
    dst, src = ops[0], ops[1]
    if src is None and dst.kind == "z":  # mov z14.s, #1 (DUP immediate): every lane
        regs.write(dst, np.full(regs.vl // dst.lane_bytes, int(rec.operands[1].lstrip("#"), 0)))
        return
    if src is None:  # mov x27, #imm
        regs.write(dst, [int(rec.operands[1].lstrip("#"), 0)])
        return
    regs.write(dst, regs.read(src))


def _dup(regs, rec, ops):
    dst, src = ops[0], ops[1]
    regs.write(dst, np.repeat(regs.read(src), dst.lanes))


def _movi(regs, rec, ops):
    """``movi v24.4s, #0``: the immediate in every lane."""
    regs.write(ops[0], np.full(ops[0].lanes, int(rec.operands[1].lstrip("#"), 0)))


def _eor(regs, rec, ops):
    regs.write(ops[0], regs.read(ops[1]) ^ regs.read(ops[2]))


def _zip_uzp(kind, part):
    def run(regs, rec, ops):
        a, b = regs.read(ops[1]), regs.read(ops[2])
        half = a.size // 2
        if kind == "zip":
            pairs = np.stack([a, b], axis=1).reshape(-1)
            regs.write(ops[0], pairs[2 * half * part : 2 * half * part + a.size])
        else:
            both = np.concatenate([a, b])
            regs.write(ops[0], both[part::2])

    return run


def _bfcvtn(high):
    def run(regs, rec, ops):
        dst, src = ops[0], ops[1]
        bits = bfcvt_bits(regs.read(src))
        if high:  # bfcvtn2 keeps the low half
            keep = regs.read(Reg("v", dst.number, 2, 8, None, 16))
            regs.write(Reg("v", dst.number, 2, 8, None, 16), np.concatenate([keep[:4], bits]))
        else:  # bfcvtn writes the low half and zeroes the high half
            regs.write(Reg("v", dst.number, 2, 8, None, 16), np.concatenate([bits, np.zeros(4, np.uint16)]))

    return run


def _full(reg: Reg) -> Reg:
    """The whole 128-bit register ``reg`` belongs to, with ``reg``'s lane size."""
    return Reg("v", reg.number, reg.lane_bytes, 16 // reg.lane_bytes)


def _isa(name):
    def run(regs, rec, ops):
        if ops[0].kind == "z":
            return _sve_isa(name, regs, ops)
        args = [regs.read(_full(o)) if o.index is None else (regs.read(_full(o)), o.index) for o in ops[1:]]
        regs.write(_full(ops[0]), isa_op(name, regs.read(_full(ops[0])), *args))

    return run


def _sve_isa(name, regs, ops):
    """An SVE form: predicates dropped (all lanes active), each 128-bit segment through the
    Advanced SIMD semantics (MMLA: Arm ARM, SVE ``UMMLA``/``SMMLA`` work per segment)."""
    vecs = [o for o in ops if o.kind == "z"]
    segs = [regs.read(Reg("z", o.number, 4 if i == 0 else 1, 0, None, 0)).reshape(-1, 16 // (4 if i == 0 else 1))
            for i, o in enumerate(vecs)]
    if name in ("ummla", "smmla", "usmmla"):
        out = np.stack([isa_op(name, d, n, m) for d, n, m in zip(*segs)])
    else:
        out = isa_op(name, segs[0].reshape(-1), *(regs.read(Reg("z", o.number, 4, 0, None, 0)) for o in vecs[1:]))
    regs.write(Reg("z", vecs[0].number, 4, 0, None, 0), np.asarray(out).reshape(-1))


def _sve_movprfx(regs, rec, ops):
    """``movprfx z16, z28``: a copy (the next instruction overwrites it destructively)."""
    regs.write(Reg("z", ops[0].number, 1, 0, None, 0), regs.read(Reg("z", ops[1].number, 1, 0, None, 0)))


def _sve_mla(addend_first):
    """``mla zda.s, pg/m, zn.s, zm.s`` (zda += zn * zm) and ``mad zdn.s, pg/m, zm.s, za.s``
    (zdn = za + zdn * zm), modulo 2^32, every lane active."""
    def run(regs, rec, ops):
        d, _, n, m = ops
        if d.kind != "z":  # the Advanced SIMD forms are not modelled (no schedule uses them)
            return
        read = lambda r: regs.read(Reg("z", r.number, 4, 0, None, 0)).astype(np.uint64)
        acc, prod = (read(d), read(n) * read(m)) if addend_first else (read(m), read(d) * read(n))
        regs.write(Reg("z", d.number, 4, 0, None, 0), ((acc + prod) & 0xFFFFFFFF).astype(np.uint32))

    return run


_OPS = {
    "movprfx": _sve_movprfx,
    "mla": _sve_mla(True),
    "mad": _sve_mla(False),
    "mov": _mov,
    "movz": _mov,  # mov x27, #0 (MOVZ alias): zeroes a general register moved into lanes
    "dup": _dup,
    "eor": _eor,
    "movi": _movi,
    "zip1": _zip_uzp("zip", 0),
    "zip2": _zip_uzp("zip", 1),
    "uzp1": _zip_uzp("uzp", 0),
    "uzp2": _zip_uzp("uzp", 1),
    "bfcvtn": _bfcvtn(False),
    "bfcvtn2": _bfcvtn(True),
    **{name: _isa(name) for name in ("bfmmla", "ummla", "smmla", "usmmla", "udot", "sdot", "usdot", "fmla",
                                     "fadd", "fmul", "add", "mul")},
}
