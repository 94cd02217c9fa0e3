"""Backend benchmark: per-op latency (small tensors) and throughput (large tensors) on a
plugin device beside the CPU core and NumPy, in one process, and the caching allocator's
effect on the device (the same training loop with caching on and off).

    PYTHONPATH=python .venv/bin/python bench/backends.py --device opencl:0

Numbers are medians of timed repeats after a warm-up; device timings include a
``synchronize`` so queued work is counted. Ratios are device time / CPU time.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import deepseek
from deepseek import nn, optim


def timeit(fn, sync=None, repeats=20, warmup=3):
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def op_table(device, repeats):
    def sync():
        deepseek._core.synchronize(device)

    rows = []
    cases = [
        ("add", lambda a, b: a + b, lambda a, b: a + b),
        ("mul", lambda a, b: a * b, lambda a, b: a * b),
        ("exp", lambda a, b: a.exp(), lambda a, b: np.exp(a)),
        ("relu", lambda a, b: a.relu(), lambda a, b: np.maximum(a, 0)),
        ("sum", lambda a, b: a.sum(), lambda a, b: a.sum()),
        ("amax(dim=1)", lambda a, b: a.amax(1), lambda a, b: a.max(1)),
        ("softmax(dim=1)", lambda a, b: a.softmax(1), lambda a, b: np.exp(a - a.max(1, keepdims=True)) / np.exp(a - a.max(1, keepdims=True)).sum(1, keepdims=True)),
        ("transpose copy", lambda a, b: a.t().contiguous(), lambda a, b: np.ascontiguousarray(a.T)),
    ]
    for label, n in (("latency", 32), ("throughput", 1024)):
        rng = np.random.default_rng(0)
        an, bn = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
        ac, bc = deepseek.tensor(an), deepseek.tensor(bn)
        ad, bd = ac.to(device), bc.to(device)
        for name, f, fnp in cases:
            tc = timeit(lambda: f(ac, bc), repeats=repeats)
            td = timeit(lambda: f(ad, bd), sync, repeats=repeats)
            tn = timeit(lambda: fnp(an, bn), repeats=repeats)
            rows.append((label, f"{name} {n}x{n}", td, tc, tn))
    for n in (64, 256):
        rng = np.random.default_rng(1)
        an, bn = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
        ac, bc = deepseek.tensor(an), deepseek.tensor(bn)
        ad, bd = ac.to(device), bc.to(device)
        rows.append(("matmul", f"{n}x{n} @ {n}x{n}", timeit(lambda: ad @ bd, sync, repeats=repeats),
                     timeit(lambda: ac @ bc, repeats=repeats), timeit(lambda: an @ bn, repeats=repeats)))
    x = deepseek.randn(8, 16, 32, 32)
    w = deepseek.randn(32, 16, 3, 3)
    xd, wd = x.to(device), w.to(device)
    conv = nn.functional.conv2d
    rows.append(("conv2d", "8x16x32² 3x3->32", timeit(lambda: conv(xd, wd, None, 1, 1), sync, repeats=max(3, repeats // 4)),
                 timeit(lambda: conv(x, w, None, 1, 1), repeats=max(3, repeats // 4)), float("nan")))
    print(f"\n{'kind':<11} {'op':<28} {device + ' ms':>14} {'cpu ms':>10} {'numpy ms':>10} {'device/cpu':>11}")
    for kind, name, td, tc, tn in rows:
        print(f"{kind:<11} {name:<28} {td * 1e3:>14.3f} {tc * 1e3:>10.3f} {tn * 1e3:>10.3f} {td / tc:>10.2f}x")


def allocator_effect(device, steps):
    from deepseek.data.datasets import digits

    xtr, ytr = digits("train").tensors
    xtr, ytr = xtr.to(device), ytr.to(device)
    results = {}
    for caching in (True, False):
        deepseek.memory.set_caching_enabled(caching, device)
        deepseek.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)
        opt = optim.DeepSeekAdam(model.parameters(), lr=1e-3)
        before = deepseek.memory.stats(device)

        def step(i=[0]):
            j = (i[0] * 64) % (len(ytr) - 64)
            i[0] += 1
            loss = nn.functional.cross_entropy(model(xtr[j:j + 64]), ytr[j:j + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()

        t = timeit(step, lambda: deepseek._core.synchronize(device), repeats=steps, warmup=2)
        after = deepseek.memory.stats(device)
        results[caching] = (t, after["segment.all.allocated"] - before["segment.all.allocated"], after["cache_hits"] - before["cache_hits"])
    deepseek.memory.set_caching_enabled(True, device)
    print(f"\nallocator on {device}: MLP 64-128-10 train step (batch 64), {steps} timed steps")
    print(f"{'caching':<9} {'step ms':>9} {'device allocations':>20} {'cache hits':>11}")
    for caching in (True, False):
        t, segs, hits = results[caching]
        print(f"{'on' if caching else 'off':<9} {t * 1e3:>9.2f} {segs:>20} {hits:>11}")
    print(f"caching speed-up: {results[False][0] / results[True][0]:.2f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="opencl:0")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    if a.threads:
        deepseek.set_num_threads(a.threads)
    print(f"deepseek {deepseek.__version__}, device {a.device}: {deepseek.backends.available().get(a.device.split(':')[0])}")
    print(f"CPU threads: {deepseek.get_num_threads()}")
    op_table(a.device, a.repeats)
    allocator_effect(a.device, a.steps)


if __name__ == "__main__":
    main()
