"""MLAS's GEMM dispatches on aarch64: each one's constants, with MLAS's names, in one place.

A dispatch is what MLAS selects per platform and type (``MlasSBGemmDispatchNeon``,
``MlasGemmU8X8DispatchUmmla``, ...): the packing granule ``PackedK``, the driver's ``Strides``
(B packed per call) and ``PackedStrides`` (B pre-packed), and the kernel's rows per call. The
driver plans (:mod:`.sbgemm_plan`, :func:`mlas_emu.mlas.qgemm.plan_calls`) and the packers read
them from here. Which dispatch runs is the release's and the CPU's business
(:mod:`mlas_emu.releases`, :mod:`mlas_emu.cpus`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Strides:
    """``MLAS_GEMM_QUANT_STRIDES`` / the kernels' ``Strides``: block sizes of the driver loops."""

    M: int
    N: int
    K: int


def _rows_8_4_2_1(count_m: int) -> int:
    """8 rows if CountM >= 8, else 4, 2 or 1 (the MMLA and DOT routines' ``ProcessRows`` choice)."""
    for rows in (8, 4, 2):
        if count_m >= rows:
            return rows
    return 1


def _rows_sve(count_m: int) -> int:
    """The SVE QGEMM routine: 12 rows if 12 <= CountM < 16, else 8, 4, 2 or 1."""
    return 12 if 12 <= count_m < 16 else _rows_8_4_2_1(count_m)


@dataclass(frozen=True)
class Dispatch:
    """One MLAS GEMM dispatch (``name``, defined in ``source``, onnxruntime/core/mlas/lib)."""

    name: str
    source: str
    #: ``PackedK``: K is packed (and padded) in blocks of this many elements
    packed_k: int
    #: ``Strides``: the driver's M, N, K blocks when B is packed per call
    strides: Strides
    #: ``PackedStrides``: the same when B is pre-packed (None: the same as ``strides``)
    packed_strides: Strides | None
    #: rows one kernel routine call handles for CountM rows
    kernel_rows: Callable[[int], int]

    def driver_strides(self, packed_b: bool) -> Strides:
        return self.packed_strides if packed_b and self.packed_strides is not None else self.strides


#: ``MLAS_SBGEMM_KERNEL_NEON`` (sbgemm_kernel_neon.cpp): ``Strides{128, 128, 256}``, PackedK 4.
SBGEMM_NEON = Dispatch("MlasSBGemmDispatchNeon", "sbgemm_kernel_neon.cpp", 4, Strides(128, 128, 256), None,
                       _rows_8_4_2_1)
#: ``MLAS_GEMM_U8X8_KERNEL_UMMLA`` (qgemm_kernel_ummla.cpp), u8u8 and u8s8 with I8MM.
QGEMM_UMMLA = Dispatch("MlasGemmU8X8DispatchUmmla", "qgemm_kernel_ummla.cpp", 8, Strides(24, 128, 256),
                       Strides(24, 128, 384), _rows_8_4_2_1)
#: ``MLAS_GEMM_S8S8_KERNEL_SMMLA`` (qgemm_kernel_smmla.cpp), s8s8 with I8MM.
QGEMM_SMMLA = Dispatch("MlasGemmS8S8DispatchSmmla", "qgemm_kernel_smmla.cpp", 8, Strides(24, 128, 256),
                       Strides(24, 128, 384), _rows_8_4_2_1)
#: ``MLAS_GEMM_U8X8_KERNEL_UDOT`` / ``MLAS_GEMM_S8S8_KERNEL_SDOT`` (qgemm_kernel_udot.cpp,
#: qgemm_kernel_sdot.cpp): DotProd without I8MM (Graviton2).
QGEMM_DOT = Dispatch("MlasGemmU8X8DispatchUdot", "qgemm_kernel_udot.cpp", 8, Strides(24, 128, 256),
                     Strides(24, 128, 384), _rows_8_4_2_1)
#: The SVE dispatch of 1.30.0+ (qgemm_kernel_ummla_sve / smmla_sve, built with
#: ``MLAS_SVE_QGEMM_TILE_12X8``: ``Strides{12, 128, 256}``, ``PackedStrides{12, 128, 384}``): a
#: 24-row product runs two 12-row calls under QEMU (1.32.0, neoverse-v1), not three of 8.
QGEMM_SVE = Dispatch("MlasGemmU8X8DispatchUmmlaSve", "qgemm_kernel_ummla_sve.cpp", 8, Strides(12, 128, 256),
                     Strides(12, 128, 384), _rows_sve)
