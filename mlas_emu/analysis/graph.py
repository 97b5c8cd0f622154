"""Preparing an ONNX model the way ONNX Runtime on Arm would run it, and checking it can run here.

- :func:`quantize_int8`: ONNX Runtime's own ``quantize_dynamic`` (pure graph rewriting, run on this host).
- :func:`ort_optimized`: the graph ORT executes. x86 ONNX Runtime saves its optimized model
  (``SessionOptions.optimized_model_filepath``) at the *extended* level: the level-1 and level-2
  rewrites (MatMul + Add -> Gemm for 2-D inputs, Transpose / Mul + MatMul -> FusedMatMul with
  transB / alpha, DynamicQuantizeLinear + MatMulInteger -> DynamicQuantizeMatMul, Gelu fusions)
  are the ones Arm ORT applies by default; level 3 (layout) adds only x86 NCHWc rewrites, which
  ORT itself says must not leave the machine. The tests check this against Arm ORT (oracle).
- :func:`check_supported`, :func:`check_feeds`, :func:`memory_estimate`: refuse clearly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import require
from .ops import CONTRIB_OPS, GEMM_OPS, op_key

#: The graph optimization level whose saved model matches what Arm ORT executes.
ORT_LEVEL = "extended"
_LEVELS = {"disable_all": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED"}


def load_model(model):
    """A ``ModelProto`` from a path, serialized bytes or a ``ModelProto`` (not copied if given)."""
    onnx = require("onnx", "onnx")
    if isinstance(model, onnx.ModelProto):
        return model
    if isinstance(model, (bytes, bytearray)):
        return onnx.load_from_string(bytes(model))
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if not path.is_file():
            raise ValueError(f"no ONNX model at {str(path)!r}")
        return onnx.load(str(path))
    raise TypeError(f"model must be a path, bytes or onnx.ModelProto, got {type(model).__name__}")


def quantize_int8(model):
    """``onnxruntime.quantization.quantize_dynamic`` with its defaults (uint8 activations, int8 weights)."""
    onnx = require("onnx", "onnx")
    q = require("onnxruntime.quantization", "onnx")
    with tempfile.TemporaryDirectory(prefix="mlas-emu-") as tmp:
        src, dst = Path(tmp, "model.onnx"), Path(tmp, "model.int8.onnx")
        onnx.save(model, str(src))
        with _without_preprocessing_advice():
            q.quantize_dynamic(str(src), str(dst))
        return onnx.load(str(dst))


#: The start of the quantizer's root-logger WARNING on every model not run through its
#: pre-processing script; we quantize as ``quantize_dynamic``'s defaults do, on purpose.
_PREPROCESSING_ADVICE = "Please consider to run pre-processing before quantization"


def _not_preprocessing_advice(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(_PREPROCESSING_ADVICE)


@contextlib.contextmanager
def _without_preprocessing_advice():
    """Drop the quantizer's pre-processing advice during the call, and only it; the caller's
    logging setup is as it was afterwards."""
    root = logging.getLogger()
    # logging.warning() on a root logger without handlers calls basicConfig(), which installs a
    # handler for good; logging's last resort (WARNING and up on stderr) stands in meanwhile.
    stand_in = None if root.handlers else (logging.lastResort or logging.NullHandler())
    if stand_in is not None:
        root.addHandler(stand_in)
    root.addFilter(_not_preprocessing_advice)
    try:
        yield
    finally:
        root.removeFilter(_not_preprocessing_advice)
        if stand_in is not None:
            root.removeHandler(stand_in)


def ort_optimized(model, level: str = ORT_LEVEL):
    """The model after ONNX Runtime's graph rewrites at ``level`` ("disable_all", "basic", "extended")."""
    onnx = require("onnx", "onnx")
    ort = require("onnxruntime", "onnx")
    if level not in _LEVELS:
        raise ValueError(f"level must be one of {sorted(_LEVELS)}, got {level!r}")
    with tempfile.TemporaryDirectory(prefix="mlas-emu-") as tmp:
        out = Path(tmp, "optimized.onnx")
        so = ort.SessionOptions()
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _LEVELS[level])
        so.optimized_model_filepath = str(out)
        so.log_severity_level = 3
        ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        return _portable(onnx.load(str(out)), model)


def _portable(optimized, original):
    """Keep the saved model loadable by older ORT releases: the original IR version, and only the
    opset imports some node uses (a newer ORT stamps e.g. ai.onnx.ml v5, which 1.17 rejects)."""
    used = {n.domain for n in optimized.graph.node} | {""}
    keep = [o for o in optimized.opset_import if o.domain in used or (o.domain == "ai.onnx" and "" in used)]
    del optimized.opset_import[:]
    optimized.opset_import.extend(keep)
    if original.ir_version:
        optimized.ir_version = min(optimized.ir_version, original.ir_version)
    return optimized


