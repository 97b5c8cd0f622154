"""Bit-exact Arm instructions used by MLAS: BFMMLA, BFDOT, BFCVT, FMLA, SMMLA, UMMLA, USMMLA,
SDOT, UDOT, USDOT (Arm ARM DDI0487 M.a.a).

Register functions take NumPy arrays whose last axis holds the lanes (one or more 128-bit
segments) and whose leading axes broadcast; they return new arrays. Compiled scalar cores on
bit patterns, named after the pseudocode, live in :mod:`.bf16` (BFDotAdd and its parts),
:mod:`.convert` (FPConvertBF), :mod:`.fp32` (FPMulAdd, FPMul) and :mod:`.fp` (FPRound,
FPAdd, FPDot).

>>> import numpy as np, ml_dtypes
>>> from mlas_emu.isa import bfmmla_tile
>>> A = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=ml_dtypes.bfloat16)
>>> B = np.ones((4, 2), dtype=ml_dtypes.bfloat16)
>>> bfmmla_tile(np.zeros((2, 2), np.float32), A, B)
array([[10., 10.],
       [26., 26.]], dtype=float32)
"""

from .bfloat import bfdot, bfmmla
from .convert import bfcvt, to_bf16
from .fp32 import fmla
from .fpcr import FPCR
from .integer import sdot, smmla, udot, ummla, usdot, usmmla
from .tiles import bfmmla_tile, mmla_tile, tile_to_registers

__all__ = [
    "FPCR",
    "bfcvt",
    "bfdot",
    "bfmmla",
    "bfmmla_tile",
    "fmla",
    "mmla_tile",
    "sdot",
    "smmla",
    "tile_to_registers",
    "to_bf16",
    "udot",
    "ummla",
    "usdot",
    "usmmla",
]
