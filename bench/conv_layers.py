"""ResNet-50's convolution layers one by one: deepseek beside PyTorch (a script, not a test).

    PYTHONPATH=python /tmp/refvenv/bin/python bench/conv_layers.py [--batch 8] [--hw 224] [--fwd-bwd] [--sweep] [--cpu-time --threads 1]
    PYTHONPATH=python /tmp/refvenv/bin/python bench/conv_layers.py --backward [--threads 1] [--cpu-time]

Each distinct layer of ResNet-50 (input shape, weight shape, stride, padding) is timed alone,
forward only (or forward + both gradients with ``--fwd-bwd``), min of ``--repeats`` after two
warm-ups, with GFLOP/s and the time ratio to PyTorch (oneDNN) in the same process. Layers are
weighted by how often the network uses them in the totals. Without PyTorch installed, deepseek's
column is printed alone. ``--backward`` times the two gradients apart instead: the input
gradient (``autograd.grad`` with respect to the input only) and the weight gradient (the weight
only) against ``torch.ops.aten.convolution_backward`` with the matching output mask, deepseek
and PyTorch samples interleaved (median of ``--repeats``), then sums them per layer kind
(3x3 stride 1, 3x3 stride 2, 1x1, 1x1 stride 2, 7x7 stem), weighted by use. ``--sweep`` times 3x3 stride-1 layers of few channels and small
images instead, where the choice between Winograd and im2col + GEMM is made (run it against
two builds to see the crossover). ``--cpu-time`` reports the process's CPU time instead of
wall time: with ``--threads 1`` it stays meaningful on a machine other jobs keep busy (time
spent descheduled is not counted; caches are still shared).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))

import numpy as np  # noqa: E402

import deepseek  # noqa: E402
import deepseek.nn.functional as F  # noqa: E402

try:
    import torch
except ImportError:  # deepseek alone
    torch = None


def resnet50_layers(batch, hw):
    """(input shape, weight shape, stride, padding) -> count, for torchvision's ResNet-50."""
    layers = {}

    def add(c, h, o, k, s):
        key = ((batch, c, h, h), (o, c, k, k), s, k // 2)
        layers[key] = layers.get(key, 0) + 1

    h = hw
    add(3, h, 64, 7, 2)
    h = (h + 1) // 2
    h = (h + 1) // 2  # max pool
    c = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            s = stride if b == 0 else 1
            add(c, h, width, 1, 1)
            add(width, h, width, 3, s)
            ho = (h - 1) // s + 1
            add(width, ho, width * 4, 1, 1)
            if b == 0:
                add(c, h, width * 4, 1, s)
            c, h = width * 4, ho
    return layers


def sweep_layers(batch):
    """3x3 stride-1 padding-1 layers around the Winograd / im2col crossover."""
    return {((batch, c, h, h), (c, c, 3, 3), 1, 1): 1 for c in (8, 16, 32, 64) for h in (56, 14, 7, 4)}


def best(fn, repeats, clock=time.perf_counter):
    fn()
    fn()
    times = []
    for _ in range(repeats):
        t = clock()
        fn()
        times.append(clock() - t)
    return min(times)


def kind(ws, st):
    """The layer kind a layer's time is summed under."""
    k = ws[2]
    if k == 7:
        return "7x7 stem"
    return f"{k}x{k}" + (f" s{st}" if st > 1 else "")


def gradients(args):
    """Input- and weight-gradient times per layer and per layer kind (see the module docstring)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _timing import interleaved

    rng = np.random.RandomState(0)
    clock = time.process_time if args.cpu_time else time.perf_counter
    print(f"# conv gradients of ResNet-50, batch {args.batch}, {args.hw}^2, {args.threads} threads, "
          f"median of {args.repeats}{' (CPU time)' if args.cpu_time else ''}; torch {torch.__version__ if torch else 'absent'}")
    print(f"{'input':22s} {'weight':20s} {'s':>2s} {'x':>3s} | {'dx ds ms':>9s} {'GF/s':>5s} {'torch':>7s} {'ratio':>5s}"
          f" | {'dw ds ms':>9s} {'GF/s':>5s} {'torch':>7s} {'ratio':>5s}")
    layers = resnet50_layers(args.batch, args.hw)
    if args.only_3x3:
        layers = {k: v for k, v in layers.items() if k[1][2] == 3}
    kinds = {}
    for (xs, ws, st, pd), cnt in layers.items():
        x = rng.randn(*xs).astype(np.float32)
        w = (rng.randn(*ws) * 0.1).astype(np.float32)
        oh = (xs[2] + 2 * pd - ws[2]) // st + 1
        gy = rng.randn(xs[0], ws[0], oh, oh).astype(np.float32)
        flops = 2.0 * np.prod(ws) * xs[0] * oh * oh
        cols = []
        for which in ("input", "weight"):
            xd = deepseek.tensor(x, requires_grad=which == "input")
            wd = deepseek.tensor(w, requires_grad=which == "weight")
            yd = F.conv2d(xd, wd, stride=st, padding=pd)
            gyd = deepseek.tensor(gy)
            target = xd if which == "input" else wd
            fns = [lambda yd=yd, gyd=gyd, target=target: deepseek.autograd.grad(yd, [target], gyd, retain_graph=True)]
            if torch is not None:
                xt, wt, gyt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(gy)
                mask = [which == "input", which == "weight", False]
                fns.append(lambda xt=xt, wt=wt, gyt=gyt, mask=mask: torch.ops.aten.convolution_backward(
                    gyt, xt, wt, None, [st, st], [pd, pd], [1, 1], False, [0, 0], 1, mask))
            times = interleaved(fns, args.repeats, clock)
            cols.append(times)
            acc = kinds.setdefault(kind(ws, st), [0.0, 0.0, 0.0, 0.0])
            base = 0 if which == "input" else 2
            acc[base] += times[0] * cnt
            if torch is not None:
                acc[base + 1] += times[1] * cnt
        line = f"{str(xs):22s} {str(ws):20s} {st:2d} {cnt:3d}"
        for times in cols:
            line += f" | {times[0] * 1e3:9.2f} {flops / times[0] / 1e9:5.0f}"
            line += f" {times[1] * 1e3:7.2f} {times[0] / times[1]:5.2f}" if torch is not None else ""
        print(line, flush=True)
    print(f"\n{'kind (weighted by use)':24s} {'dx ds ms':>9s} {'torch':>8s} {'ratio':>5s} {'dw ds ms':>9s} {'torch':>8s} {'ratio':>5s}")
    tot = [0.0] * 4
    for name, acc in kinds.items():
        tot = [a + b for a, b in zip(tot, acc)]
    for name, acc in list(kinds.items()) + [("all", tot)]:
        r = lambda a, b: f"{a / b:5.2f}" if b else "    -"  # noqa: E731
        print(f"{name:24s} {acc[0] * 1e3:9.1f} {acc[1] * 1e3:8.1f} {r(acc[0], acc[1])} {acc[2] * 1e3:9.1f} {acc[3] * 1e3:8.1f} {r(acc[2], acc[3])}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--hw", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fwd-bwd", action="store_true", help="time forward + input and weight gradients together")
    ap.add_argument("--backward", action="store_true", help="time the input and the weight gradient apart")
    ap.add_argument("--sweep", action="store_true", help="small 3x3 layers around the Winograd crossover")
    ap.add_argument("--only-3x3", action="store_true", help="the 3x3 layers only")
    ap.add_argument("--cpu-time", action="store_true", help="process CPU time instead of wall time")
    args = ap.parse_args()
    deepseek.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    if args.backward:
        return gradients(args)
    rng = np.random.RandomState(0)
    tot_d = tot_t = 0.0
    print(f"# conv layers of ResNet-50, batch {args.batch}, {args.hw}^2, {args.threads} threads, "
          f"{'fwd+bwd' if args.fwd_bwd else 'fwd'}, min of {args.repeats}{' (CPU time)' if args.cpu_time else ''}; torch {torch.__version__ if torch else 'absent'}")
    print(f"{'input':22s} {'weight':20s} {'s':>2s} {'x':>3s} {'deepseek ms':>12s} {'GF/s':>6s} {'torch ms':>9s} {'GF/s':>6s} {'ds/torch':>8s}")
    layers = sweep_layers(args.batch) if args.sweep else resnet50_layers(args.batch, args.hw)
    if args.only_3x3:
        layers = {k: v for k, v in layers.items() if k[1][2] == 3}
    clock = time.process_time if args.cpu_time else time.perf_counter
    for (xs, ws, st, pd), cnt in layers.items():
        x = rng.randn(*xs).astype(np.float32)
        w = (rng.randn(*ws) * 0.1).astype(np.float32)
        xd = deepseek.tensor(x, requires_grad=args.fwd_bwd)
        wd = deepseek.tensor(w, requires_grad=args.fwd_bwd)

        def run_d():
            if args.fwd_bwd:
                F.conv2d(xd, wd, stride=st, padding=pd).sum().backward()
            else:
                with deepseek.no_grad():
                    F.conv2d(xd, wd, stride=st, padding=pd)

        td = best(run_d, args.repeats, clock)
        oh = (xs[2] + 2 * pd - ws[2]) // st + 1
        flops = 2.0 * np.prod(ws) * xs[0] * oh * oh * (3 if args.fwd_bwd else 1)
        tot_d += td * cnt
        line = f"{str(xs):22s} {str(ws):20s} {st:2d} {cnt:3d} {td * 1e3:12.2f} {flops / td / 1e9:6.0f}"
        if torch is not None:
            xt = torch.from_numpy(x).requires_grad_(args.fwd_bwd)
            wt = torch.from_numpy(w).requires_grad_(args.fwd_bwd)

            def run_t():
                if args.fwd_bwd:
                    torch.nn.functional.conv2d(xt, wt, stride=st, padding=pd).sum().backward()
                else:
                    with torch.no_grad():
                        torch.nn.functional.conv2d(xt, wt, stride=st, padding=pd)

            tt = best(run_t, args.repeats, clock)
            tot_t += tt * cnt
            line += f" {tt * 1e3:9.2f} {flops / tt / 1e9:6.0f} {td / tt:8.2f}"
        print(line, flush=True)
    tail = f"total (weighted by use): deepseek {tot_d * 1e3:.1f} ms"
    if torch is not None:
        tail += f", torch {tot_t * 1e3:.1f} ms, ratio {tot_d / tot_t:.2f}"
    print(tail)


if __name__ == "__main__":
    main()
