"""The floating-point control register, as the bf16 instructions read it.

Arm ARM DDI0487 M.a.a, C5.2 FPCR: the fields below sit at their architectural bit positions,
so :attr:`FPCR.bits` is the value user code would write with ``MSR FPCR``. The compiled cores
take that integer (numba freezes globals, so control state is always an argument).

``FPCR.AH`` and ``FPCR.FIZ`` exist only with FEAT_AFP and ``FPCR.EBF`` only with FEAT_EBF16;
setting them here models a CPU that has those features. Graviton3 (Neoverse V1) has neither, and
its Linux user space runs with every field below zero: that is ``FPCR()``, and ``fpcr=None``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Bit positions (C5.2 FPCR).
FIZ_BIT = 0
AH_BIT = 1
EBF_BIT = 13
RMODE_SHIFT = 22  # bits [23:22]
FZ_BIT = 24
DN_BIT = 25

#: FPDecodeRounding: RMode '00' N (to nearest, ties to even), '01' P, '10' M, '11' Z.
RMODES = {"RNE": 0, "RP": 1, "RM": 2, "RZ": 3}
RMODE_RNE, RMODE_RP, RMODE_RM, RMODE_RZ = 0, 1, 2, 3


@dataclass(frozen=True)
class FPCR:
    """FPCR fields read by BFMMLA, BFDOT and BFCVT (Arm ARM DDI0487 M.a.a, C5.2).

    ebf: FEAT_EBF16 extended behaviour: fused two-way dot (FPDot), then FPAdd; follows the
        other fields. With ``ebf=False`` BFDotAdd ignores everything but ``ah``.
    rmode: "RNE" (default), "RZ", "RP" or "RM"; read by BFCVT and by the ``ebf=True`` path.
    fz: flush denormal inputs and results to zero (fp32).
    fiz: flush denormal inputs to zero (FEAT_AFP).
    dn: default NaN instead of propagating NaN payloads (BFCVT).
    ah: alternative floating-point behaviour (FEAT_AFP): default NaN is negative, BFCVT
        rounds to nearest even and flushes input and output denormals, FZ no longer flushes
        inputs, and underflow is detected after rounding.
    """

    ebf: bool = False
    rmode: str = "RNE"
    fz: bool = False
    fiz: bool = False
    dn: bool = False
    ah: bool = False

    def __post_init__(self):
        if self.rmode not in RMODES:
            raise ValueError(f"FPCR.rmode must be one of {sorted(RMODES)}, got {self.rmode!r}")
        for name in ("ebf", "fz", "fiz", "dn", "ah"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"FPCR.{name} must be a bool, got {getattr(self, name)!r}")

    @property
    def bits(self) -> int:
        """The register value (architectural bit positions) passed to the compiled cores."""
        return (
            int(self.fiz) << FIZ_BIT
            | int(self.ah) << AH_BIT
            | int(self.ebf) << EBF_BIT
            | RMODES[self.rmode] << RMODE_SHIFT
            | int(self.fz) << FZ_BIT
            | int(self.dn) << DN_BIT
        )


#: What Graviton3 Linux user space runs with (``fpcr=None``).
DEFAULT_FPCR = FPCR()


def fpcr_bits(fpcr) -> int:
    """``fpcr`` argument of the public functions -> register value; ``None`` is the default."""
    if fpcr is None:
        return 0
    if not isinstance(fpcr, FPCR):
        raise TypeError(f"fpcr must be an mlas_emu.isa.FPCR or None, got {type(fpcr).__name__}")
    return fpcr.bits
