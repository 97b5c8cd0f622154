"""MLAS's SDOT QGEMM kernel (s8s8 on Arm CPUs with DotProd but without I8MM).

Models onnxruntime/core/mlas/lib ``qgemm_kernel_sdot.cpp`` (``MLAS_GEMM_S8S8_KERNEL_SDOT``,
``PackedK = 8``, same strides and pack layouts as the UDOT kernel, int8 data, no sign flip) and
``aarch64/QgemmS8S8KernelSdot.S`` (``MlasGemmS8S8KernelSDot``). Its schedule is the UDOT one
with ``SdotByElement`` and the M8 row-sum broadcasts moved (:mod:`.qgemm_kernel_dot_asm`); the
driver plan and instruction path are shared with :mod:`.qgemm_kernel_udot`.
"""

from __future__ import annotations

from functools import partial

from . import qgemm_kernel_udot as _udot

#: The SDOT kernel: signed int8 x int8 dot products.
SDOT = _udot.DotKernelSpec("sdot", signed=True)

copy_pack_a = _udot.copy_pack_a
copy_pack_b = partial(_udot.copy_pack_b, spec=SDOT)
gemm = partial(_udot.gemm, spec=SDOT)
