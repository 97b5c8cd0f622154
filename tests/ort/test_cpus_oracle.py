"""What the real-Arm oracle shows about CPUs (docs/cpus.md): which results depend on
Graviton2 (Neoverse N1: no BF16/I8MM, no SVE), Graviton3 (SVE 256-bit) and Graviton4 (SVE2
128-bit), and where 1.29.0 changed. Oracle against oracle only: no emulator in these tests."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.oracle

CPUS = ("graviton2", "graviton3", "graviton4")
FASTMATH = {"mlas.enable_gemm_fastmath_arm64_bfloat16": "1"}
MS = "com.microsoft"


def _bits(x):
    x = np.ascontiguousarray(x)
    return x.view(np.uint32) if x.dtype.itemsize == 4 else x


def _same(a, b) -> bool:
    return np.array_equal(_bits(a), _bits(b))


def _model(nodes, inputs, initializers, outputs):
    """nodes: (op_type, inputs, output, domain, attrs); inputs/initializers: name -> array;
    outputs: name -> element type (onnx.TensorProto)."""
    from onnx import helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node(op, ins, [out], domain=dom, **attrs) for op, ins, out, dom, attrs in nodes], "cpus",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape))
         for n, v in inputs.items()],
        [helper.make_tensor_value_info(n, t, None) for n, t in outputs.items()],
        initializer=[numpy_helper.from_array(np.asarray(v), n) for n, v in initializers.items()])
    opsets = [helper.make_opsetid("", 17)]
    if any(dom == MS for *_, dom, _ in nodes):
        opsets.append(helper.make_opsetid(MS, 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    return model.SerializeToString()


def _matmul_cases():
    """MatMul nodes: M = 1, K not a multiple of 4, K > 256 with N > 128; B constant and B input."""
    from onnx import TensorProto

    rng = np.random.default_rng(31)
    nodes, inputs, inits, outputs = [], {}, {}, {}
    for i, (m, k, n) in enumerate([(1, 37, 40), (3, 6, 17), (20, 259, 150)]):
        inputs[f"A{i}"] = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        inits[f"Bc{i}"], inputs[f"Bi{i}"] = b, b
        for path in ("c", "i"):
            nodes.append(("MatMul", [f"A{i}", f"B{path}{i}"], f"Y{path}{i}", "", {}))
            outputs[f"Y{path}{i}"] = TensorProto.FLOAT
    return _model(nodes, inputs, inits, outputs), inputs


def _run_all(oracle, model, feeds, version, config=None, cpus=CPUS):
    return {cpu: oracle.run_model(model, feeds, ort_version=version, cpu=cpu, session_config=config)
            for cpu in cpus}


def _assert_cpus_agree(out):
    """Every output of Graviton2 and Graviton4 has Graviton3's bits."""
    for name in out["graviton3"]:
        assert _same(out["graviton2"][name], out["graviton3"][name]), name
        assert _same(out["graviton4"][name], out["graviton3"][name]), name


@pytest.mark.parametrize("version", ["1.28.0", "1.32.0"])
def test_fp32_matmul_bits_are_the_same_on_every_cpu(oracle, version):
    """fp32 SGEMM runs the NEON FMLA kernel on all three CPUs (also 1.17.0-1.30.0, 95,904 elements)."""
    model, feeds = _matmul_cases()
    _assert_cpus_agree(_run_all(oracle, model, feeds, version))


def test_fastmath_graviton4_is_graviton3_and_graviton2_runs_fp32(oracle):
    model, feeds = _matmul_cases()
    fast = _run_all(oracle, model, feeds, "1.32.0", FASTMATH)
    fp32_g2 = oracle.run_model(model, feeds, ort_version="1.32.0", cpu="graviton2")
    fp32_g3 = oracle.run_model(model, feeds, ort_version="1.32.0", cpu="graviton3")
    for name in fast["graviton3"]:
        assert _same(fast["graviton4"][name], fast["graviton3"][name]), name
        assert _same(fast["graviton2"][name], fp32_g2[name]), name   # no BF16: the option does nothing
        assert not _same(fast["graviton3"][name], fp32_g3[name]), name


def _quantized_model():
    """MatMulInteger u8u8 / u8s8 / s8s8 with zero points, DynamicQuantizeMatMul u8 / s8 B with
    per-column scales, zero points and bias; B constant (pre-packed)."""
    from onnx import TensorProto

    rng = np.random.default_rng(32)
    m, k, n = 7, 37, 24
    nodes, inputs, inits, outputs = [], {}, {}, {}
    for kind, ta, tb in (("u8u8", np.uint8, np.uint8), ("u8s8", np.uint8, np.int8), ("s8s8", np.int8, np.int8)):
        lo_a, hi_a = np.iinfo(ta).min, np.iinfo(ta).max + 1
        lo_b, hi_b = np.iinfo(tb).min, np.iinfo(tb).max + 1
        inputs[f"A{kind}"] = rng.integers(lo_a, hi_a, (m, k)).astype(ta)
        inits[f"B{kind}"] = rng.integers(lo_b, hi_b, (k, n)).astype(tb)
        inits[f"za{kind}"] = np.array(rng.integers(lo_a, hi_a), ta)
        inits[f"zb{kind}"] = rng.integers(lo_b, hi_b, n).astype(tb)
        nodes.append(("MatMulInteger", [f"A{kind}", f"B{kind}", f"za{kind}", f"zb{kind}"], f"Y{kind}", "", {}))
        outputs[f"Y{kind}"] = TensorProto.INT32
    inputs["Af"] = (rng.standard_normal((m, k)) * 2).astype(np.float32)
    inits["bias"] = rng.standard_normal(n).astype(np.float32)
    inits["scale"] = rng.uniform(0.001, 0.05, n).astype(np.float32)
    for tb in (np.uint8, np.int8):
        name = np.dtype(tb).name
        inits[f"Bq{name}"] = rng.integers(np.iinfo(tb).min, np.iinfo(tb).max + 1, (k, n)).astype(tb)
        inits[f"zq{name}"] = rng.integers(np.iinfo(tb).min, np.iinfo(tb).max + 1, n).astype(tb)
        nodes.append(("DynamicQuantizeMatMul", ["Af", f"Bq{name}", "scale", f"zq{name}", "bias"], f"D{name}", MS, {}))
        outputs[f"D{name}"] = TensorProto.FLOAT
    return _model(nodes, inputs, inits, outputs), inputs


