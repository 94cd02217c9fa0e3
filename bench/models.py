"""Model-level CPU inference benchmark: ResNet-50, ViT-B/16 and BERT-base at batch 8 with
deepseek.models, beside the reference implementations (torchvision, transformers) in PyTorch.

Usage:
    python bench/models.py [--threads N] [--repeats R] [--torch-python PATH] [--only NAME ...]

PyTorch runs in this process when importable; otherwise ``--torch-python`` names the python of
a virtual environment that has torch, torchvision and transformers, and the same measurement
runs there in a child process. Both sides get the same thread count, eval mode, no gradient,
random weights (timing does not depend on values) and the same input shapes: images
8x3x224x224, tokens 8x128. Each number is the median of R timed forward passes after two
warm-up passes. This is a script, not a test: it never asserts on timings.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _machine import physical_cores

WORKLOADS = {"resnet50": (8, 3, 224, 224), "vit_b_16": (8, 3, 224, 224), "bert_base_uncased": (8, 128)}

_TORCH_CHILD = r'''
import json, sys, time, statistics, torch
torch.set_num_threads(int(sys.argv[1])); repeats = int(sys.argv[2])
import torchvision, transformers
out = {}
for name, shape in json.loads(sys.argv[3]).items():
    torch.manual_seed(0)
    if name == "bert_base_uncased":
        m = transformers.BertModel(transformers.BertConfig()).eval()
        x = torch.randint(3, 30000, tuple(shape))
    else:
        m = getattr(torchvision.models, name)().eval()
        x = torch.randn(*shape)
    ts = []
    with torch.inference_mode():
        for i in range(repeats + 2):
            t = time.perf_counter(); m(x); ts.append(time.perf_counter() - t)
    out[name] = statistics.median(ts[2:])
print(json.dumps({"times": out, "version": torch.__version__}))
'''


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def bench_deepseek(threads, repeats, workloads=WORKLOADS):
    import deepseek as ds
    from deepseek import models

    if hasattr(ds, "set_num_threads"):
        ds.set_num_threads(threads)
    out = {}
    for name, shape in workloads.items():
        ds.manual_seed(0)
        m = models.get_model(name).eval()
        x = ds.randint(3, 30000, shape, dtype=ds.int64) if len(shape) == 2 else ds.randn(*shape)
        ts = []
        with ds.no_grad():
            for _ in range(repeats + 2):
                t = time.perf_counter()
                m(x)
                ts.append(time.perf_counter() - t)
        out[name] = _median(ts[2:])
        del m
    return out


def bench_torch(threads, repeats, torch_python, workloads=WORKLOADS):
    try:
        import torch  # noqa: F401

        python = sys.executable
    except ImportError:
        python = torch_python
    if python is None:
        return None, None
    res = subprocess.run([python, "-c", _TORCH_CHILD, str(threads), str(repeats), json.dumps(workloads)],
                         capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    if res.returncode != 0:
        print(f"torch side failed:\n{res.stderr[-2000:]}", file=sys.stderr)
        return None, None
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    return doc["times"], doc["version"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=physical_cores())
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--torch-python", default=None)
    ap.add_argument("--only", nargs="+", choices=list(WORKLOADS), help="run these workloads only")
    args = ap.parse_args()
    workloads = {k: v for k, v in WORKLOADS.items() if not args.only or k in args.only}
    ours = bench_deepseek(args.threads, args.repeats, workloads)
    theirs, version = bench_torch(args.threads, args.repeats, args.torch_python, workloads)
    print(f"threads={args.threads} repeats={args.repeats} torch={version or 'not run'}")
    print(f"{'model (batch 8)':<20} {'deepseek s':>11} {'torch s':>9} {'torch/deepseek':>15}")
    for name in workloads:
        t = theirs.get(name) if theirs else None
        ratio = f"{t / ours[name]:.2f}x" if t else "-"
        print(f"{name:<20} {ours[name]:>11.3f} {t if t else float('nan'):>9.3f} {ratio:>15}")


if __name__ == "__main__":
    main()
