"""The register-level instructions the MLAS models take from :mod:`mlas_emu.isa`, on bit patterns.

BFCVTN/BFCVTN2 (``bfcvt``, Arm ARM DDI0487 M.a.a BFConvert with the default FPCR), BFMMLA
(BFMatMulAddH), the integer MMLA and DOT forms (MatMulAdd, the DOT pseudocode), FMLA (FPMulAdd),
FMUL (FPMul) and FADD (FPAdd), with the Linux user-space FPCR of Graviton (all fields 0).
"""

from __future__ import annotations

import numpy as np

from .. import isa
from ..isa.fp import fp_add
from ..isa.fp32 import fp_mul


def fp_convert_bf_array(x_u32: np.ndarray) -> np.ndarray:
    """BFCVT of fp32 bit patterns -> bf16 bit patterns (uint16), element by element."""
    return np.asarray(isa.bfcvt(x_u32)).view(np.uint16)


bfcvt_bits = fp_convert_bf_array


def bfmmla(vd: np.ndarray, vn: np.ndarray, vm: np.ndarray) -> np.ndarray:
    """BFMMLA Vd.4S, Vn.8H, Vm.8H on one 128-bit segment (lanes: Vn[4i+k], Vm[4j+k], Vd[2i+j])."""
    return np.asarray(isa.bfmmla(vd, vn.view(np.uint16), vm.view(np.uint16)), dtype=np.float32)


def _element(operand, group_bytes: int) -> np.ndarray:
    """A by-element operand ``(lanes, index)`` repeated over the register (index counts
    ``group_bytes`` groups: 4 for FMLA .s[i] and for the DOT forms' .4b[i])."""
    if not isinstance(operand, tuple):
        return operand
    lanes, index = operand
    raw = lanes.view(np.uint8)
    group = raw[group_bytes * index : group_bytes * (index + 1)]
    return np.tile(group, 16 // group_bytes).view(lanes.dtype)


def _fadd(vd, vn, vm):
    return np.array([fp_add(np.uint32(a), np.uint32(b), 0) for a, b in zip(vn, vm)], np.uint32)


def _fmul(vn, vm):
    """FMUL (vector, by element): FPMul lane by lane."""
    return np.array([fp_mul(int(a), int(b)) for a, b in zip(vn, vm)], np.uint32)


def _int(op):
    def run(vd, vn, vm):
        with np.errstate(over="ignore"):
            return op(vn.view(np.uint32), vm.view(np.uint32)).astype(np.uint32)

    return run


#: mnemonic -> f(vd, *sources) on the operands' lanes as unsigned integers; returns vd's new lanes.
_FUNCS = {
    "bfmmla": lambda vd, vn, vm: isa.bfmmla(vd.view(np.uint32), vn.view(np.uint16), vm.view(np.uint16)),
    "ummla": lambda vd, vn, vm: isa.ummla(vd.view(np.uint32), vn.view(np.uint8), vm.view(np.uint8)),
    "smmla": lambda vd, vn, vm: isa.smmla(vd.view(np.int32), vn.view(np.int8), vm.view(np.int8)),
    "usmmla": lambda vd, vn, vm: isa.usmmla(vd.view(np.int32), vn.view(np.uint8), vm.view(np.int8)),
    "udot": lambda vd, vn, vm: isa.udot(vd.view(np.uint32), vn.view(np.uint8), _element(vm, 4).view(np.uint8)),
    "sdot": lambda vd, vn, vm: isa.sdot(vd.view(np.int32), vn.view(np.int8), _element(vm, 4).view(np.int8)),
    "usdot": lambda vd, vn, vm: isa.usdot(vd.view(np.int32), vn.view(np.uint8), _element(vm, 4).view(np.int8)),
    "fmla": lambda vd, vn, vm: isa.fmla(vd.view(np.uint32), vn.view(np.uint32), _element(vm, 4).view(np.uint32)),
    "fadd": lambda vd, vn, vm: _fadd(vd, vn.view(np.uint32), vm.view(np.uint32)),
    "fmul": lambda vd, vn, vm: _fmul(vn.view(np.uint32), _element(vm, 4).view(np.uint32)),
    "add": _int(np.add),
    "mul": _int(np.multiply),
}


def isa_op(mnemonic: str, vd: np.ndarray, *sources) -> np.ndarray:
    """Run ``mnemonic`` on register lanes; by-element sources are ``(lanes, index)`` pairs."""
    return np.asarray(_FUNCS[mnemonic](vd, *sources)).view(vd.dtype)
