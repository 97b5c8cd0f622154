"""MLAS QGEMM (``mlas_emu.qgemm``): fast path, instruction-level path, the real-Arm oracle, bad input.

Exact reference: int64 sums of ``(A - zpA) * (B - zpB)`` (exact for these sizes) or Python ints,
reduced modulo 2^32 to int32 — what MLAS promises, since every step of its QGEMM is wrapping
int32 arithmetic. The oracle is ONNX Runtime's MatMulInteger on emulated Arm.
"""

from __future__ import annotations

import numpy as np
import pytest
from _mmla_reference import smmla as ref_smmla
from _mmla_reference import ummla as ref_ummla
from conftest import ORACLE_VERSIONS
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import mlas_emu
from mlas_emu.mlas.qgemm import qgemm, thread_ranges

KINDS = {"u8u8": (np.uint8, np.uint8), "u8s8": (np.uint8, np.int8), "s8s8": (np.int8, np.int8)}


@pytest.fixture(params=["reference", "isa"])
def mmla_instructions(request, monkeypatch):
    """Run the instruction-level path on the exact Arm ARM reference, and on mlas_emu.isa when present."""
    import mlas_emu.isa as isa

    if request.param == "reference":
        monkeypatch.setattr(isa, "ummla", ref_ummla, raising=False)
        monkeypatch.setattr(isa, "smmla", ref_smmla, raising=False)
    elif not (hasattr(isa, "ummla") and hasattr(isa, "smmla")):
        pytest.skip("mlas_emu.isa.ummla/smmla not available")
    return request.param


def exact(A, B, zpa, zpb):
    exact_sums = (A.astype(np.int64) - zpa) @ (B.astype(np.int64) - np.asarray(zpb, np.int64))
    return exact_sums.astype(np.uint32).view(np.int32)


def draw_case(rng, kind, M, N, K, per_column, extreme=False):
    a_dt, b_dt = KINDS[kind]
    ia, ib = np.iinfo(a_dt), np.iinfo(b_dt)
    if extreme:
        A = rng.choice(np.array([ia.min, ia.max], a_dt), (M, K))
        B = rng.choice(np.array([ib.min, ib.max], b_dt), (K, N))
    else:
        A = rng.integers(ia.min, ia.max + 1, (M, K), dtype=a_dt)
        B = rng.integers(ib.min, ib.max + 1, (K, N), dtype=b_dt)
    zpa = int(rng.integers(ia.min, ia.max + 1))
    zpb = rng.integers(ib.min, ib.max + 1, N).astype(b_dt) if per_column else int(rng.integers(ib.min, ib.max + 1))
    return A, B, zpa, zpb


shapes = st.tuples(st.integers(1, 20), st.integers(1, 20), st.one_of(st.integers(1, 40), st.sampled_from(
    [255, 256, 257, 258, 259, 383, 384, 385, 520])))  # 258: fast-path K chunk at 255*255


@settings(max_examples=80, deadline=None)
@given(shape=shapes, kind=st.sampled_from(list(KINDS)), per_column=st.booleans(), extreme=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
@example(shape=(3, 5, 259), kind="u8u8", per_column=False, extreme=True, seed=2)
@example(shape=(3, 5, 517), kind="u8s8", per_column=True, extreme=True, seed=3)
def test_fast_path_equals_exact_integers(shape, kind, per_column, extreme, seed):
    A, B, zpa, zpb = draw_case(np.random.default_rng(seed), kind, *shape, per_column, extreme)
    np.testing.assert_array_equal(qgemm(A, B, zpa, zpb), exact(A, B, zpa, zpb))


def test_int32_wraps_like_the_hardware():
    """40000 products of 255*255 overflow int32: the sum is taken modulo 2^32 (no saturation)."""
    K = 40000
    A = np.full((2, K), 255, np.uint8)
    B = np.full((K, 3), 255, np.uint8)
    got = qgemm(A, B)
    expected = (K * 255 * 255 + 2**31) % 2**32 - 2**31
    assert expected < 0
    assert (got == expected).all()
    got = qgemm(A, B.view(np.int8), a_zero_point=0, b_zero_point=-128)  # (255)*(-1 - -128) = 255*127
    assert (got == (K * 255 * 127 + 2**31) % 2**32 - 2**31).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.tuples(st.integers(1, 26), st.integers(1, 20), st.one_of(st.integers(1, 24), st.sampled_from(
    [257, 385]))), kind=st.sampled_from(list(KINDS)), per_column=st.booleans(), packed_b=st.booleans(),
    threads=st.sampled_from([1, 2, 3]), seed=st.integers(0, 2**32 - 1))
