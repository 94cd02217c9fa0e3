"""`make demo`: a small CNN on scikit-learn's bundled digits with nn, DataLoader and Adam.

Prints a progress bar per epoch and the test accuracy, then saves a safetensors checkpoint
and checks that the reloaded model predicts the same."""
import os
import sys
import tempfile
import time

import deepseek as ds
from deepseek import nn, optim
from deepseek.data import DataLoader
from deepseek.data.datasets import digits


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.head(self.features(x))


def bar(i, n, loss, width=24):
    k = int(width * i / n)
    sys.stdout.write(f"\r  [{'=' * k}{' ' * (width - k)}] {i}/{n} loss {loss:.4f}")
    sys.stdout.flush()


def evaluate(model, loader, device="cpu"):
    model.eval()
    correct = total = 0
    with ds.no_grad():
        for x, y in loader:
            correct += int((model(x.to(device)).argmax(1).cpu() == y).sum())
            total += y.shape[0]
    return correct / total


def main(epochs=8, quiet=False, device="cpu"):
    ds.manual_seed(0)
    train = digits(split="train", as_images=True)
    test = digits(split="test", as_images=True)
    g = ds.Generator().manual_seed(0)
    train_loader = DataLoader(train, batch_size=64, shuffle=True, generator=g)
    test_loader = DataLoader(test, batch_size=256)
    model = SmallCNN().to(device)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        if not quiet:
            print(f"epoch {epoch}/{epochs}")
        for i, (x, y) in enumerate(train_loader, 1):
            x, y = x.to(device), y.to(device)
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if not quiet:
                bar(i, len(train_loader), loss.item())
        if not quiet:
            print(f"  test accuracy {evaluate(model, test_loader, device) * 100:.2f}%")
    acc = evaluate(model, test_loader, device)
    print(f"trained {epochs} epochs on {device} in {time.perf_counter() - t0:.1f}s; test accuracy: {acc * 100:.2f}% ({len(test)} held-out digits)")
    path = os.path.join(tempfile.mkdtemp(), "cnn_digits.safetensors")
    ds.save(model.state_dict(), path)
    reloaded = SmallCNN().to(device)
    reloaded.load_state_dict(ds.load(path, map_location=device))
    assert evaluate(reloaded, test_loader, device) == acc
    print(f"checkpoint saved to {path} and reloaded: same accuracy")
    return acc


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Train a small CNN on the bundled digits.")
    ap.add_argument("--device", default="cpu", help='"cpu" (default) or a backend device such as "opencl:0"')
    ap.add_argument("--epochs", type=int, default=8)
    a = ap.parse_args()
    main(epochs=a.epochs, device=a.device)