def _reference_supports(domain: str, op_type: str, version: int) -> bool:
    from onnx.reference.ops import load_op

    try:
        load_op(domain, op_type, version)
    except Exception as exc:  # noqa: BLE001 - load_op raises several types for "unknown"
        return "context" in type(exc).__name__.lower()  # known op that needs input types
    return True


def unsupported_ops(model) -> list[str]:
    """``domain::op_type`` of every node neither emulated nor covered by the reference evaluator."""
    opsets = {o.domain: o.version for o in model.opset_import}
    missing = set()
    for node in model.graph.node:
        key = op_key(node)
        if key in GEMM_OPS or key in CONTRIB_OPS:
            continue
        if key[0] in ("", "ai.onnx.ml") and _reference_supports(key[0], key[1], opsets.get(node.domain, 21)):
            continue
        missing.add(f"{key[0] or 'ai.onnx'}::{key[1]}")
    return sorted(missing)


def check_supported(model) -> None:
    missing = unsupported_ops(model)
    if missing:
        raise ValueError(f"the model uses operators this runner cannot execute: {', '.join(missing)}")


def graph_inputs(model) -> dict:
    """Non-initializer graph inputs: name -> (numpy dtype, shape with None for symbolic dims)."""
    from onnx import helper

    inits = {i.name for i in model.graph.initializer}
    out = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type))
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
        out[vi.name] = (dtype, shape)
    return out


def check_feeds(model, feeds) -> dict:
    """Feeds as arrays, checked against the graph inputs (names, dtypes, ranks, fixed dims)."""
    if not isinstance(feeds, dict):
        raise TypeError(f"feeds must be a dict of input name -> numpy array, got {type(feeds).__name__}")
    expected = graph_inputs(model)
    missing = sorted(set(expected) - set(feeds))
    extra = sorted(set(feeds) - set(expected))
    if missing or extra:
        raise ValueError(f"feeds do not match the graph inputs {sorted(expected)}: "
                         f"missing {missing}, unexpected {extra}")
    out = {}
    for name, (dtype, shape) in expected.items():
        x = feeds[name]
        if not isinstance(x, np.ndarray):
            raise TypeError(f"feed {name!r} must be a numpy array, got {type(x).__name__}")
        if x.dtype != dtype:
            raise ValueError(f"feed {name!r} has dtype {x.dtype}, the graph expects {dtype}")
        if shape and (x.ndim != len(shape) or any(d is not None and d != s for d, s in zip(shape, x.shape))):
            raise ValueError(f"feed {name!r} has shape {x.shape}, the graph expects "
                             f"{tuple('?' if d is None else d for d in shape)}")
        out[name] = x
    return out


def memory_estimate(model, feeds) -> int:
    """Bytes a run may hold: initializers (model and prepared copy), feeds, and every intermediate
    tensor twice (the evaluator keeps all results; the runner keeps the GEMM nodes' tensors), with
    shapes from ONNX shape inference on the feeds' shapes (unknown shapes count as zero)."""
    import onnx

    init = sum(int(np.prod(i.dims, dtype=np.int64)) * _itemsize(i.data_type) for i in model.graph.initializer)
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for vi in fixed.graph.input:
        if vi.name in feeds:
            dims = vi.type.tensor_type.shape.dim
            del dims[:]
            for s in feeds[vi.name].shape:
                dims.add().dim_value = int(s)
    try:
        inferred = onnx.shape_inference.infer_shapes(fixed, data_prop=True)
        values = list(inferred.graph.value_info) + list(inferred.graph.output)
    except Exception:  # noqa: BLE001 - estimate without intermediates
        values = []
    act = 0
    for vi in values:
        tt = vi.type.tensor_type
        if all(d.HasField("dim_value") for d in tt.shape.dim):
            act += int(np.prod([d.dim_value for d in tt.shape.dim], dtype=np.int64)) * _itemsize(tt.elem_type)
    return 2 * init + sum(x.nbytes for x in feeds.values()) + 2 * act


def _itemsize(elem_type: int) -> int:
    from onnx import helper

    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).itemsize
    except Exception:  # noqa: BLE001
        return 4


def available_memory() -> int | None:
    """``MemAvailable`` from /proc/meminfo (Linux), else None (no check)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_memory(model, feeds, limit: int | None) -> int:
    est = memory_estimate(model, feeds)
    if limit is None:
        avail = available_memory()
        limit = None if avail is None else int(0.8 * avail)
    if limit is not None and est > limit:
        raise MemoryError(f"this run needs about {est / 2**20:.1f} MiB (weights, feeds and every "
                          f"intermediate tensor), more than the {limit / 2**20:.1f} MiB allowed; "
                          "use shorter or fewer inputs, or capture=False")
    return est
