"""The integer matrix-multiply and dot-product instructions (SMMLA, UMMLA, USMMLA, SDOT, UDOT,
USDOT) in exact int64 NumPy arithmetic, wrapped to 32 bits: the reference shared by the ISA tests
and the oracle harness tests (written from the Arm ARM's MatMulAdd and the dot-product
pseudocode, independent of mlas_emu)."""

from __future__ import annotations

import numpy as np

#: name -> (vd dtype, vn dtype, vm dtype, is a matrix multiply)
INTEGER_FORMS = {
    "smmla": (np.int32, np.int8, np.int8, True),
    "ummla": (np.uint32, np.uint8, np.uint8, True),
    "usmmla": (np.int32, np.uint8, np.int8, True),
    "sdot": (np.int32, np.int8, np.int8, False),
    "udot": (np.uint32, np.uint8, np.uint8, False),
    "usdot": (np.int32, np.uint8, np.int8, False),
}


def integer_reference(vd, vn, vm, is_mmla: bool) -> np.ndarray:
    """MatMulAdd (2x8 by 8x2 per 128-bit segment) or the 4-way dot products, in exact integers,
    wrapped to 32 bits as the instructions' two's-complement accumulation does; vd's dtype."""
    lead, s = vd.shape[:-1], vd.shape[-1] // 4
    acc = vd.astype(np.int64)
    a = vn.astype(np.int64)
    b = vm.astype(np.int64)
    if is_mmla:
        # Vn lane 8*i+k = A[i,k]; Vm lane 8*j+k = B[k,j]; Vd lane 2*i+j = C[i,j].
        prod = np.einsum("...sik,...sjk->...sij", a.reshape(lead + (s, 2, 8)), b.reshape(lead + (s, 2, 8)))
        total = acc + prod.reshape(lead + (4 * s,))
    else:
        total = acc + (a * b).reshape(lead + (4 * s, 4)).sum(axis=-1)
    return (total & 0xFFFFFFFF).astype(np.uint32).view(vd.dtype)
