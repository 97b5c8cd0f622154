"""The ONNX Runtime releases mlas-emu models, and what changes between them, as data.

Every per-release fact lives here, once: which SBGEMM defects a release's MLAS has, how its
``MatMul<float>`` gates bf16 fastmath, how its drivers cap the thread partition. Layers read a
:class:`Release` descriptor and never compare version numbers themselves. Each fact was
established with the real-Arm oracle (the releases measured are named beside it); releases in
between are taken to behave like their measured neighbours. Adding a release: docs/releases.md.
"""

from __future__ import annotations

import functools

from dataclasses import dataclass, replace

#: Every ONNX Runtime release from 1.17.0 to the newest modelled one (the releases published on
#: PyPI, oldest first). The last entry is the newest; every default shown anywhere derives from it.
ORT_RELEASES: tuple[str, ...] = (
    "1.17.0", "1.17.1", "1.17.3",
    "1.18.0", "1.18.1",
    "1.19.0", "1.19.2",
    "1.20.0", "1.20.1",
    "1.21.0", "1.21.1",
    "1.22.0", "1.22.1",
    "1.23.0", "1.23.1", "1.23.2",
    "1.24.1", "1.24.2", "1.24.3", "1.24.4",
    "1.25.0", "1.25.1",
    "1.26.0",
    "1.27.0",
    "1.28.0",
    "1.29.0",
    "1.30.0",
    "1.31.0", "1.31.1",
    "1.32.0",
)

#: What ``ort_version=None`` means: the newest modelled release.
DEFAULT_ORT_VERSION = ORT_RELEASES[-1]

#: The ORT SBGEMM defects (docs/defects.md), by the names the SBGEMM driver logs them under.
SBGEMM_DEFECTS = ("NonPackedLayout", "PackedOffset", "AOverRead")


@dataclass(frozen=True)
class ThreadRule:
    """How one MLAS GEMM driver sizes its thread partition (applied by
    :func:`mlas_emu.mlas.threading.partition`).

    complexity: multiply-adds per thread before another one is used
        (``MLAS_SGEMM_THREAD_COMPLEXITY`` = ``MLAS_SBGEMM_THREAD_COMPLEXITY`` =
        ``MLAS_QGEMM_THREAD_COMPLEXITY`` = 65536, mlasi.h).
    maximum_threads: the platform cap on the target, ``GetMlasPlatform().MaximumThreadCount``
        (``MLAS_MAXIMUM_THREAD_COUNT * 4`` = 64 on ARM64, mlasi.h); None: no platform cap, only
        the session's intra-op thread count.
    batch_complexity: the complexity counts every GEMM of the batch (M*N*K*BatchN).
    round_up_per_gemm: threads per GEMM = ceil(target / BatchN); else max(target // BatchN, 1).
    """

    complexity: int = 64 * 1024
    maximum_threads: int | None = 64
    batch_complexity: bool = False
    round_up_per_gemm: bool = True


#: ``MlasGemmBatch`` of qgemm.cpp: M*N*K*BatchN, threads per GEMM rounded down.
_QGEMM_THREADS = ThreadRule(batch_complexity=True, round_up_per_gemm=False)


