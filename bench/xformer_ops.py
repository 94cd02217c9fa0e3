"""Transformer ops beside PyTorch (when importable): layer_norm, softmax, log_softmax, scaled
dot-product attention with a mask, bias + GELU, erf, each forward and forward + backward, and
reductions (full sum / mean / var, over the last dim, the first, a middle one kept, amax), at a
Transformer encoder's shapes.

Usage:
    python bench/xformer_ops.py [--threads N] [--repeats R] [--quick] [--composite] [--only gelu,erf]
    PYTHONPATH=python /path/to/venv-with-torch/bin/python bench/xformer_ops.py

``--composite`` also times deepseek's composite of primitives (what the fused kernels replace;
what other devices run). Numbers are medians of R samples (each a loop lasting >= 20 ms after
warm-up; deepseek's and torch's samples alternate); ratios are torch's time / deepseek's, so
> 1.00x means deepseek is faster. A script, not a test: it never asserts on timings.
"""
from __future__ import annotations

import sys

from _machine import pin_threads
from _timing import interleaved

THREADS = pin_threads(sys.argv[1:])

import argparse  # noqa: E402
import contextlib  # noqa: E402
import time  # noqa: E402

CLOCK = time.perf_counter  # --cpu-clock: time.process_time

import numpy as np  # noqa: E402

import deepseek as ds  # noqa: E402
import deepseek.nn.functional as F  # noqa: E402
from deepseek import _ops  # noqa: E402

try:
    import torch  # noqa: E402
    import torch.nn.functional as TF  # noqa: E402
except ImportError:
    torch = TF = None


def bench_interleaved(fns, repeats):
    """Median seconds per call of each fn, samples interleaved (`_timing.interleaved`) on this
    script's clock."""
    return interleaved(fns, repeats, CLOCK, warmup=3)


@contextlib.contextmanager
def composite_ops():
    """deepseek with its fused kernels turned off (the composite of primitives)."""
    saved = _ops._fused_float
    _ops._fused_float = lambda *ts: False
    try:
        yield
    finally:
        _ops._fused_float = saved


