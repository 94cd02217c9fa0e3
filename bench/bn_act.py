"""Batch norm + ReLU (+ residual add) at ResNet-50's shapes, and its max pool: deepseek fused
beside deepseek unfused and PyTorch (a script, not a test).

    PYTHONPATH=python /tmp/refvenv/bin/python bench/bn_act.py [--batch 8] [--hw 224] [--repeats 5]

For each distinct activation shape of ResNet-50 (and both block endings: bn + relu, and
bn + residual add + relu), eval-mode forward and training-mode forward + backward are timed:
``F._batch_norm_act`` (one fused call each way), deepseek's modules one by one
(``F.batch_norm`` then ``+`` then ``F.relu``) and PyTorch's (``F.batch_norm``, ``+``,
``F.relu``) in the same process, min of ``--repeats`` after two warm-ups. Then the stem's
max_pool2d (3x3, stride 2, padding 1): without indices (inference), and forward + backward.
Times in ms; ratios are deepseek fused / PyTorch (< 1 is faster). Without PyTorch installed,
deepseek's columns are printed alone.
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
    import torch.nn.functional as TF
except ImportError:  # deepseek alone
    torch = None


def resnet50_shapes(batch, hw):
    """{(C, H): (times with relu alone, times with residual + relu)} for torchvision's ResNet-50."""
    shapes = {}

    def add(c, h, res):
        a, b = shapes.get((c, h), (0, 0))
        shapes[(c, h)] = (a + (not res), b + res)

    h = (hw + 1) // 2
    add(64, h, False)
    h = (h + 1) // 2
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            s = stride if b == 0 else 1
            add(width, h, False)
            h = (h - 1) // s + 1
            add(width, h, False)
            add(width * 4, h, True)
    return shapes


def best(fn, repeats):
    fn()
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times) * 1e3


def bench_shape(n, c, h, res, train, repeats, rng):
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    r = rng.standard_normal((n, c, h, h)).astype(np.float32)
    g = rng.standard_normal((n, c, h, h)).astype(np.float32)
    w, b = rng.uniform(0.5, 1.5, c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    stats = rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)
    dx, dr, dg = (deepseek.from_numpy(a).requires_grad_(train) for a in (x, r, g))
    dw, db = (deepseek.from_numpy(a.copy()).requires_grad_(train) for a in (w, b))
    dm, dv = (deepseek.from_numpy(a.copy()) for a in stats)
    rr = dr if res else None

    def run(fused):
        def go():
            if fused:
                y = F._batch_norm_act(dx, dm, dv, dw, db, train, 0.1, 1e-5, rr, True)
            else:
                y = F.batch_norm(dx, dm, dv, dw, db, train, 0.1, 1e-5)
                y = F.relu(y + rr if res else y)
            if train:
                y.backward(dg)
        return go

    def ctx():
        return deepseek.enable_grad() if train else deepseek.no_grad()

    with ctx():
        out = [best(run(True), repeats), best(run(False), repeats)]
    if torch is not None:
        tx, tr, tg = (torch.from_numpy(a).requires_grad_(train) for a in (x, r, g))
        tw, tb = (torch.from_numpy(a.copy()).requires_grad_(train) for a in (w, b))
        tm, tv = (torch.from_numpy(a.copy()) for a in stats)

        def tgo():
            y = TF.batch_norm(tx, tm, tv, tw, tb, train, 0.1, 1e-5)
            y = TF.relu(y + tr if res else y)
            if train:
                y.backward(tg)

        with (torch.enable_grad() if train else torch.no_grad()):
            out.append(best(tgo, repeats))
    return out


def bench_pool(n, h, repeats, rng):
    x = rng.standard_normal((n, 64, h, h)).astype(np.float32)
    rows = []
    for train in (False, True):
        dx = deepseek.from_numpy(x).requires_grad_(train)

        def go():
            y = F.max_pool2d(dx, 3, 2, 1)
            if train:
                y.backward(deepseek.ones_like(y))

        row = [best(go, repeats)]
        if torch is not None:
            tx = torch.from_numpy(x).requires_grad_(train)

            def tgo():
                y = TF.max_pool2d(tx, 3, 2, 1)
                if train:
                    y.backward(torch.ones_like(y))

            row.append(best(tgo, repeats))
        rows.append(row)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--hw", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    deepseek.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    peer = "torch" if torch is not None else "(no torch)"
    print(f"ResNet-50 batch norm + relu (+ residual), batch {args.batch}, {args.hw}^2, {args.threads} threads; ms, min of {args.repeats}")
    print(f"{'mode':<10} {'shape':<18} {'res':>3} {'x':>3} {'fused':>8} {'unfused':>8} {peer:>8} {'fused/torch':>11} {'unfused/fused':>13}")
    for train in (False, True):
        tot = np.zeros(3)
        for (c, h), counts in sorted(resnet50_shapes(args.batch, args.hw).items(), key=lambda kv: -kv[0][1]):
            for res, k in ((False, counts[0]), (True, counts[1])):
                if not k:
                    continue
                t = bench_shape(args.batch, c, h, res, train, args.repeats, rng)
                tot[:len(t)] += k * np.array(t)
                ratio = f"{t[0] / t[2]:11.2f}" if len(t) > 2 else ""
                mode = "train f+b" if train else "eval fwd"
                print(f"{mode:<10} {str((args.batch, c, h, h)):<18} {'yes' if res else 'no':>3} {k:>3} {t[0]:8.2f} {t[1]:8.2f} "
                      f"{(t[2] if len(t) > 2 else float('nan')):8.2f} {ratio} {t[1] / t[0]:13.2f}")
        label = "train f+b" if train else "eval fwd"
        r = f"{tot[0] / tot[2]:11.2f}" if torch is not None else ""
        print(f"{label:<10} {'whole network':<18} {'':>3} {'':>3} {tot[0]:8.2f} {tot[1]:8.2f} {tot[2]:8.2f} {r} {tot[1] / tot[0]:13.2f}")
    h = (args.hw + 1) // 2
    print(f"\nmax_pool2d 3x3/2 pad 1 on ({args.batch}, 64, {h}, {h}); ms")
    for name, row in zip(("eval fwd", "train f+b"), bench_pool(args.batch, h, args.repeats, rng)):
        extra = f"  torch {row[1]:8.2f}  ratio {row[0] / row[1]:.2f}" if len(row) > 1 else ""
        print(f"{name:<10} deepseek {row[0]:8.2f}{extra}")


if __name__ == "__main__":
    main()
