"""Recurrent layers beside PyTorch (when importable): nn.LSTM and nn.GRU, forward (no grad) and
forward + backward, float32, at sequence lengths 50-200, batch 8-32 and hidden 256-1024, and the
zoo's LSTM language model (``lstm_lm``: 2 layers of 650, 10k vocabulary) on batch 8 of 64 tokens
beside the same layers in torch.nn (forward in eval mode; the step = forward + cross-entropy +
backward in training mode, dropout 0.5).

Usage:
    python bench/rnn.py [--threads N] [--repeats R] [--quick] [--composed]
    PYTHONPATH=python /path/to/venv-with-torch/bin/python bench/rnn.py

deepseek runs each layer's time loop in one fused core call (``_core.rnn_layer``);
``--composed`` also times the step loop composed from ops (``RNNBase.fused = False``, what
other devices run). Numbers are medians of R samples after a warm-up; ratios are torch's time /
deepseek's, so > 1.00x means deepseek is faster. A script, not a test: it never asserts on
timings.
"""
from __future__ import annotations

import sys

from _machine import pin_threads

THREADS = pin_threads(sys.argv[1:])

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import deepseek as ds  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    torch = None

# (module, seq len, batch, input size, hidden)
CASES = [
    ("LSTM", 50, 8, 256, 256),
    ("LSTM", 100, 32, 512, 512),
    ("LSTM", 200, 16, 1024, 1024),
    ("GRU", 50, 8, 256, 256),
    ("GRU", 100, 32, 512, 512),
    ("GRU", 200, 16, 1024, 1024),
]
QUICK = [("LSTM", 50, 8, 256, 256), ("GRU", 50, 8, 256, 256)]


def bench(fn, repeats, min_sample_s=0.05):
    fn()
    inner, t0 = 1, time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    if dt < min_sample_s:
        inner = max(1, int(min_sample_s / max(dt, 1e-6)))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def timed(lib, kind, seq, batch, inp, hidden, backward, repeats, fused=True):
    x = np.random.default_rng(0).standard_normal((seq, batch, inp)).astype(np.float32)
    m_ = torch if lib == "torch" else ds
    m_.manual_seed(0)
    mod = getattr(m_.nn, kind)(inp, hidden)
    if lib != "torch":
        mod.fused = fused
    xt = m_.tensor(x, requires_grad=backward)

    def fwd():
        with m_.no_grad():
            mod(xt)

    def fwd_bwd():
        mod.zero_grad()
        xt.grad = None
        out, _ = mod(xt)
        out.sum().backward()

    return bench(fwd_bwd if backward else fwd, repeats)


def _lm(lib):
    """The LSTM language model and a batch of token ids for it."""
    ids = np.random.default_rng(1).integers(0, 10000, size=(8, 64))
    if lib == "torch":
        class LM(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.drop = torch.nn.Dropout(0.5)
                self.encoder = torch.nn.Embedding(10000, 650)
                self.rnn = torch.nn.LSTM(650, 650, 2, dropout=0.5, batch_first=True)
                self.decoder = torch.nn.Linear(650, 10000)

            def forward(self, x):
                out, _ = self.rnn(self.drop(self.encoder(x)))
                return self.decoder(self.drop(out)), None

        torch.manual_seed(0)
        return LM(), torch.tensor(ids), torch
    from deepseek import models

    ds.manual_seed(0)
    return models.get_model("lstm_lm"), ds.tensor(ids), ds


def timed_lm(lib, backward, repeats):
    model, ids, m_ = _lm(lib)
    targets = ids.reshape(-1)

    def fwd():
        with m_.no_grad():
            model(ids)

    def step():
        model.zero_grad()
        logits, _ = model(ids)
        m_.nn.functional.cross_entropy(logits.reshape(-1, 10000), targets).backward()

    model.train(backward)
    return bench(step if backward else fwd, repeats)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=THREADS)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--composed", action="store_true", help="also time the step loop composed from ops")
    a = p.parse_args()
    ds.set_num_threads(a.threads)
    if torch is not None:
        torch.set_num_threads(a.threads)
    repeats = 3 if a.quick else a.repeats
    rows = []
    for kind, seq, batch, inp, hidden in (QUICK if a.quick else CASES):
        for ps in ("fwd", "fwd+bwd"):
            bwd = ps == "fwd+bwd"
            args = (kind, seq, batch, inp, hidden, bwd, repeats)
            t_ds = timed("deepseek", *args)
            t_c = timed("deepseek", *args, fused=False) if a.composed else None
            t_t = timed("torch", *args) if torch is not None else None
            rows.append((kind, f"T{seq} N{batch} I{inp} H{hidden}", ps, t_ds, t_c, t_t))
            print(f"  measured {kind} {rows[-1][1]} {ps}", file=sys.stderr, flush=True)
    for ps in ("fwd", "step"):
        t_ds = timed_lm("deepseek", ps == "step", repeats)
        t_t = timed_lm("torch", ps == "step", repeats) if torch is not None else None
        rows.append(("lstm_lm", "N8 T64 2x650 V10k", ps, t_ds, None, t_t))
        print(f"  measured lstm_lm {ps}", file=sys.stderr, flush=True)
    ver = f"torch {torch.__version__}" if torch is not None else "torch not installed"
    print(f"# deepseek {ds.__version__} vs {ver}; {a.threads} thread(s); float32; median of {repeats}")
    print(f"{'layer':<6} {'shape':<24} {'pass':<8} {'deepseek ms':>11} {'composed ms':>11} {'torch ms':>9} {'vs torch':>8}")
    for kind, shape, ps, t_ds, t_c, t_t in rows:
        f = lambda v: "-" if v is None else f"{v * 1e3:.2f}"  # noqa: E731
        ratio = "-" if t_t is None else f"{t_t / t_ds:.2f}x"
        print(f"{kind:<6} {shape:<24} {ps:<8} {f(t_ds):>11} {f(t_c):>11} {f(t_t):>9} {ratio:>8}")


if __name__ == "__main__":
    main()
