"""``mlas-emu demo``: the MiniLM comparison, or one BFMMLA instruction worked through.

By default the demo runs all-MiniLM-L6-v2 under fp32, bf16 fastmath and int8 as ONNX Runtime
would on Graviton (:mod:`mlas_emu.analysis.demo`). ``mlas-emu demo --bfmmla`` shows the 2x4 (A) and 4x2 (B) bf16 operands and the 2x2 fp32 accumulator (C), the lanes of the
three registers, every BFDotAdd step with its round-to-odd sums (Arm ARM DDI0487 M.a.a,
BFMatMulAddH -> BFDotAdd -> BFMulH / FPAdd_BF16 -> BFRound), and the result next to the fp32
and float64 products.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .analysis.cli import add_session_options
from ._cli_args import cli_type, writable_folder

#: The example: chosen so that some sums need more than fp32's 24 bits (round to odd shows).
A_VALUES = [[1.5, -2.25, 0.0078125, 96.0], [0.1, 300.0, -0.375, 1.0e-3]]
B_VALUES = [[3.0, 0.5], [1.0 / 3.0, -7.0], [1000.0, 0.2], [-0.0625, 2.5e-4]]
C_VALUES = [[1.0, -0.0], [16777216.0, 0.3]]


#: ``mlas-emu demo --help``'s description (plain text: argparse shows it as written).
DESCRIPTION = ("Embed a few sentences with all-MiniLM-L6-v2 under fp32, bf16 fastmath and int8 as ONNX "
               "Runtime computes them on Graviton, print how the embeddings change and save a plot; "
               "or, with --bfmmla, work one BFMMLA instruction through step by step.")


def register(sub):
    p = sub.add_parser("demo", help="MiniLM embeddings under fp32, bf16 fastmath and int8 as Graviton computes them",
                       description=DESCRIPTION)
    p.add_argument("--bfmmla", action="store_true",
                   help="instead, work one BFMMLA instruction through step by step")
    p.add_argument("--out-dir", type=cli_type(writable_folder), default=None, metavar="DIR",
                   help="existing folder where the MiniLM demo saves its plot (default: the current folder)")
    add_session_options(p)
    p.set_defaults(func=run)


def run(args=None) -> int:
    if args is None or getattr(args, "bfmmla", False):
        print(worked_example())
        return 0
    from .analysis.demo import run as run_minilm

    return run_minilm(args)


def _f32(bits: int) -> float:
    return float(np.uint32(bits).view(np.float32))


def _fmt32(bits: int) -> str:
    return f"0x{int(bits):08X} = {_f32(bits):.9g}"


def _fmt16(bits: int) -> str:
    return f"0x{int(bits):04X} = {float((np.uint32(bits) << 16).view(np.float32)):.6g}"


def _rounded(x_bits: int, y_bits: int, bits: int) -> str:
    """Say whether BFRound changed the sum of two fp32 values (compared exactly)."""
    exact = Fraction(_f32(x_bits)) + Fraction(_f32(y_bits))
    return "exact" if exact == Fraction(_f32(bits)) else f"exact {float(exact):.17g}, round to odd"


def worked_example() -> str:
    from .isa import bfcvt, bfmmla
    from .isa.bf16 import bf_add, bf_dot_add, bf_mul

    A = bfcvt(np.array(A_VALUES, np.float32))
    B = bfcvt(np.array(B_VALUES, np.float32))
    C = np.array(C_VALUES, np.float32)
    vn = A.reshape(8).view(np.uint16)
    vm = np.ascontiguousarray(B.T).reshape(8).view(np.uint16)
    vd = C.reshape(4).view(np.uint32)
    out = ["BFMMLA Vd.4S, Vn.8H, Vm.8H: C (2x2 fp32) += A (2x4 bf16) @ B (4x2 bf16)", ""]
    out += ["A, rounded to bf16 by BFCVT (round to nearest even):",
            *("  " + "  ".join(f"{float(v):>12.6g}" for v in row) for row in A.astype(np.float32)),
            "B, rounded to bf16:",
            *("  " + "  ".join(f"{float(v):>12.6g}" for v in row) for row in B.astype(np.float32)),
            "C (fp32 accumulator):",
            *("  " + "  ".join(f"{float(v):>12.9g}" for v in row) for row in C), ""]
    out.append("Register lanes (one 128-bit segment):")
    out += [f"  vn[{4 * i + k}] = A[{i},{k}] = {_fmt16(vn[4 * i + k])}" for i in range(2) for k in range(4)]
    out += [f"  vm[{4 * j + k}] = B[{k},{j}] = {_fmt16(vm[4 * j + k])}" for j in range(2) for k in range(4)]
    out += [f"  vd[{2 * i + j}] = C[{i},{j}] = {_fmt32(vd[2 * i + j])}" for i in range(2) for j in range(2)]
    out += ["", "Each C lane takes two BFDotAdd steps, k = (0,1) then (2,3): products rounded (BFMulH),",
            "their sum rounded (FPAdd_BF16), then added to the accumulator and rounded again; every",
            "rounding is round to odd into fp32 (truncate, then set bit 0 if anything was dropped),",
            "with denormals flushed to zero.", ""]
    for i in range(2):
        for j in range(2):
            acc = int(vd[2 * i + j])
            out.append(f"C[{i},{j}]: start {_fmt32(acc)}")
            for k in range(2):
                a0, a1 = vn[4 * i + 2 * k], vn[4 * i + 2 * k + 1]
                b0, b1 = vm[4 * j + 2 * k], vm[4 * j + 2 * k + 1]
                p0, p1 = int(bf_mul(a0, b0)), int(bf_mul(a1, b1))
                pair = int(bf_add(np.uint32(p0), np.uint32(p1)))
                new = int(bf_dot_add(np.uint32(acc), a0, a1, b0, b1))
                assert new == int(bf_add(np.uint32(acc), np.uint32(pair)))
                out += [f"  k={2 * k},{2 * k + 1}: products {_fmt32(p0)} and {_fmt32(p1)}",
                        f"          pair sum  {_fmt32(pair)}  ({_rounded(p0, p1, pair)})",
                        f"          + acc  -> {_fmt32(new)}  ({_rounded(acc, pair, new)})"]
                acc = new
    got = bfmmla(vd, vn, vm).view(np.uint32)
    a32, b32 = A.astype(np.float32), B.astype(np.float32)
    fp32 = (C + a32 @ b32).reshape(4)
    f64 = (C.astype(np.float64) + a32.astype(np.float64) @ b32.astype(np.float64)).reshape(4)
    out += ["", "Result lanes: BFMMLA (round to odd) | numpy float32 C + A @ B | float64 C + A @ B"]
    for lane in range(4):
        out.append(f"  vd[{lane}] {_f32(got[lane]):>18.9g} | {float(fp32[lane]):>18.9g} | {f64[lane]:>22.17g}")
    out.append("Run the same instruction yourself: mlas_emu.isa.bfmmla(vd, vn, vm), or bfmmla_tile(C, A, B).")
    return "\n".join(out)
