"""Run an ONNX model on this machine as ONNX Runtime runs it on Graviton: the GEMM operators by the
emulated Arm kernels, everything else by ``onnx.reference.ReferenceEvaluator``.

Modes: ``"fp32"`` (MLAS fp32 SGEMM), ``"bf16-fastmath"`` (session option
``mlas.enable_gemm_fastmath_arm64_bfloat16=1``: SBGEMM where ORT's gate allows it) and
``"int8-dynamic"`` (the model after ``onnxruntime.quantization.quantize_dynamic``: int8 QGEMM).
:func:`run_model` returns the outputs and every GEMM node's inputs, output and path;
:func:`compare_modes` measures each mode against fp32, per node and end to end.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import require
from . import graph as g
from .ops import GEMM_OPS, Recorder, make_ops, op_key
from .report import ErrorReport, compare

MODES = ("fp32", "bf16-fastmath", "int8-dynamic")


@dataclass
class ModelRun:
    """Outputs (graph order) and GEMM node records of one run, with the graph that ran."""

    mode: str
    outputs: dict
    nodes: list
    model: object = field(repr=False)
    values: dict = field(default_factory=dict, repr=False)

    def node(self, output_name: str):
        """The record of the GEMM node producing ``output_name``."""
        for rec in self.nodes:
            if rec.output == output_name:
                return rec
        raise KeyError(f"no GEMM node produces {output_name!r}")

    def paths(self) -> dict:
        """Node name -> the kernel path it took."""
        return {r.name: r.path for r in self.nodes}


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def prepare(model, mode: str, *, optimize: str | None = g.ORT_LEVEL):
    """The graph a mode executes: quantized for int8-dynamic, then ORT's rewrites at ``optimize``
    (``None`` keeps the graph as written)."""
    m = g.load_model(model)
    if _check_mode(mode) == "int8-dynamic":
        m = g.quantize_int8(m)
    if optimize is not None:
        m = g.ort_optimized(m, optimize)
    return m


def _progress(enabled, total, desc):
    if not enabled or total == 0:
        return contextlib.nullcontext(None)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return contextlib.nullcontext(None)
    return tqdm(total=total, desc=desc, unit="GEMM", leave=False)


def run_model(model, feeds, *, mode: str = "bf16-fastmath", ort_version: str | None = None, threads: int = 1,
              optimize: str | None = g.ORT_LEVEL, faithful: bool = True, capture: bool = True,
              progress: bool = False, memory_limit: int | None = None, outputs: list | None = None) -> ModelRun:
    """Execute ``model`` (path, bytes or ``onnx.ModelProto``) on ``feeds`` as ORT ``ort_version`` on Arm.

    ``threads``: the emulated session's intra-op thread count; ``optimize``: ORT's graph rewrites
    applied first (see :mod:`mlas_emu.analysis.graph`); ``capture``: keep every GEMM node's
    inputs and output; ``progress``: a tqdm bar over the GEMM nodes if tqdm is installed;
    ``memory_limit``: bytes (default 80% of the available memory): larger runs are refused with
    the estimate. ``outputs``: names to return (default: the graph outputs).
    """
    m = prepare(model, mode, optimize=optimize)
    return execute(m, feeds, mode=mode, ort_version=ort_version, threads=threads, faithful=faithful,
                   capture=capture, progress=progress, memory_limit=memory_limit, outputs=outputs)


def execute(m, feeds, *, mode, ort_version=None, threads=1, faithful=True, capture=True, progress=False,
            memory_limit=None, outputs=None, check_memory=True) -> ModelRun:
    """Run an already prepared ``ModelProto`` (no quantization or rewriting here)."""
    require("onnx", "onnx")
    from onnx.reference import ReferenceEvaluator

    from ..mlas.threading import check_threads
    from ..ort.versions import resolve_ort_version

    # Checked here: errors raised inside the evaluator reach the caller wrapped in a TypeError.
    resolve_ort_version(ort_version)
    check_threads(threads)
    feeds = g.check_feeds(m, feeds)
    g.check_supported(m)
    if check_memory:
        g.check_memory(m, feeds, memory_limit)
    rec = Recorder(fastmath=_check_mode(mode) == "bf16-fastmath", ort_version=ort_version, threads=threads,
                   faithful=faithful, initializers=frozenset(i.name for i in m.graph.initializer), capture=capture)
    n_gemm = sum(op_key(n) in GEMM_OPS for n in m.graph.node)
    names = [o.name for o in m.graph.output] if outputs is None else list(outputs)
    # With capture, every tensor is kept (for per-node errors against another run).
    every = [o for n in m.graph.node for o in n.output if o] if capture else []
    wanted = list(dict.fromkeys(names + every))
    with _progress(progress, n_gemm, mode) as bar:
        rec.progress = bar
        sess = ReferenceEvaluator(m, new_ops=make_ops(rec))
        values = dict(zip(wanted, sess.run(wanted, feeds)))
    return ModelRun(mode, {k: values[k] for k in names}, rec.records, m, values if capture else {})


@dataclass
class NodeError:
    """One GEMM node of a mode against fp32.

    accumulated: the node's output against the fp32 run's output of the same tensor (errors of
    everything upstream included); local: the node's kernel against fp32 SGEMM on the same
    inputs (float MatMuls only), the error this node adds.
    """

    name: str
    op_type: str
    output: str
    path: str
    mnk: tuple
    accumulated: ErrorReport | None
    local: ErrorReport | None


@dataclass
class ModelComparison:
    """Per mode: per GEMM node errors and end-to-end output errors, all against the fp32 run."""

    runs: dict
    nodes: dict
    outputs: dict

    def table(self, mode: str) -> str:
        """The per-node table and end-to-end metrics as text."""
        rows = [f"{'node':<44} {'op':<22} {'path':<22} {'M x N x K':<16} {'local rel':>10} {'acc. rel':>10}"]
        for e in self.nodes[mode]:
            rows.append(f"{e.name[:44]:<44} {e.op_type[:22]:<22} {e.path:<22} {'x'.join(map(str, e.mnk)):<16} "
                        f"{_rel(e.local):>10} {_rel(e.accumulated):>10}")
        rows.append("")
        rows.append(f"end to end ({mode} vs fp32):")
        for name, rep in self.outputs[mode].items():
            rows.append(f"  {name}: {rep.summary()}")
        return "\n".join(rows)

    def to_dict(self) -> dict:
        return {mode: {"nodes": [{"name": e.name, "op_type": e.op_type, "path": e.path, "mnk": list(e.mnk),
                                  "local": e.local.to_dict() if e.local else None,
                                  "accumulated": e.accumulated.to_dict() if e.accumulated else None}
                                 for e in self.nodes[mode]],
                       "outputs": {k: v.to_dict() for k, v in self.outputs[mode].items()}}
                for mode in self.nodes}


def _rel(rep) -> str:
    return "-" if rep is None else f"{rep.normwise_rel_error:.2e}"


def _local_error(rec, ort_version, threads) -> ErrorReport | None:
    """The node's kernel against MLAS fp32 SGEMM (fastmath off) on the inputs it was given."""
    from ..ort.matmul_op import fused_matmul, matmul

    if rec.op_type not in ("MatMul", "FusedMatMul") or len(rec.inputs) < 2:
        return None
    a, b = rec.inputs[:2]
    kw = dict(fastmath=False, ort_version=ort_version, threads=threads)
    if rec.op_type == "MatMul":
        twin = matmul(a, b, **kw)
    else:
        at = rec.attrs
        twin = fused_matmul(a, b, trans_a=bool(at.get("transA", 0)), trans_b=bool(at.get("transB", 0)),
                            alpha=float(at.get("alpha", 1.0)), **kw)
    return compare(rec.result, twin)


