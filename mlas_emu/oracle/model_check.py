"""Check the emulated model runner (:mod:`mlas_emu.analysis`) against ONNX Runtime on emulated Arm.

Two questions, one session each way:

1. Does the graph this package executes match the one Arm ORT executes? The original model with
   ORT's default optimizations and the prepared model (:func:`~mlas_emu.analysis.runner.prepare`)
   with optimizations disabled must give the same bits on Arm.
2. Is every GEMM node bit-exact? The prepared model, its GEMM nodes' inputs and outputs exposed as
   graph outputs, runs on Arm; each node is emulated on the inputs Arm ORT gave it and compared
   bit for bit with Arm's output.

It lives beside the oracle, above the emulator layers, which never import the oracle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..analysis.ops import GEMM_OPS, Recorder, op_key, run_node
from ..analysis.report import compare
from ..analysis.runner import _check_mode, prepare
from ._api import FASTMATH_CONFIG_KEY

FASTMATH_CONFIG = {FASTMATH_CONFIG_KEY: "1"}


@dataclass
class ArmCheck:
    """Result of :func:`check_against_arm`.

    nodes: per GEMM node, (name, op_type, path, number of elements that differ from Arm ORT);
    rewrites_match: the prepared graph gives Arm ORT's default-session outputs bit for bit
    (None if not checked); arm_outputs / emulated_outputs: the graph outputs of both sides.
    """

    mode: str
    ort_version: str | None
    nodes: list
    rewrites_match: bool | None
    arm_outputs: dict = field(repr=False)
    emulated_outputs: dict = field(repr=False)

    @property
    def all_nodes_exact(self) -> bool:
        return all(n[3] == 0 for n in self.nodes)


def _with_outputs(model, names):
    """A copy of ``model`` whose graph also outputs the tensors ``names`` (types left unspecified)."""
    import onnx
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for n in names:
        if n not in have:
            m.graph.output.append(helper.make_empty_tensor_value_info(n))
            have.add(n)
    return m


def _session_config(mode):
    return dict(FASTMATH_CONFIG) if mode == "bf16-fastmath" else {}


def check_against_arm(model, feeds, *, mode: str = "bf16-fastmath", ort_version: str | None = None,
                      threads: int = 1, check_rewrites: bool = True, faithful: bool = True) -> ArmCheck:
    """Run ``model`` on ``feeds`` with Arm ORT (oracle) and with the emulator; see the module docstring."""
    from .. import oracle  # this package (its public functions load lazily)
    from ..errors import OracleUnavailable
    from ..analysis.graph import check_feeds, load_model

    reason = oracle.unavailable_reason(ort_version)
    if reason is not None:
        raise OracleUnavailable(reason)
    _check_mode(mode)
    prepared = prepare(model, mode)
    feeds = check_feeds(prepared, feeds)
    gemm = [n for n in prepared.graph.node if op_key(n) in GEMM_OPS]
    exposed = [x for n in gemm for x in list(n.input) + [n.output[0]] if x]
    inits = {i.name for i in prepared.graph.initializer}
    probe = _with_outputs(prepared, [x for x in exposed if x not in inits])
    cfg = _session_config(mode)
    arm = oracle.run_model(probe, feeds, ort_version=ort_version, session_config=cfg, threads=threads,
                           graph_optimization_level="disable_all")
    init_values = {i.name: _init_array(i) for i in prepared.graph.initializer}
    rec = Recorder(fastmath=mode == "bf16-fastmath", ort_version=ort_version, threads=threads,
                   faithful=faithful, initializers=frozenset(inits), capture=True)
    nodes = [_check_node(n, rec, arm, init_values) for n in gemm]
    outs = [o.name for o in prepared.graph.output]
    rewrites = None
    if check_rewrites:
        original = load_model(model)
        if mode == "int8-dynamic":
            from ..analysis.graph import quantize_int8

            original = quantize_int8(original)
        default = oracle.run_model(original, feeds, ort_version=ort_version, session_config=cfg, threads=threads)
        rewrites = all(np.array_equal(default[k].view(np.uint8), arm[k].view(np.uint8)) for k in outs)
    from ..analysis.runner import execute

    emulated = execute(prepared, feeds, mode=mode, ort_version=ort_version, threads=threads, faithful=faithful,
                       capture=False).outputs
    return ArmCheck(mode, ort_version, nodes, rewrites, {k: arm[k] for k in outs}, emulated)


def _init_array(init):
    from onnx import numpy_helper

    return numpy_helper.to_array(init)


def _check_node(node, rec, arm, init_values):
    """Emulate one GEMM node on Arm's inputs; count the elements whose bits differ from Arm's output."""
    import warnings

    inputs = [arm[x] if x in arm else init_values[x] for x in node.input if x]  # empty names: absent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = run_node(rec, node, _pad(node, inputs))[0]
    expected = arm[node.output[0]]
    path = rec.records[-1].path
    if got.shape != expected.shape:
        return (node.name, node.op_type, path, expected.size)
    return (node.name, node.op_type, path, int((got.view(np.uint8).reshape(got.size, -1)
                                                != expected.view(np.uint8).reshape(expected.size, -1)).any(1).sum()))


def _pad(node, inputs):
    """Optional inputs left empty in the node are passed as None, in position."""
    it = iter(inputs)
    return [next(it) if name else None for name in node.input]


def error_agreement(emulated_mode, emulated_fp32, arm_mode, arm_fp32) -> dict:
    """End-to-end error predicted on x86 vs the error Arm ORT shows (both against their own fp32)."""
    pred = compare(emulated_mode, emulated_fp32)
    real = compare(arm_mode, arm_fp32)
    return {"predicted": pred.to_dict(), "arm": real.to_dict()}
