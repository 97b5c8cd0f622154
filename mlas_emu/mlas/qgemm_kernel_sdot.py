"""MLAS's SDOT QGEMM kernel (s8s8 on Arm CPUs with DotProd but without I8MM).

Models onnxruntime/core/mlas/lib ``qgemm_kernel_sdot.cpp`` (``MLAS_GEMM_S8S8_KERNEL_SDOT``,
``PackedK = 8``, same strides and pack layouts as the UDOT kernel, int8 data, no sign flip) and
``aarch64/QgemmS8S8KernelSdot.S`` (``MlasGemmS8S8KernelSDot``), ONNX Runtime 1.17.1. The
assembly is instruction for instruction the UDOT kernel with ``SdotByElement`` in place of
``UdotByElement``, so the schedule is shared with :mod:`.qgemm_kernel_udot`.
"""

from __future__ import annotations

from functools import partial

from . import qgemm_kernel_udot as _udot

#: The SDOT kernel: signed int8 x int8 dot products.
SDOT = _udot.DotKernelSpec("sdot", signed=True)

copy_pack_a = _udot.copy_pack_a
copy_pack_b = partial(_udot.copy_pack_b, spec=SDOT)
gemm_kernel = partial(_udot.gemm_kernel, spec=SDOT)
gemm = partial(_udot.gemm, spec=SDOT)
