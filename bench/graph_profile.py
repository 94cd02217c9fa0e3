"""Where a traced ResNet-50 training step spends its time, op by op: ``TrainStep.profile``
(one timed run, the clock read around each node) of the unbudgeted trace and of traces under
``memory_budget``, side by side.

Usage (from the repo root):

    PYTHONPATH=python .venv/bin/python bench/graph_profile.py [--threads N] [--budgets 0.5]
        [--repeat 5] [--batch 16] [--size 64] [--top 20]

The workload is bench/graph_memory.py's (ResNet-50, 10 classes, a 16x3x64x64 batch, cross
entropy, SGD momentum 0.9). All traces live in one process and their profiled steps are
interleaved (a busy spell slows them alike); per op the least time over ``--repeat`` runs is
printed with its node count, then the whole run's and the setup's (binding, taking the arena).
A script, not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import pin_threads  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--budgets", default="0.5", help="memory_budget fractions traced beside the unbudgeted step")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()
    threads = pin_threads(sys.argv)

    import numpy as np

    import deepseek
    import deepseek.nn.functional as F
    from deepseek import optim
    from deepseek.models.resnet import resnet50

    rng = np.random.default_rng(0)
    x = deepseek.tensor(rng.standard_normal((args.batch, 3, args.size, args.size)).astype(np.float32))
    y = deepseek.tensor(rng.integers(0, 10, args.batch))
    fracs = [None] + [float(f) for f in args.budgets.split(",") if f]
    steps = {}
    for f in fracs:
        deepseek.manual_seed(0)
        m = resnet50(num_classes=10)
        ts = deepseek.jit.trace_train_step(m, F.cross_entropy, optim.SGD(m.parameters(), lr=0.01, momentum=0.9), x, y, memory_budget=f)
        ts(x, y), ts(x, y), ts(x, y)  # eager, traced, one graph run
        steps["traced" if f is None else f"traced {f:.0%}"] = ts
    best = {k: {} for k in steps}  # op -> (count, least seconds)
    whole = {k: [float("inf"), float("inf")] for k in steps}
    for _ in range(args.repeat):
        for k, ts in steps.items():
            p = ts.profile(x, y)
            whole[k] = [min(whole[k][0], p["total_seconds"]), min(whole[k][1], p["setup_seconds"])]
            for op, c, s in p["by_op"]:
                best[k][op] = (c, min(s, best[k].get(op, (c, float("inf")))[1]))
    first = next(iter(steps))
    ops = sorted({op for b in best.values() for op in b}, key=lambda op: -best[first].get(op, (0, 0.0))[1])
    print(f"ResNet-50 training step {args.batch}x3x{args.size}x{args.size}, SGD momentum; {threads} threads; least of "
          f"{args.repeat} profiled runs per op (ms); load average {os.getloadavg()[0]:.1f}")
    print(f"{'op':<28}" + "".join(f"{k + ' n':>14}{'ms':>9}" for k in steps))
    for op in ops[:args.top]:
        row = "".join(f"{best[k][op][0]:>14}{best[k][op][1] * 1e3:>9.2f}" if op in best[k] else f"{'-':>14}{'-':>9}" for k in steps)
        print(f"{op:<28}{row}")
    print(f"{'whole run':<28}" + "".join(f"{'':>14}{whole[k][0] * 1e3:>9.1f}" for k in steps))
    print(f"{'setup':<28}" + "".join(f"{'':>14}{whole[k][1] * 1e3:>9.2f}" for k in steps))


if __name__ == "__main__":
    main()
