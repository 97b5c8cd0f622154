"""Small hand-built ONNX graphs for the runner tests."""

from __future__ import annotations

import numpy as np


def make(nodes, inputs, outputs, inits=(), opset=17, extra_opsets=()):
    import onnx
    from onnx import helper, numpy_helper

    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(t)), s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(t)), s) for n, t, s in outputs],
        [numpy_helper.from_array(v, k) for k, v in inits])
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model


def mlp(k=40, n=24, seed=0):
    """X @ W + b -> Relu -> @ W2 (ORT rewrites MatMul + Add + Relu into FusedGemm for 2-D X)."""
    from onnx import helper

    rng = np.random.default_rng(seed)
    w = rng.standard_normal((k, n)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    w2 = rng.standard_normal((n, 36)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["X", "W"], ["Y"], name="mm1"),
             helper.make_node("Add", ["Y", "b"], ["Z"], name="add"),
             helper.make_node("Relu", ["Z"], ["R"], name="relu"),
             helper.make_node("MatMul", ["R", "W2"], ["out"], name="mm2")]
    return make(nodes, [("X", np.float32, ["batch", k])], [("out", np.float32, ["batch", 36])],
                [("W", w), ("b", b), ("W2", w2)])


def attention_like(seq=6, d=40, seed=0):
    """softmax(Q K^T * s) V with graph inputs Q, K, V (non-packed B, a Transpose + Mul to fuse)."""
    from onnx import helper

    nodes = [helper.make_node("Transpose", ["K"], ["Kt"], perm=[0, 2, 1], name="kt"),
             helper.make_node("MatMul", ["Q", "Kt"], ["S"], name="scores"),
             helper.make_node("Mul", ["S", "scale"], ["Ss"], name="scale_mul"),
             helper.make_node("Softmax", ["Ss"], ["P"], axis=-1, name="softmax"),
             helper.make_node("MatMul", ["P", "V"], ["out"], name="context")]
    f = np.float32
    return make(nodes, [("Q", f, [2, seq, d]), ("K", f, [2, seq, d]), ("V", f, [2, seq, d])],
                [("out", f, [2, seq, d])], [("scale", np.array(0.125, f))])


def random_feeds(model, seed=0, rows=5):
    from mlas_emu.analysis.graph import graph_inputs

    rng = np.random.default_rng(seed)
    return {n: rng.standard_normal(tuple(rows if s is None else s for s in shape)).astype(dt)
            for n, (dt, shape) in graph_inputs(model).items()}