def compare_modes(model, feeds, modes=("bf16-fastmath", "int8-dynamic"), *, ort_version=None, threads=1,
                  optimize=g.ORT_LEVEL, faithful=True, progress=False, memory_limit=None,
                  local: bool = True) -> ModelComparison:
    """Run fp32 and each mode; measure each mode's GEMM nodes and outputs against fp32.

    ``local=False`` skips the per-node fp32 SGEMM twins (the ``local`` errors), a second GEMM per node.
    """
    for mode in modes:
        _check_mode(mode)
    kw = dict(ort_version=ort_version, threads=threads, faithful=faithful, progress=progress,
              memory_limit=memory_limit)
    original = g.load_model(model)
    graphs = {}  # fp32 and bf16 fastmath execute the same rewritten graph (the option changes no rewrite)

    def run(mode):
        key = "int8" if mode == "int8-dynamic" else "float"
        first = key not in graphs
        if first:
            graphs[key] = prepare(original, mode, optimize=optimize)
        return execute(graphs[key], feeds, mode=mode, check_memory=first, **kw)

    base = run("fp32")
    runs, nodes, outs = {"fp32": base}, {}, {}
    for mode in modes:
        run_ = base if mode == "fp32" else run(mode)
        runs[mode] = run_
        nodes[mode] = [NodeError(r.name, r.op_type, r.output, r.path, r.mnk, _accumulated(r, base.values),
                                 _local_error(r, ort_version, threads) if local else None)
                       for r in run_.nodes]
        outs[mode] = {k: compare(v, base.outputs[k]) for k, v in run_.outputs.items()
                      if np.issubdtype(np.asarray(v).dtype, np.floating)}
    return ModelComparison(runs, nodes, outs)


def _accumulated(rec, base_values) -> ErrorReport | None:
    """The node's output against the fp32 run's tensor of the same name (if that run has it)."""
    other = base_values.get(rec.output)
    if other is None or rec.result is None or rec.result.shape != np.shape(other):
        return None
    if not np.issubdtype(rec.result.dtype, np.floating):
        return None
    return compare(rec.result, other)
