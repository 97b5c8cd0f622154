"""Writing kernel schedules: the records of what a kernel routine executes, in order.

A schedule is written once per MLAS kernel routine, from its assembly, as a Python function of
one :class:`KernelCall` that appends :class:`~mlas_emu.mlas.trace.InstructionRecord` s to an
:class:`Emitter`: every instruction the routine executes for that call (prologue, address
arithmetic, compares and branches, loads, arithmetic, stores, epilogue). Traces
(:func:`mlas_emu.teach.trace`) show it, the oracle's counts of the real routine check it, and
:func:`mlas_emu.mlas.interpret.execute` runs it on register images (the instruction path).

Lanes of loads and stores are named in the call's own coordinates: ``("A", r, k)`` for row r
and depth k of the call's A block, ``("B", k, c)``, ``("C", r, c)``, ``("Z", 0, c)`` for a
per-column initial value (bias) or ``("Z", r, c)``, ``None`` for padding that is zero.
"""

from __future__ import annotations

from dataclasses import dataclass

from .interpret import parse_reg
from .trace import InstructionRecord


@dataclass(frozen=True)
class KernelCall:
    """One call of an MLAS kernel routine: the unit a schedule describes.

    ``m``/``n``/``k``: the first row, column and depth of the whole GEMM the call works on;
    ``rows``: the rows it handles (its return value); ``count_n`` / ``count_k``: its CountN and
    CountK arguments (unpadded); ``zero_mode``: ZeroMode (first K block) or Add mode;
    ``bias``: whether a bias pointer is passed; ``thread``: the MLAS thread that makes it.
    """

    thread: int
    m: int
    rows: int
    n: int
    count_n: int
    k: int
    count_k: int
    zero_mode: bool
    bias: bool = False


def transfer_bytes(operands) -> int:
    """Bytes a load or store moves: the widths of its register operands (``q``/``v`` 16,
    ``d``/``x`` 8, ``s``/``w`` 4), lists included."""
    total = 0
    for op in operands:
        op = op.strip()
        if op.startswith("["):
            break
        names = [r.strip() for r in op.strip("{}").replace(" - ", "-").split("-")] if op.startswith("{") else [op]
        if op.startswith("{") and len(names) == 2:
            lo, hi = parse_reg(names[0]), parse_reg(names[1])
            total += 16 * (hi.number - lo.number + 1)
            continue
        for name in names:
            reg = parse_reg(name)
            if reg is not None:
                total += reg.width
    return total


class Emitter:
    """Collects the records of one schedule."""

    def __init__(self):
        self.records: list[InstructionRecord] = []

    def op(self, mnemonic: str, *operands: str, lanes: dict | None = None, note: str = "") -> None:
        """Append one instruction; loads and stores count their bytes from the operands."""
        moved = transfer_bytes(operands) if mnemonic.startswith(("ld", "st")) else 0
        loaded = moved if mnemonic.startswith("ld") else 0
        stored = moved if mnemonic.startswith("st") else 0
        self.records.append(InstructionRecord(mnemonic, tuple(operands), dict(lanes or {}), loaded, stored, note))


def a_lanes(row: int, k: int, count: int = 4) -> tuple:
    return tuple(("A", row, k + i) for i in range(count))


def c_lanes(row: int, col: int, count: int) -> tuple:
    return tuple(("C", row, col + i) for i in range(count))
