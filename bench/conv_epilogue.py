"""Convolution epilogues and the fused elementwise loop in CPU time (issue 14).

Usage (from the repo root; run it once per core to compare, e.g. another checkout's python/):

    PYTHONPATH=python .venv/bin/python bench/conv_epilogue.py [ew|layers|resnet]

Times are CPU seconds of the process (``time.process_time``, the best of several calls): what
a run costs the cores however busy the box is, where wall-clock medians swing several times
over on a shared 2-core machine. Workloads:

  ew      relu(x * s[c] + t[c] + r) on 8x256x56x56 float32 (per-channel operands broadcast) and
          6 x (relu(x * 0.9 + 0.1) - x * 0.5) on 512x1024, traced vs eager
  layers  ResNet-50 convolution shapes at batch 8: the convolution alone, traced with a bias +
          residual + ReLU epilogue (one conv2d_epilogue node), and eagerly as four ops
  resnet  ResNet-50 inference 8x3x224x224: frozen trace, unfrozen trace, eager (alternated)

A script, not a test: nothing is asserted beyond the traced results equalling eager ones.
"""
from __future__ import annotations

import sys
import time

import numpy as np

import deepseek
from deepseek import nn


def cpu(fn, reps=5):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.process_time()
        fn()
        ts.append(time.process_time() - t0)
    return min(ts)


def ew():
    rng = np.random.default_rng(3)
    x, r = (deepseek.tensor(rng.standard_normal((8, 256, 56, 56)).astype(np.float32)) for _ in range(2))
    s, t = (deepseek.tensor(rng.standard_normal((1, 256, 1, 1)).astype(np.float32)) for _ in range(2))

    def f(x, s, t, r):
        return (x * s + t + r).relu()

    g = deepseek.jit.trace(f, (x, s, t, r))
    assert np.array_equal(np.asarray(g(x, s, t, r)), np.asarray(f(x, s, t, r)))
    print(f"ew-affine     traced {cpu(lambda: g(x, s, t, r), 7) * 1e3:8.2f} ms   eager {cpu(lambda: f(x, s, t, r), 7) * 1e3:8.2f} ms")
    xb = deepseek.tensor(rng.standard_normal((512, 1024)).astype(np.float32))

    def h(x):
        for _ in range(6):
            x = (x * 0.9 + 0.1).relu() - x * 0.5
        return x

    gb = deepseek.jit.trace(h, (xb,))
    assert np.array_equal(np.asarray(gb(xb)), np.asarray(h(xb)))
    print(f"ew-arith-big  traced {cpu(lambda: gb(xb), 9) * 1e3:8.2f} ms   eager {cpu(lambda: h(xb), 9) * 1e3:8.2f} ms")


def layers():
    rng = np.random.default_rng(0)
    print(f"{'layer (batch 8)':<22} {'conv ms':>8} {'conv+epilogue ms':>17} {'eager 4 ops ms':>15}")
    for cin, cout, k, hw in [(256, 64, 1, 56), (64, 64, 3, 56), (64, 256, 1, 56), (128, 128, 3, 28), (256, 256, 3, 14), (512, 2048, 1, 7)]:
        x = deepseek.tensor(rng.standard_normal((8, cin, hw, hw)).astype(np.float32))
        conv = nn.Conv2d(cin, cout, k, padding=k // 2, bias=True)
        y = conv(x)
        r = deepseek.tensor(rng.standard_normal(tuple(y.shape)).astype(np.float32))

        def plain(x):
            return deepseek.nn.functional.conv2d(x, conv.weight)

        def epi(x, r):
            return (conv(x) + r).relu()

        for f in (plain, epi):
            f.named_parameters, f.named_buffers = (lambda: list(conv.named_parameters(prefix="c"))), (lambda: [])
        gp, ge = deepseek.jit.trace(plain, (x,)), deepseek.jit.trace(epi, (x, r))
        assert [n["op"] for n in ge.graph.nodes() if n["kind"] != "view"] == ["conv2d_epilogue"]
        t = [cpu(lambda: gp(x)), cpu(lambda: ge(x, r)), cpu(lambda: epi(x, r))]
        name = f"{k}x{k} {cin}->{cout} at {hw}^2"
        print(f"{name:<22} {t[0] * 1e3:>8.2f} {t[1] * 1e3:>17.2f} {t[2] * 1e3:>15.2f}")


def resnet():
    from deepseek.models.resnet import resnet50

    x = deepseek.tensor(np.random.default_rng(0).standard_normal((8, 3, 224, 224)).astype(np.float32))
    deepseek.manual_seed(0)
    m = resnet50().eval()
    g = deepseek.jit.trace(m, (x,))
    fz = deepseek.jit.freeze(g)
    res = {}
    for _ in range(2):
        for name, fn in [("frozen", lambda: fz(x)), ("unfrozen", lambda: g(x)), ("eager", lambda: m(x))]:
            res.setdefault(name, []).append(cpu(fn, 2))
    print("resnet50 8x224 CPU s: " + ", ".join(f"{k} {min(v):.3f}" for k, v in res.items()))


if __name__ == "__main__":
    with deepseek.no_grad():
        {"ew": ew, "layers": layers, "resnet": resnet}[sys.argv[1] if len(sys.argv) > 1 else "ew"]()
