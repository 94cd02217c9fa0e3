"""deepseek.linalg (faer kernels) beside NumPy (LAPACK through OpenBLAS) and, when installed,
PyTorch, in one process: solve, inv, svd, eigh and cholesky on float64 n x n matrices.

Usage:
    python bench/linalg.py [--threads N] [--repeats R] [--sizes 64,256,1024] [--dtype float64]

Each cell is the median of R timed samples after warmup (a sample loops for >= ~20 ms). Ratios
are speed ratios: the other library's time / deepseek's time, so > 1.00x means deepseek is
faster. A script, not a test: it never asserts on timings.
"""
from __future__ import annotations

import sys

from _machine import pin_threads

THREADS = pin_threads(sys.argv[1:])

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import deepseek as ds  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:  # the script works without torch
    torch = None


def bench(fn, repeats, warmup=2, min_sample_s=0.02):
    """Median seconds per call of fn()."""
    for _ in range(warmup):
        fn()
    inner = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_sample_s:
            break
        inner *= 2 if dt <= 0 else max(2, min(64, int(min_sample_s / dt) + 1))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def inputs(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    s = np.linspace(1.0, 3.0, n)
    a = (q * s) @ q.T  # symmetric positive definite, well conditioned
    b = rng.standard_normal((n, n))
    return a.astype(dtype), b.astype(dtype)


def cases(a, b):
    """{op: (deepseek fn, numpy fn, torch fn or None)}"""
    A, B = ds.from_numpy(a), ds.from_numpy(b)
    out = {
        "solve": (lambda: ds.linalg.solve(A, B), lambda: np.linalg.solve(a, b)),
        "inv": (lambda: ds.linalg.inv(A), lambda: np.linalg.inv(a)),
        "svd": (lambda: ds.linalg.svd(B, full_matrices=False), lambda: np.linalg.svd(b, full_matrices=False)),
        "eigh": (lambda: ds.linalg.eigh(A), lambda: np.linalg.eigh(a)),
        "cholesky": (lambda: ds.linalg.cholesky(A), lambda: np.linalg.cholesky(a)),
    }
    if torch is None:
        return {k: (d, n, None) for k, (d, n) in out.items()}
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    tfn = {
        "solve": lambda: torch.linalg.solve(ta, tb),
        "inv": lambda: torch.linalg.inv(ta),
        "svd": lambda: torch.linalg.svd(tb, full_matrices=False),
        "eigh": lambda: torch.linalg.eigh(ta),
        "cholesky": lambda: torch.linalg.cholesky(ta),
    }
    return {k: (d, n, tfn[k]) for k, (d, n) in out.items()}


def fmt(s):
    return f"{s * 1e3:9.3f}" if s is not None else "        -"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=THREADS)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", default="64,256,1024")
    ap.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    args = ap.parse_args(argv)
    ds.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"threads={args.threads} dtype={args.dtype} numpy={np.__version__} "
          f"torch={torch.__version__ if torch is not None else 'not installed'}")
    print(f"| {'op':<9} | {'n':>5} | {'deepseek ms':>11} | {'numpy ms':>9} | {'torch ms':>9} | {'vs numpy':>8} | {'vs torch':>8} |")
    print(f"|{'-' * 11}|{'-' * 7}|{'-' * 13}|{'-' * 11}|{'-' * 11}|{'-' * 10}|{'-' * 10}|")
    for n in (int(s) for s in args.sizes.split(",")):
        a, b = inputs(n, args.dtype)
        for op, (d, npf, tf) in cases(a, b).items():
            td = bench(d, args.repeats)
            tn = bench(npf, args.repeats)
            tt = bench(tf, args.repeats) if tf is not None else None
            vt = f"{tt / td:7.2f}x" if tt is not None else "       -"
            print(f"| {op:<9} | {n:>5} | {fmt(td):>11} | {fmt(tn)} | {fmt(tt)} | {tn / td:7.2f}x | {vt} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
