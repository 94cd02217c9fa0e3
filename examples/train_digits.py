"""Trains a two-layer network on scikit-learn's bundled 8x8 digits with raw deepseek tensors
and autograd (no nn module needed), printing progress and the test accuracy."""
import sys
import time

import numpy as np
from sklearn.datasets import load_digits

import deepseek as ds


def progress(epoch, epochs, loss, width=30):
    done = int(width * epoch / epochs)
    sys.stdout.write(f"\repoch {epoch:3d}/{epochs} [{'#' * done}{'.' * (width - done)}] loss {loss:.4f}")
    sys.stdout.flush()


def main(epochs=30):
    ds.manual_seed(0)
    digits = load_digits()
    x = digits.data.astype(np.float32) / 16.0
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    split = int(0.8 * len(x))
    tr, te = order[:split], order[split:]
    xtr, ytr = ds.tensor(x[tr]), ds.tensor(y[tr])
    xte, yte = ds.tensor(x[te]), ds.tensor(y[te])

    hidden = 128
    w1 = (ds.randn(64, hidden) * (1 / 8)).requires_grad_()
    b1 = ds.zeros(hidden, requires_grad=True)
    w2 = (ds.randn(hidden, 10) * (1 / hidden**0.5)).requires_grad_()
    b2 = ds.zeros(10, requires_grad=True)
    params = [w1, b1, w2, b2]
    velocity = [ds.zeros_like(p) for p in params]

    batch, lr, momentum = 64, 0.1, 0.9
    n = xtr.shape[0]
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        perm = ds.randperm(n)
        total = 0.0
        for i in range(0, n, batch):
            idx = perm[i : i + batch]
            xb, yb = xtr[idx], ytr[idx]
            h = (xb @ w1 + b1).relu()
            logits = h @ w2 + b2
            loss = -ds.log_softmax(logits, dim=1).gather(1, yb.unsqueeze(1)).mean()
            for p in params:
                p.grad = None
            loss.backward()
            with ds.no_grad():
                for p, v in zip(params, velocity):
                    v.mul_(momentum).add_(p.grad)
                    p.sub_(lr * v)
            total += loss.item() * xb.shape[0]
        progress(epoch, epochs, total / n)
    print(f"\ntrained in {time.perf_counter() - t0:.2f}s")
    with ds.no_grad():
        pred = ((xte @ w1 + b1).relu() @ w2 + b2).argmax(dim=1)
        acc = (pred == yte).float().mean().item()
    print(f"test accuracy: {acc * 100:.2f}% on {xte.shape[0]} held-out digits")
    return acc


if __name__ == "__main__":
    main()