@dataclass(frozen=True)
class Release:
    """What one release computes differently from others (see the module docstring).

    sbgemm_defects: the SBGEMM defects its MLAS has (names of :data:`SBGEMM_DEFECTS`).
    fastmath_trans_a_gate: ``MatMul<float>`` runs SBGEMM only with transA == 0 (#26773).
    fastmath_alpha_gate: ``MatMul<float>`` runs SBGEMM only with alpha == 1; before, alpha is
        ignored on the SBGEMM path (defect 4).
    fastmath_trans_a_attribute_gate: Compute's transA test reads the attribute, as PrePack's does
        (a 1-D A with transA=1 runs fp32 SGEMM); before, it reads the effective transA, and 1.25-1.27
        run SBGEMM on a B that PrePack packed for fp32 SGEMM.
    sve_min_max: on a CPU with SVE, ``MlasReduceMinimumMaximumF32Kernel`` is the SVE kernel
        (``lib/sve/elementwise_sve.cpp``, predicated, so a NaN anywhere wins); before, and on CPUs
        without SVE, the NEON kernel's scalar tail skips a NaN (DynamicQuantizeMatMul's A range).
    qgemm_sve_kernel: on a CPU with SVE and I8MM (Graviton3/4), QGEMM runs an SVE kernel (SVE
        UMMLA/SMMLA; the oracle's instruction counts for u8s8 13x21x19, one thread: 168 SVE UMMLA
        on Graviton3, 252 on Graviton4, no Advanced SIMD UMMLA, on 1.30.0 and 1.32.0; 231 Advanced
        SIMD UMMLA on 1.29.0). Its int32 results, and DynamicQuantizeMatMul's floats, equal the
        NEON kernel's (oracle); its instruction sequence is not modelled.
    sbgemm_threads, sgemm_threads, qgemm_threads: the :class:`ThreadRule` of ``MlasSBGemmBatch``
        (sbgemm.h), of fp32 ``MlasGemmBatch`` (sgemm.cpp) and of integer ``MlasGemmBatch``
        (qgemm.cpp). sgemm.cpp and qgemm.cpp dropped the platform cap of 64 in 1.22.0 (#23815);
        sbgemm.h keeps it. The SBGEMM and SGEMM rules were checked bit for bit with the oracle at
        80 threads on 1.17.0, 1.17.1, 1.23.2, 1.27.0, 1.28.0, 1.29.0, 1.30.0, 1.31.1 and 1.32.0
        (and on 1.21.1, still capped, and 1.22.0, uncapped: 16x600x2048, non-packed fp32), and at
        1-64 threads on 1.17.0, 1.27.0, 1.28.0 and 1.32.0; the QGEMM rule comes from the sources
        of 1.17-1.25 (integer results do not show the partition).
    """

    version: str
    sbgemm_defects: frozenset = frozenset(SBGEMM_DEFECTS)
    fastmath_trans_a_gate: bool = False
    fastmath_alpha_gate: bool = False
    fastmath_trans_a_attribute_gate: bool = False
    sve_min_max: bool = False
    qgemm_sve_kernel: bool = False
    sbgemm_threads: ThreadRule = ThreadRule()
    sgemm_threads: ThreadRule = ThreadRule()
    qgemm_threads: ThreadRule = _QGEMM_THREADS

    @property
    def version_tuple(self) -> tuple[int, int, int]:
        return version_tuple(self.version)


#: Where behaviour changes: the first release of each change and what it sets. Measured with the
#: oracle (QEMU 10.0.2, ORT aarch64 wheels) on 1.17.1, 1.23.2, 1.24.4, 1.25.0, 1.27.0, 1.28.0,
#: 1.29.0, 1.30.0 and 1.32.0.
CHANGES: tuple[tuple[str, dict], ...] = (
    ("1.22.0", {"sgemm_threads": ThreadRule(maximum_threads=None),
                "qgemm_threads": replace(_QGEMM_THREADS, maximum_threads=None)}),
    ("1.25.0", {"fastmath_trans_a_gate": True}),
    ("1.28.0", {"sbgemm_defects": frozenset({"NonPackedLayout"}), "fastmath_trans_a_attribute_gate": True}),
    ("1.29.0", {"sve_min_max": True}),
    ("1.30.0", {"fastmath_alpha_gate": True, "qgemm_sve_kernel": True}),
)


def resolve_ort_version(ort_version: str | None) -> str:
    """Return the exact release string, or raise ``ValueError`` listing the accepted releases."""
    if ort_version is None:
        return DEFAULT_ORT_VERSION
    if not isinstance(ort_version, str) or ort_version not in ORT_RELEASES:
        raise ValueError(
            f"unknown ONNX Runtime release {ort_version!r}; the newest modelled release is "
            f"{DEFAULT_ORT_VERSION} (None means it); accepted: {', '.join(ORT_RELEASES)}. "
            "A newer release can be checked against real Arm execution with the oracle "
            "(mlas-emu oracle setup --ort-version V; see docs/releases.md)"
        )
    return ort_version


def version_tuple(ort_version: str | None) -> tuple[int, int, int]:
    """``"1.23.2"`` -> ``(1, 23, 2)``, after validation; handy for ``>=`` comparisons."""
    major, minor, patch = resolve_ort_version(ort_version).split(".")
    return int(major), int(minor), int(patch)


def release(ort_version: str | None) -> Release:
    """The :class:`Release` descriptor of ``ort_version`` (``None``: the newest)."""
    if isinstance(ort_version, Release):
        return ort_version
    return _descriptor(resolve_ort_version(ort_version))


@functools.lru_cache(maxsize=None)
def _descriptor(version: str) -> Release:
    """Built once per release (operators ask for it on every call)."""
    desc = Release(version)
    for first, fields in CHANGES:
        if version_tuple(first) <= version_tuple(version):
            desc = replace(desc, **fields)
    return desc
