"""Op-level benchmark: deepseek beside NumPy and (when installed) PyTorch, in one process.

Usage:
    python bench/ops.py [--threads N] [--repeats R] [--quick]

Without torch installed the torch columns are skipped. To compare against a torch that lives in
a separate virtual environment, run that venv's python with the in-tree package on the path:

    PYTHONPATH=python .venv-bench/bin/python bench/ops.py

Every number is the median of R timed samples, each taken after warmup calls; a sample times a
loop of enough calls to last >= ~20 ms, so short ops are not dominated by timer resolution.
Ratios are *speed* ratios: deepseek's throughput / the other library's throughput (for time
metrics: other's time / deepseek's time), so > 1.00x means deepseek is faster.

This is a script, not a test: it never asserts on timings.
"""
from __future__ import annotations

import os
import sys

from _machine import physical_cores as _physical_cores, pin_threads


THREADS = pin_threads(sys.argv[1:])

import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

import deepseek as ds  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:  # the script must work without torch
    torch = None

# ----------------------------------------------------------------------------------- timing


def bench(fn, repeats: int, warmup: int = 3, min_sample_s: float = 0.02) -> float:
    """Median seconds per call of fn(), over `repeats` samples of an auto-sized inner loop."""
    for _ in range(warmup):
        fn()
    # calibrate the inner loop so one sample lasts at least min_sample_s
    inner = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_sample_s or inner >= 1 << 20:
            break
        inner *= 2 if dt <= 0 else max(2, min(64, int(min_sample_s / dt) + 1))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def overhead_us(stmt_fn, number: int, repeats: int) -> float:
    """Median microseconds per call via timeit with many iterations."""
    for _ in range(1000):
        stmt_fn()
    times = timeit.repeat(stmt_fn, number=number, repeat=repeats)
    return statistics.median(times) / number * 1e6


# ----------------------------------------------------------------------------------- rows

ROWS = {}  # (op, size) -> [unit, higher_is_better, [ds...], [np...], [torch...]] (one value per run)


def row(op, size, unit, higher_better, v_ds, v_np, v_torch):
    r = ROWS.setdefault((op, size), [unit, higher_better, [], [], []])
    for lst, v in zip(r[2:], (v_ds, v_np, v_torch)):
        if v is not None:
            lst.append(v)
    print(f"  measured {op:<22} {size:<12} ds={_fmt(v_ds)} np={_fmt(v_np)} torch={_fmt(v_torch)} {unit}",
          file=sys.stderr, flush=True)


def _fmt(v):
    if v is None:
        return "-"
    return f"{v:.3g}" if v < 100 else f"{v:.1f}"


def _ratio(v_ds, v_other, higher_better):
    if v_ds is None or v_other is None or v_ds <= 0 or v_other <= 0:
        return "-"
    r = v_ds / v_other if higher_better else v_other / v_ds
    return f"{r:.2f}x"


# ----------------------------------------------------------------------------------- benchmarks


