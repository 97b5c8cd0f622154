"""ONNX Runtime releases that mlas-emu models, and how to name one.

Behaviour that changes between releases is described by per-release profiles in the operator
modules; this module only validates the release string every public entry point accepts.
"""

from __future__ import annotations

#: Every ONNX Runtime release from 1.17.0 to 1.27.0 (the releases published on PyPI).
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
)

#: What ``ort_version=None`` means.
DEFAULT_ORT_VERSION = "1.27.0"


def resolve_ort_version(ort_version: str | None) -> str:
    """Return the exact release string, or raise ``ValueError`` listing the accepted releases."""
    if ort_version is None:
        return DEFAULT_ORT_VERSION
    if not isinstance(ort_version, str) or ort_version not in ORT_RELEASES:
        raise ValueError(
            f"unknown ONNX Runtime release {ort_version!r}; accepted: "
            f"{', '.join(ORT_RELEASES)} (None means {DEFAULT_ORT_VERSION})"
        )
    return ort_version


def version_tuple(ort_version: str | None) -> tuple[int, int, int]:
    """``"1.23.2"`` -> ``(1, 23, 2)``, after validation; handy for ``>=`` comparisons."""
    major, minor, patch = resolve_ort_version(ort_version).split(".")
    return int(major), int(minor), int(patch)
