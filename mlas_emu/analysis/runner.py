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


@dataclass(repr=False)
class ModelRun:
    """Outputs (graph order) and GEMM node records of one run, with the graph that ran."""

    mode: str
    outputs: dict
    nodes: list
    model: object = field(repr=False)
    values: dict = field(default_factory=dict, repr=False)
    ort_version: str | None = None
    threads: int = 1

    def __repr__(self) -> str:
        # A few lines, not the arrays: a captured run holds every tensor of the model.
        return "\n  ".join([f"ModelRun({self.mode}, {_setting(self)})",
                            "outputs: " + _listed([f"{k} {_shape(v)}" for k, v in self.outputs.items()]),
                            f"{_graph_text(self.model)}, {_gemm_text(self.nodes)}"])

    def _repr_html_(self) -> str:
        rows = [("mode", self.mode), ("setting", _setting(self)), ("graph", _graph_text(self.model)),
                ("GEMM nodes", _gemm_text(self.nodes))]
        rows += [(f"output {k}", _shape(v)) for k, v in self.outputs.items()]
        return _html_table("mlas-emu-model-run", rows)

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
    return ModelRun(mode, {k: values[k] for k in names}, rec.records, m, values if capture else {},
                    resolve_ort_version(ort_version), threads)


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


@dataclass(repr=False)
class ModelComparison:
    """Per mode: per GEMM node errors and end-to-end output errors, all against the fp32 run."""

    runs: dict
    nodes: dict
    outputs: dict

    def __repr__(self) -> str:
        base = self.runs["fp32"]
        lines = [f"ModelComparison({', '.join(self.nodes)} vs fp32, {_setting(base)})"]
        for mode in self.nodes:
            run = self.runs[mode]
            lines.append(f"{mode}: {_graph_text(run.model)}, {_gemm_text(run.nodes)}{_worst_local(self.nodes[mode])}")
            lines += [f"  {k} {_shape(self.runs[mode].outputs[k])}: {_headline(r)}"
                      for k, r in list(self.outputs[mode].items())[:_SHOWN]]
            if len(self.outputs[mode]) > _SHOWN:
                lines.append(f"  ... ({len(self.outputs[mode]) - _SHOWN} more outputs)")
        return "\n  ".join(lines)

    def _repr_html_(self) -> str:
        head = ("mode", "output", "shape", "normwise rel", "rel error p99", "max rel", "ulps p99", "identical")
        rows = [(mode, k, _shape(self.runs[mode].outputs[k]), f"{r.normwise_rel_error:.3g}",
                 f"{r.p99_rel_error:.3g}", f"{r.max_rel_error:.3g}", r.significant_p99_ulp,
                 f"{r.fraction_identical:.1%}")
                for mode in self.nodes for k, r in self.outputs[mode].items()]
        title = (f"{', '.join(self.nodes)} vs fp32, {_setting(self.runs['fp32'])}; GEMM nodes: "
                 + "; ".join(f"{m}: {_gemm_text(self.runs[m].nodes)}" for m in self.nodes))
        return _html_grid("mlas-emu-model-comparison", title, head, rows)

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


# Outputs listed in a repr before "... (n more)".
_SHOWN = 6


def _setting(run) -> str:
    threads = f"{run.threads} thread{'s' if run.threads != 1 else ''}"
    return f"ORT {run.ort_version or 'default'}, {threads}"


def _shape(value) -> str:
    a = np.asarray(value)
    return f"{a.dtype} {tuple(a.shape)}"


def _listed(items: list) -> str:
    more = f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def _graph_text(model) -> str:
    graph = getattr(model, "graph", None)
    if graph is None:
        return "no graph"
    name = f"graph {graph.name[:40]!r} of " if graph.name else ""
    return f"{name}{len(graph.node)} nodes"


def _gemm_text(records) -> str:
    paths = {}
    for r in records:
        paths[r.path] = paths.get(r.path, 0) + 1
    return f"{len(records)} GEMM" + (" (" + ", ".join(f"{p} x{n}" for p, n in paths.items()) + ")" if paths else "")


def _worst_local(errors) -> str:
    local = [e for e in errors if e.local is not None]
    if not local:
        return ""
    worst = max(local, key=lambda e: e.local.normwise_rel_error)
    return f"; largest local error {worst.local.normwise_rel_error:.2e} ({worst.name[:40]})"


def _headline(rep: ErrorReport) -> str:
    return (f"normwise rel {rep.normwise_rel_error:.3g}, rel error p99 {rep.p99_rel_error:.3g}, "
            f"ulps p99 {rep.significant_p99_ulp}, identical {rep.fraction_identical:.1%}")


def _html_table(cls: str, rows) -> str:
    from html import escape

    body = "".join(f"<tr><th style='text-align:left'>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>"
                   for k, v in rows)
    return f"<table class='{cls}'>{body}</table>"


def _html_grid(cls: str, title: str, head, rows) -> str:
    from html import escape

    body = "".join(f"<tr>{_cells('td', r)}</tr>" for r in rows)
    return (f"<table class='{cls}'><caption style='text-align:left'>{escape(title)}</caption>"
            f"<tr>{_cells('th', head)}</tr>{body}</table>")


def _cells(tag: str, row) -> str:
    from html import escape

    return "".join(f"<{tag}>{escape(str(v))}</{tag}>" for v in row)


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
