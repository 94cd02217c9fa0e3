"""A/B timing of two builds of deepseek on the ops whose CPU path a change touched.

Runs the same small suite (matmul from 8x8 to 1024x1024, batched matmul, conv2d forward and
backward, cat, where, sort, gather, randn) under this checkout's build and under another
build's ``python`` folder (``--old``), alternating the two in fresh processes ``--rounds``
times, and prints each op's best time per build and the ratio (> 1.00x: this build faster).

    PYTHONPATH=python .venv/bin/python bench/build_ab.py --old /path/to/old/python
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import timeit

SUITE = """
import numpy as np, deepseek as ds
r = np.random.default_rng(0)
def t(*s): return ds.tensor(r.standard_normal(s).astype(np.float32))
a8, b8 = t(8, 8), t(8, 8)
a64, b64 = t(64, 64), t(64, 64)
a256, b256 = t(256, 256), t(256, 256)
a1k, b1k = t(1024, 1024), t(1024, 1024)
ba, bb = t(32, 64, 64), t(32, 64, 64)
x, w = t(8, 16, 32, 32), t(32, 16, 3, 3)
xg = t(8, 16, 32, 32).requires_grad_()
c = t(64, 64) > 0
idx = ds.tensor(r.integers(0, 64, (64, 64)))
s1 = t(256, 256)
def conv_fwd_bwd():
    y = ds.nn.functional.conv2d(xg, w, padding=1)
    y.sum().backward()
CASES = {
    "matmul 8x8": (lambda: a8 @ b8, 2000),
    "matmul 64x64": (lambda: a64 @ b64, 500),
    "matmul 256x256": (lambda: a256 @ b256, 50),
    "matmul 1024x1024": (lambda: a1k @ b1k, 3),
    "bmm 32x64x64": (lambda: ba @ bb, 50),
    "conv2d 8x16x32x32 k3": (lambda: ds.nn.functional.conv2d(x, w, padding=1), 10),
    "conv2d fwd+bwd": (conv_fwd_bwd, 3),
    "cat 2x(64x64)": (lambda: ds.cat([a64, b64], 1), 2000),
    "where 64x64": (lambda: ds.where(c, a64, b64), 2000),
    "sort 256x256": (lambda: ds.sort(s1, 1), 20),
    "gather 64x64": (lambda: ds.gather(a64, 1, idx), 1000),
    "randn 64x64": (lambda: ds.randn(64, 64), 1000),
}
"""


def run_suite(number_scale: float) -> dict:
    env: dict = {}
    exec(SUITE, env)
    out = {}
    for name, (fn, number) in env["CASES"].items():
        n = max(1, int(number * number_scale))
        fn()
        out[name] = min(timeit.repeat(fn, number=n, repeat=3)) / n
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--old", required=True, help="the other build's python folder (put first on PYTHONPATH)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies every case's iteration count")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run_suite(args.scale)))
        return
    here = os.environ.get("PYTHONPATH", "")
    best = {"new": {}, "old": {}}
    for _ in range(args.rounds):
        for tag, path in (("new", here), ("old", args.old)):
            env = dict(os.environ, PYTHONPATH=path)
            res = subprocess.run([sys.executable, __file__, "--old", args.old, "--child", "--scale", str(args.scale)],
                                 env=env, capture_output=True, text=True, check=True)
            for k, v in json.loads(res.stdout.strip().splitlines()[-1]).items():
                best[tag][k] = min(v, best[tag].get(k, float("inf")))
    print(f"| op | this build (us) | other build (us) | ratio |\n|---|---|---|---|")
    for k in best["new"]:
        n, o = best["new"][k] * 1e6, best["old"][k] * 1e6
        print(f"| {k} | {n:.1f} | {o:.1f} | {o / n:.2f}x |")


if __name__ == "__main__":
    main()
