"""Many MatMul / FusedMatMul nodes in one ONNX model, so one oracle run checks many cases."""

from __future__ import annotations

import numpy as np

FASTMATH = {"mlas.enable_gemm_fastmath_arm64_bfloat16": "1"}


def build(cases, op="MatMul"):
    """cases: list of dicts with A, B, b_is_initializer and (FusedMatMul) trans_a, trans_b, alpha.
    Returns (model bytes, feeds); output i is named Y{i}."""
    import onnx
    from onnx import helper, numpy_helper

    nodes, inputs, inits, outputs, feeds = [], [], [], [], {}
    for i, c in enumerate(cases):
        a, b = f"A{i}", f"B{i}"
        attrs = {}
        if op == "FusedMatMul":
            attrs = dict(transA=int(c.get("trans_a", False)), transB=int(c.get("trans_b", False)),
                         alpha=float(c.get("alpha", 1.0)))
        nodes.append(helper.make_node(op, [a, b], [f"Y{i}"], domain="com.microsoft" if op == "FusedMatMul" else "",
                                      **attrs))
        inputs.append(helper.make_tensor_value_info(a, onnx.TensorProto.FLOAT, list(c["A"].shape)))
        feeds[a] = c["A"]
        if c.get("b_is_initializer", True):
            inits.append(numpy_helper.from_array(c["B"], b))
        else:
            inputs.append(helper.make_tensor_value_info(b, onnx.TensorProto.FLOAT, list(c["B"].shape)))
            feeds[b] = c["B"]
        outputs.append(helper.make_tensor_value_info(f"Y{i}", onnx.TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "cases", inputs, outputs, initializer=inits)
    opsets = [helper.make_opsetid("", 13)]
    if op == "FusedMatMul":
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model.SerializeToString(), feeds


def run(oracle, cases, *, ort_version, threads=1, fastmath=True, op="MatMul"):
    model, feeds = build(cases, op)
    out = oracle.run_model(model, feeds, ort_version=ort_version, threads=threads,
                           session_config=FASTMATH if fastmath else {})
    return [np.asarray(out[f"Y{i}"]) for i in range(len(cases))]