@example(shape=(16, 24, 20), kind="u8s8", per_column=True, packed_b=True, threads=1, seed=0)
@example(shape=(25, 130, 9), kind="s8s8", per_column=False, packed_b=False, threads=3, seed=1)
@example(shape=(26, 150, 400), kind="u8s8", per_column=True, packed_b=True, threads=2, seed=2)  # K and N slices
def test_instruction_path_agrees_with_fast_path(mmla_instructions, shape, kind, per_column, packed_b, threads, seed):
    """The instruction path (the routine's schedule interpreted over the driver plan) equals the
    exact int64 product modulo 2^32; equality with the fast path is a consistency check."""
    A, B, zpa, zpb = draw_case(np.random.default_rng(seed), kind, *shape, per_column)
    got = qgemm(A, B, zpa, zpb, threads=threads, packed_b=packed_b, path="instructions")
    np.testing.assert_array_equal(got, qgemm(A, B, zpa, zpb))
    np.testing.assert_array_equal(got, exact(A, B, zpa, zpb))


@pytest.mark.parametrize("kind,M,N,K,count", [
    # MMLA instructions executed by real ORT 1.17.1 under qemu-aarch64, one thread (docs/oracle.md)
    ("u8u8", 8, 8, 8, 16), ("u8s8", 16, 24, 20, 288), ("s8s8", 8, 16, 16, 64)])
def test_mmla_count_matches_real_kernel(mmla_instructions, kind, M, N, K, count):
    A, B, _, _ = draw_case(np.random.default_rng(0), kind, M, N, K, False)
    trace = []
    qgemm(A, B, path="instructions", trace=trace, ort_version="1.17.1")
    mnemonic = "smmla" if kind == "s8s8" else "ummla"
    assert sum(r.mnemonic == mnemonic for r in trace) == count


@pytest.mark.parametrize("M,N,K,threads,expected", [
    (8, 8, 8, 4, [(0, 8, 0, 8)]),                      # 512 MACs: one thread
    (64, 64, 64, 4, [(0, 16, 0, 64), (16, 16, 0, 64), (32, 16, 0, 64), (48, 16, 0, 64)]),
    (4, 100, 512, 3, [(0, 4, 0, 48), (0, 4, 48, 32), (0, 4, 80, 20)]),  # N > M: 16-column blocks
])
def test_thread_ranges(M, N, K, threads, expected):
    assert thread_ranges(M, N, K, threads) == expected


def test_inputs_are_not_modified(mmla_instructions):
    rng = np.random.default_rng(3)
    A, B, zpa, zpb = draw_case(rng, "u8s8", 9, 10, 11, True)
    copies = [A.copy(), B.copy(), zpb.copy()]
    qgemm(A, B, zpa, zpb)
    qgemm(A, B, zpa, zpb, path="instructions", packed_b=False)
    for x, y in zip((A, B, zpb), copies):
        np.testing.assert_array_equal(x, y)


def test_top_level_shortcut():
    A = np.array([[255, 0]], np.uint8)
    B = np.array([[1], [2]], np.int8)
    assert mlas_emu.qgemm(A, B, 128, -1).tolist() == [[(255 - 128) * 2 + (0 - 128) * 3]]


@pytest.mark.parametrize("call,exc,match", [
    (lambda A, B: qgemm(A.view(np.int8), B), TypeError, "int8 A and uint8 B"),
    (lambda A, B: qgemm(A.astype(np.int16), B), TypeError, "int8 or uint8"),
    (lambda A, B: qgemm(A.tolist(), B), TypeError, "numpy array"),
    (lambda A, B: qgemm(A[0], B), ValueError, "2-D"),
    (lambda A, B: qgemm(A, B[:3]), ValueError, "K must match"),
    (lambda A, B: qgemm(A, B, a_zero_point=256), ValueError, r"\[0, 255\]"),
    (lambda A, B: qgemm(A, B, a_zero_point=1.5), TypeError, "integer"),
    (lambda A, B: qgemm(A, B, b_zero_point=np.zeros(3, np.uint8)), ValueError, r"shape \(5,\)"),
    (lambda A, B: qgemm(A, B, b_zero_point=np.zeros((1, 5), np.uint8)), ValueError, "scalar or shape"),
    (lambda A, B: qgemm(A, B, threads=0), ValueError, "threads"),
    (lambda A, B: qgemm(A, B, path="bogus"), ValueError, "path"),
    (lambda A, B: qgemm(A, B, trace=[]), ValueError, "trace"),
])
def test_bad_input(call, exc, match):
    A = np.zeros((2, 4), np.uint8)
    B = np.zeros((4, 5), np.uint8)
    with pytest.raises(exc, match=match):
        call(A, B)


