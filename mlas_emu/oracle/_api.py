"""Running ONNX models with real ONNX Runtime on emulated Arm: ``run_model`` and the shortcuts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import OracleUnavailable
from . import _client, _models, _paths, _status

#: Session config entry that turns on MLAS's bf16 SBGEMM for fp32 MatMul (ORT 1.17+).
FASTMATH_CONFIG_KEY = "mlas.enable_gemm_fastmath_arm64_bfloat16"

#: ``graph_optimization_level`` names -> ORT's ``GraphOptimizationLevel`` values.
_OPT_LEVELS = {"disable_all": 0, "basic": 1, "extended": 2, "layout": 3, "all": 99}


def run_model(model, feeds, *, ort_version=None, session_config=None, threads=1,
              graph_optimization_level=None, cpu=None, qemu_cpu=None) -> dict[str, np.ndarray]:
    """Run ``model`` (path, ``onnx.ModelProto`` or serialized bytes) on ``feeds`` with ONNX
    Runtime ``ort_version`` (default: the newest modelled release) on emulated Arm; outputs in
    graph order.

    ``threads`` is the session's intra-op thread count (the worker sets
    ``session.intra_op.allow_spinning=0``, which changes no bits and keeps many threads cheap
    under QEMU); ``session_config`` entries go to ``SessionOptions.add_session_config_entry``;
    ``graph_optimization_level`` is ORT's enum, its int value, or a name ("disable_all",
    "basic", "extended", "all"); ``None`` keeps ORT's default. ``cpu``: a name of
    :data:`mlas_emu.cpus.CPUS` (default Graviton3); ``qemu_cpu``: instead, a raw QEMU ``-cpu``
    value (oracle only).
    """
    version = _paths.check_oracle_version(ort_version)
    cpu = _status.resolve_qemu_cpu(cpu, qemu_cpu)
    model_bytes = _model_bytes(model)
    arrays = _feeds(feeds)
    config = _session_config(session_config)
    threads = _threads(threads)
    level = _opt_level(graph_optimization_level)
    _ensure_ready(version, cpu)
    return _client.run_session(model_bytes, arrays, ort_version=version, cpu=cpu,
                               threads=threads, config=config, opt_level=level)


def matmul(A, B, *, fastmath=True, b_is_initializer=True, ort_version=None, threads=1, cpu=None, qemu_cpu=None):
    """ONNX ``MatMul`` of float32 ``A`` and ``B`` by real ORT on Arm (bf16 SBGEMM when
    ``fastmath``; ``B`` a constant initializer, which ORT pre-packs, or a graph input)."""
    A = _array(A, "A", (np.float32,))
    B = _array(B, "B", (np.float32,))
    config = {FASTMATH_CONFIG_KEY: "1"} if _flag(fastmath, "fastmath") else {}
    model, feeds = _binary_model("MatMul", A, B, _flag(b_is_initializer, "b_is_initializer"), [])
    out = run_model(model, feeds, ort_version=ort_version, session_config=config,
                    threads=threads, cpu=cpu, qemu_cpu=qemu_cpu)
    return out["Y"]


def matmul_integer(A, B, a_zero_point=None, b_zero_point=None, *, b_is_initializer=True,
                   ort_version=None, threads=1, cpu=None, qemu_cpu=None):
    """ONNX ``MatMulInteger`` (int8/uint8 in, int32 out) by real ORT on Arm; zero points are
    constant initializers (scalars, or ``(N,)`` for ``b_zero_point``)."""
    A = _array(A, "A", (np.uint8, np.int8))
    B = _array(B, "B", (np.uint8, np.int8))
    extra = [("a_zero_point", _zero_point(a_zero_point, A.dtype, "a_zero_point", per_column=False)),
             ("b_zero_point", _zero_point(b_zero_point, B.dtype, "b_zero_point", per_column=True))]
    model, feeds = _binary_model("MatMulInteger", A, B, _flag(b_is_initializer, "b_is_initializer"),
                                 extra, output_dtype=np.int32)
    return run_model(model, feeds, ort_version=ort_version, threads=threads, cpu=cpu, qemu_cpu=qemu_cpu)["Y"]


def dynamic_quantize_matmul(A, B, b_scale, b_zero_point=None, bias=None, *, b_is_initializer=True,
                            ort_version=None, threads=1, cpu=None, qemu_cpu=None):
    """``com.microsoft.DynamicQuantizeMatMul`` by real ORT on Arm: float32 ``A`` quantized to
    uint8 at run time, int8/uint8 ``B`` with ``b_scale`` (scalar or ``(N,)``), optional
    ``b_zero_point`` and float32 ``bias`` ``(N,)``; all but A and B are constant initializers."""
    A = _array(A, "A", (np.float32,))
    B = _array(B, "B", (np.uint8, np.int8))
    scale = _per_column(b_scale, np.float32, "b_scale")
    extra = [("b_scale", scale),
             ("b_zero_point", _zero_point(b_zero_point, B.dtype, "b_zero_point", per_column=True)),
             ("bias", None if bias is None else _vector(bias, np.float32, "bias"))]
    model, feeds = _binary_model("DynamicQuantizeMatMul", A, B,
                                 _flag(b_is_initializer, "b_is_initializer"), extra,
                                 domain=_models.MS_DOMAIN)
    return run_model(model, feeds, ort_version=ort_version, threads=threads, cpu=cpu, qemu_cpu=qemu_cpu)["Y"]


def unavailable_reason(ort_version=None, cpu=None) -> str | None:
    """``None`` when the oracle can run ``ort_version`` on ``cpu``, else why not and the fix.

    ``ort_version=None`` asks for the releases ``mlas-emu oracle setup`` installs by default
    (``DEFAULT_SETUP_VERSIONS``), which the test suite compares against; ``cpu`` is a raw QEMU
    ``-cpu`` value.
    """
    return _status.unavailable_reason(ort_version, cpu)


# -- helpers ------------------------------------------------------------------------------------

_READY: set[tuple[str, str]] = set()


def _ensure_ready(version: str, cpu: str) -> None:
    if (version, cpu) in _READY:
        return
    reason = _status.unavailable_reason(version, cpu)
    if reason is not None:
        raise OracleUnavailable(reason)
    _READY.add((version, cpu))


def _binary_model(op_type, A, B, b_is_initializer, extra, *, output_dtype=np.float32, domain=""):
    initializers = {name: value for name, value in extra if value is not None}
    inputs = ["A", "B"] + [name if value is not None else None for name, value in extra]
    graph_inputs = {"A": A}
    if b_is_initializer:
        initializers = {"B": B, **initializers}
    else:
        graph_inputs["B"] = B
    model = _models.one_node_model(op_type, inputs, initializers, graph_inputs, output_dtype,
                                   domain=domain)
    return model, dict(graph_inputs)


def _model_bytes(model) -> bytes:
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if not path.is_file():
            raise ValueError(f"model file not found: {path}")
        return path.read_bytes()
    if hasattr(model, "SerializeToString"):
        return model.SerializeToString()
    raise TypeError(f"model must be a path, an onnx.ModelProto or bytes, got {type(model).__name__}")


def _feeds(feeds) -> dict[str, np.ndarray]:
    if not isinstance(feeds, dict):
        raise TypeError(f"feeds must be a dict of input name -> array, got {type(feeds).__name__}")
    out = {}
    for name, value in feeds.items():
        if not isinstance(name, str):
            raise TypeError(f"feed names must be str, got {name!r}")
        array = np.ascontiguousarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"feed {name!r} has dtype {array.dtype}; expected bool, int or float")
        out[name] = array
    return out


def _session_config(config) -> dict[str, str]:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise TypeError(f"session_config must be a dict of str -> str, got {type(config).__name__}")
    return {str(k): str(v) for k, v in config.items()}


def _threads(threads) -> int:
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive int (intra-op thread count), got {threads!r}")
    return int(threads)


def _opt_level(level) -> int | None:
    if level is None:
        return None
    if isinstance(level, str):
        key = level.lower().removeprefix("ort_").removeprefix("enable_")
        if key not in _OPT_LEVELS:
            raise ValueError(f"graph_optimization_level {level!r}: expected one of {sorted(_OPT_LEVELS)}")
        return _OPT_LEVELS[key]
    value = int(getattr(level, "value", level))
    if value not in _OPT_LEVELS.values():
        raise ValueError(f"graph_optimization_level {level!r}: expected one of {sorted(_OPT_LEVELS.values())}")
    return value


def _flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _array(value, name: str, dtypes) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.type not in dtypes:
        expected = " or ".join(np.dtype(d).name for d in dtypes)
        raise TypeError(f"{name} must be a {expected} array, got dtype {array.dtype}")
    if array.ndim < 1:
        raise ValueError(f"{name} must have at least 1 dimension, got shape {array.shape}")
    return np.ascontiguousarray(array)


def _zero_point(value, dtype, name: str, *, per_column: bool):
    if value is None:
        return None
    array = np.asarray(value)
    if array.dtype != dtype:
        if array.dtype.kind not in "iu":
            raise TypeError(f"{name} must be an integer of the data's type {dtype}, got {array.dtype}")
        info = np.iinfo(dtype)
        if np.any(array < info.min) or np.any(array > info.max):
            raise ValueError(f"{name} must fit in {dtype} ({info.min}..{info.max}), got {value!r}")
        array = array.astype(dtype)
    if array.ndim > (1 if per_column else 0):
        raise ValueError(f"{name} must be a scalar{' or an (N,) vector' if per_column else ''}, "
                         f"got shape {array.shape}")
    return np.ascontiguousarray(array)


def _per_column(value, dtype, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=dtype)
    if array.ndim > 1:
        raise ValueError(f"{name} must be a scalar or an (N,) vector, got shape {array.shape}")
    return np.ascontiguousarray(array)


def _vector(value, dtype, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=dtype)
    if array.ndim != 1:
        raise ValueError(f"{name} must be an (N,) vector, got shape {array.shape}")
    return np.ascontiguousarray(array)
