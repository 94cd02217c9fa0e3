"""Backend benchmark: per-op latency (small tensors) and throughput (large tensors) on a
plugin device beside the CPU core and NumPy, in one process, the caching allocator's
effect on the device (the same training loop with caching on and off), and the host cost
of one launch against the driver's own enqueue (OpenCL).

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
    # small launches of the families that are several kernels (scratch buffers, merge passes)
    rng = np.random.default_rng(2)
    sn = rng.standard_normal((32, 32), dtype=np.float32)
    sc, ln = deepseek.tensor(sn), rng.standard_normal((4, 4096), dtype=np.float32)
    sd, lc = sc.to(device), deepseek.tensor(ln)
    ld = lc.to(device)
    rows.append(("latency", "sort(dim=1) 32x32", timeit(lambda: sd.sort(1), sync, repeats=repeats),
                 timeit(lambda: sc.sort(1), repeats=repeats), timeit(lambda: np.sort(sn, 1, kind="stable"), repeats=repeats)))
    rows.append(("throughput", "sort(dim=1) 4x4096", timeit(lambda: ld.sort(1), sync, repeats=repeats),
                 timeit(lambda: lc.sort(1), repeats=repeats), timeit(lambda: np.sort(ln, 1, kind="stable"), repeats=repeats)))
    x = deepseek.randn(8, 16, 32, 32)
    w = deepseek.randn(32, 16, 3, 3)
    xd, wd = x.to(device), w.to(device)
    conv = nn.functional.conv2d
    xs, ws = deepseek.randn(1, 4, 8, 8), deepseek.randn(4, 4, 3, 3)
    xsd, wsd = xs.to(device), ws.to(device)
    rows.append(("latency", "conv2d 1x4x8² 3x3->4", timeit(lambda: conv(xsd, wsd, None, 1, 1), sync, repeats=repeats),
                 timeit(lambda: conv(xs, ws, None, 1, 1), repeats=repeats), float("nan")))
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


def launch_cost(device, repeats, n=2000):
    """Host cost of one small op: (a) ``x + y`` on 32x32 float32 device tensors through
    deepseek, (b) one call of the plugin table's ``launch`` for the same add (timed in a C
    loop, so no Python), (c) a bare C loop of clSetKernelArg + clEnqueueNDRangeKernel on the
    same kernel, arguments and queue. No synchronize inside a timed run, so kernels run
    meanwhile; (c) paced issues one bare round every (a) microseconds, as deepseek does, and
    counts only the rounds: on a CPU driver, idle worker threads must be woken for each
    command, which a tight loop never sees."""
    if not device.startswith("opencl"):
        print(f"\nlaunch cost: measured on opencl devices only, not {device}")
        return
    from deepseek.backends import abi
    from deepseek_opencl import table as ctable

    be = deepseek.backends.get_backend("opencl")
    if ctable.lib is None or be.table_address() != ctable._table:
        print(f"\nlaunch cost: the OpenCL plugin runs its Python table ({ctable.NOT_BUILT or 'DEEPSEEK_OPENCL_PYTHON_LAUNCH=1'})")
        return
    index = int(device.split(":")[1]) if ":" in device else 0
    rng = np.random.default_rng(0)
    x, y = (deepseek.tensor(rng.standard_normal((32, 32), dtype=np.float32)).to(device) for _ in range(2))

    def sync():
        deepseek._core.synchronize(device)

    def per_op(fn, runs, count):
        times = []
        for _ in range(runs):
            sync()
            t0 = time.perf_counter()
            for _ in range(count):
                fn()
            times.append((time.perf_counter() - t0) / count)
        sync()
        return statistics.median(times)

    per_op(lambda: x + y, 2, n)  # warm-up: kernels built, allocator cache filled
    a = per_op(lambda: x + y, repeats, n)

    bufs = [be.alloc(index, 32 * 32 * 4) for _ in range(3)]
    keep = []
    descs = abi.ffi.new("ds_tensor_desc[3]")
    for d, p in zip(descs, bufs):
        shape, strides = abi.ffi.new("int64_t[2]", [32, 32]), abi.ffi.new("int64_t[2]", [32, 1])
        keep += [shape, strides]
        d.ptr, d.dtype, d.ndim, d.shape, d.strides, d.offset = abi.ffi.cast("void *", p), abi.DTYPES.index("float32"), 2, shape, strides, 0
    op = abi.ffi.new("ds_op *", {"id": deepseek.backends.primitives.OP_IDS["add"]})
    f, lib = ctable.ffi, ctable.lib

    def bench(table, count, pace):
        launch_s, floor_s = f.new("double *"), f.new("double *")
        runs = []
        for _ in range(repeats):
            sync()
            status = lib.ocl_bench(table, index, f.cast("void *", int(abi.ffi.cast("uintptr_t", op))),
                                   f.cast("void *", int(abi.ffi.cast("uintptr_t", descs))), 3, count, pace, launch_s, floor_s)
            assert status == abi.DS_OK, status
            runs.append((launch_s[0], floor_s[0]))
        sync()
        return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)

    b, c = bench(f.NULL, n, 0.0)
    _, c_paced = bench(f.NULL, n, a)
    py = ctable.python_table("opencl", ctable._devices)  # the Python callbacks, over the same contexts
    b_py, _ = bench(f.cast("void *", int(abi.ffi.cast("uintptr_t", py))), max(20, n // 20), 0.0)
    for p in bufs:
        be.free(index, p)
    us = 1e6
    print(f"\nlaunch cost: 32x32 float32 add on {device}, host microseconds per op "
          f"(median of {repeats} runs of {n}, no synchronize inside a run)")
    rows = [("(a) deepseek x + y", a, f"{a / c:.1f}x (c)"),
            ("(b) plugin table launch (C)", b, f"{b / c:.2f}x (c)"),
            ("    the Python table's launch, for reference", b_py, f"{b_py / b:.0f}x (b)"),
            ("(c) bare clSetKernelArg + clEnqueueNDRangeKernel", c, ""),
            ("(c) paced, one round every (a)", c_paced, f"(a) = {a / c_paced:.2f}x this")]
    for name, t, ratio in rows:
        print(f"{name:<52} {t * us:>8.2f}  {ratio}")
    print(f"target (a) <= 1.5x (c): {'met' if a <= 1.5 * c else 'not met'} ({a / c:.1f}x); "
          f"(b) <= 1.5x (c): {'met' if b <= 1.5 * c else 'not met'} ({b / c:.2f}x)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="opencl:0")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--only", choices=("ops", "allocator", "launch"), default=None, help="run one section")
    a = ap.parse_args()
    if a.threads:
        deepseek.set_num_threads(a.threads)
    print(f"deepseek {deepseek.__version__}, device {a.device}: {deepseek.backends.available().get(a.device.split(':')[0])}")
    print(f"CPU threads: {deepseek.get_num_threads()}")
    if a.only in (None, "ops"):
        op_table(a.device, a.repeats)
    if a.only in (None, "allocator"):
        allocator_effect(a.device, a.steps)
    if a.only in (None, "launch"):
        launch_cost(a.device, a.repeats)


if __name__ == "__main__":
    main()
