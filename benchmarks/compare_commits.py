"""Speed of two commits side by side, in one run on one host: ``python benchmarks/compare_commits.py OLD NEW``.

Each commit is checked out into a temporary worktree; the two are timed alternately, in fresh
processes (each warms up first: compilation is not timed), on the same workloads:
``sgemm_bf16`` (SBGEMM fast path) and ``qgemm`` at 512^3 and the fp32 SGEMM of ``ort.matmul``.
Prints the best time of each and the ratio new/old, and the host's vector extensions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

WORKLOADS = {
    "sgemm_bf16 512^3": "mlas_emu.sgemm_bf16(A, B)",
    "qgemm u8s8 512^3": "mlas_emu.qgemm(Au, Bs)",
    "ort.matmul fp32 512^3": "mlas_emu.ort.matmul(A, B, fastmath=False)",
}

_PROBE = """
import json, sys, time, numpy as np, mlas_emu, mlas_emu.ort
rng = np.random.default_rng(0)
A = rng.standard_normal((512, 512)).astype(np.float32); B = rng.standard_normal((512, 512)).astype(np.float32)
Au = rng.integers(0, 256, (512, 512), dtype=np.uint8); Bs = rng.integers(-128, 128, (512, 512), dtype=np.int8)
fn = lambda: {expr}
fn()
best = float("inf")
for _ in range({repeat}):
    t = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t)
print(json.dumps(best))
"""


def _time(tree: Path, expr: str, repeat: int) -> float:
    out = subprocess.run([sys.executable, "-c", _PROBE.format(expr=expr, repeat=repeat)], cwd=tree,
                         env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def host_vector_extensions() -> str:
    flags = Path("/proc/cpuinfo").read_text().split("flags", 2)[1].split("\n", 1)[0].split()
    return " ".join(f for f in flags if f.startswith(("avx", "sse4", "fma")))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of old and new")
    args = parser.parse_args(argv)
    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for name in ("old", "new"):
            trees[name] = Path(tmp) / name
            subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(trees[name]), getattr(args, name)],
                           check=True, capture_output=True)
        try:
            print(f"host: {host_vector_extensions()}")
            for label, expr in WORKLOADS.items():
                best = {"old": float("inf"), "new": float("inf")}
                for _ in range(args.rounds):
                    for name in ("old", "new"):
                        best[name] = min(best[name], _time(trees[name], expr, args.repeat))
                print(f"{label}: old {best['old'] * 1e3:.1f} ms, new {best['new'] * 1e3:.1f} ms, "
                      f"new/old {best['new'] / best['old']:.2f}")
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], capture_output=True)


if __name__ == "__main__":
    main()
