"""GEMM beside PyTorch (when importable): square f32/f64 products for n = 64..4096 with every
transpose combination (operands passed as transposed views), and batched products (``bmm``,
3-D/4-D ``matmul`` with a broadcast operand).

Usage:
    python bench/gemm.py [--threads N] [--repeats R] [--quick] [--max-n N] [--dtypes f32 f64]
    PYTHONPATH=python /path/to/venv-with-torch/bin/python bench/gemm.py

Prints GFLOP/s (2*m*n*k per product) for deepseek and torch and the speed ratio (> 1.00x means
deepseek is faster), and the FMA peak the percentages assume: cores x FLOP/cycle x clock (the
clock is read from /proc/cpuinfo or given with --ghz; 64 f32 FLOP/cycle per core for AVX-512
with two full-width FMA units, 32 for f64). Numbers are medians of R samples, each a loop
lasting >= 20 ms after warm-up, deepseek's and torch's samples interleaved. A script, not
a test: it never asserts on timings.
"""
from __future__ import annotations

import sys

from _machine import pin_threads
from _timing import interleaved

THREADS = pin_threads(sys.argv[1:])

import argparse  # noqa: E402
import time  # noqa: E402

CLOCK = time.perf_counter  # --cpu-clock: time.process_time

import numpy as np  # noqa: E402

import deepseek as ds  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    torch = None


def bench_pair(fns, repeats):
    """Median seconds per call of each fn, samples interleaved (`_timing.interleaved`) on this
    script's clock."""
    return interleaved(fns, repeats, CLOCK, warmup=2)


def clock_ghz() -> float:
    """The highest 'cpu MHz' in /proc/cpuinfo (the boost clock the cores run at), in GHz."""
    try:
        with open("/proc/cpuinfo") as f:
            mhz = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
        if mhz:
            return max(mhz) / 1e3
    except OSError:
        pass
    return 3.0


def square_cases(ns, dtypes):
    for dt in dtypes:
        for n in ns:
            for ta in (False, True):
                for tb in (False, True):
                    name = f"{'a.T' if ta else 'a'} @ {'b.T' if tb else 'b'}"
                    yield dt, name, (n, n, n), 1, _square(n, ta, tb, dt)


def _square(n, ta, tb, dt):
    def make(lib, rng):
        a = rng.standard_normal((n, n)).astype(dt)
        b = rng.standard_normal((n, n)).astype(dt)
        x, y = _wrap(lib, a), _wrap(lib, b)
        x = x.T if ta else x
        y = y.T if tb else y
        return lambda: x @ y
    return make


def batched_cases(quick, dtypes):
    shapes = [(64, 64, 64, 64), (256, 32, 32, 32), (32, 128, 128, 128), (8, 512, 512, 512)]
    if quick:
        shapes = shapes[:2]
    for dt in dtypes:
        for bs, m, k, n in shapes:
            yield dt, "bmm", (m, k, n), bs, _bmm(bs, m, k, n, dt, False)
            yield dt, "bmm a @ b.T", (m, k, n), bs, _bmm(bs, m, k, n, dt, True)
        # attention-like 4-D products and a broadcast weight
        b4, h, l, d = (2, 4, 64, 32) if quick else (8, 4, 128, 64)
        yield dt, "4-D q @ k.T", (l, d, l), b4 * h, _four_d(b4, h, l, d, dt)
        yield dt, "3-D @ 2-D (linear)", (b4 * l, 4 * d, 4 * d), 1, _broadcast(b4, l, 4 * d, dt)
        yield dt, "2-D @ 3-D (bcast)", (l, d, l), b4 * h, _broadcast_left(b4 * h, l, d, dt)


def _bmm(bs, m, k, n, dt, tb):
    def make(lib, rng):
        a = _wrap(lib, rng.standard_normal((bs, m, k)).astype(dt))
        if tb:
            b = _wrap(lib, rng.standard_normal((bs, n, k)).astype(dt)).transpose(1, 2)
        else:
            b = _wrap(lib, rng.standard_normal((bs, k, n)).astype(dt))
        mod = ds if lib == "ds" else torch
        return lambda: mod.bmm(a, b)
    return make


def _four_d(b, h, l, d, dt):
    def make(lib, rng):
        q = _wrap(lib, rng.standard_normal((b, h, l, d)).astype(dt))
        k = _wrap(lib, rng.standard_normal((b, h, l, d)).astype(dt))
        return lambda: q @ k.transpose(-2, -1)
    return make


