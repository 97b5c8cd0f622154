"""Instruction records that the instruction-level kernel paths emit.

The micro-kernels in this package can run instruction by instruction on register images
(through :mod:`mlas_emu.isa`); when given a ``trace`` list they append one
:class:`InstructionRecord` per instruction, in execution order. :mod:`mlas_emu.teach` turns
such a list into a ``Trace`` (counts, text, HTML, pictures).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class InstructionRecord:
    """One executed instruction of a modelled kernel.

    mnemonic: lower-case Arm mnemonic ("bfmmla", "ummla", "smmla", "udot", "sdot", "fmla",
        "bfcvtn", "bfcvtn2", "ldr", "str", ...).
    operands: register operands as written in assembly, destination first, e.g.
        ("v16.4s", "v8.8h", "v4.8h").
    lanes: for each register operand that holds matrix data, the matrix coordinates of its lanes
        in lane order, e.g. {"v8.8h": (("A", 0, 0), ("A", 0, 1), ...)}; ``None`` marks a lane that
        holds padding.
    bytes_loaded / bytes_stored: memory traffic of this instruction.
    note: a short human-readable comment (e.g. "k=4..7, rows 0-1 x cols 2-3").
    """

    mnemonic: str
    operands: tuple[str, ...] = ()
    lanes: dict = field(default_factory=dict)
    bytes_loaded: int = 0
    bytes_stored: int = 0
    note: str = ""
