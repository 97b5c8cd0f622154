"""ONNX Runtime releases that mlas-emu models, and how to name one (re-exported from
:mod:`mlas_emu.releases`, where every per-release fact lives)."""

from __future__ import annotations

from ..releases import (  # noqa: F401  (re-exported)
    DEFAULT_ORT_VERSION,
    ORT_RELEASES,
    Release,
    release,
    resolve_ort_version,
    version_tuple,
)
