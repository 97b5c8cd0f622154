"""One-node ONNX models for the oracle's operator shortcuts.

IR version 8 and opset 13 (``com.microsoft`` opset 1): accepted by every ORT release from 1.17.
"""

from __future__ import annotations

import numpy as np

from ..errors import require

IR_VERSION = 8
OPSET = 13
MS_DOMAIN = "com.microsoft"


def one_node_model(op_type: str, inputs: list[tuple[str, np.ndarray | None]],
                   initializers: dict[str, np.ndarray], graph_inputs: dict[str, np.ndarray],
                   output_dtype, *, domain: str = "") -> bytes:
    """Serialized model with one node ``op_type``; ``inputs`` lists the node's inputs in order
    (``None`` = an omitted optional input), each either in ``initializers`` or ``graph_inputs``."""
    onnx = require("onnx", "onnx")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    node_inputs = [name if name is not None else "" for name in inputs]
    while node_inputs and node_inputs[-1] == "":
        node_inputs.pop()
    node = helper.make_node(op_type, node_inputs, ["Y"], domain=domain)
    graph = helper.make_graph(
        [node], f"mlas_emu_oracle_{op_type}",
        [_value_info(onnx, name, value) for name, value in graph_inputs.items()],
        [helper.make_tensor_value_info("Y", helper.np_dtype_to_tensor_dtype(np.dtype(output_dtype)), None)],
        initializer=[numpy_helper.from_array(value, name) for name, value in initializers.items()],
    )
    opsets = [helper.make_opsetid("", OPSET)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="mlas-emu oracle")
    model.ir_version = IR_VERSION
    return model.SerializeToString()


def _value_info(onnx, name: str, value: np.ndarray):
    dtype = onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
    return onnx.helper.make_tensor_value_info(name, dtype, list(value.shape))
