"""The two register-level instructions the SBGEMM model takes from :mod:`mlas_emu.isa`.

BFCVTN/BFCVTN2 convert A and B to bf16 (``bfcvt``, Arm ARM DDI0487 M.a.a BFConvert with the
default FPCR) and BFMMLA accumulates (``bfmmla``, BFMatMulAddH), on bit patterns here.
"""

from __future__ import annotations

import numpy as np

from ..isa import bfcvt
from ..isa import bfmmla as _isa_bfmmla


def fp_convert_bf_array(x_u32: np.ndarray) -> np.ndarray:
    """BFCVT of fp32 bit patterns -> bf16 bit patterns (uint16), element by element."""
    return np.asarray(bfcvt(x_u32)).view(np.uint16)


def bfmmla(vd: np.ndarray, vn: np.ndarray, vm: np.ndarray) -> np.ndarray:
    """BFMMLA Vd.4S, Vn.8H, Vm.8H on one 128-bit segment (lanes: Vn[4i+k], Vm[4j+k], Vd[2i+j])."""
    return np.asarray(_isa_bfmmla(vd, vn.view(np.uint16), vm.view(np.uint16)), dtype=np.float32)
