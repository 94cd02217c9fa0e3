"""Recurrent layers beside PyTorch (when importable): nn.LSTM and nn.GRU, forward (no grad) and
forward + backward, float32, from tiny (one sequence of 16 steps, hidden 64) through the small
shapes speech and tagging models use (hidden 64-256, batch 1-64, 16-512 steps, 2 bidirectional
layers) to hidden 1024, and the zoo's LSTM language model (``lstm_lm``: 2 layers of 650, 10k
vocabulary) on batch 8 of 64 tokens beside the same layers in torch.nn (forward in eval mode;
the step = forward + cross-entropy + backward in training mode, dropout 0.5).

Usage:
    python bench/rnn.py [--threads N] [--repeats R] [--quick] [--composed] [--cpu-clock] [--only LSTM|GRU|lstm_lm ...]
    PYTHONPATH=python /path/to/venv-with-torch/bin/python bench/rnn.py

deepseek runs each layer's time loop in one fused core call (``_core.rnn_layer``);
``--composed`` also times the step loop composed from ops (``RNNBase.fused = False``, what
other devices run). Each case's deepseek and torch samples alternate (``_timing.interleaved``),
so a busy spell on a shared machine slows both alike; ``--cpu-clock`` times by the process's
CPU clock instead of the wall clock (for one thread on a busy box). Numbers are medians of R
samples after a warm-up; ratios are torch's time / deepseek's, so > 1.00x means deepseek is
faster. A script, not a test: it never asserts on timings.
"""
from __future__ import annotations

import sys

from _machine import pin_threads

THREADS = pin_threads(sys.argv[1:])

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import deepseek as ds  # noqa: E402
from _timing import interleaved  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    torch = None

# (module, seq len, batch, input size, hidden, layers, bidirectional)
CASES = [
    ("LSTM", 16, 1, 64, 64, 1, False),
    ("LSTM", 128, 8, 128, 128, 1, False),
    ("LSTM", 512, 64, 64, 64, 1, False),
    ("LSTM", 64, 16, 128, 128, 2, True),
    ("LSTM", 100, 32, 256, 256, 2, True),
    ("LSTM", 50, 8, 256, 256, 1, False),
    ("LSTM", 100, 32, 512, 512, 1, False),
    ("LSTM", 200, 16, 1024, 1024, 1, False),
    ("GRU", 16, 1, 64, 64, 1, False),
    ("GRU", 128, 8, 128, 128, 1, False),
    ("GRU", 64, 16, 128, 128, 2, True),
    ("GRU", 50, 8, 256, 256, 1, False),
    ("GRU", 100, 32, 512, 512, 1, False),
    ("GRU", 200, 16, 1024, 1024, 1, False),
]
QUICK = [("LSTM", 128, 8, 128, 128, 1, False), ("LSTM", 50, 8, 256, 256, 1, False), ("GRU", 50, 8, 256, 256, 1, False)]


def make(lib, kind, seq, batch, inp, hidden, layers, bi, backward, fused=True):
    """The timed call: one forward (no grad) or forward + backward of a fresh layer."""
    x = np.random.default_rng(0).standard_normal((seq, batch, inp)).astype(np.float32)
    m_ = torch if lib == "torch" else ds
    m_.manual_seed(0)
    mod = getattr(m_.nn, kind)(inp, hidden, layers, bidirectional=bi)
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

    return fwd_bwd if backward else fwd


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


def make_lm(lib, backward):
    """The timed call of the language model: eval forward or training step."""
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
    return step if backward else fwd


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=THREADS)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--composed", action="store_true", help="also time the step loop composed from ops")
    p.add_argument("--cpu-clock", action="store_true", help="time by the process's CPU clock (one thread on a busy box)")
    p.add_argument("--only", nargs="*", default=None, help="module kinds to run: LSTM, GRU, lstm_lm")
    a = p.parse_args()
    ds.set_num_threads(a.threads)
    if torch is not None:
        torch.set_num_threads(a.threads)
    clock = time.process_time if a.cpu_clock else time.perf_counter
    repeats = 3 if a.quick else a.repeats
    wanted = (lambda k: True) if a.only is None else (lambda k: k in a.only)
    rows = []
    for kind, seq, batch, inp, hidden, layers, bi in (QUICK if a.quick else CASES):
        if not wanted(kind):
            continue
        shape = f"T{seq} N{batch} I{inp} H{hidden}" + (f" L{layers}" if layers > 1 else "") + (" bi" if bi else "")
        for ps in ("fwd", "fwd+bwd"):
            args = (kind, seq, batch, inp, hidden, layers, bi, ps == "fwd+bwd")
            fns = [make("deepseek", *args)]
            if a.composed:
                fns.append(make("deepseek", *args, fused=False))
            if torch is not None:
                fns.append(make("torch", *args))
            ts = interleaved(fns, repeats, clock)
            t_c = ts[1] if a.composed else None
            rows.append((kind, shape, ps, ts[0], t_c, ts[-1] if torch is not None else None))
            print(f"  measured {kind} {shape} {ps}", file=sys.stderr, flush=True)
    if wanted("lstm_lm"):
        for ps in ("fwd", "step"):
            fns = [make_lm("deepseek", ps == "step")] + ([make_lm("torch", ps == "step")] if torch is not None else [])
            ts = interleaved(fns, repeats, clock)
            rows.append(("lstm_lm", "N8 T64 2x650 V10k", ps, ts[0], None, ts[1] if torch is not None else None))
            print(f"  measured lstm_lm {ps}", file=sys.stderr, flush=True)
    ver = f"torch {torch.__version__}" if torch is not None else "torch not installed"
    print(f"# deepseek {ds.__version__} vs {ver}; {a.threads} thread(s); float32; median of {repeats}; "
          f"{'process CPU' if a.cpu_clock else 'wall'} clock")
    print(f"{'layer':<8} {'shape':<28} {'pass':<8} {'deepseek ms':>11} {'composed ms':>11} {'torch ms':>9} {'vs torch':>8}")
    for kind, shape, ps, t_ds, t_c, t_t in rows:
        f = lambda v: "-" if v is None else f"{v * 1e3:.2f}"  # noqa: E731
        ratio = "-" if t_t is None else f"{t_t / t_ds:.2f}x"
        print(f"{kind:<8} {shape:<28} {ps:<8} {f(t_ds):>11} {f(t_c):>11} {f(t_t):>9} {ratio:>8}")


if __name__ == "__main__":
    main()