def rng_np(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def to_ds(a):
    # a copy owned by deepseek (not a view of the numpy buffer)
    return ds.tensor(a)


def to_torch(a):
    return torch.from_numpy(a.copy())


def bench_matmul(sizes, repeats):
    for n in sizes:
        a, b = rng_np((n, n), 1), rng_np((n, n), 2)
        flop = 2.0 * n ** 3
        reps = max(3, repeats if n < 2048 else min(repeats, 5))
        da, db = to_ds(a), to_ds(b)
        # correctness sanity (not a timing assert): report a large error loudly
        err = float(np.max(np.abs((da @ db).numpy() - a @ b))) / max(1.0, float(np.max(np.abs(a @ b))))
        if err > 1e-3:
            print(f"WARNING: deepseek matmul n={n} rel error {err:.2e}", file=sys.stderr)
        g_ds = flop / bench(lambda: da @ db, reps, warmup=2) / 1e9
        g_np = flop / bench(lambda: a @ b, reps, warmup=2) / 1e9
        g_t = None
        if torch is not None:
            ta, tb = to_torch(a), to_torch(b)
            g_t = flop / bench(lambda: ta @ tb, reps, warmup=2) / 1e9
        row("matmul f32", f"{n}x{n}", "GFLOP/s", True, g_ds, g_np, g_t)


def bench_elementwise(sizes, repeats):
    for name in ("add", "mul", "exp"):
        for n in sizes:
            a, b = rng_np(n, 3), rng_np(n, 4)
            if name == "exp":
                a = np.clip(a, -10, 10)
            nbytes = 4 * n * (3 if name != "exp" else 2)  # read inputs + write output
            da, db = to_ds(a), to_ds(b)
            if name == "add":
                f_ds, f_np = (lambda: da + db), (lambda: a + b)
            elif name == "mul":
                f_ds, f_np = (lambda: da * db), (lambda: a * b)
            else:
                f_ds, f_np = (lambda: ds.exp(da)), (lambda: np.exp(a))
            v_ds = nbytes / bench(f_ds, repeats) / 1e9
            v_np = nbytes / bench(f_np, repeats) / 1e9
            v_t = None
            if torch is not None:
                ta, tb = to_torch(a), to_torch(b)
                f_t = {"add": lambda: ta + tb, "mul": lambda: ta * tb, "exp": lambda: torch.exp(ta)}[name]
                v_t = nbytes / bench(f_t, repeats) / 1e9
            row(f"{name} f32", _human(n), "GB/s", True, v_ds, v_np, v_t)


def bench_sum(n, repeats):
    a = rng_np(n, 5)
    nbytes = 4 * n
    da = to_ds(a)
    v_ds = nbytes / bench(lambda: da.sum(), repeats) / 1e9
    v_np = nbytes / bench(lambda: a.sum(), repeats) / 1e9
    v_t = None
    if torch is not None:
        ta = to_torch(a)
        v_t = nbytes / bench(lambda: ta.sum(), repeats) / 1e9
    row("sum f32 (full)", _human(n), "GB/s", True, v_ds, v_np, v_t)


def bench_overhead(number, repeats):
    a, b = rng_np(4, 6), rng_np(4, 7)
    da, db = to_ds(a), to_ds(b)
    v_ds = overhead_us(lambda: da + db, number, repeats)
    v_np = overhead_us(lambda: a + b, number, repeats)
    v_t = None
    if torch is not None:
        ta, tb = to_torch(a), to_torch(b)
        v_t = overhead_us(lambda: ta + tb, number, repeats)
    row("a + b overhead", "4 elems", "us/op", False, v_ds, v_np, v_t)


def bench_fwd_bwd(n, repeats):
    """x @ w -> relu -> sum -> backward, per step (grad reset each step)."""
    x_np, w_np = rng_np((n, n), 8), rng_np((n, n), 9)

    dx = to_ds(x_np)
    dw = to_ds(w_np).requires_grad_(True)

    def step_ds():
        dw.grad = None
        ds.relu(dx @ dw).sum().backward()

    def step_np():  # hand-written forward + backward (NumPy has no autograd)
        h = x_np @ w_np
        _ = np.maximum(h, 0).sum()
        return x_np.T @ (h > 0).astype(np.float32)

    # sanity: same gradient
    step_ds()
    err = float(np.max(np.abs(dw.grad.numpy() - step_np())))
    if err > 1e-3:
        print(f"WARNING: deepseek fwd+bwd grad differs from numpy by {err:.2e}", file=sys.stderr)

    v_ds = bench(step_ds, repeats) * 1e6
    v_np = bench(step_np, repeats) * 1e6
    v_t = None
    if torch is not None:
        tx = to_torch(x_np)
        tw = to_torch(w_np).requires_grad_(True)

        def step_t():
            tw.grad = None
            torch.relu(tx @ tw).sum().backward()
        v_t = bench(step_t, repeats) * 1e6
    row("fwd+bwd mm-relu-sum", f"{n}x{n}", "us/step", False, v_ds, v_np, v_t)


def _human(n):
    for unit, div in (("M", 1 << 20), ("K", 1 << 10)):
        if n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


# ----------------------------------------------------------------------------------- main


def numpy_blas():
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:
        return "unknown"


def _torch_desc():
    if torch is None:
        return "not installed"
    extra = "MKL" if torch.backends.mkl.is_available() else "no MKL"
    return f"{torch.__version__} ({extra}, cpu capability {torch.backends.cpu.get_cpu_capability()})"


def _core_id():
    import hashlib
    import subprocess
    path = ds._core.__file__
    try:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
    except OSError:
        digest = "?"
    try:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=5).stdout.strip() or "?"
    except Exception:
        head = "?"
    return f"{os.path.relpath(path)} sha256={digest}  git HEAD={head}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=THREADS,
                   help="threads for every library (default: physical cores, here %(default)s)")
    p.add_argument("--repeats", type=int, default=7, help="timed samples per measurement (median reported)")
    p.add_argument("--runs", type=int, default=1,
                   help="run the whole suite this many times; the table shows the per-cell median over runs "
                        "and the spread (max/min - 1) of deepseek's value")
    p.add_argument("--quick", action="store_true", help="fewer repeats and iterations (smoke run)")
    args = p.parse_args()
    repeats = 3 if args.quick else args.repeats

    ds.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)

    print(f"# deepseek op benchmark  {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"# machine: {platform.machine()} {platform.processor() or ''} "
          f"logical cpus={os.cpu_count()} physical cores={_physical_cores()}")
    print(f"# python {platform.python_version()}  deepseek {ds.__version__}  numpy {np.__version__} "
          f"(BLAS: {numpy_blas()})  torch {_torch_desc()}")
    print(f"# threads: deepseek={ds.get_num_threads()} "
          f"torch={torch.get_num_threads() if torch else '-'} numpy BLAS env={os.environ['OPENBLAS_NUM_THREADS']}"
          f" OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"
          f"  repeats={repeats} (median)  runs={args.runs}")
    print(f"# deepseek core: {_core_id()}")
    print("# ratio = deepseek speed / other speed (> 1.00x: deepseek faster)")

    for run in range(args.runs):
        if args.runs > 1:
            print(f"  run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
        bench_matmul([256, 1024, 2048], repeats)
        bench_elementwise([1 << 20, 16 << 20], repeats)
        bench_sum(16 << 20, repeats)
        bench_overhead(20_000 if args.quick else 200_000, repeats)
        bench_fwd_bwd(64, repeats)

    def med(lst):
        return statistics.median(lst) if lst else None

    hdr = ("op", "size", "unit", "deepseek", "numpy", "torch", "vs numpy", "vs torch", "ds spread")
    lines = [hdr]
    for (op, size), (unit, hb, l_ds, l_np, l_t) in ROWS.items():
        v_ds, v_np, v_t = med(l_ds), med(l_np), med(l_t)
        spread = f"{max(l_ds) / min(l_ds) - 1:.0%}" if len(l_ds) > 1 else "-"
        lines.append((op, size, unit, _fmt(v_ds), _fmt(v_np), _fmt(v_t),
                      _ratio(v_ds, v_np, hb), _ratio(v_ds, v_t, hb), spread))
    widths = [max(len(l[i]) for l in lines) for i in range(len(hdr))]
    print()
    print("| " + " | ".join(h.ljust(w) for h, w in zip(hdr, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for l in lines[1:]:
        print("| " + " | ".join(c.ljust(w) if i < 3 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(l, widths))) + " |")
    if torch is None:
        print("\n(torch not installed: torch columns skipped)")
    print("\nnumpy fwd+bwd is a hand-written forward + gradient (no autograd), a lower bound on the work.")


if __name__ == "__main__":
    main()