@pytest.mark.oracle
@pytest.mark.parametrize("version", ORACLE_VERSIONS)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=shapes, kind=st.sampled_from(list(KINDS)), per_column=st.booleans(), b_is_initializer=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
@example(shape=(17, 23, 385), kind="u8s8", per_column=True, b_is_initializer=True, seed=5)
def test_matches_real_arm_matmul_integer(oracle, version, shape, kind, per_column, b_is_initializer, seed):
    A, B, zpa, zpb = draw_case(np.random.default_rng(seed), kind, *shape, per_column)
    a_dt, b_dt = KINDS[kind]
    expected = oracle.matmul_integer(A, B, a_dt(zpa), zpb if per_column else b_dt(zpb),
                                     b_is_initializer=b_is_initializer, ort_version=version)
    np.testing.assert_array_equal(qgemm(A, B, zpa, zpb), expected)


def one_node_matmul_integer(M, N, K, a_type, b_type, seed=0):
    """A MatMulInteger model with B (random, K x N) as an initializer, its feeds (A, M x K), and B."""
    pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(seed)
    A = rng.integers(np.iinfo(a_type).min, np.iinfo(a_type).max + 1, (M, K)).astype(a_type)
    B = rng.integers(np.iinfo(b_type).min, np.iinfo(b_type).max + 1, (K, N)).astype(b_type)
    node = helper.make_node("MatMulInteger", ["A", "B"], ["Y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("A", helper.np_dtype_to_tensor_dtype(A.dtype),
                                                                          list(A.shape))],
                              [helper.make_tensor_value_info("Y", helper.np_dtype_to_tensor_dtype(np.dtype(np.int32)),
                                                             None)],
                              initializer=[numpy_helper.from_array(B, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, {"A": A}, B


@pytest.mark.oracle
@pytest.mark.slow
def test_trace_counts_the_mmla_the_real_kernel_executes(oracle):
    """MMLA instructions executed by real ONNX Runtime (QEMU's translation log) equal the trace's:
    M=13 (row groups 8, 4, 1), N=21 (blocks 8, 8, 6), K=19 (3 blocks of 8, padded)."""
    model, feeds, B = one_node_matmul_integer(13, 21, 19, np.uint8, np.int8)
    # 1.29.0: the newest release running the modelled Advanced SIMD kernel on Graviton3
    counts = oracle.count_instructions(model, feeds, mnemonics=("ummla", "smmla"), ort_version="1.29.0")
    trace = []
    qgemm(feeds["A"], B, path="instructions", trace=trace, ort_version="1.29.0")
    assert counts["smmla"] == 0
    assert sum(r.mnemonic == "ummla" for r in trace) == counts["ummla"]


def test_empty_k_gives_zeros_on_both_paths():
    A = np.zeros((3, 0), np.uint8)
    B = np.zeros((0, 4), np.int8)
    for path in ("fast", "instructions"):
        got = qgemm(A, B, 1, 2, path=path)
        assert got.dtype == np.int32 and got.shape == (3, 4) and not got.any()


@pytest.mark.parametrize("types", [(np.uint8, np.uint8), (np.uint8, np.int8), (np.int8, np.int8)])
@pytest.mark.parametrize("cpu, mnemonics", [("graviton2", {"udot", "sdot"}), ("graviton4", {"ummla", "smmla"})])
def test_the_cpu_chooses_the_kernel_not_the_result(types, cpu, mnemonics):
    """Graviton2 has DotProd without I8MM: MLAS runs its UDOT/SDOT kernels (oracle-checked in
    tests/mlas/test_qgemm_kernel_udot.py); the int32 result is the exact product either way."""
    rng = np.random.default_rng(5)
    A = rng.integers(np.iinfo(types[0]).min, np.iinfo(types[0]).max + 1, (13, 19)).astype(types[0])
    B = rng.integers(np.iinfo(types[1]).min, np.iinfo(types[1]).max + 1, (19, 21)).astype(types[1])
    zpa, zpb = types[0](3), types[1](7)
    exact = (A.astype(np.int64) - 3) @ (B.astype(np.int64) - 7)
    trace = []
    got = qgemm(A, B, zpa, zpb, path="instructions", trace=trace, cpu=cpu, threads=3)
    np.testing.assert_array_equal(got, exact.astype(np.int32))
    used = {r.mnemonic for r in trace} & {"udot", "sdot", "ummla", "smmla"}
    assert used and used <= mnemonics
    with pytest.raises(ValueError, match="unknown cpu"):
        qgemm(A, B, cpu="neoverse-n1")