def cases(quick):
    B, L, D, H, FF = (2, 64, 128, 4, 512) if quick else (8, 128, 256, 4, 1024)
    rng = np.random.default_rng(0)

    def arr(*s):
        return rng.standard_normal(s).astype(np.float32)

    x, w, b = arr(B, L, D), arr(D), arr(D)
    h, hb = arr(B, L, FF), arr(FF)
    q, k, v = arr(B, H, L, D // H), arr(B, H, L, D // H), arr(B, H, L, D // H)
    mask = np.tril(np.ones((L, L), dtype=bool))
    big = arr(1 << 22 if quick else 1 << 24)
    yield "layer_norm", f"{B}x{L}x{D}", (x, w, b), lambda m, x, w, b: m.layer_norm(x, (D,), w, b)
    yield "softmax", f"{B}x{H}x{L}x{L}", (arr(B, H, L, L),), lambda m, s: m.softmax(s, -1)
    yield "log_softmax", f"{B * L}x{1000}", (arr(B * L, 1000),), lambda m, s: m.log_softmax(s, -1)
    yield "sdpa causal mask", f"{B}x{H}x{L}x{D // H}", (q, k, v, mask), \
        lambda m, q, k, v, mk: m.scaled_dot_product_attention(q, k, v, attn_mask=mk)
    yield "bias+gelu", f"{B}x{L}x{FF}", (h, hb), lambda m, h, hb: _bias_gelu(m, h, hb)
    yield "gelu tanh", f"{B}x{L}x{FF}", (h,), lambda m, h: m.gelu(h, approximate="tanh")
    yield "erf", f"{B}x{L}x{FF}", (h,), lambda m, h: (ds if m is F else torch).erf(h)
    yield "sum (full)", f"{big.size >> 20}M", (big,), lambda m, a: a.sum()
    yield "mean (full)", f"{big.size >> 20}M", (big,), lambda m, a: a.mean()
    R = 1024 if quick else 4096
    sq, cube = arr(R, R), arr(16 if quick else 64, 256, 1024)
    yield "sum (last dim)", f"{R}x{R}", (sq,), lambda m, a: a.sum(-1)
    yield "sum (dim 0)", f"{R}x{R}", (sq,), lambda m, a: a.sum(0)
    yield "sum (dim 1, keep)", "x".join(map(str, cube.shape)), (cube,), lambda m, a: a.sum(1, keepdim=True)
    yield "amax (last dim)", f"{R}x{R}", (sq,), lambda m, a: a.amax(-1)
    yield "amax (dim 0)", f"{R}x{R}", (sq,), lambda m, a: a.amax(0)
    yield "var (last dim)", f"{R}x{R}", (sq,), lambda m, a: a.var(-1)
    yield "var (full)", f"{big.size >> 20}M", (big,), lambda m, a: a.var()


def _bias_gelu(m, h, hb):
    return m.bias_gelu(h, hb) if m is F else m.gelu(h + hb)


def make_fn(lib, make, arrays, backward):
    """The timed call: forward under no_grad, or forward + sum + backward with fresh grads."""
    grads = backward and arrays[0].dtype == np.float32
    if lib == "torch":
        ts = [torch.from_numpy(a.copy()).requires_grad_(grads and a.dtype == np.float32) for a in arrays]
        mod, no_grad = TF, torch.no_grad
    else:
        ts = [ds.tensor(a.copy(), requires_grad=grads and a.dtype == np.float32) for a in arrays]
        mod, no_grad = F, ds.no_grad

    def fwd():
        with no_grad():
            make(mod, *ts)

    def fwd_bwd():
        for t in ts:
            t.grad = None
        make(mod, *ts).sum().backward()

    return fwd_bwd if grads else fwd


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=THREADS)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--composite", action="store_true", help="also time deepseek's composite of primitives")
    p.add_argument("--only", help="comma-separated parts of op names: time only the ops whose name contains one")
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
    repeats = 3 if a.quick else a.repeats
    hdr = f"{'op':<18} {'shape':<14} {'pass':<8} {'deepseek ms':>11} {'composite ms':>12} {'torch ms':>9} {'vs torch':>8}"
    rows = []
    for name, shape, arrays, make in cases(a.quick):
        if a.only and not any(part in name for part in a.only.split(",")):
            continue
        fwd_only = name.startswith(("sum", "mean", "amax", "var"))
        for ps in ["fwd"] if fwd_only else ["fwd", "fwd+bwd"]:
            bwd = ps == "fwd+bwd"
            fns = [make_fn("deepseek", make, arrays, bwd)]
            if torch is not None:
                fns.append(make_fn("torch", make, arrays, bwd))
            times = bench_interleaved(fns, repeats)
            t_ds, t_t = times[0], (times[1] if torch is not None else None)
            t_c = None
            if a.composite and not fwd_only:
                with composite_ops():
                    t_c = bench_interleaved([make_fn("deepseek", make, arrays, bwd)], repeats)[0]
            rows.append((name, shape, ps, t_ds, t_c, t_t))
            print(f"  measured {name} {ps}", file=sys.stderr, flush=True)
    ver = f"torch {torch.__version__}" if torch is not None else "torch not installed"
    print(f"# deepseek {ds.__version__} vs {ver}; {a.threads} thread(s); float32; median of {repeats}; "
          f"{'process CPU' if a.cpu_clock else 'wall'} clock")
    print(hdr)
    for name, shape, ps, t_ds, t_c, t_t in rows:
        f = lambda v: "-" if v is None else f"{v * 1e3:.3f}"  # noqa: E731
        ratio = "-" if t_t is None else f"{t_t / t_ds:.2f}x"
        print(f"{name:<18} {shape:<14} {ps:<8} {f(t_ds):>11} {f(t_c):>12} {f(t_t):>9} {ratio:>8}")


if __name__ == "__main__":
    main()