def _broadcast(b, l, d, dt):
    def make(lib, rng):
        x = _wrap(lib, rng.standard_normal((b, l, d)).astype(dt))
        w = _wrap(lib, rng.standard_normal((d, d)).astype(dt))
        return lambda: x @ w.T
    return make


def _broadcast_left(bs, l, d, dt):
    def make(lib, rng):
        a = _wrap(lib, rng.standard_normal((l, d)).astype(dt))
        b = _wrap(lib, rng.standard_normal((bs, d, l)).astype(dt))
        return lambda: a @ b
    return make


def _wrap(lib, arr):
    return ds.tensor(arr) if lib == "ds" else torch.from_numpy(arr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=THREADS)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--max-n", type=int, default=4096)
    p.add_argument("--min-n", type=int, default=64)
    p.add_argument("--dtypes", nargs="+", default=["f32", "f64"], choices=["f32", "f64"])
    p.add_argument("--no-square", action="store_true")
    p.add_argument("--no-batched", action="store_true")
    p.add_argument("--ghz", type=float, default=None, help="clock for the FMA peak (default: /proc/cpuinfo)")
    p.add_argument("--cpu-clock", action="store_true",
                   help="time with the process's CPU clock instead of the wall clock: on a machine busy with "
                        "other work, with --threads 1, it leaves out the time this process waits for a core")
    a = p.parse_args()
    global CLOCK
    if a.cpu_clock:
        CLOCK = time.process_time
    ds.set_num_threads(a.threads)
    if torch is not None:
        torch.set_num_threads(a.threads)
    ghz = a.ghz or clock_ghz()
    peak = {"f32": a.threads * 64 * ghz, "f64": a.threads * 32 * ghz}
    dtypes = {"f32": np.float32, "f64": np.float64}
    ns = [n for n in (64, 128, 256, 512, 1024, 2048, 4096) if a.min_n <= n <= a.max_n]
    if a.quick:
        ns = [n for n in ns if n <= 512]
    repeats = 3 if a.quick else a.repeats
    cases = []
    if not a.no_square:
        cases += list(square_cases(ns, [dtypes[d] for d in a.dtypes]))
    if not a.no_batched:
        cases += list(batched_cases(a.quick, [dtypes[d] for d in a.dtypes]))
    ver = f"torch {torch.__version__}" if torch is not None else "torch not installed"
    print(f"# deepseek {ds.__version__} vs {ver}; {a.threads} thread(s); median of {repeats}; "
          f"{'process CPU' if a.cpu_clock else 'wall'} clock")
    print(f"# FMA peak assumed: {a.threads} cores x 64 f32 FLOP/cycle x {ghz:.2f} GHz = {peak['f32']:.0f} "
          f"GFLOP/s f32 ({peak['f64']:.0f} f64); the clock is {'given' if a.ghz else 'the one /proc/cpuinfo reports'}: "
          f"in a VM that is the nominal rate and the cores may boost above it (% peak > 100 says they do)")
    print(f"{'dtype':<5} {'case':<20} {'m x k x n':<16} {'batch':>5} {'deepseek GF/s':>13} {'% peak':>6} "
          f"{'torch GF/s':>10} {'vs torch':>8}", flush=True)
    for dt, name, (m, k, n), bs, make in cases:
        rng = np.random.default_rng(0)
        flops = 2.0 * bs * m * k * n
        big = flops > 2e10
        reps = max(1, repeats - 2) if big else repeats
        fns = [make("ds", rng)] + ([make("torch", np.random.default_rng(0))] if torch is not None else [])
        t_ds, t_t = (bench_pair(fns, reps) + [None])[:2]
        dn = "f32" if dt == np.float32 else "f64"
        g_ds = flops / t_ds / 1e9
        g_t = "-" if t_t is None else f"{flops / t_t / 1e9:.1f}"
        ratio = "-" if t_t is None else f"{t_t / t_ds:.2f}x"
        print(f"{dn:<5} {name:<20} {f'{m}x{k}x{n}':<16} {bs:>5} {g_ds:>13.1f} {100 * g_ds / peak[dn]:>5.0f}% "
              f"{g_t:>10} {ratio:>8}", flush=True)


if __name__ == "__main__":
    main()
