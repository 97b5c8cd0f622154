"""``oracle.count_instructions``: executed MMLA/DOT counts of real ORT kernels, against the
counts measured independently by hand and recorded in docs/oracle.md (ORT 1.17.1, one thread), and
the instruction encodings it recognizes against the GNU assembler's."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

pytestmark = pytest.mark.oracle

ASSEMBLY = {  # one line of aarch64 assembly -> the mnemonic count_instructions should see
    "bfmmla v0.4s, v1.8h, v2.8h": "bfmmla",
    "smmla v3.4s, v4.16b, v5.16b": "smmla",
    "ummla v31.4s, v0.16b, v30.16b": "ummla",
    "usmmla v1.4s, v2.16b, v3.16b": "usmmla",
    "sdot v0.4s, v1.16b, v2.16b": "sdot",
    "sdot v0.2s, v1.8b, v2.8b": "sdot",
    "sdot v0.4s, v1.16b, v2.4b[3]": "sdot",
    "udot v7.4s, v8.16b, v9.16b": "udot",
    "udot v7.4s, v8.16b, v9.4b[1]": "udot",
    "usdot v0.4s, v1.16b, v2.16b": "usdot",
    "bfdot v0.4s, v1.8h, v2.8h": "bfdot",
    "bfdot v0.4s, v1.8h, v2.2h[1]": "bfdot",
    "bfcvtn v0.4h, v1.4s": "bfcvtn",
    "bfcvtn2 v0.8h, v1.4s": "bfcvtn",
    "fmla v0.4s, v1.4s, v2.4s": "fmla",
    "fmla v0.2d, v1.2d, v2.2d": "fmla",
    "fmla v0.4s, v1.4s, v2.s[3]": "fmla",
    "fmul v0.4s, v1.4s, v2.4s": None,
    "fmls v0.4s, v1.4s, v2.4s": None,
    "add v0.4s, v1.4s, v2.4s": None,
    "mul v0.4s, v1.4s, v2.4s": None,
    "ldr q0, [x1, #16]": None,
}


def test_encodings_match_the_assembler(oracle, tmp_path):
    from mlas_emu.oracle._count import classify

    gas = shutil.which("aarch64-linux-gnu-as")
    objcopy = shutil.which("aarch64-linux-gnu-objcopy")
    if not (gas and objcopy):
        pytest.fail("aarch64-linux-gnu binutils missing (installed with gcc-aarch64-linux-gnu)")
    source = tmp_path / "words.s"
    source.write_text(".arch armv8.6-a+bf16+i8mm+dotprod\n" + "\n".join(ASSEMBLY) + "\n")
    subprocess.run([gas, "-o", str(tmp_path / "words.o"), str(source)], check=True)
    subprocess.run([objcopy, "-O", "binary", "-j", ".text", str(tmp_path / "words.o"),
                    str(tmp_path / "words.bin")], check=True)
    words = np.fromfile(tmp_path / "words.bin", dtype="<u4")
    assert [classify(int(w)) for w in words] == list(ASSEMBLY.values())


def _matmul_model(M, N, K, dtype_a, dtype_b, op):
    from mlas_emu.oracle import _models

    rng = np.random.default_rng(0)
    if op == "MatMul":
        A, B = rng.standard_normal((M, K)).astype(np.float32), rng.standard_normal((K, N)).astype(np.float32)
        out = np.float32
    else:
        A, B = rng.integers(0, 100, (M, K)).astype(dtype_a), rng.integers(0, 100, (K, N)).astype(dtype_b)
        out = np.int32
    return _models.one_node_model(op, ["A", "B"], {"B": B}, {"A": A}, out), {"A": A}


@pytest.mark.slow
@pytest.mark.parametrize("op, types, cpu, expected", [
    ("MatMul", None, None, {"bfmmla": 32}),
    ("MatMulInteger", (np.uint8, np.uint8), None, {"ummla": 16}),
    ("MatMulInteger", (np.uint8, np.uint8), "graviton2", {"udot": 32}),
], ids=["sbgemm", "qgemm-u8u8", "qgemm-dot-u8u8"])
def test_executed_counts_match_the_recorded_measurements(oracle, op, types, cpu, expected):
    """M = N = K = 8, ORT 1.17.1, one thread (docs/oracle.md)."""
    dtype_a, dtype_b = types or (None, None)
    model, feeds = _matmul_model(8, 8, 8, dtype_a, dtype_b, op)
    config = {oracle.FASTMATH_CONFIG_KEY: "1"} if op == "MatMul" else None
    counts = oracle.count_instructions(model, feeds, mnemonics=("bfmmla", "ummla", "smmla", "udot", "sdot"),
                                       ort_version="1.17.0", session_config=config, cpu=cpu)
    assert {k: v for k, v in counts.items() if v} == expected


def test_unknown_mnemonics_are_rejected(oracle):
    with pytest.raises(ValueError, match="unknown mnemonics"):
        oracle.count_instructions(b"", {}, mnemonics=("bfmmla", "vaddq"))


@pytest.mark.slow
def test_two_run_recipe_gives_the_recorded_count(oracle, tmp_path):
    """The two-run recipe of docs/oracle.md (used when the one-run fast path does not apply): MatMulInteger
    u8s8, M=16, N=24, K=20, executes 288 UMMLA (docs/oracle.md)."""
    from mlas_emu.oracle import _count

    model, feeds = _matmul_model(16, 24, 20, np.uint8, np.int8, "MatMulInteger")
    run = _count._run_request(model, feeds, None, 1, None)
    counts = _count._count_two_runs(run, "1.17.0", oracle.DEFAULT_CPU, ("ummla", "smmla"), tmp_path)
    assert counts == {"ummla": 288, "smmla": 0}
