"""Traces of the MLAS kernels: counts measured on the real kernels, and lane bookkeeping.

The measured counts come from ONNX Runtime 1.17.1's aarch64 library executed under
qemu-aarch64 (executed MMLA/DOT words counted from QEMU's execution log, one thread). The lane
checks are independent of the kernel models: every product A[i,k]*B[k,j] of the GEMM must be
formed exactly once by the traced multiply instructions, and the lanes of each instruction must
agree with each other (same row in A and C, same column in B and C, same k in A and B).
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlas_emu.releases import ORT_RELEASES
from mlas_emu.teach import KERNELS, Trace, trace

# (kernel, M, N, K, instruction, count) measured on the real ORT 1.17.1 kernels.
MEASURED = [
    ("sbgemm", 8, 8, 8, "bfmmla", 32),
    ("sbgemm", 16, 24, 20, "bfmmla", 480),
    ("qgemm-u8u8", 8, 8, 8, "ummla", 16),
    ("qgemm-u8s8", 16, 24, 20, "ummla", 288),
    ("qgemm-s8s8", 8, 16, 16, "smmla", 64),
    ("qgemm-dot-u8u8", 8, 8, 8, "udot", 32),
]

# BFCVTN + BFCVTN2 executed by the whole ORT 1.17.1 process for one fastmath MatMul (B packing at
# session creation or per call, and A conversion in the kernel), measured with
# mlas_emu.oracle.count_instructions: (M, N, K, B is an initializer, count).
MULTIPLY = {"bfmmla", "ummla", "smmla", "udot", "sdot", "fmla"}


@pytest.mark.parametrize(("kernel", "M", "N", "K", "mnemonic", "expected"), MEASURED)
def test_counts_match_the_real_kernels(kernel, M, N, K, mnemonic, expected):
    got = trace(kernel, M, N, K, ort_version="1.17.0").counts[mnemonic]
    assert got == expected


def _products(t: Trace) -> Counter:
    """Every (i, j, k) product the multiply instructions form, from their lanes alone."""
    seen: Counter = Counter()
    for r in t:
        if r.mnemonic not in MULTIPLY or not r.lanes or r.operands[0].startswith("v4.4s"):
            continue  # the add-mode fmla of the SGEMM output (C += acc * alpha) forms no product
        vd, vn, vm = r.operands
        c, first, second = r.lanes[vd], r.lanes[vn], r.lanes[vm]
        a, b = (first, second) if r.mnemonic in ("bfmmla", "ummla", "smmla") else (second, first)
        if r.mnemonic in ("bfmmla", "ummla", "smmla"):
            depth = len(a) // (len(c) // 2)  # per 128-bit segment (SVE: several): A 2 x depth, B^T 2 x depth
            for lane, cc in enumerate(c):
                seg, (i, j) = lane // 4, divmod(lane % 4, 2)
                for kk in range(depth):
                    _add(seen, cc, a[2 * depth * seg + i * depth + kk], b[2 * depth * seg + j * depth + kk])
        elif r.mnemonic in ("udot", "sdot"):
            for lane, cc in enumerate(c):  # B holds 4 columns x 4 k; A one row's 4 k
                for kk in range(4):
                    _add(seen, cc, a[kk], b[4 * lane + kk])
        else:  # fmla by element: B row k, 4 columns; A one element
            for lane, cc in enumerate(c):
                _add(seen, cc, a[0], b[lane])
    return seen


def _add(seen, c, a, b):
    if c is None or a is None or b is None:
        return
    _, i, j = c
    _, ia, ka = a
    _, kb, jb = b
    assert (i, j) == (ia, jb) and ka == kb, f"inconsistent lanes C{c} A{a} B{b}"
    seen[(i, j, ka)] += 1


def _check_every_product_once(t: Trace):
    seen = _products(t)
    assert len(seen) == t.M * t.N * t.K
    assert set(seen.values()) == {1}
    assert all(0 <= i < t.M and 0 <= j < t.N and 0 <= k < t.K for i, j, k in seen)


@settings(max_examples=40, deadline=None)
@given(
    kernel=st.sampled_from(sorted(KERNELS)),
    M=st.integers(1, 19),
    N=st.integers(1, 21),
    K=st.integers(1, 40),
    packed_b=st.booleans(),
)
@example(kernel="sbgemm", M=3, N=7, K=6, packed_b=True)  # 7 columns computed as 8, K tail
@example(kernel="qgemm-u8s8", M=1, N=5, K=9, packed_b=False)  # phantom row, 6-wide block
@example(kernel="qgemm-dot-s8s8", M=7, N=9, K=3, packed_b=True)  # 4+2+1 rows, column tail
@example(kernel="sgemm", M=5, N=13, K=7, packed_b=True)  # 4+1 rows, masked 8+4+1 store
def test_every_product_is_formed_once(kernel, M, N, K, packed_b):
    if kernel == "sgemm" and M == 1 and not packed_b:
        return  # the GEMV kernel's records (from the SGEMM model) carry no lane coordinates
    _check_every_product_once(trace(kernel, M, N, K, packed_b=packed_b))


@pytest.mark.parametrize("kernel", ["sbgemm", "qgemm-s8s8", "qgemm-dot-u8u8", "sgemm"])
@pytest.mark.parametrize(("K", "packed_b"), [(257, True), (385, True), (260, False)])
def test_every_product_once_across_k_blocks(kernel, K, packed_b):
    # SBGEMM with B a graph input and K > 256 has defect 1 in every release: faithful lanes name
    # misplaced elements, so the intended layout is checked here (and the faithful one below).
    faithful = {"faithful": False} if kernel == "sbgemm" else {}
    _check_every_product_once(trace(kernel, 3, 10, K, packed_b=packed_b, **faithful))


def test_faithful_trace_names_the_misplaced_b_elements_of_defect_1():
    # M=16, K=300, N=24 (docs/defects.md, defect 1): the kernel walks a panel packed for 256 rows
    # as one block, so some B lanes hold other rows' or columns' elements, others unwritten memory.
    faithful, intended = (trace("sbgemm", 16, 24, 300, packed_b=False, faithful=f) for f in (True, False))
    assert faithful.counts == intended.counts
    moved = [(r.note, a, b) for r, q in zip(faithful, intended) if r.mnemonic == "ldr" and "B columns" in r.note
             for a, b in zip(r.lanes[next(iter(r.lanes))], q.lanes[next(iter(q.lanes))]) if a != b]
    assert moved and any(a is None for _, a, _ in moved) and any(a is not None for _, a, _ in moved)


@pytest.mark.parametrize("steps", [1, 2, 3, 5])
def test_sixteen_bfmmla_per_four_k_for_an_8x8_tile(steps):
    # SbgemmKernelNeon.S: 4 row pairs x 4 column pairs per 4 values of K.
    assert trace("sbgemm", 8, 8, 4 * steps).counts["bfmmla"] == 16 * steps


def test_k_tail_takes_one_more_full_step():
    # K = 5: one step of 4 and one padded step (the A over-read) up to 1.27; from 1.28 the
    # routine gets K = 8 (A zero-padded) and runs two full steps.
    t = trace("sbgemm", 8, 8, 5, ort_version="1.27.0")
    assert t.counts["bfmmla"] == 32
    assert any("over-read" in r.note for r in t)
    new = trace("sbgemm", 8, 8, 5, ort_version="1.28.0")
    assert new.counts["bfmmla"] == 32 and not any("over-read" in r.note for r in new)


def test_threads_change_the_row_split_and_the_count():
    # M=10, N=8, K=1024: 81920 multiply-adds -> 2 threads splitting M into 5 + 5 rows, each run
    # as 4 + 1 rows (2 + 1 row pairs) instead of 8 + 2 rows (4 + 1 row pairs), for 256 steps.
    one = trace("sbgemm", 10, 8, 1024, threads=1).counts["bfmmla"]
    two = trace("sbgemm", 10, 8, 1024, threads=2).counts["bfmmla"]
    assert (one, two) == (5 * 4 * 256, 6 * 4 * 256)


def test_dot_kernel_issues_twice_the_instructions_of_mmla_for_8x8x8():
    mmla = trace("qgemm-s8s8", 8, 8, 8, ort_version="1.29.0")  # the NEON SMMLA routine (1.30+: SVE)
    assert trace("qgemm-dot-s8s8", 8, 8, 8).counts["sdot"] == 2 * mmla.counts["smmla"]


def test_text_and_html():
    t = trace("qgemm-u8u8", 2, 2, 8, ort_version="1.29.0")
    text = t.to_text()
    assert "ummla" in text and "v16.4s" in text
    assert text.count("\n") == len(t) + 1
    assert "... " in t.to_text(limit=3)
    html = t._repr_html_()
    assert "<table>" in html and "ummla" in html
    assert len(t) == sum(t.counts.values())
    c_stores = sum(r.bytes_stored for r in t if any(c and c[0] == "C" for lanes in r.lanes.values() for c in lanes))
    assert t.bytes_loaded > 0 and c_stores == 2 * 2 * 4 < t.bytes_stored  # and the saved registers


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("bfmmla", 8, 8, 8), {}, "unknown kernel"),
        (("sbgemm", 0, 8, 8), {}, "M must be"),
        (("sbgemm", 8, 2.0, 8), {}, "N must be"),
        (("sbgemm", 8, 8, True), {}, "K must be"),
        (("sbgemm", 8, 8, 8), {"threads": 0}, "threads"),
        (("sbgemm", 8, 8, 8), {"packed_b": "yes"}, "packed_b"),
        (("sbgemm", 8, 8, 8), {"ort_version": "1.16.0"}, "1.17.0"),
        (("sbgemm", 4096, 4096, 4096), {}, "too large"),
    ],
)
def test_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        trace(*args, **kwargs)


# The kernel models of mlas_emu.mlas run the same kernels instruction by instruction on register
# images (a separate implementation of the loops): their multiply counts must agree with traces.
CROSS_SHAPES = [(8, 8, 8), (3, 5, 6), (13, 7, 9), (1, 17, 33), (5, 131, 259), (10, 8, 300)]


@pytest.mark.filterwarnings("ignore::mlas_emu.errors.OrtDefectWarning")
@pytest.mark.parametrize(("M", "N", "K"), CROSS_SHAPES)
@pytest.mark.parametrize("packed_b", [True, False])
def test_counts_agree_with_the_mlas_instruction_paths(M, N, K, packed_b):
    import numpy as np

    from mlas_emu.mlas.qgemm import qgemm
    from mlas_emu.mlas.sbgemm import sgemm_bf16

    A = np.zeros((M, K), np.float32)
    B = np.zeros((K, N), np.float32)
    got = []
    sgemm_bf16(A, B, packed_b=packed_b, path="instructions", trace=got)
    assert Counter(r.mnemonic for r in got)["bfmmla"] == trace("sbgemm", M, N, K, packed_b=packed_b).counts["bfmmla"]
    for kernel, adt, bdt, op in [("qgemm-u8s8", np.uint8, np.int8, "ummla"), ("qgemm-s8s8", np.int8, np.int8, "smmla")]:
        for version in ("1.29.0", "1.32.0"):  # the assembly MMLA routine, the compiled SVE one
            got = []
            qgemm(np.zeros((M, K), adt), np.zeros((K, N), bdt), packed_b=packed_b, path="instructions", trace=got,
                  ort_version=version)
            expected = trace(kernel, M, N, K, packed_b=packed_b, ort_version=version).counts[op]
            assert Counter(r.mnemonic for r in got)[op] == expected


# ------------------------------------------------------------------------------------------------
# Against the real kernels: ONNX Runtime's aarch64 library under qemu-aarch64 counts the MMLA/DOT
# instructions it executes (mlas_emu.oracle.count_instructions). One session runs several
# products (one node each); the executed total must equal the sum of the traces.

U8, S8 = "u8", "s8"

# (op, M, N, K, A type, B type, B is an initializer). MatMul nodes keep N*K >= 32 (the fastmath
# gate); initializers are pre-packed by ONNX Runtime (packed_b=True), graph inputs are not.
FULL = [
    ("MatMul", 8, 8, 8, "f32", "f32", True),
    ("MatMul", 3, 5, 7, "f32", "f32", True),  # 2 + 1 rows, 6-wide block, K tail
    ("MatMul", 5, 131, 259, "f32", "f32", True),  # second N slice, K block of 3
    ("MatMul", 9, 17, 40, "f32", "f32", False),
    ("MatMul", 2, 24, 300, "f32", "f32", False),  # K stride widened past 256
    ("MatMulInteger", 16, 24, 20, U8, S8, True),
    ("MatMulInteger", 7, 9, 3, U8, U8, True),
    ("MatMulInteger", 5, 131, 400, S8, S8, True),  # K slices of 384
    ("MatMulInteger", 9, 20, 300, U8, S8, False),  # K slices of 256
]
SMALL = [FULL[0], FULL[1], FULL[3], FULL[5], FULL[6]]
DOT = [
    ("MatMulInteger", 8, 8, 8, U8, U8, True),
    ("MatMulInteger", 16, 24, 20, U8, S8, True),
    ("MatMulInteger", 7, 9, 3, S8, S8, True),
    ("MatMulInteger", 13, 21, 37, U8, U8, False),
    ("MatMulInteger", 5, 131, 100, S8, S8, False),
]


def _onnx_model(nodes):
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    dtypes = {"f32": np.float32, U8: np.uint8, S8: np.int8}
    rng = np.random.default_rng(0)
    inputs, inits, graph, outputs, feeds = [], [], [], [], {}
    for i, (op, M, N, K, at, bt, b_init) in enumerate(nodes):
        arrays = []
        for shape, t in (((M, K), at), ((K, N), bt)):
            dt = dtypes[t]
            if dt == np.float32:
                arrays.append(rng.standard_normal(shape).astype(dt))
            else:
                arrays.append(rng.integers(np.iinfo(dt).min, np.iinfo(dt).max + 1, shape).astype(dt))
        A, B = arrays
        inputs.append(helper.make_tensor_value_info(f"A{i}", helper.np_dtype_to_tensor_dtype(A.dtype), [M, K]))
        feeds[f"A{i}"] = A
        if b_init:
            inits.append(numpy_helper.from_array(B, f"B{i}"))
        else:
            inputs.append(helper.make_tensor_value_info(f"B{i}", helper.np_dtype_to_tensor_dtype(B.dtype), [K, N]))
            feeds[f"B{i}"] = B
        graph.append(helper.make_node(op, [f"A{i}", f"B{i}"], [f"Y{i}"]))
        out_type = TensorProto.INT32 if op == "MatMulInteger" else TensorProto.FLOAT
        outputs.append(helper.make_tensor_value_info(f"Y{i}", out_type, None))
    model = helper.make_model(helper.make_graph(graph, "products", inputs, outputs, inits),
                              opset_imports=[helper.make_opsetid("", 17)])  # fmt: skip
    model.ir_version = 8
    return model, feeds


def _traced_total(nodes, *, dot=False, threads=1, version=None):
    total: Counter = Counter()
    for op, M, N, K, at, bt, b_init in nodes:
        if op == "MatMul":
            # BFMMLA only: the process also converts B while packing it, outside the kernel routine
            # (every mnemonic of the routine: test_trace_counts_sbgemm.py)
            total["bfmmla"] += trace("sbgemm", M, N, K, packed_b=b_init, threads=threads).counts["bfmmla"]
            continue
        kind = f"{at}{bt}"
        kernel = ("qgemm-dot-" if dot else "qgemm-") + kind
        mnemonic = {True: "sdot" if kind == "s8s8" else "udot", False: "smmla" if kind == "s8s8" else "ummla"}[dot]
        total[mnemonic] += trace(kernel, M, N, K, packed_b=b_init, threads=threads, ort_version=version).counts[mnemonic]
    return dict(total)


@pytest.mark.oracle
@pytest.mark.parametrize("version", ["1.17.0", "1.27.0", "1.29.0"])
def test_mmla_counts_equal_the_real_kernels(oracle, version):
    nodes = FULL if version == "1.17.0" else SMALL
    model, feeds = _onnx_model(nodes)
    expected = _traced_total(nodes, version=version)
    got = oracle.count_instructions(model, feeds, mnemonics=tuple(expected), ort_version=version,
                                    session_config={oracle.FASTMATH_CONFIG_KEY: "1"})  # fmt: skip
    assert got == expected


@pytest.mark.oracle
@pytest.mark.parametrize("version, cpu", [("1.30.0", "graviton3"), ("1.32.0", "graviton4")])
def test_from_1_30_sve_cpus_run_an_sve_qgemm_kernel(oracle, version, cpu):
    """SBGEMM traces still equal the real kernel; QGEMM runs SVE UMMLA/SMMLA instead of the
    Advanced SIMD kernel, and a trace of that release is the SVE routine's schedule (its MMLA
    count equals the real one)."""
    nodes = [n for n in SMALL if n[0] == "MatMul"]
    model, feeds = _onnx_model(nodes)
    expected = _traced_total(nodes)
    got = oracle.count_instructions(model, feeds, mnemonics=tuple(expected), ort_version=version, cpu=cpu,
                                    session_config={oracle.FASTMATH_CONFIG_KEY: "1"})  # fmt: skip
    assert got == expected
    q_nodes = [n for n in SMALL if n[0] == "MatMulInteger"]
    model, feeds = _onnx_model(q_nodes)
    got = oracle.count_instructions(model, feeds, mnemonics=("ummla", "smmla", "sve_ummla", "sve_smmla"),
                                    ort_version=version, cpu=cpu)
    assert got["ummla"] == got["smmla"] == 0 and got["sve_ummla"] > 0
    assert got["sve_smmla"] > 0 if any(n[4] == S8 for n in q_nodes) else True
    traced = Counter()
    for _, M, N, K, at, bt, b_init in q_nodes:
        traced.update(trace(f"qgemm-{at}{bt}", M, N, K, packed_b=b_init, ort_version=version, cpu=cpu).counts)
    assert (traced["ummla"], traced["smmla"]) == (got["sve_ummla"], got["sve_smmla"])
    assert "SveImpl" in trace("qgemm-u8u8", 8, 8, 8, ort_version=version, cpu=cpu).routine()
    # None: the newest release (its SVE routine traced instruction by instruction too)
    assert trace("qgemm-u8u8", 8, 8, 8, cpu=cpu).ort_version == ORT_RELEASES[-1]


@pytest.mark.oracle
def test_dot_counts_equal_the_real_kernels(oracle):
    # -cpu neoverse-n1: DotProd without I8MM, so MLAS picks its UDOT/SDOT kernels.
    model, feeds = _onnx_model(DOT)
    expected = _traced_total(DOT, dot=True)
    got = oracle.count_instructions(model, feeds, mnemonics=tuple(expected), ort_version="1.17.0", cpu="graviton2")
    assert got == expected


def test_importing_teach_does_not_import_matplotlib():
    import subprocess
    import sys

    code = ("import sys, mlas_emu.teach, mlas_emu.teach.tracing, mlas_emu.teach.figures, "
            "mlas_emu.teach.throughput; mlas_emu.teach.trace('sbgemm', 2, 2, 4); "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.oracle
def test_fmla_counts_equal_the_real_sgemm(oracle):
    # fp32 MatMul without fastmath: MLAS SGEMM (FMLA by element), with K blocks of 256 joined in
    # add mode (C += acc * alpha, also FMLA), and the GEMV kernel for M = 1 with a non-packed B.
    shapes = [(4, 16, 300, True), (10, 8, 300, True), (1, 17, 33, False), (5, 20, 7, True)]
    model, feeds = _onnx_model([("MatMul", M, N, K, "f32", "f32", packed) for M, N, K, packed in shapes])
    expected = sum(trace("sgemm", M, N, K, packed_b=packed).counts["fmla"] for M, N, K, packed in shapes)
    got = oracle.count_instructions(model, feeds, mnemonics=("fmla",), ort_version="1.17.0")
    assert got == {"fmla": expected}
