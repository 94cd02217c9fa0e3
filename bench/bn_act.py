"""Batch norm + ReLU (+ residual add) at ResNet-50's shapes, and its max pool: deepseek fused
beside PyTorch (and, with ``--unfused``, deepseek's modules one by one); a script, not a test.

    PYTHONPATH=python /tmp/refvenv/bin/python bench/bn_act.py [--batch 8] [--hw 224] [--threads 2]
        [--repeats 5] [--cpu-clock] [--unfused] [--only bn|pool]

For each distinct activation shape of ResNet-50 (and both block endings: bn + relu, and
bn + residual add + relu): eval-mode forward, training-mode forward (the statistics pass and
the normalisation) and training-mode forward + backward: ``F._batch_norm_act`` (one fused call
each way) beside PyTorch's ``F.batch_norm``, ``+``, ``F.relu``. Then the stem's max_pool2d
(3x3, stride 2, padding 1): values only (inference), with indices (training's forward), and
forward + backward. Samples of the peers alternate (``_timing.interleaved``), medians of
``--repeats``; ``--cpu-clock`` times with the process's CPU clock, which on a machine busy
with other work (with ``--threads 1``) leaves out the time spent waiting for a core. Times in
ms; ratios are PyTorch's time / deepseek's (> 1 is faster). Without PyTorch installed,
deepseek's columns are printed alone.
"""
from __future__ import annotations

import sys

from _machine import pin_threads
from _timing import interleaved

THREADS = pin_threads(sys.argv[1:])

import argparse  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))

import numpy as np  # noqa: E402

import deepseek  # noqa: E402
import deepseek.nn.functional as F  # noqa: E402

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # deepseek alone
    torch = None

CLOCK = time.perf_counter


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


def best(fns, repeats):
    """Median time in ms of each of ``fns`` (a list of (callable, context factory)), their
    samples interleaved so a busy machine slows them alike."""
    def wrap(fn, ctx):
        def go():
            with ctx():
                fn()
        return go
    return [t * 1e3 for t in interleaved([wrap(f, c) for f, c in fns], repeats, CLOCK)]


def bench_shape(n, c, h, res, mode, repeats, rng, unfused):
    train, bwd = mode != "eval", mode == "train+bwd"
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    r = rng.standard_normal((n, c, h, h)).astype(np.float32)
    g = rng.standard_normal((n, c, h, h)).astype(np.float32)
    w, b = rng.uniform(0.5, 1.5, c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    stats = rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)
    dx, dr, dg = (deepseek.from_numpy(a).requires_grad_(bwd) for a in (x, r, g))
    dw, db = (deepseek.from_numpy(a.copy()).requires_grad_(bwd) for a in (w, b))
    dm, dv = (deepseek.from_numpy(a.copy()) for a in stats)
    rr = dr if res else None

    def run(fused):
        def go():
            if fused:
                y = F._batch_norm_act(dx, dm, dv, dw, db, train, 0.1, 1e-5, rr, True)
            else:
                y = F.batch_norm(dx, dm, dv, dw, db, train, 0.1, 1e-5)
                y = F.relu(y + rr if res else y)
            if bwd:
                y.backward(dg)
        return go

    def ctx():
        return deepseek.enable_grad() if bwd else deepseek.no_grad()

    fns = [(run(True), ctx)] + ([(run(False), ctx)] if unfused else [])
    if torch is not None:
        tx, tr, tg = (torch.from_numpy(a).requires_grad_(bwd) for a in (x, r, g))
        tw, tb = (torch.from_numpy(a.copy()).requires_grad_(bwd) for a in (w, b))
        tm, tv = (torch.from_numpy(a.copy()) for a in stats)

        def tgo():
            y = TF.batch_norm(tx, tm, tv, tw, tb, train, 0.1, 1e-5)
            y = TF.relu(y + tr if res else y)
            if bwd:
                y.backward(tg)

        fns.append((tgo, lambda: torch.enable_grad() if bwd else torch.no_grad()))
    t = best(fns, repeats)
    # (fused, unfused or nan, torch or nan)
    return t[0], (t[1] if unfused else float("nan")), (t[-1] if torch is not None else float("nan"))