@pytest.mark.parametrize("version", ["1.29.0", "1.32.0"])
def test_quantized_gemms_are_the_same_on_every_cpu(oracle, version):
    """UDOT/SDOT (Graviton2), NEON UMMLA/SMMLA (Graviton3/4 up to 1.29.0) and SVE UMMLA/SMMLA
    (Graviton3/4 from 1.30.0): the same int32 sums and the same DynamicQuantizeMatMul floats."""
    model, feeds = _quantized_model()
    _assert_cpus_agree(_run_all(oracle, model, feeds, version))


def test_a_nan_in_the_tail_of_a_quantized_a_depends_on_sve_from_1_29(oracle):
    """DynamicQuantizeMatMul's range of A: the NEON min/max kernel's scalar tail (the last
    len(A) % 4 elements) skips a NaN; the SVE kernel, used on Graviton3/4 from 1.29.0, does not."""
    rng = np.random.default_rng(33)
    A = rng.standard_normal((3, 7)).astype(np.float32)
    A[2, 6] = np.nan                                   # element 20 of 21: in the tail of one
    B = rng.integers(-100, 100, (7, 5)).astype(np.int8)
    nan_rows = {(v, cpu): int(np.isnan(oracle.dynamic_quantize_matmul(A, B, np.float32(0.02), ort_version=v,
                                                                       cpu=cpu)).any(axis=1).sum())
                for v in ("1.28.0", "1.29.0") for cpu in CPUS}
    assert nan_rows == {("1.28.0", "graviton2"): 0, ("1.28.0", "graviton3"): 0, ("1.28.0", "graviton4"): 0,
                        ("1.29.0", "graviton2"): 0, ("1.29.0", "graviton3"): 3, ("1.29.0", "graviton4"): 3}


def _softmax_model(lengths, rows=16):
    from onnx import TensorProto

    rng = np.random.default_rng(34)
    inputs = {f"X{d}": (rng.standard_normal((rows, d)) * 3).astype(np.float32) for d in lengths}
    nodes = [("Softmax", [f"X{d}"], f"S{d}", "", {"axis": -1}) for d in lengths]
    return _model(nodes, inputs, {}, {f"S{d}": TensorProto.FLOAT for d in lengths}), inputs


def test_softmax_depends_on_sve_and_on_its_length(oracle):
    """MLAS's Softmax: SVE kernels on Graviton3/4 (since 1.24-1.27), reworked in 1.29.0 (FEXPA
    exp); the NEON kernel (Graviton2) is unchanged by 1.29.0. Rows of 10 (MiniLM's sequence) and 16."""
    model, feeds = _softmax_model((10, 16))
    out = {v: _run_all(oracle, model, feeds, v) for v in ("1.28.0", "1.29.0")}
    g2, g3, g4 = (out["1.28.0"][c] for c in CPUS)
    assert not _same(g3["S10"], g2["S10"]) and not _same(g3["S16"], g2["S16"])
    assert _same(g4["S10"], g3["S10"])                 # 1.28.0: equal on rows of 10 ...
    assert not _same(g4["S16"], g3["S16"])             # ... but the vector length shows on rows of 16
    new = out["1.29.0"]
    assert not _same(new["graviton4"]["S10"], new["graviton3"]["S10"])
    for d in ("S10", "S16"):
        assert _same(new["graviton2"][d], g2[d])
        assert not _same(new["graviton3"][d], g3[d]) and not _same(new["graviton4"][d], g4[d])


def test_1_29_changed_the_softmax_of_an_attention_block_not_its_gemms(oracle):
    """scores = Q K^T / 8, probs = Softmax(scores + mask), context = probs V (MiniLM's shapes, one
    head); each node reads graph inputs, so each is compared on the same operands."""
    from onnx import TensorProto

    rng = np.random.default_rng(35)
    q, k = rng.standard_normal((3, 10, 32)).astype(np.float32), rng.standard_normal((3, 32, 10)).astype(np.float32)
    s = (rng.standard_normal((3, 10, 10)) * 2).astype(np.float32)
    p = rng.dirichlet(np.ones(10), (3, 10)).astype(np.float32)
    v = rng.standard_normal((3, 10, 32)).astype(np.float32)
    feeds = {"Q": q, "Kt": k, "S": s, "P": p, "V": v}
    nodes = [("FusedMatMul", ["Q", "Kt"], "scores", MS, {"alpha": 0.125}),
             ("Softmax", ["S"], "probs", "", {"axis": -1}),
             ("MatMul", ["P", "V"], "context", "", {})]
    model = _model(nodes, feeds, {}, {n: TensorProto.FLOAT for n in ("scores", "probs", "context")})
    for config in ({}, FASTMATH):
        old, new = (oracle.run_model(model, feeds, ort_version=r, cpu="graviton3", session_config=config)
                    for r in ("1.28.0", "1.29.0"))
        assert _same(old["scores"], new["scores"]) and _same(old["context"], new["context"])
        assert not _same(old["probs"], new["probs"])
