"""Sparse benchmark: CSR × dense products and a pruned MLP, beside dense deepseek, SciPy and
(when installed) PyTorch's sparse tensors, in one process.

Usage:
    python bench/sparse.py [--threads N] [--repeats R] [--n 4096] [--cols 256]

Every number is the median of R timed samples taken after a warmup call. Ratios are speed
ratios (the other's time / deepseek's sparse time), so > 1.00x means deepseek's sparse product
is faster. SciPy's CSR product is single-threaded; PyTorch's uses its own threads.

This is a script, not a test: it never asserts on timings.
"""
from __future__ import annotations

import sys

from _machine import pin_threads

THREADS = pin_threads(sys.argv[1:])

import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

import deepseek as ds  # noqa: E402
from deepseek.nn.utils import prune  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:  # the script works without torch
    torch = None


def timed(f, repeats):
    """Median seconds of ``repeats`` calls after one warmup call."""
    f()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def ratio(other, mine):
    return "-" if other is None else f"{other / mine:.2f}x"


def ms(t):
    return "-" if t is None else f"{t * 1e3:.2f}"


def spmm_rows(n, cols, repeats):
    rows = []
    rng = np.random.default_rng(0)
    dense_np = rng.standard_normal((n, cols)).astype(np.float32)
    b = ds.tensor(dense_np)
    for sparsity in (0.90, 0.95, 0.99):
        a = sp.random(n, n, density=1 - sparsity, format="csr", random_state=rng, dtype=np.float32)
        a.sort_indices()
        s = ds.sparse_csr_tensor(ds.tensor(a.indptr.astype(np.int64)), ds.tensor(a.indices.astype(np.int64)),
                                 ds.tensor(a.data), (n, n))
        w = s.to_dense()
        t_sparse = timed(lambda: s @ b, repeats)
        t_dense = timed(lambda: w @ b, repeats)
        t_scipy = timed(lambda: a @ dense_np, repeats)
        t_torch = None
        if torch is not None:
            ts = torch.sparse_csr_tensor(torch.from_numpy(a.indptr.astype(np.int64)), torch.from_numpy(a.indices.astype(np.int64)),
                                         torch.from_numpy(a.data), (n, n))
            tb = torch.from_numpy(dense_np)
            t_torch = timed(lambda: ts @ tb, repeats)
        rows.append((f"CSR {n}x{n} @ {n}x{cols}, {sparsity:.0%} sparse", t_sparse, t_dense, t_scipy, t_torch))
    return rows


def mlp_rows(width, batch, repeats):
    ds.manual_seed(0)
    dense = ds.nn.Sequential(ds.nn.Linear(width, width), ds.nn.ReLU(), ds.nn.Linear(width, width), ds.nn.ReLU(),
                             ds.nn.Linear(width, width))
    linears = [m for m in dense.modules() if isinstance(m, ds.nn.Linear)]
    prune.global_unstructured([(m, "weight") for m in linears], pruning_method=prune.L1Unstructured, amount=0.9)
    for m in linears:
        prune.remove(m, "weight")
    sparse = ds.nn.Sequential(*[prune.to_sparse_linear(m) if isinstance(m, ds.nn.Linear) else m for m in dense])
    x = ds.randn(batch, width)
    with ds.no_grad():
        assert float((sparse(x) - dense(x)).abs().max()) < 1e-3
        t_sparse = timed(lambda: sparse(x), repeats)
        t_dense = timed(lambda: dense(x), repeats)
    return [(f"pruned MLP 3x{width}, batch {batch}, 90% sparse", t_sparse, t_dense, None, None)]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=THREADS)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--cols", type=int, default=256)
    p.add_argument("--width", type=int, default=2048)
    p.add_argument("--batch", type=int, default=64)
    args = p.parse_args()
    ds.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"# bench/sparse.py  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC  "
          f"{platform.machine()}  threads={args.threads}  torch={'-' if torch is None else torch.__version__}  float32")
    print()
    print("| case | deepseek sparse ms | dense deepseek ms | scipy ms | torch sparse ms | vs dense | vs scipy | vs torch |")
    print("|---|---|---|---|---|---|---|---|")
    for name, t_s, t_d, t_sc, t_t in spmm_rows(args.n, args.cols, args.repeats) + mlp_rows(args.width, args.batch, args.repeats):
        print(f"| {name} | {ms(t_s)} | {ms(t_d)} | {ms(t_sc)} | {ms(t_t)} | {ratio(t_d, t_s)} | {ratio(t_sc, t_s)} | {ratio(t_t, t_s)} |")


if __name__ == "__main__":
    main()
