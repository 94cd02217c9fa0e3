"""Optimizer step time on ResNet-50's parameters (25.6 M, 161 tensors): deepseek's default step
(one core call per group), its per-parameter loop (``foreach=False``), NumPy's in-place update
(Adam/AdamW) and PyTorch's default (foreach) step when installed, in one process run.

    python bench/optim_step.py [--runs 5] [--threads N] [--opt adam|adamw|rmsprop|adagrad|adamax|nadam|radam|adadelta]

Both frameworks get the same thread count (default: the physical cores); on a loaded machine
``--threads 1`` keeps thread-pool contention out of the comparison.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _machine import physical_cores

import deepseek as ds
from deepseek import optim
from deepseek.models import resnet50


# --opt: (class name in deepseek.optim and torch.optim, extra arguments)
OPTIMIZERS = {
    "adam": ("Adam", {}), "adamw": ("AdamW", {}), "rmsprop": ("RMSprop", {"momentum": 0.9}),
    "adagrad": ("Adagrad", {}), "adamax": ("Adamax", {}), "nadam": ("NAdam", {}), "radam": ("RAdam", {}),
    "adadelta": ("Adadelta", {}),
}


def timed(fn, runs):
    fn()  # warm-up: creates the optimizer state
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def numpy_adam(shapes, rng, wd):
    ps = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    gs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ms = [np.zeros_like(p) for p in ps]
    vs = [np.zeros_like(p) for p in ps]
    state = {"t": 0}

    def step():
        state["t"] += 1
        t, b1, b2, lr = state["t"], 0.9, 0.999, 1e-3
        for p, g, m, v in zip(ps, gs, ms, vs):
            if wd:
                p *= 1 - lr * wd
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            denom = np.sqrt(v) / np.sqrt(1 - b2**t) + 1e-8
            p -= lr / (1 - b1**t) * m / denom
    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--opt", choices=list(OPTIMIZERS), default="adam")
    ap.add_argument("--threads", type=int, default=physical_cores())
    a = ap.parse_args()
    ds.set_num_threads(a.threads)
    wd = 0.01 if a.opt == "adamw" else 0.0
    cls_name, extra = OPTIMIZERS[a.opt]
    cls = getattr(optim, cls_name)
    params = list(resnet50().parameters())
    shapes = [tuple(p.shape) for p in params]
    ds.manual_seed(0)
    for p in params:
        p.grad = ds.randn(*p.shape)
    rows = {}
    for name, kw in (("deepseek (default: core)", {}), ("deepseek foreach=False", {"foreach": False})):
        opt = cls(params, lr=1e-3, weight_decay=wd, **extra, **kw)
        rows[name] = timed(opt.step, a.runs)
    if a.opt in ("adam", "adamw"):
        rows["numpy (in-place)"] = timed(numpy_adam(shapes, np.random.default_rng(0), wd), a.runs)
    try:
        import torch

        torch.set_num_threads(a.threads)
        tps = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
        for p in tps:
            p.grad = torch.randn_like(p)
        topt = getattr(torch.optim, cls_name)(tps, lr=1e-3, weight_decay=wd, **extra)
        rows[f"torch {torch.__version__} (default)"] = timed(topt.step, a.runs)
    except ImportError:
        pass
    base = rows["deepseek (default: core)"]
    n = sum(int(np.prod(s)) for s in shapes)
    print(f"{a.opt} step over {len(shapes)} tensors, {n / 1e6:.1f} M parameters, median of {a.runs}, {a.threads} thread(s)")
    print(f"| {'implementation':<32} | ms/step | time vs deepseek default |")
    print(f"|{'-' * 34}|---------|--------------------------|")
    for name, t in rows.items():
        print(f"| {name:<32} | {t * 1e3:7.1f} | {t / base:23.2f}x |")


if __name__ == "__main__":
    main()
