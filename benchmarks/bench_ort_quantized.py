"""The quantized ONNX operators (``mlas_emu.ort``) against the QGEMM they call, side by side.

Goal: on the same u8 x s8 product (M = N = K = 1024, scalar zero points, 1 emulated intra-op
thread), ``matmul_integer`` and ``dynamic_quantize_matmul`` (float32 A quantized to u8, scalar
B scale and zero point) each take at most 3x the time of ``mlas_emu.qgemm``: the operator's own
work (argument checks, output shape, A's quantization, the float output stage) stays small next
to the product. ``matmul_integer_batched`` is the same product with A given as 16 x (M/16) x K
(ONNX Runtime flattens it into one GEMM against the 2-D B). All go through the same QGEMM driver
model (``mlas_emu.mlas.qgemm.gemm_batch``). Best of ``--repeat`` calls after one warm-up
(compiled code loaded).

    python benchmarks/bench_ort_quantized.py [--size 1024] [--repeat 3] [--json]
"""

from __future__ import annotations

import json

import numpy as np

import mlas_emu
from _timing import best_time
from mlas_emu import ort

GOAL = 3.0
OPS = ("matmul_integer", "matmul_integer_batched", "dynamic_quantize_matmul")
ZP_A, ZP_B, SCALE_B = np.uint8(7), np.int8(-3), np.float32(0.02)


def _operands(size: int):
    rng = np.random.default_rng(0)
    A = rng.integers(0, 256, (size, size), dtype=np.uint8)
    B = rng.integers(-128, 128, (size, size), dtype=np.int8)
    Af = rng.standard_normal((size, size)).astype(np.float32)
    return A, B, Af


def run(size: int, repeat: int) -> dict:
    A, B, Af = _operands(size)
    calls = {
        "qgemm_s": lambda: mlas_emu.qgemm(A, B, ZP_A, ZP_B, threads=1),
        "matmul_integer_s": lambda: ort.matmul_integer(A, B, ZP_A, ZP_B, threads=1),
        "matmul_integer_batched_s": lambda: ort.matmul_integer(A.reshape(16, -1, size), B, ZP_A, ZP_B, threads=1),
        "dynamic_quantize_matmul_s": lambda: ort.dynamic_quantize_matmul(Af, B, SCALE_B, ZP_B, threads=1),
    }
    result = {"size": size, "repeat": repeat, "goal_ratio": GOAL}
    result.update({key: best_time(fn, repeat) for key, fn in calls.items()})
    for op in OPS:
        ratio = result[f"{op}_s"] / result["qgemm_s"]
        result[f"{op}_ratio"] = ratio
        result[f"{op}_meets_goal"] = ratio <= GOAL
    return result


def _args(argv):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv=None):
    args = _args(argv)
    result = run(args.size, args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"M=N=K={result['size']}, u8 x s8, 1 emulated thread, best of {result['repeat']}")
    print(f"  {'mlas_emu.qgemm:':36} {1e3 * result['qgemm_s']:8.2f} ms")
    for op in OPS:
        verdict = "met" if result[f"{op}_meets_goal"] else "NOT met"
        print(f"  {'ort.' + op + ':':36} {1e3 * result[f'{op}_s']:8.2f} ms"
              f"  ratio {result[f'{op}_ratio']:.2f} (goal <= {GOAL}): {verdict}")

if __name__ == "__main__":
    main()