def bench_pool(n, h, repeats, rng):
    """[(mode, deepseek ms, torch ms or nan)] for the stem's pool: values only, with indices,
    forward + backward."""
    x = rng.standard_normal((n, 64, h, h)).astype(np.float32)
    rows = []
    for mode in ("values", "indices", "fwd+bwd"):
        bwd = mode == "fwd+bwd"
        dx = deepseek.from_numpy(x).requires_grad_(bwd)
        gd = deepseek.from_numpy(rng.standard_normal((n, 64, (h + 1) // 2, (h + 1) // 2)).astype(np.float32))

        def go():
            y = F.max_pool2d(dx, 3, 2, 1, return_indices=mode == "indices")
            if bwd:
                y.backward(gd)

        fns = [(go, lambda: deepseek.enable_grad() if bwd else deepseek.no_grad())]
        if torch is not None:
            tx = torch.from_numpy(x).requires_grad_(bwd)
            gt = torch.from_numpy(gd.numpy())

            def tgo():
                y = TF.max_pool2d(tx, 3, 2, 1, return_indices=mode == "indices")
                if bwd:
                    y.backward(gt)

            fns.append((tgo, lambda: torch.enable_grad() if bwd else torch.no_grad()))
        t = best(fns, repeats)
        rows.append((mode, t[0], t[1] if torch is not None else float("nan")))
    return rows


def main():
    global CLOCK
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--hw", type=int, default=224)
    ap.add_argument("--threads", type=int, default=THREADS)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cpu-clock", action="store_true", help="time with the process's CPU clock (use with --threads 1)")
    ap.add_argument("--unfused", action="store_true", help="also time deepseek's batch_norm, add and relu one by one")
    ap.add_argument("--only", choices=("bn", "pool"), help="only the batch norms or only the pool")
    args = ap.parse_args()
    if args.cpu_clock:
        CLOCK = time.process_time
    deepseek.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    peer = "torch" if torch is not None else "(no torch)"
    clock = "process CPU" if args.cpu_clock else "wall"
    if args.only != "pool":
        print(f"ResNet-50 batch norm + relu (+ residual), batch {args.batch}, {args.hw}^2, {args.threads} thread(s); "
              f"ms, median of {args.repeats}, {clock} clock; ratio = torch / deepseek")
        print(f"{'mode':<10} {'shape':<18} {'res':>3} {'x':>3} {'fused':>8} {'unfused':>8} {peer:>8} {'ratio':>6}")
        for mode in ("eval", "train", "train+bwd"):
            tot = np.zeros(3)
            for (c, h), counts in sorted(resnet50_shapes(args.batch, args.hw).items(), key=lambda kv: -kv[0][1]):
                for res, k in ((False, counts[0]), (True, counts[1])):
                    if not k:
                        continue
                    t = bench_shape(args.batch, c, h, res, mode, args.repeats, rng, args.unfused)
                    tot += k * np.array(t)
                    print(f"{mode:<10} {str((args.batch, c, h, h)):<18} {'yes' if res else 'no':>3} {k:>3} {t[0]:8.2f} {t[1]:8.2f} "
                          f"{t[2]:8.2f} {t[2] / t[0]:6.2f}", flush=True)
            print(f"{mode:<10} {'whole network':<18} {'':>3} {'':>3} {tot[0]:8.2f} {tot[1]:8.2f} {tot[2]:8.2f} {tot[2] / tot[0]:6.2f}", flush=True)
    if args.only != "bn":
        h = (args.hw + 1) // 2
        print(f"\nmax_pool2d 3x3/2 pad 1 on ({args.batch}, 64, {h}, {h}), {args.threads} thread(s); ms, median of "
              f"{args.repeats}, {clock} clock; ratio = torch / deepseek")
        for mode, ds_ms, t_ms in bench_pool(args.batch, h, args.repeats, rng):
            print(f"{mode:<10} deepseek {ds_ms:8.2f}  {peer} {t_ms:8.2f}  ratio {t_ms / ds_ms:.2f}", flush=True)


if __name__ == "__main__":
    main()
