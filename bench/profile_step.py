"""Where a training step's time goes, op by op (a script, not a test).

    PYTHONPATH=python .venv/bin/python bench/profile_step.py [--model resnet50|xformer] [--batch N] [--hw N]
    PYTHONPATH=python .venv/bin/python bench/profile_step.py --model vit_b_16 --eval   # inference only

Forward: every call into the Rust core (`deepseek._core`) is timed by name (``unary:relu``,
``conv2d``, ...). Backward: the core's engine times every graph node it runs
(``_core.profile_backward``), plus the summing of gradients that meet at a node and the
accumulation into leaves. One warm-up step runs first; the second is measured. ``--eval``
profiles one no-gradient forward pass in eval mode instead (any zoo model taking images or
128 tokens, e.g. ``vit_b_16``, ``bert_base_uncased``).
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))

import numpy as np  # noqa: E402

import deepseek  # noqa: E402
from deepseek import _core, nn  # noqa: E402


def build(args):
    rng = np.random.RandomState(0)
    if args.model == "resnet50":
        model = nn.ResNet50()
        x = deepseek.tensor(rng.randn(args.batch, 3, args.hw, args.hw).astype(np.float32))
        y = deepseek.tensor(rng.randint(0, 1000, args.batch))
        loss = nn.CrossEntropyLoss()
        return model, lambda: loss(model(x), y)
    if args.model != "xformer":  # a zoo model: images, or token ids for the text encoders
        from deepseek import models

        model = models.get_model(args.model)
        entry = models.get_model_entry(args.model)
        if entry.task == "text-encoder":
            x = deepseek.tensor(rng.randint(3, 30000, (args.batch, 128)))
            return model, lambda: (model(x)[0] ** 2).mean()
        x = deepseek.tensor(rng.randn(args.batch, 3, args.hw, args.hw).astype(np.float32))
        return model, lambda: (model(x) ** 2).mean()
    layer = nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True)
    model = nn.TransformerEncoder(layer, 4)
    x = deepseek.tensor(rng.randn(args.batch, 128, 256).astype(np.float32))
    return model, lambda: (model(x) ** 2).mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50", help="resnet50, xformer or a zoo model name (vit_b_16 ...)")
    ap.add_argument("--eval", action="store_true", help="profile one forward pass in eval mode without gradients")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--hw", type=int, default=224)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    if args.threads:
        deepseek.set_num_threads(args.threads)
    model, loss_fn = build(args)
    if args.eval:
        model.eval()
        deepseek.set_grad_enabled(False)
        loss_fn()  # warm-up
    else:
        loss_fn().backward()  # warm-up

    spent, calls = collections.defaultdict(float), collections.Counter()

    def timed(name, f):
        def g(*a, **k):
            t = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                key = name + (":" + a[0] if a and isinstance(a[0], str) else "")
                spent[key] += time.perf_counter() - t
                calls[key] += 1
        return g

    originals = {}
    for name in dir(_core):
        f = getattr(_core, name)
        if callable(f) and not isinstance(f, type) and not name.startswith("_") and name not in ("backward", "grad"):
            originals[name] = f
            setattr(_core, name, timed(name, f))
    try:
        t0 = time.perf_counter()
        loss = loss_fn()
        t_fwd = time.perf_counter() - t0
    finally:
        for name, f in originals.items():
            setattr(_core, name, f)
    if args.eval:
        print(f"# {args.model} batch {args.batch}, eval forward, {deepseek.get_num_threads()} threads: {t_fwd * 1e3:.1f} ms, "
              f"{sum(spent.values()) / t_fwd:.0%} of it inside the core's calls")
        print("\n| forward op | ms | calls | share |\n|---|---:|---:|---:|")
        for k, v in sorted(spent.items(), key=lambda kv: -kv[1])[: args.top]:
            print(f"| {k} | {v * 1e3:.1f} | {calls[k]} | {v / t_fwd:.0%} |")
        return
    _core.profile_backward(True)
    t0 = time.perf_counter()
    loss.backward()
    t_bwd = time.perf_counter() - t0
    nodes = _core.profile_backward(False)

    print(f"# {args.model} batch {args.batch}" + (f" {args.hw}x{args.hw}" if args.model == "resnet50" else "")
          + f", {deepseek.get_num_threads()} threads: forward {t_fwd * 1e3:.1f} ms, backward {t_bwd * 1e3:.1f} ms")
    print("\n| forward op | ms | calls | share |\n|---|---:|---:|---:|")
    for k, v in sorted(spent.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"| {k} | {v * 1e3:.1f} | {calls[k]} | {v / t_fwd:.0%} |")
    print("\n| backward node | ms | calls | share |\n|---|---:|---:|---:|")
    for name, s, c in sorted(nodes, key=lambda r: -r[1])[: args.top]:
        print(f"| {name} | {s * 1e3:.1f} | {c} | {s / t_bwd:.0%} |")


if __name__ == "__main__":
    main()
