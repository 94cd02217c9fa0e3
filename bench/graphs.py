"""Static graphs: traced (deepseek.jit) vs eager deepseek vs PyTorch eager (when installed).

Usage (from the repo root):

    PYTHONPATH=python .venv/bin/python bench/graphs.py [--repeat N]

Workloads, small enough that per-op Python overhead matters (what a graph removes):

  mlp-train   MLP 32-64-64-10, batch 16, cross entropy, SGD (momentum 0.9): one whole training
              step (zero_grad, forward, backward, update); traced with deepseek.jit.trace_train_step
  xformer-b1  one nn.TransformerEncoderLayer (d=64, 4 heads, ffn 128, eval, no grad), batch 1,
              sequence 16: inference; traced with deepseek.jit.trace
  ew-chain    24 elementwise ops and a reduction on a 16x16 tensor (inference): the graph's
              gain where every op is tiny; also timed traced without elementwise fusion
  ew-chain-big  the same on 512x1024 (2 MiB a tensor): fusion's gain from never writing the
              23 intermediates to memory; with --device (opencl:0 by default, skipped when
              absent) traced there: its fused node as one generated kernel (straight-line
              offsets, and the general walk over dims) against one launch a step; also
              arith-chain-big there (32 adds and multiplies on 512x1024); --device-only runs
              just these
  ew-affine   relu(x * scale[c] + shift[c] + r) on 8x256x56x56 float32, per-channel operands
              broadcast (a batch norm's tail): the fused loop's vector lanes and row-wise
              splats; NumPy's time printed beside
  --resnet adds resnet50-train (16x3x64x64, SGD momentum; traced with memory_budget = 75% of
  the unbudgeted arena, memory printed beside the eager allocator peak; the unbudgeted trace's
  time printed too; eager, the two traces and PyTorch timed interleaved) and resnet50-infer
  (8x3x224x224, inference traced and frozen: deepseek.jit.freeze folds each batch norm into
  its convolution; the unfrozen trace's time is printed too)

A workload whose trace meets an op that does not go through the dispatcher yet (its result
would be frozen as a constant) is reported as not traceable instead of timed.

Prints the median time per call of each mode and the ratios eager/traced (> 1: the graph is
faster) and torch/traced. Also prints, for the traced inference graph, the memory plan: the
arena's size beside the internal buffers' total with no reuse and the eager run's allocator
peak. A script, not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np

import deepseek
from deepseek import nn, optim
import deepseek.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import interleaved  # noqa: E402

try:
    import torch
except ImportError:  # PyTorch is optional
    torch = None


def timeit(fn, repeat, warmup=3):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def mlp_train(repeat):
    rng = np.random.default_rng(0)
    x = deepseek.tensor(rng.standard_normal((16, 32)).astype(np.float32))
    y = deepseek.tensor(rng.integers(0, 10, 16))

    def make():
        deepseek.manual_seed(0)
        return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    m_e = make()
    o_e = optim.SGD(m_e.parameters(), lr=0.01, momentum=0.9)

    def eager():
        o_e.zero_grad()
        F.cross_entropy(m_e(x), y).backward()
        o_e.step()

    m_g = make()
    o_g = optim.SGD(m_g.parameters(), lr=0.01, momentum=0.9)
    step = deepseek.jit.trace_train_step(m_g, F.cross_entropy, o_g, x, y)
    res = {"eager": timeit(eager, repeat), "traced": timeit(lambda: step(x, y), repeat)}
    if torch is not None:
        tm = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
        to = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
        tx, ty = torch.from_numpy(np.asarray(x)), torch.from_numpy(np.asarray(y))

        def teager():
            to.zero_grad()
            torch.nn.functional.cross_entropy(tm(tx), ty).backward()
            to.step()

        res["torch"] = timeit(teager, repeat)
    return res, None


def xformer_b1(repeat):
    deepseek.manual_seed(0)
    layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, dropout=0.0, batch_first=True).eval()
    x = deepseek.tensor(np.random.default_rng(1).standard_normal((1, 16, 64)).astype(np.float32))
    with deepseek.no_grad():
        deepseek.memory.reset_peak_memory_stats()
        base = deepseek.memory.memory_allocated()
        layer(x)
        eager_peak = deepseek.memory.max_memory_allocated() - base
        g = deepseek.jit.trace(layer, (x,))
        res = {"eager": timeit(lambda: layer(x), repeat), "traced": timeit(lambda: g(x), repeat)}
    if torch is not None:
        tl = torch.nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, dropout=0.0, batch_first=True).eval()
        tx = torch.from_numpy(np.asarray(x))
        with torch.no_grad():
            res["torch"] = timeit(lambda: tl(tx), repeat)
    plan = g.graph.memory_plan()
    return res, (sum(plan["arena_bytes"].values()), plan["unplanned_bytes"], plan["live_peak_bytes"], eager_peak)


def ew_chain(repeat, shape=(16, 16)):
    x = deepseek.tensor(np.random.default_rng(2).standard_normal(shape).astype(np.float32))

    def f(x):
        for _ in range(6):
            x = (x * 0.9 + 0.1).tanh() - x.sigmoid() * 0.5
        return x.sum()

    with deepseek.no_grad():
        g = deepseek.jit.trace(f, (x,))
        unfused = deepseek.jit.trace(f, (x,), fuse=False)
        res = {"eager": timeit(lambda: f(x), repeat), "traced": timeit(lambda: g(x), repeat),
               "unfused": timeit(lambda: unfused(x), repeat)}
    if torch is not None:
        tx = torch.from_numpy(np.asarray(x))
        with torch.no_grad():
            res["torch"] = timeit(lambda: f(tx), repeat)
    return res, None


def ew_chain_big(repeat):
    return ew_chain(max(5, repeat // 5), shape=(512, 1024))


def _arith_chain(x):
    for _ in range(8):
        x = x * 0.9 + 0.1 - x * 0.5
    return x


def _transcendental_chain(x):
    for _ in range(6):
        x = (x * 0.9 + 0.1).tanh() - x.sigmoid() * 0.5
    return x


def ew_chain_device(repeat, device="opencl:0", shape=(512, 1024), f=_transcendental_chain):
    """An elementwise chain (the ew-chain's 24 ops by default; ``_arith_chain``: 32 adds and
    multiplies) traced on ``device``: one fused node, run as its generated kernel with
    straight-line offsets for the operands' rank (what tracing compiles), as the generated
    kernel with the general loop over dims (``fused.FLAT_RANK`` off, what every generated
    kernel was before), and traced without fusion (one launch a step). Timed interleaved;
    returns (ranked s, general s, per-step s), or None when the device is not available."""
    from deepseek.backends.kernels import fused

    status = deepseek.backends.available().get(device.split(":")[0], "")
    if not status.startswith("available"):
        return None
    x = deepseek.tensor(np.random.default_rng(2).standard_normal(shape).astype(np.float32)).to(device)
    flat = fused.FLAT_RANK
    with deepseek.no_grad():
        ranked = deepseek.jit.trace(f, (x,))
        fused.FLAT_RANK = -1  # every node rendered with the general walk
        try:
            general = deepseek.jit.trace(f, (x,))
        finally:
            fused.FLAT_RANK = flat
        step = deepseek.jit.trace(f, (x,), fuse=False)
    mod = getattr(deepseek, device.split(":")[0])

    def run(gm):
        gm(x)
        mod.synchronize()

    times = [[], [], []]
    for _ in range(3):  # interleaved rounds; the best of each
        for t, gm in zip(times, (ranked, general, step)):
            t.append(timeit(lambda: run(gm), repeat))
    return tuple(min(t) for t in times)


def ew_affine(repeat, shape=(8, 256, 56, 56)):
    """A frozen batch norm's tail outside a convolution: relu(x * scale[c] + shift[c] + r) on
    [8, 256, 56, 56] float32 (25 MiB a tensor), the per-channel operands broadcast. The fused
    loop reads them as one value per H x W row (no expansion) and runs each step in AVX-512
    lanes; NumPy (which writes every intermediate) is printed beside it."""
    rng = np.random.default_rng(3)
    x, r = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    s, t = (rng.standard_normal((1, shape[1], 1, 1)).astype(np.float32) for _ in range(2))
    dx, dr, ds, dt = (deepseek.tensor(a) for a in (x, r, s, t))
    def f(x, s, t, r):
        return (x * s + t + r).relu()
    with deepseek.no_grad():
        g = deepseek.jit.trace(f, (dx, ds, dt, dr))
        res = {"eager": timeit(lambda: f(dx, ds, dt, dr), repeat), "traced": timeit(lambda: g(dx, ds, dt, dr), repeat)}
        assert np.array_equal(np.asarray(g(dx, ds, dt, dr)), np.asarray(f(dx, ds, dt, dr)))
    t_np = timeit(lambda: np.maximum(x * s + t + r, 0), repeat)
    if torch is not None:
        tx, ts, tt, tr = (torch.from_numpy(a) for a in (x, s, t, r))
        with torch.no_grad():
            res["torch"] = timeit(lambda: f(tx, ts, tt, tr), repeat)
    print(f"  ew-affine: numpy {t_np * 1e3:.3f} ms ({t_np / res['traced']:.2f}x the traced time)")
    return res, None


def resnet50_train(repeat, budget_frac=0.75):
    """ResNet-50 training step, 16x3x64x64, SGD momentum: eager, traced with a memory budget of
    ``budget_frac`` of the unbudgeted arena, and PyTorch eager; memory as planned vs eager."""
    from deepseek.models.resnet import resnet50

    rng = np.random.default_rng(0)
    x = deepseek.tensor(rng.standard_normal((16, 3, 64, 64)).astype(np.float32))
    y = deepseek.tensor(rng.integers(0, 10, 16))

    def make():
        deepseek.manual_seed(0)
        m = resnet50(num_classes=10)
        return m, optim.SGD(m.parameters(), lr=0.01, momentum=0.9)

    m_e, o_e = make()

    def eager():
        o_e.zero_grad()
        F.cross_entropy(m_e(x), y).backward()
        o_e.step()

    eager()
    deepseek.memory.reset_peak_memory_stats()
    base = deepseek.memory.memory_allocated()
    eager()
    eager_peak = deepseek.memory.max_memory_allocated() - base
    m_f, o_f = make()
    free = deepseek.jit.trace_train_step(m_f, F.cross_entropy, o_f, x, y)
    free(x, y), free(x, y)
    arena = free.memory_report()["planned_peak_bytes"]
    m_g, o_g = make()
    step = deepseek.jit.trace_train_step(m_g, F.cross_entropy, o_g, x, y, memory_budget=int(arena * budget_frac))
    t0 = time.perf_counter()
    step(x, y), step(x, y)  # eager, then traced (recomputation and reordering planned here)
    t_trace = time.perf_counter() - t0
    rep = step.memory_report()
    # the contenders' steps interleaved (bench/_timing.py): a busy spell slows all alike, and
    # each step runs after the others' as in a process that trains more than one model
    fns = {"eager": eager, "traced": lambda: step(x, y), "traced-free": lambda: free(x, y)}
    if torch is not None:
        import torchvision

        tm = torchvision.models.resnet50(num_classes=10)
        to = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
        tx, ty = torch.from_numpy(np.asarray(x)), torch.from_numpy(np.asarray(y))

        def teager():
            to.zero_grad()
            torch.nn.functional.cross_entropy(tm(tx), ty).backward()
            to.step()

        fns["torch"] = teager
    res = dict(zip(fns, interleaved(list(fns.values()), repeat, time.perf_counter, warmup=1)))
    print(f"  resnet50-train: unbudgeted trace {res['traced-free'] * 1e3:.1f} ms ({res['eager'] / res['traced-free']:.2f}x eager's speed)")
    print(f"  resnet50-train memory: eager allocator peak growth {eager_peak / 2**20:.1f} MiB; traced arena {arena / 2**20:.1f} MiB "
          f"unbudgeted, {rep['planned_peak_bytes'] / 2**20:.1f} MiB with memory_budget={budget_frac:.0%} of it "
          f"({len(rep['recomputed'])} results recomputed, {rep['recomputed_bytes'] / 2**20:.1f} MiB, +{rep['extra_flops'] / 1e9:.2f} GFLOP; "
          f"{rep['peak_before_reorder_bytes'] / 2**20:.1f} MiB before the schedule was reordered); first two steps {t_trace:.1f} s")
    return res, None


def resnet50_infer(repeat):
    """Traced ResNet-50 inference, 8x3x224x224, beside eager and PyTorch eager."""
    from deepseek.models.resnet import resnet50

    x = deepseek.tensor(np.random.default_rng(0).standard_normal((8, 3, 224, 224)).astype(np.float32))
    deepseek.manual_seed(0)
    m = resnet50().eval()
    with deepseek.no_grad():
        g = deepseek.jit.trace(m, (x,))
        f = deepseek.jit.freeze(g)  # weights inlined, batch norms folded into the convolutions
        res = {"eager": timeit(lambda: m(x), repeat, warmup=1), "traced": timeit(lambda: f(x), repeat, warmup=1),
               "unfrozen": timeit(lambda: g(x), repeat, warmup=1)}
        err = float(np.abs(np.asarray(f(x)) - np.asarray(m(x))).max())
    if torch is not None:
        import torchvision

        tm = torchvision.models.resnet50().eval()
        tx = torch.from_numpy(np.asarray(x))
        with torch.no_grad():
            res["torch"] = timeit(lambda: tm(tx), repeat, warmup=1)
    print(f"  resnet50-infer: traced is deepseek.jit.freeze(trace(model.eval())): {f._folded_convs} batch norms folded into "
          f"convolutions; unfrozen trace {res['unfrozen'] * 1e3:.1f} ms; max |frozen - eager| {err:.2e}")
    return res, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--device", default="opencl:0", help="where ew-chain-big's fused node runs as one generated kernel")
    ap.add_argument("--resnet", action="store_true", help="also the ResNet-50 workloads (slow: a few steps each)")
    ap.add_argument("--device-only", action="store_true", help="only the chains traced on --device")
    args = ap.parse_args()
    print(f"deepseek {deepseek.__version__}; torch {'not installed' if torch is None else torch.__version__}; median of {args.repeat} calls")
    print(f"{'workload':<12} {'eager ms':>9} {'traced ms':>10} {'torch ms':>9} {'eager/traced':>13} {'torch/traced':>13}")
    workloads = [("mlp-train", mlp_train), ("xformer-b1", xformer_b1), ("ew-chain", ew_chain), ("ew-chain-big", ew_chain_big),
                 ("ew-affine", lambda r: ew_affine(max(5, r // 5)))]
    if args.resnet:
        workloads += [("resnet50-train", lambda r: resnet50_train(max(3, r // 10))), ("resnet50-infer", lambda r: resnet50_infer(max(3, r // 10)))]
    for chain, f in (("ew-chain-big", _transcendental_chain), ("arith-chain-big", _arith_chain)):
        dev = ew_chain_device(max(5, args.repeat // 5), args.device, f=f)
        if dev is not None:
            print(f"{chain} traced on {args.device}: generated kernel {dev[0] * 1e3:.3f} ms (with the general walk over dims "
                  f"{dev[1] * 1e3:.3f} ms), one launch a step {dev[2] * 1e3:.3f} ms; per-step/generated {dev[2] / dev[0]:.2f}x "
                  f"(general walk {dev[2] / dev[1]:.2f}x)")
    if args.device_only:
        return
    for name, fn in workloads:
        try:
            with warnings.catch_warnings():
                # a frozen result would make the timing meaningless; host reads for checks do not
                warnings.filterwarnings("error", "a tensor of shape", deepseek.jit.TracerWarning)
                warnings.filterwarnings("ignore", "Converting a tensor", deepseek.jit.TracerWarning)
                r, mem = fn(args.repeat)
        except deepseek.jit.TracerWarning as w:
            print(f"{name:<12} not traceable yet: {str(w)[:90]}...")
            continue
        tt = r.get("torch")
        tms = "n/a" if tt is None else f"{tt * 1e3:.3f}"
        tratio = "n/a" if tt is None else f"{tt / r['traced']:.2f}x"
        print(f"{name:<12} {r['eager'] * 1e3:>9.3f} {r['traced'] * 1e3:>10.3f} {tms:>9} {r['eager'] / r['traced']:>12.2f}x {tratio:>13}")
        if "unfused" in r:
            print(f"  elementwise fusion: traced unfused {r['unfused'] * 1e3:.3f} ms -> fused {r['traced'] * 1e3:.3f} ms "
                  f"({r['unfused'] / r['traced']:.2f}x)")
        if mem:
            arena, unplanned, live, eager_peak = mem
            print(f"  memory plan: arena {arena / 1024:.1f} KiB (no reuse {unplanned / 1024:.1f} KiB, least possible {live / 1024:.1f} KiB); "
                  f"eager allocator peak {eager_peak / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
