"""The SMMLA QGEMM kernel family: s8s8 on Arm64 with I8MM.

Models ``onnxruntime/core/mlas/lib/qgemm_kernel_smmla.cpp`` (``MLAS_GEMM_S8S8_KERNEL_SMMLA``) and
``onnxruntime/core/mlas/lib/aarch64/QgemmS8S8KernelSmmla.S`` (``MlasGemmS8S8KernelSmmlaZero`` /
``...Add``, scheduled with UMMLA's in :mod:`mlas_emu.mlas.qgemm_kernel_mmla_asm`), unchanged
from ONNX Runtime 1.17 through 1.32. The packed layouts are those of the UMMLA family
(:mod:`mlas_emu.mlas.qgemm_kernel_ummla`) with three differences: the bytes are int8, the row and
column sums are signed (``vpaddlq_s8``/``vpadalq_s16``), and B is packed without the 0x80 flip
(``MlasGemmQuantFixupZeroPointB`` is the identity), so padding is 0.
"""

from __future__ import annotations

import numpy as np

from . import qgemm_kernel_ummla as _ummla
from .dispatch import QGEMM_SMMLA

__all__ = ["MNEMONIC", "fixup_zero_point_b", "copy_pack_a", "copy_pack_b", "kernel_rows"]

#: Rows one kernel call handles (:data:`mlas_emu.mlas.dispatch.QGEMM_SMMLA`).
kernel_rows = QGEMM_SMMLA.kernel_rows

MNEMONIC = "smmla"


def fixup_zero_point_b(zero_point_b: int, b_is_signed: bool) -> int:
    """``MlasGemmQuantFixupZeroPointB<MLAS_GEMM_S8S8_KERNEL_SMMLA>``: the int8 zero point, unchanged."""
    return ((int(zero_point_b) & 0xFF) ^ 0x80) - 0x80


def copy_pack_a(a: np.ndarray, *, signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``MlasGemmQuantCopyPackA<MLAS_GEMM_S8S8_KERNEL_SMMLA>``: the UMMLA layout, signed row sums.

    See :func:`mlas_emu.mlas.qgemm_kernel_ummla.copy_pack_a` for the layout diagram.
    """
    return _ummla.copy_pack_a(a, signed=True)


def copy_pack_b(b: np.ndarray, *, b_is_signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``MlasGemmQuantCopyPackB<MLAS_GEMM_S8S8_KERNEL_SMMLA>``: the UMMLA layout without the flip.

    Padding bytes are 0 and the column sums are sums of int8 values. See
    :func:`mlas_emu.mlas.qgemm_kernel_ummla.copy_pack_b` for the layout diagram.
    """
    return _ummla.copy_pack_b(b, b_is_signed=True, flip=False)
