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


#: Every instruction ORT 1.27.0's SBGEMM routines execute (graviton3, one thread, packed B,
#: fastmath MatMul, M = N = K = 8), measured earlier from a QEMU exec trace of the routines and
#: objdump's mnemonics, before count_kernel_instructions existed: 173 instructions.
SBGEMM_1_27_0_8x8x8 = {
    "bfmmla": 32, "bfcvtn": 8, "bfcvtn2": 8, "uzp1": 8, "uzp2": 8, "ldr": 25, "ldp": 9, "stp": 17,
    "mov": 19, "movz": 1, "eor": 4, "add": 15, "sub": 4, "cmp": 4, "b": 4, "cbz": 3, "tbz": 2,
    "tbnz": 1, "ret": 1,
}


@pytest.mark.slow
def test_sbgemm_routines_execute_the_earlier_measured_breakdown(oracle):
    if "1.27.0" not in oracle.DEFAULT_SETUP_VERSIONS:
        pytest.fail("1.27.0 left the oracle's default setup; move this measurement to a release it has")
    model, feeds = _matmul_model(8, 8, 8, None, None, "MatMul")
    got = oracle.count_kernel_instructions(model, feeds, "sbgemm", ort_version="1.27.0",
                                           session_config={oracle.FASTMATH_CONFIG_KEY: "1"})
    assert got == SBGEMM_1_27_0_8x8x8
    assert sum(got.values()) == 173


def _recorded(key):
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parents[1] / "data" / "kernel_counts.json").read_text())
    return data["cases"][key]


@pytest.mark.slow
@pytest.mark.parametrize("key", ["1.32.0/sgemm-8x8x8-packed", "1.32.0/qgemm-dot-u8u8-8x8x8-packed"])
def test_recorded_kernel_counts_are_reproduced(oracle, key):
    """A consistency check: the file was written by the same function; this catches a change
    of the routine finder, the normalisation or the recorded inputs."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))
    try:
        import record_kernel_counts as record
    finally:
        sys.path.pop(0)
    release, name = key.split("/")
    if release not in oracle.DEFAULT_SETUP_VERSIONS:
        pytest.fail(f"{release} is not in the oracle's default setup")
    assert record.measure(name, release) == _recorded(key)


def test_unknown_kernels_are_rejected(oracle):
    with pytest.raises(ValueError, match="unknown kernel"):
        oracle.count_kernel_instructions(b"", {}, "hgemm")
