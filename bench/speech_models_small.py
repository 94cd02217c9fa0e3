"""CPU time of the small speech models (DeepSpeech2, QuartzNet 5x5, x-vector): one forward pass
and one training step (forward, backward) with deepseek.models, beside the torch.nn references of
bench/model_refs_speechsm.py in PyTorch.

Usage:
    python bench/speech_models_small.py [--threads N] [--repeats R] [--torch-python PATH]

PyTorch runs in this process when importable; otherwise ``--torch-python`` names the python of
a virtual environment that has torch, and the same measurement runs there in a child process.
Both sides get the same thread count, random weights (timing does not depend on values) and the
same inputs: batch 8 of 1 s of features (100 frames: DeepSpeech2 161 frequencies, QuartzNet 64
mel bins) and 3 s for the x-vector (300 frames of 24 mel bins). "ragged" runs DeepSpeech2 with
per-row lengths (packed recurrences, masks). Each number is the median of R timed repeats after
one warm-up. This is a script, not a test: it never asserts on timings.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _machine import physical_cores

BATCH = 8
# name -> (constructor, input shape, ragged lengths or None)
WORKLOADS = {
    "deepspeech2": ("deepspeech2", (BATCH, 1, 161, 100), None),
    "deepspeech2 ragged": ("deepspeech2", (BATCH, 1, 161, 100), [100, 96, 90, 85, 80, 72, 64, 50]),
    "quartznet5x5": ("quartznet5x5", (BATCH, 64, 100), None),
    "xvector": ("xvector", (BATCH, 300, 24), None),
}


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def _timed(fn, repeats):
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return _median(ts)


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def bench(lib, threads, repeats):
    """{workload: (forward s, training step s)} with ``lib`` = "deepseek" or "torch"."""
    if lib == "torch":
        import torch as ds

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from model_refs_speechsm import BUILDERS

        ds.set_num_threads(threads)
        no_grad = ds.inference_mode
    else:
        import deepseek as ds
        from deepseek import models

        BUILDERS = {name: models.get_model_entry(name).fn for name in ("deepspeech2", "quartznet5x5", "xvector")}
        if hasattr(ds, "set_num_threads"):
            ds.set_num_threads(threads)
        no_grad = ds.no_grad
    out = {}
    for label, (name, shape, lengths) in WORKLOADS.items():
        ds.manual_seed(0)
        model = BUILDERS[name]()
        x = ds.randn(*shape)
        args = (x,) if lengths is None else (x, ds.tensor(lengths))

        def forward():
            with no_grad():
                model(*args)

        def step():
            model.zero_grad()
            _first(model(*args)).exp().mean().backward()

        model.eval()
        fwd = _timed(forward, repeats)
        model.train()
        out[label] = (fwd, _timed(step, repeats))
        del model
    return out


def bench_torch(threads, repeats, torch_python):
    try:
        import torch  # noqa: F401

        return bench("torch", threads, repeats), torch.__version__
    except ImportError:
        pass
    if torch_python is None:
        return None, None
    code = ("import json, sys; sys.path.insert(0, {here!r}); import speech_models_small as s, torch; "
            "print(json.dumps({{'times': s.bench('torch', {t}, {r}), 'version': torch.__version__}}))"
            ).format(here=str(Path(__file__).resolve().parent), t=threads, r=repeats)
    res = subprocess.run([torch_python, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    if res.returncode != 0:
        print(f"torch side failed:\n{res.stderr[-2000:]}", file=sys.stderr)
        return None, None
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    return {k: tuple(v) for k, v in doc["times"].items()}, doc["version"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=physical_cores())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--torch-python", default=None)
    args = ap.parse_args()
    ours = bench("deepseek", args.threads, args.repeats)
    theirs, version = bench_torch(args.threads, args.repeats, args.torch_python)
    print(f"threads={args.threads} repeats={args.repeats} batch={BATCH} torch={version or 'not run'}")
    print(f"{'workload':<20} {'fwd deepseek s':>15} {'fwd torch s':>12} {'torch/ds':>9} "
          f"{'step deepseek s':>16} {'step torch s':>13} {'torch/ds':>9}")
    for label in WORKLOADS:
        f, s = ours[label]
        tf, ts = theirs[label] if theirs else (float("nan"), float("nan"))
        print(f"{label:<20} {f:>15.3f} {tf:>12.3f} {tf / f:>8.2f}x {s:>16.3f} {ts:>13.3f} {ts / s:>8.2f}x")


if __name__ == "__main__":
    main()
