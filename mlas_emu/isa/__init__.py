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

The register form: ``vn`` holds A (2x4) row by row, ``vm`` B (4x2) column by column, the
result C (2x2) row by row. Graviton3 rounds the pair sum 1 + 2**-24 to odd; FEAT_EBF16's
fused dot (``FPCR.EBF``) rounds it to nearest even.

>>> from mlas_emu.isa import bfmmla, FPCR
>>> vn = np.array([1, 1, 0, 0, 2, 0, 0, 0], dtype=ml_dtypes.bfloat16)
>>> vm = np.array([1, 2**-24, 0, 0, 1, 1, 1, 1], dtype=ml_dtypes.bfloat16)
>>> bfmmla(np.zeros(4, np.float32), vn, vm)
array([1.0000001, 2.       , 2.       , 2.       ], dtype=float32)
>>> bfmmla(np.zeros(4, np.float32), vn, vm, fpcr=FPCR(ebf=True))
array([1., 2., 2., 2.], dtype=float32)
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
